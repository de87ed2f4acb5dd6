-- 090_reprice_fact_purchases.sql — body of task reprice_fact_purchases (100_tasks.snowflake.sql).
-- Re-applies the FX rule to every purchase and rewrites the rows whose best rate changed: a rate
-- loaded after the purchase was merged (NULL -> priced), the exact day's rate replacing an
-- earlier fallback, or a corrected rate. Rows whose rate did not change are not touched, so
-- running it again changes nothing.
MERGE INTO fact_purchases AS t
USING (
    SELECT
        p.event_id,
        f.usd_per_unit                                      AS fx_rate,
        f.rate_date                                         AS fx_rate_date,
        ROUND(p.amount * f.usd_per_unit, 6)::NUMBER(38,6)   AS revenue_usd
    FROM fact_purchases AS p
    LEFT JOIN v_fx_rate_periods AS f
        ON  f.currency = p.currency
        AND p.event_date >= f.valid_from
        AND (f.valid_until IS NULL OR p.event_date < f.valid_until)
) AS s
ON t.event_id = s.event_id
WHEN MATCHED AND (t.fx_rate IS DISTINCT FROM s.fx_rate
                  OR t.fx_rate_date IS DISTINCT FROM s.fx_rate_date) THEN UPDATE SET
    fx_rate      = s.fx_rate,
    fx_rate_date = s.fx_rate_date,
    revenue_usd  = s.revenue_usd;
