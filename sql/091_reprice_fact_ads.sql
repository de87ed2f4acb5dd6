-- 091_reprice_fact_ads.sql — body of task reprice_fact_ads (100_tasks.snowflake.sql).
-- The same as 090 for ad revenue: rows whose best rate changed get the new rate and USD value.
MERGE INTO fact_ads AS t
USING (
    SELECT
        a.event_id,
        f.usd_per_unit                                      AS fx_rate,
        f.rate_date                                         AS fx_rate_date,
        ROUND(a.revenue * f.usd_per_unit, 6)::NUMBER(38,6)  AS revenue_usd
    FROM fact_ads AS a
    LEFT JOIN v_fx_rate_periods AS f
        ON  f.currency = a.currency
        AND a.event_date >= f.valid_from
        AND (f.valid_until IS NULL OR a.event_date < f.valid_until)
    WHERE a.revenue IS NOT NULL
) AS s
ON t.event_id = s.event_id
WHEN MATCHED AND (t.fx_rate IS DISTINCT FROM s.fx_rate
                  OR t.fx_rate_date IS DISTINCT FROM s.fx_rate_date) THEN UPDATE SET
    fx_rate      = s.fx_rate,
    fx_rate_date = s.fx_rate_date,
    revenue_usd  = s.revenue_usd;
