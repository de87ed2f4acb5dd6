-- 060_analytics.sql
-- Analytics views. Every view is per game; days are UTC days; money is USD NUMBER(38,6);
-- percentages are NUMBER(9,2) rounded half away from zero.
--
-- Revenue = purchases (amount * rate) + ad revenue. A USD total is NULL when any row inside it
-- has no FX rate yet (v_fx_missing lists those rows); it is 0 only when there truly was no
-- revenue. The unpriced_count columns say how many rows are waiting for a rate.

-- Every revenue-bearing event: all purchases, and the ad views that reported revenue.
CREATE OR REPLACE VIEW v_revenue_events AS
SELECT 'purchase' AS revenue_kind, event_id, game_id, user_id, event_date, currency,
       amount AS amount_local, fx_rate_date, revenue_usd
FROM fact_purchases
UNION ALL
SELECT 'ad', event_id, game_id, user_id, event_date, currency,
       revenue, fx_rate_date, revenue_usd
FROM fact_ads
WHERE revenue IS NOT NULL;

-- Revenue rows that cannot be converted: no rate for their currency on or before their date.
-- They disappear from here once a rate is loaded and the reprice task has run.
CREATE OR REPLACE VIEW v_fx_missing AS
SELECT revenue_kind, event_id, game_id, user_id, event_date, currency, amount_local
FROM v_revenue_events
WHERE revenue_usd IS NULL;

-- Daily active users: players with at least one event that day.
CREATE OR REPLACE VIEW v_dau AS
SELECT game_id, activity_date, COUNT(*) AS dau
FROM v_user_activity
GROUP BY game_id, activity_date;

-- Daily installs: all install events, and how many of them were a player's first install.
CREATE OR REPLACE VIEW v_daily_installs AS
WITH numbered AS (
    SELECT game_id, event_date,
           ROW_NUMBER() OVER (PARTITION BY game_id, user_id ORDER BY event_ts, event_id) AS install_number
    FROM fact_installs
)
SELECT
    game_id,
    event_date                      AS install_date,
    COUNT(*)                        AS installs,
    COUNT_IF(install_number = 1)    AS new_users,
    COUNT_IF(install_number > 1)    AS reinstalls
FROM numbered
GROUP BY game_id, event_date;

-- Revenue per day in USD (only days with at least one revenue row).
CREATE OR REPLACE VIEW v_daily_revenue AS
SELECT
    game_id,
    event_date                                                          AS revenue_date,
    COUNT_IF(revenue_kind = 'purchase')                                 AS purchases,
    COUNT(DISTINCT IFF(revenue_kind = 'purchase', user_id, NULL))       AS payers,
    CASE WHEN COUNT_IF(revenue_kind = 'purchase' AND revenue_usd IS NULL) > 0 THEN NULL
         ELSE COALESCE(SUM(IFF(revenue_kind = 'purchase', revenue_usd, NULL)), 0)
    END::NUMBER(38,6)                                                   AS purchase_revenue_usd,
    CASE WHEN COUNT_IF(revenue_kind = 'ad' AND revenue_usd IS NULL) > 0 THEN NULL
         ELSE COALESCE(SUM(IFF(revenue_kind = 'ad', revenue_usd, NULL)), 0)
    END::NUMBER(38,6)                                                   AS ad_revenue_usd,
    CASE WHEN COUNT_IF(revenue_usd IS NULL) > 0 THEN NULL
         ELSE SUM(revenue_usd)
    END::NUMBER(38,6)                                                   AS revenue_usd,
    COUNT_IF(revenue_usd IS NULL)                                       AS unpriced_count
FROM v_revenue_events
GROUP BY game_id, event_date;

-- ARPDAU: revenue of the day / DAU, for every day with activity (0 revenue on a day without).
CREATE OR REPLACE VIEW v_arpdau AS
SELECT
    d.game_id,
    d.activity_date,
    d.dau,
    IFF(r.revenue_date IS NULL, 0, r.revenue_usd)::NUMBER(38,6)                     AS revenue_usd,
    ROUND(IFF(r.revenue_date IS NULL, 0, r.revenue_usd) / d.dau, 6)::NUMBER(38,6)   AS arpdau_usd
FROM v_dau AS d
LEFT JOIN v_daily_revenue AS r
    ON r.game_id = d.game_id AND r.revenue_date = d.activity_date;

-- ARPU per calendar month: revenue of the month / monthly active users (MAU);
-- ARPPU: purchase revenue of the month / players who purchased that month.
CREATE OR REPLACE VIEW v_monthly_arpu AS
WITH mau AS (
    SELECT game_id, DATE_TRUNC('month', activity_date)::DATE AS month, COUNT(DISTINCT user_id) AS mau
    FROM v_user_activity
    GROUP BY game_id, DATE_TRUNC('month', activity_date)::DATE
),
revenue AS (
    SELECT
        game_id,
        DATE_TRUNC('month', event_date)::DATE                               AS month,
        COUNT(DISTINCT IFF(revenue_kind = 'purchase', user_id, NULL))       AS payers,
        CASE WHEN COUNT_IF(revenue_kind = 'purchase' AND revenue_usd IS NULL) > 0 THEN NULL
             ELSE COALESCE(SUM(IFF(revenue_kind = 'purchase', revenue_usd, NULL)), 0)
        END                                                                 AS purchase_revenue_usd,
        CASE WHEN COUNT_IF(revenue_kind = 'ad' AND revenue_usd IS NULL) > 0 THEN NULL
             ELSE COALESCE(SUM(IFF(revenue_kind = 'ad', revenue_usd, NULL)), 0)
        END                                                                 AS ad_revenue_usd
    FROM v_revenue_events
    GROUP BY game_id, DATE_TRUNC('month', event_date)::DATE
),
joined AS (
    SELECT
        m.game_id,
        m.month,
        m.mau,
        COALESCE(r.payers, 0)                                   AS payers,
        IFF(r.month IS NULL, 0, r.purchase_revenue_usd)         AS purchase_revenue_usd,
        IFF(r.month IS NULL, 0, r.ad_revenue_usd)               AS ad_revenue_usd
    FROM mau AS m
    LEFT JOIN revenue AS r ON r.game_id = m.game_id AND r.month = m.month
)
SELECT
    game_id,
    month,
    mau,
    payers,
    purchase_revenue_usd::NUMBER(38,6)                                          AS purchase_revenue_usd,
    ad_revenue_usd::NUMBER(38,6)                                                AS ad_revenue_usd,
    (purchase_revenue_usd + ad_revenue_usd)::NUMBER(38,6)                       AS revenue_usd,
    ROUND((purchase_revenue_usd + ad_revenue_usd) / mau, 6)::NUMBER(38,6)       AS arpu_usd,
    ROUND(purchase_revenue_usd / NULLIF(payers, 0), 6)::NUMBER(38,6)            AS arppu_usd
