-- 010_landing.sql
-- Landing tables. Nothing here is typed or cleaned: raw_events keeps every Firehose line exactly
-- as Snowpipe loaded it (duplicates included), rejected_events keeps what analysts export from
-- the rejects topic. Everything downstream is rebuilt from these two tables.
--
-- Convention for the whole warehouse: every TIMESTAMP_NTZ column holds UTC.

CREATE TABLE IF NOT EXISTS raw_events (
    raw              VARIANT       NOT NULL COMMENT 'One Firehose NDJSON line: the validated event plus _meta (and _extra when the client sent unknown fields)',
    file_name        VARCHAR       NOT NULL COMMENT 'Object the line was loaded from (METADATA$FILENAME)',
    file_row_number  NUMBER(38,0)  NOT NULL COMMENT '1-based line number in file_name (METADATA$FILE_ROW_NUMBER)',
    loaded_at        TIMESTAMP_NTZ NOT NULL DEFAULT SYSDATE() COMMENT 'When the line landed (UTC)'
)
COMMENT = 'Firehose NDJSON lines loaded by Snowpipe; at-least-once, so an event_id may appear more than once';

-- One row per record of the rejects topic (game-events.rejects), as exported by analysts
-- (`playstream rejects export`, loaded with COPY ... MATCH_BY_COLUMN_NAME, see README.md).
-- The reject.* headers get their own columns; all headers are also kept in `headers`.
CREATE TABLE IF NOT EXISTS rejected_events (
    record_key        BINARY                      COMMENT 'Original Kafka key bytes; NULL when the record had no key',
    record_value      BINARY                      COMMENT 'Original Kafka value bytes, byte for byte',
    headers           VARIANT                     COMMENT 'Every header of the rejects record (original ones and reject.*), as exported',
    reject_reason     VARCHAR       NOT NULL      COMMENT 'reject.reason: a stable reason code (invalid_json, missing_field, ...)',
    reject_field      VARCHAR                     COMMENT 'reject.field: JSON path of the offending field ($.price); empty when none',
    reject_detail     VARCHAR                     COMMENT 'reject.detail: one human sentence',
    source_topic      VARCHAR       NOT NULL      COMMENT 'reject.source.topic',
    source_partition  NUMBER(10,0)  NOT NULL      COMMENT 'reject.source.partition',
    source_offset     NUMBER(20,0)  NOT NULL      COMMENT 'reject.source.offset',
    reject_schema     VARCHAR                     COMMENT 'reject.schema: schema name and version/id checked against, if any',
    rejected_at       TIMESTAMP_NTZ NOT NULL      COMMENT 'reject.at: time of the decision (UTC)',
    validator         VARCHAR                     COMMENT 'reject.validator: playstream/<version>',
    file_name         VARCHAR                     COMMENT 'Export file the row was loaded from',
    file_row_number   NUMBER(38,0)                COMMENT 'Line number in file_name',
    loaded_at         TIMESTAMP_NTZ NOT NULL DEFAULT SYSDATE() COMMENT 'When the row landed (UTC)'
)
COMMENT = 'Records of the rejects topic exported by analysts; one row per rejected Kafka record';
