-- 040_facts.sql
-- Typed fact tables, one row per event_id (the MERGEs in 080-085 guarantee it; Snowflake does
-- not enforce PRIMARY KEY). Every fact starts with the common event columns and ends with the
-- lineage of the copy that was kept (see the dedup rule in README.md):
--
--   event_id, event_ts (UTC), event_date (UTC day of event_ts), user_id, game_id, platform,
--   app_version, session_id, country
--   ... type columns ...
--   kafka_topic, kafka_partition, kafka_offset, validated_at, received_at, schema_version,
--   raw_file_name, raw_file_row_number, merged_at
--
-- Money is NUMBER(38,6) (exact; six decimals hold every ISO 4217 minor unit), never FLOAT.

CREATE TABLE IF NOT EXISTS fact_installs (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR,
    country              VARCHAR(2),
    source               VARCHAR       COMMENT 'Install source (organic, ad network, store...)',
    campaign             VARCHAR,
    device_model         VARCHAR,
    os_version           VARCHAR,
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'install events; a re-install is a second row (dim_users keeps the first)';

CREATE TABLE IF NOT EXISTS fact_purchases (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR,
    country              VARCHAR(2),
    product_id           VARCHAR       NOT NULL,
    product_name         VARCHAR,
    price                NUMBER(38,6)  NOT NULL COMMENT 'Unit price in currency',
    currency             VARCHAR(3)    NOT NULL,
    store                VARCHAR       NOT NULL,
    transaction_id       VARCHAR,
    quantity             NUMBER(10,0)  NOT NULL,
    amount               NUMBER(38,6)  NOT NULL COMMENT 'price * quantity, in currency',
    fx_rate              NUMBER(38,12)          COMMENT 'USD per unit of currency used; NULL when no rate (see v_fx_missing)',
    fx_rate_date         DATE                   COMMENT 'Day of the rate used (earlier than event_date on a fallback); NULL for USD and when no rate',
    revenue_usd          NUMBER(38,6)           COMMENT 'ROUND(amount * fx_rate, 6); NULL, never 0, when no rate',
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'purchase events with their USD value';

CREATE TABLE IF NOT EXISTS fact_sessions (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_type           VARCHAR       NOT NULL COMMENT 'session_start | session_end',
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR       NOT NULL,
    country              VARCHAR(2),
    duration_ms          NUMBER(19,0)           COMMENT 'session_end only',
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'session_start and session_end events (one row per event, not per session)';

CREATE TABLE IF NOT EXISTS fact_levels (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_type           VARCHAR       NOT NULL COMMENT 'level_start | level_complete',
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR       NOT NULL,
    country              VARCHAR(2),
    level                NUMBER(10,0)  NOT NULL,
    duration_ms          NUMBER(19,0)           COMMENT 'level_complete only',
    success              BOOLEAN                COMMENT 'level_complete only',
    score                NUMBER(19,0)           COMMENT 'level_complete only, optional',
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'level_start and level_complete events';

CREATE TABLE IF NOT EXISTS fact_ads (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR       NOT NULL,
    country              VARCHAR(2),
    placement            VARCHAR       NOT NULL,
    ad_type              VARCHAR       NOT NULL COMMENT 'rewarded | interstitial | banner',
    revenue              NUMBER(38,6)           COMMENT 'Ad revenue in currency; NULL when the client reported none',
    currency             VARCHAR(3)             COMMENT 'Set whenever revenue is',
    fx_rate              NUMBER(38,12)          COMMENT 'USD per unit of currency used; NULL without revenue or without a rate',
    fx_rate_date         DATE                   COMMENT 'Day of the rate used; NULL for USD, without revenue, or without a rate',
    revenue_usd          NUMBER(38,6)           COMMENT 'ROUND(revenue * fx_rate, 6); NULL without revenue or without a rate',
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'ad_watched events with their USD revenue';

CREATE TABLE IF NOT EXISTS fact_achievements (
    event_id             VARCHAR(36)   NOT NULL PRIMARY KEY,
    event_ts             TIMESTAMP_NTZ NOT NULL,
    event_date           DATE          NOT NULL,
    user_id              VARCHAR       NOT NULL,
    game_id              VARCHAR       NOT NULL,
    platform             VARCHAR       NOT NULL,
    app_version          VARCHAR       NOT NULL,
    session_id           VARCHAR       NOT NULL,
    country              VARCHAR(2),
    achievement_id       VARCHAR       NOT NULL,
    kafka_topic          VARCHAR       NOT NULL,
    kafka_partition      NUMBER(10,0)  NOT NULL,
    kafka_offset         NUMBER(20,0)  NOT NULL,
    validated_at         TIMESTAMP_NTZ NOT NULL,
    received_at          TIMESTAMP_NTZ,
    schema_version       NUMBER(10,0)  NOT NULL,
    raw_file_name        VARCHAR       NOT NULL,
    raw_file_row_number  NUMBER(38,0)  NOT NULL,
    merged_at            TIMESTAMP_NTZ NOT NULL
)
COMMENT = 'achievement_unlocked events';