FROM joined;

-- Payer conversion per install cohort: share of the players who installed that day who have
-- ever purchased (in the same game). Players without an install event belong to no cohort.
CREATE OR REPLACE VIEW v_payer_conversion AS
SELECT
    game_id,
    install_date,
    COUNT(*)                                                        AS cohort_users,
    COUNT_IF(is_payer)                                              AS payers,
    ROUND(100 * COUNT_IF(is_payer) / COUNT(*), 2)::NUMBER(9,2)      AS payer_pct
FROM dim_users
WHERE install_date IS NOT NULL
GROUP BY game_id, install_date;

-- D1/D7/D30 retention per install cohort: of the players whose first install was on day D,
-- how many had any event on day D+1 / D+7 / D+30 exactly. A day the data has not reached yet
-- (later than the game's latest activity day) is NULL, not 0.
CREATE OR REPLACE VIEW v_retention AS
WITH cohorts AS (
    SELECT
        c.game_id,
        c.install_date,
        COUNT(DISTINCT c.user_id)                                                         AS cohort_users,
        COUNT(DISTINCT IFF(a.activity_date = DATEADD(day, 1, c.install_date), c.user_id, NULL))  AS d1_users,
        COUNT(DISTINCT IFF(a.activity_date = DATEADD(day, 7, c.install_date), c.user_id, NULL))  AS d7_users,
        COUNT(DISTINCT IFF(a.activity_date = DATEADD(day, 30, c.install_date), c.user_id, NULL)) AS d30_users
    FROM dim_users AS c
    LEFT JOIN v_user_activity AS a ON a.game_id = c.game_id AND a.user_id = c.user_id
    WHERE c.install_date IS NOT NULL
    GROUP BY c.game_id, c.install_date
),
horizon AS (
    SELECT game_id, MAX(activity_date) AS last_activity_date
    FROM v_user_activity
    GROUP BY game_id
)
SELECT
    c.game_id,
    c.install_date,
    c.cohort_users,
    IFF(DATEADD(day, 1, c.install_date) <= h.last_activity_date, c.d1_users, NULL)    AS d1_users,
    IFF(DATEADD(day, 1, c.install_date) <= h.last_activity_date,
        ROUND(100 * c.d1_users / c.cohort_users, 2), NULL)::NUMBER(9,2)               AS d1_pct,
    IFF(DATEADD(day, 7, c.install_date) <= h.last_activity_date, c.d7_users, NULL)    AS d7_users,
    IFF(DATEADD(day, 7, c.install_date) <= h.last_activity_date,
        ROUND(100 * c.d7_users / c.cohort_users, 2), NULL)::NUMBER(9,2)               AS d7_pct,
    IFF(DATEADD(day, 30, c.install_date) <= h.last_activity_date, c.d30_users, NULL)  AS d30_users,
    IFF(DATEADD(day, 30, c.install_date) <= h.last_activity_date,
        ROUND(100 * c.d30_users / c.cohort_users, 2), NULL)::NUMBER(9,2)              AS d30_pct
FROM cohorts AS c
JOIN horizon AS h ON h.game_id = c.game_id;

-- Level funnel: per level, how many players started it, how many won it, and how far the
-- players of the game's first level got (reached_pct = starters of this level / starters of
-- the lowest level). Attempts, completions and failures count events.
CREATE OR REPLACE VIEW v_level_funnel AS
WITH per_level AS (
    SELECT
        game_id,
        level,
        COUNT(DISTINCT IFF(event_type = 'level_start', user_id, NULL))                  AS players_started,
        COUNT(DISTINCT IFF(event_type = 'level_complete' AND success, user_id, NULL))   AS players_completed,
        COUNT_IF(event_type = 'level_start')                                            AS attempts,
        COUNT_IF(event_type = 'level_complete' AND success)                             AS completions,
        COUNT_IF(event_type = 'level_complete' AND NOT success)                         AS failures
    FROM fact_levels
    GROUP BY game_id, level
)
SELECT
    game_id,
    level,
    players_started,
    players_completed,
    ROUND(100 * players_completed / NULLIF(players_started, 0), 2)::NUMBER(9,2)        AS completion_pct,
    ROUND(100 * players_started
          / NULLIF(FIRST_VALUE(players_started) OVER (PARTITION BY game_id ORDER BY level), 0),
          2)::NUMBER(9,2)                                                               AS reached_pct,
    attempts,
    completions,
    failures
FROM per_level;
