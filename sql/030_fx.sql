-- 030_fx.sql
-- Exchange rates to USD, one rate per currency per UTC day, and the rule that turns them into
-- the rate for any event date.
--
-- FX rule (also in README.md):
--   * USD needs no rate: it converts at exactly 1 (USD rows in fx_rates are ignored).
--   * Another currency converts at the rate of the event's UTC date; when that day has no rate,
--     at the latest earlier rate of that currency (weekends, holidays, a late feed). The date of
--     the rate used is kept next to the amount (fx_rate_date), so a fallback is visible.
--   * When the currency has no rate on or before the event date, the USD amount is NULL, never
--     0, and the row is listed by v_fx_missing. Any total that includes such a row is NULL too.
--   * Rates loaded later are applied by the reprice task (090/091), which rewrites rows whose
--     best rate changed, so a fallback becomes the exact day's rate once it arrives.
--   * A corrected rate is loaded as a new row for the same day; the latest loaded_at wins.

CREATE TABLE IF NOT EXISTS fx_rates (
    rate_date     DATE          NOT NULL COMMENT 'UTC day the rate is for',
    currency      VARCHAR(3)    NOT NULL COMMENT 'ISO 4217 code',
    usd_per_unit  NUMBER(38,12) NOT NULL COMMENT 'USD value of one unit of currency (EUR 1.08, JPY 0.0067)',
    source        VARCHAR                COMMENT 'Provider of the rate',
    loaded_at     TIMESTAMP_NTZ NOT NULL DEFAULT SYSDATE() COMMENT 'When the row was loaded (UTC); the latest row per day wins'
)
COMMENT = 'Daily FX rates to USD; append corrections, never update in place';

-- The rate that applies to each date: a rate is valid from its rate_date until the next
-- rate_date of the same currency (exclusive; open-ended for the newest one). USD is a single
-- open-ended period at 1 with no rate_date.
CREATE OR REPLACE VIEW v_fx_rate_periods AS
WITH latest_per_day AS (
    SELECT currency, rate_date, usd_per_unit
    FROM fx_rates
    WHERE currency <> 'USD'
    QUALIFY ROW_NUMBER() OVER (PARTITION BY currency, rate_date ORDER BY loaded_at DESC) = 1
)
SELECT
    currency,
    rate_date,
    rate_date                                                          AS valid_from,
    LEAD(rate_date) OVER (PARTITION BY currency ORDER BY rate_date)    AS valid_until,
    usd_per_unit
FROM latest_per_day
UNION ALL
SELECT 'USD', NULL, '1900-01-01'::DATE, NULL, 1::NUMBER(38,12);
