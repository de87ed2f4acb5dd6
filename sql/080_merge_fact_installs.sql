-- 080_merge_fact_installs.sql — body of task merge_fact_installs (100_tasks.snowflake.sql).
-- New install lines -> fact_installs, one row per event_id.
-- Dedup: the copy that landed first (loaded_at, file_name, file_row_number) is kept, within this
-- batch by ROW_NUMBER and across batches by inserting only event_ids not yet in the table.
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
