-- 050_users.sql
-- Players. A player is a (game_id, user_id) pair: the same user_id in two games is two players,
-- each with its own install, cohort and revenue. A player exists from their first event of any
-- type, so a player whose install predates tracking still appears (install columns NULL).
-- Activity means any event at all on a UTC day.

-- Every fact event with the columns all types share.
CREATE OR REPLACE VIEW v_all_events AS
SELECT event_id, 'install' AS event_type, event_ts, event_date, game_id, user_id, platform, country
FROM fact_installs
UNION ALL
SELECT event_id, 'purchase', event_ts, event_date, game_id, user_id, platform, country
FROM fact_purchases
UNION ALL
SELECT event_id, event_type, event_ts, event_date, game_id, user_id, platform, country
FROM fact_sessions
UNION ALL
SELECT event_id, event_type, event_ts, event_date, game_id, user_id, platform, country
FROM fact_levels
UNION ALL
SELECT event_id, 'ad_watched', event_ts, event_date, game_id, user_id, platform, country
FROM fact_ads
UNION ALL
SELECT event_id, 'achievement_unlocked', event_ts, event_date, game_id, user_id, platform, country
FROM fact_achievements;

-- One row per player and UTC day on which they sent any event.
CREATE OR REPLACE VIEW v_user_activity AS
SELECT DISTINCT game_id, user_id, event_date AS activity_date
FROM v_all_events;

-- The player dimension.
--   first_install_at / install_date / install_source / install_campaign: from the player's
--     first install event (re-installs do not move the cohort); NULL without an install event.
--   country: the first install's country, else the first country any of their events reported.
--   lifetime_revenue_usd: purchases only; 0 for a player who never paid; NULL while any of their
--     purchases lacks an FX rate (see v_fx_missing) - an incomplete sum is never shown.
--   lifetime_ad_revenue_usd: the same rule over ad revenue attributed to the player.
--   is_payer: at least one purchase, whether or not it could be priced yet.
CREATE OR REPLACE VIEW dim_users AS
WITH players AS (
    SELECT game_id, user_id, MIN(event_date) AS first_seen_date, MAX(event_date) AS last_seen_date
    FROM v_all_events
    GROUP BY game_id, user_id
),
first_install AS (
    SELECT game_id, user_id, event_ts, event_date, source, campaign, country
    FROM fact_installs
    QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, user_id ORDER BY event_ts, event_id) = 1
),
first_country AS (
    SELECT game_id, user_id, country
    FROM v_all_events
    WHERE country IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, user_id ORDER BY event_ts, event_id) = 1
),
purchases AS (
    SELECT
        game_id,
        user_id,
        COUNT(*)                       AS purchase_count,
        COUNT_IF(revenue_usd IS NULL)  AS unpriced_count,
        SUM(revenue_usd)               AS priced_revenue_usd,
        MIN(event_date)                AS first_purchase_date
    FROM fact_purchases
    GROUP BY game_id, user_id
),
ads AS (
    SELECT
        game_id,
        user_id,
        COUNT_IF(revenue_usd IS NULL)  AS unpriced_count,
        SUM(revenue_usd)               AS priced_revenue_usd
    FROM fact_ads
    WHERE revenue IS NOT NULL
    GROUP BY game_id, user_id
)
SELECT
    p.game_id,
    p.user_id,
    i.event_ts                                     AS first_install_at,
    i.event_date                                   AS install_date,
    i.source                                       AS install_source,
    i.campaign                                     AS install_campaign,
    COALESCE(i.country, c.country)                 AS country,
    p.first_seen_date,
    p.last_seen_date,
    COALESCE(b.purchase_count, 0)                  AS purchase_count,
    b.first_purchase_date,
    COALESCE(b.purchase_count, 0) > 0              AS is_payer,
    CASE WHEN b.unpriced_count > 0 THEN NULL
         ELSE COALESCE(b.priced_revenue_usd, 0) END::NUMBER(38,6) AS lifetime_revenue_usd,
    CASE WHEN a.unpriced_count > 0 THEN NULL
         ELSE COALESCE(a.priced_revenue_usd, 0) END::NUMBER(38,6) AS lifetime_ad_revenue_usd
FROM players AS p
LEFT JOIN first_install AS i ON i.game_id = p.game_id AND i.user_id = p.user_id
LEFT JOIN first_country AS c ON c.game_id = p.game_id AND c.user_id = p.user_id
LEFT JOIN purchases     AS b ON b.game_id = p.game_id AND b.user_id = p.user_id
LEFT JOIN ads           AS a ON a.game_id = p.game_id AND a.user_id = p.user_id;
