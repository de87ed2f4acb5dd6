-- 070_streams.snowflake.sql  (Snowflake only: fakesnow cannot parse STREAM)
-- One append-only stream on raw_events per fact table. A stream's offset moves when a DML
-- statement that reads it commits, so each stream has exactly one reader: the MERGE of its
-- fact table (080-085). Sharing one stream between several MERGEs would let the first one
-- consume rows the others never see.
--
-- SHOW_INITIAL_ROWS = TRUE: the first MERGE after creation also reads the rows that were already
-- in raw_events, so deploying onto a loaded table (or re-creating a stale stream) backfills the
-- facts; the MERGEs are idempotent, so reading a row twice changes nothing.
--
-- A stream goes stale when it is not read for longer than raw_events' data retention (extended
-- up to MAX_DATA_EXTENSION_TIME_IN_DAYS, 14 days by default). Recover with
-- CREATE OR REPLACE STREAM ... SHOW_INITIAL_ROWS = TRUE, which reprocesses everything.
--
-- In the tests each stream is stood in for by a view of the whole raw_events table.

CREATE STREAM IF NOT EXISTS raw_events_for_installs
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_installs';

CREATE STREAM IF NOT EXISTS raw_events_for_purchases
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_purchases';

CREATE STREAM IF NOT EXISTS raw_events_for_sessions
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_sessions';

CREATE STREAM IF NOT EXISTS raw_events_for_levels
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_levels';

CREATE STREAM IF NOT EXISTS raw_events_for_ads
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_ads';

CREATE STREAM IF NOT EXISTS raw_events_for_achievements
    ON TABLE raw_events APPEND_ONLY = TRUE SHOW_INITIAL_ROWS = TRUE
    COMMENT = 'New raw lines for fact_achievements';
