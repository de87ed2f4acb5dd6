-- 100_tasks.snowflake.sql  (Snowflake only: fakesnow cannot parse TASK)
-- The tasks that keep the facts up to date. Each task body is, verbatim, the SQL file named
-- in its `-- body:` line; tests/sql/test_warehouse.py runs those files on fakesnow and checks
-- that every body here still matches its file. Edit the file, then paste it here.
--
-- merge_fact_*     every minute, only when its stream has new rows (no warehouse otherwise)
-- reprice_fact_*   hourly: apply FX rates that arrived or changed since the facts were merged
--
-- EDIT: playstream_wh is the warehouse the tasks run on (or drop WAREHOUSE for serverless tasks).
-- The owner role needs EXECUTE TASK on the account.

CREATE OR REPLACE TASK merge_fact_installs
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_installs -> fact_installs'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_installs')
AS
-- body: 080_merge_fact_installs.sql
MERGE INTO fact_installs AS t
USING (
    SELECT
        r.raw:"event_id"::VARCHAR                                   AS event_id,
        r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
        r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
        r.raw:"user_id"::VARCHAR                                    AS user_id,
        r.raw:"game_id"::VARCHAR                                    AS game_id,
        r.raw:"platform"::VARCHAR                                   AS platform,
        r.raw:"app_version"::VARCHAR                                AS app_version,
        r.raw:"session_id"::VARCHAR                                 AS session_id,
        r.raw:"country"::VARCHAR                                    AS country,
        r.raw:"source"::VARCHAR                                     AS source,
        r.raw:"campaign"::VARCHAR                                   AS campaign,
        r.raw:"device_model"::VARCHAR                               AS device_model,
        r.raw:"os_version"::VARCHAR                                 AS os_version,
        r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
        r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
        r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
        r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
        r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
        r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
        r.file_name                                                 AS raw_file_name,
        r.file_row_number                                           AS raw_file_row_number
    FROM raw_events_for_installs AS r
    WHERE r.raw:"event_type"::VARCHAR = 'install'
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY r.raw:"event_id"::VARCHAR
        ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    source, campaign, device_model, os_version,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.source, s.campaign, s.device_model, s.os_version,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK merge_fact_purchases
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_purchases -> fact_purchases'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_purchases')
AS
-- body: 081_merge_fact_purchases.sql
MERGE INTO fact_purchases AS t
USING (
    WITH new_rows AS (
        SELECT
            r.raw:"event_id"::VARCHAR                                   AS event_id,
            r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
            r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
            r.raw:"user_id"::VARCHAR                                    AS user_id,
            r.raw:"game_id"::VARCHAR                                    AS game_id,
            r.raw:"platform"::VARCHAR                                   AS platform,
            r.raw:"app_version"::VARCHAR                                AS app_version,
            r.raw:"session_id"::VARCHAR                                 AS session_id,
            r.raw:"country"::VARCHAR                                    AS country,
            r.raw:"product_id"::VARCHAR                                 AS product_id,
            r.raw:"product_name"::VARCHAR                               AS product_name,
            r.raw:"price"::NUMBER(38,6)                                 AS price,
            r.raw:"currency"::VARCHAR                                   AS currency,
            r.raw:"store"::VARCHAR                                      AS store,
            r.raw:"transaction_id"::VARCHAR                             AS transaction_id,
            r.raw:"quantity"::NUMBER(10,0)                              AS quantity,
            (r.raw:"price"::NUMBER(38,6) * r.raw:"quantity"::NUMBER(10,0))::NUMBER(38,6) AS amount,
            r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
            r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
            r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
            r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
            r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
            r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
            r.file_name                                                 AS raw_file_name,
            r.file_row_number                                           AS raw_file_row_number
        FROM raw_events_for_purchases AS r
        WHERE r.raw:"event_type"::VARCHAR = 'purchase'
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY r.raw:"event_id"::VARCHAR
            ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
    )
    SELECT
        n.*,
        f.usd_per_unit                                  AS fx_rate,
        f.rate_date                                     AS fx_rate_date,
        ROUND(n.amount * f.usd_per_unit, 6)::NUMBER(38,6) AS revenue_usd
    FROM new_rows AS n
    LEFT JOIN v_fx_rate_periods AS f
        ON  f.currency = n.currency
        AND n.event_date >= f.valid_from
        AND (f.valid_until IS NULL OR n.event_date < f.valid_until)
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    product_id, product_name, price, currency, store, transaction_id, quantity, amount,
    fx_rate, fx_rate_date, revenue_usd,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.product_id, s.product_name, s.price, s.currency, s.store, s.transaction_id, s.quantity, s.amount,
    s.fx_rate, s.fx_rate_date, s.revenue_usd,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK merge_fact_sessions
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_sessions -> fact_sessions'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_sessions')
AS
-- body: 082_merge_fact_sessions.sql
MERGE INTO fact_sessions AS t
USING (
    SELECT
        r.raw:"event_id"::VARCHAR                                   AS event_id,
        r.raw:"event_type"::VARCHAR                                 AS event_type,
        r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
        r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
        r.raw:"user_id"::VARCHAR                                    AS user_id,
        r.raw:"game_id"::VARCHAR                                    AS game_id,
        r.raw:"platform"::VARCHAR                                   AS platform,
        r.raw:"app_version"::VARCHAR                                AS app_version,
        r.raw:"session_id"::VARCHAR                                 AS session_id,
        r.raw:"country"::VARCHAR                                    AS country,
        r.raw:"duration_ms"::NUMBER(19,0)                           AS duration_ms,
        r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
        r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
        r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
        r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
        r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
        r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
        r.file_name                                                 AS raw_file_name,
        r.file_row_number                                           AS raw_file_row_number
    FROM raw_events_for_sessions AS r
    WHERE r.raw:"event_type"::VARCHAR IN ('session_start', 'session_end')
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY r.raw:"event_id"::VARCHAR
        ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_type, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    duration_ms,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_type, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.duration_ms,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK merge_fact_levels
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_levels -> fact_levels'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_levels')
AS
-- body: 083_merge_fact_levels.sql
MERGE INTO fact_levels AS t
USING (
    SELECT
        r.raw:"event_id"::VARCHAR                                   AS event_id,
        r.raw:"event_type"::VARCHAR                                 AS event_type,
        r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
        r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
        r.raw:"user_id"::VARCHAR                                    AS user_id,
        r.raw:"game_id"::VARCHAR                                    AS game_id,
        r.raw:"platform"::VARCHAR                                   AS platform,
        r.raw:"app_version"::VARCHAR                                AS app_version,
        r.raw:"session_id"::VARCHAR                                 AS session_id,
        r.raw:"country"::VARCHAR                                    AS country,
        r.raw:"level"::NUMBER(10,0)                                 AS level,
        r.raw:"duration_ms"::NUMBER(19,0)                           AS duration_ms,
        r.raw:"success"::BOOLEAN                                    AS success,
        r.raw:"score"::NUMBER(19,0)                                 AS score,
        r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
        r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
        r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
        r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
        r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
        r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
        r.file_name                                                 AS raw_file_name,
        r.file_row_number                                           AS raw_file_row_number
    FROM raw_events_for_levels AS r
    WHERE r.raw:"event_type"::VARCHAR IN ('level_start', 'level_complete')
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY r.raw:"event_id"::VARCHAR
        ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_type, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    level, duration_ms, success, score,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_type, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.level, s.duration_ms, s.success, s.score,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK merge_fact_ads
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_ads -> fact_ads'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_ads')
AS
-- body: 084_merge_fact_ads.sql
MERGE INTO fact_ads AS t
USING (
    WITH new_rows AS (
        SELECT
            r.raw:"event_id"::VARCHAR                                   AS event_id,
            r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
            r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
            r.raw:"user_id"::VARCHAR                                    AS user_id,
            r.raw:"game_id"::VARCHAR                                    AS game_id,
            r.raw:"platform"::VARCHAR                                   AS platform,
            r.raw:"app_version"::VARCHAR                                AS app_version,
            r.raw:"session_id"::VARCHAR                                 AS session_id,
            r.raw:"country"::VARCHAR                                    AS country,
            r.raw:"placement"::VARCHAR                                  AS placement,
            r.raw:"ad_type"::VARCHAR                                    AS ad_type,
            r.raw:"revenue"::NUMBER(38,6)                               AS revenue,
            r.raw:"currency"::VARCHAR                                   AS currency,
            r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
            r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
            r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
            r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
            r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
            r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
            r.file_name                                                 AS raw_file_name,
            r.file_row_number                                           AS raw_file_row_number
        FROM raw_events_for_ads AS r
        WHERE r.raw:"event_type"::VARCHAR = 'ad_watched'
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY r.raw:"event_id"::VARCHAR
            ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
    )
    SELECT
        n.*,
        f.usd_per_unit                                      AS fx_rate,
        f.rate_date                                         AS fx_rate_date,
        ROUND(n.revenue * f.usd_per_unit, 6)::NUMBER(38,6)  AS revenue_usd
    FROM new_rows AS n
    LEFT JOIN v_fx_rate_periods AS f
        ON  n.revenue IS NOT NULL
        AND f.currency = n.currency
        AND n.event_date >= f.valid_from
        AND (f.valid_until IS NULL OR n.event_date < f.valid_until)
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    placement, ad_type, revenue, currency, fx_rate, fx_rate_date, revenue_usd,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.placement, s.ad_type, s.revenue, s.currency, s.fx_rate, s.fx_rate_date, s.revenue_usd,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK merge_fact_achievements
    WAREHOUSE = playstream_wh
    SCHEDULE = '1 MINUTE'
    COMMENT = 'raw_events_for_achievements -> fact_achievements'
WHEN SYSTEM$STREAM_HAS_DATA('raw_events_for_achievements')
AS
-- body: 085_merge_fact_achievements.sql
MERGE INTO fact_achievements AS t
USING (
    SELECT
        r.raw:"event_id"::VARCHAR                                   AS event_id,
        r.raw:"timestamp"::TIMESTAMP_NTZ                            AS event_ts,
        r.raw:"timestamp"::TIMESTAMP_NTZ::DATE                      AS event_date,
        r.raw:"user_id"::VARCHAR                                    AS user_id,
        r.raw:"game_id"::VARCHAR                                    AS game_id,
        r.raw:"platform"::VARCHAR                                   AS platform,
        r.raw:"app_version"::VARCHAR                                AS app_version,
        r.raw:"session_id"::VARCHAR                                 AS session_id,
        r.raw:"country"::VARCHAR                                    AS country,
        r.raw:"achievement_id"::VARCHAR                             AS achievement_id,
        r.raw:"_meta"."source"."topic"::VARCHAR                     AS kafka_topic,
        r.raw:"_meta"."source"."partition"::NUMBER(10,0)            AS kafka_partition,
        r.raw:"_meta"."source"."offset"::NUMBER(20,0)               AS kafka_offset,
        r.raw:"_meta"."validated_at"::TIMESTAMP_NTZ                 AS validated_at,
        r.raw:"_meta"."received_at"::TIMESTAMP_NTZ                  AS received_at,
        r.raw:"_meta"."schema"."version"::NUMBER(10,0)              AS schema_version,
        r.file_name                                                 AS raw_file_name,
        r.file_row_number                                           AS raw_file_row_number
    FROM raw_events_for_achievements AS r
    WHERE r.raw:"event_type"::VARCHAR = 'achievement_unlocked'
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY r.raw:"event_id"::VARCHAR
        ORDER BY r.loaded_at, r.file_name, r.file_row_number) = 1
) AS s
ON t.event_id = s.event_id
WHEN NOT MATCHED THEN INSERT (
    event_id, event_ts, event_date, user_id, game_id, platform, app_version, session_id, country,
    achievement_id,
    kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
    raw_file_name, raw_file_row_number, merged_at
) VALUES (
    s.event_id, s.event_ts, s.event_date, s.user_id, s.game_id, s.platform, s.app_version, s.session_id, s.country,
    s.achievement_id,
    s.kafka_topic, s.kafka_partition, s.kafka_offset, s.validated_at, s.received_at, s.schema_version,
    s.raw_file_name, s.raw_file_row_number, SYSDATE()
);

CREATE OR REPLACE TASK reprice_fact_purchases
    WAREHOUSE = playstream_wh
    SCHEDULE = 'USING CRON 15 * * * * UTC'
    COMMENT = 'Apply new or corrected FX rates to fact_purchases'
AS
-- body: 090_reprice_fact_purchases.sql
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

CREATE OR REPLACE TASK reprice_fact_ads
    WAREHOUSE = playstream_wh
    AFTER reprice_fact_purchases
    COMMENT = 'Apply new or corrected FX rates to fact_ads'
AS
-- body: 091_reprice_fact_ads.sql
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

-- A new or replaced task starts suspended. Resume children before their root.
ALTER TASK reprice_fact_ads RESUME;
ALTER TASK reprice_fact_purchases RESUME;
ALTER TASK merge_fact_installs RESUME;
ALTER TASK merge_fact_purchases RESUME;
ALTER TASK merge_fact_sessions RESUME;
ALTER TASK merge_fact_levels RESUME;
ALTER TASK merge_fact_ads RESUME;
ALTER TASK merge_fact_achievements RESUME;
