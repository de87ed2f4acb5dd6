-- 020_landing_ingest.snowflake.sql  (Snowflake only: fakesnow cannot parse PIPE)
-- How Firehose objects get into raw_events: an external stage on the Firehose bucket, a JSON
-- file format (one object per line), and an auto-ingest pipe fed by the bucket's S3 event
-- notifications. Edit the three names marked EDIT before the first deploy (see README.md).

-- NDJSON: one object per line. COMPRESSION = AUTO also reads objects Firehose gzipped.
CREATE FILE FORMAT IF NOT EXISTS playstream_ndjson
    TYPE = JSON
    COMPRESSION = AUTO
    STRIP_OUTER_ARRAY = FALSE
    COMMENT = 'Firehose NDJSON: one validated event per line';

CREATE STAGE IF NOT EXISTS playstream_firehose_stage
    URL = 's3://playstream-events/firehose/'          -- EDIT: the Firehose delivery bucket/prefix
    STORAGE_INTEGRATION = playstream_s3               -- EDIT: a storage integration allowed to read it
    FILE_FORMAT = (FORMAT_NAME = 'playstream_ndjson')
    COMMENT = 'Firehose delivery prefix for game events';

-- IF NOT EXISTS on purpose: CREATE OR REPLACE would drop the pipe's load history, and Snowpipe
-- would then load files again (the facts would not change, raw_events would grow twice).
-- ON_ERROR = CONTINUE: a damaged line is skipped (and reported in COPY_HISTORY) instead of
-- losing the whole file's other events.
CREATE PIPE IF NOT EXISTS playstream_events_pipe
    AUTO_INGEST = TRUE
    COMMENT = 'Loads Firehose NDJSON objects into raw_events as they arrive'
AS
COPY INTO raw_events (raw, file_name, file_row_number)
FROM (
    SELECT $1, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER
    FROM @playstream_firehose_stage
)
FILE_FORMAT = (FORMAT_NAME = 'playstream_ndjson')
ON_ERROR = CONTINUE;

-- Rejects exported by analysts are uploaded by hand (PUT) to an internal stage and loaded with
-- COPY ... MATCH_BY_COLUMN_NAME (README.md). Binary columns travel as base64 strings.
CREATE FILE FORMAT IF NOT EXISTS playstream_rejects_ndjson
    TYPE = JSON
    COMPRESSION = AUTO
    BINARY_FORMAT = BASE64
    COMMENT = 'Rejects export: one JSON object per rejected record, keys named like rejected_events columns';

CREATE STAGE IF NOT EXISTS playstream_rejects_stage
    FILE_FORMAT = (FORMAT_NAME = 'playstream_rejects_ndjson')
    COMMENT = 'Internal stage for rejects exports';
