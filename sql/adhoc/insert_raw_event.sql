-- adhoc/insert_raw_event.sql  (not part of the deploy sequence)
-- Lands one Firehose NDJSON line in raw_events the way the pipe's COPY does (020): the parsed
-- line, the file it came from and its 1-based line number; loaded_at takes its default.
-- Used by the tests, and for backfilling lines by hand from a client that binds parameters
-- (snowflake-connector-python, paramstyle "pyformat").
INSERT INTO raw_events (raw, file_name, file_row_number)
SELECT PARSE_JSON(%(line)s), %(file_name)s, %(file_row_number)s;
