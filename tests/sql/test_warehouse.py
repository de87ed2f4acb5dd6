"""The Snowflake warehouse layer (sql/) on fakesnow.

What runs here is the SQL in sql/, unchanged: the landing and DDL files in deploy order, the
landing INSERT for NDJSON lines, and the MERGE files that the Snowflake tasks run. Streams,
tasks and pipes are Snowflake-only (fakesnow cannot parse them); each stream is stood in for
by a view over all of raw_events, which is what a stream shows the first time it is read
(SHOW_INITIAL_ROWS) and is harmless afterwards because the MERGEs are idempotent.

The input is the Firehose NDJSON fixture (PLAYSTREAM_SQL_FIXTURE, default
fixtures/firehose.ndjson), written for the raw client events in fixtures/events.jsonl. Every
expected value below is worked out by hand in the comments next to it.

The scenario (UTC days; rates in USD per unit):
  FX     EUR 10-01 1.10, 10-02 1.12, 10-08 1.08; JPY 10-02 0.0065, 10-08 0.0070; USD is 1.
  game space-miners
    player-001 US  installs 10-01; active 10-01 10-02 10-05 10-08 10-31 11-01
                   buys 4.99 USD (10-01) and 4.99 EUR (10-05: no EUR rate that day -> 10-02's)
    player-002 DE  installs 10-01; active 10-01 10-02 10-08; buys 2 x 9.99 EUR (sent twice),
                   watches a rewarded ad worth 0.05 USD (sent twice); achievement on 10-08
                   (sent twice)
    player-003 JP  installs 10-01, re-installs 10-02 (22:15-03:00 local = 01:15 UTC); active
                   10-01 10-02; buys 1200 JPY on 10-01, before the first JPY rate -> unpriced;
                   ad worth 0.04 EUR; wins level 2 on the second try (that event sent twice)
    player-004 --  installs 10-01; active 10-01 only (the 01:30+02:00 event is 10-01 23:30 UTC)
    player-005 JP  installs 10-02 (sent twice); active 10-02, 10-03 (its session_end sent
                   twice), 10-09; buys 3 x 480 JPY on 10-09
    player-006 FR  installs 10-02; active 10-02 10-05; ad worth 0.03 EUR on 10-05
    player-007 US  no install event (installed before tracking); active 10-08; buys 0.99 USD
    player-008 CA  installs 10-25; active 10-25 10-26
  game block-party
    player-001 US  installs 10-05 and buys 1.99 USD the same day
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import snowflake.connector

from firehose_format import expected_record, load_events, load_firehose, render

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HERE = Path(__file__).resolve().parent
SQL_DIR = HERE.parent.parent / "sql"
EVENTS_PATH = HERE / "fixtures" / "events.jsonl"
REJECTS_EXPORT_PATH = HERE / "fixtures" / "rejects-export.jsonl"
FIXTURE_PATH = Path(os.environ.get("PLAYSTREAM_SQL_FIXTURE", HERE / "fixtures" / "firehose.ndjson"))

SNOWFLAKE_ONLY = ".snowflake.sql"
TASKS_FILE = SQL_DIR / "100_tasks.snowflake.sql"
STREAMS_FILE = SQL_DIR / "070_streams.snowflake.sql"
INSERT_RAW_EVENT = SQL_DIR / "adhoc" / "insert_raw_event.sql"

FACT_TABLES = ["fact_installs", "fact_purchases", "fact_sessions",
               "fact_levels", "fact_ads", "fact_achievements"]

# Rates the scenario runs with (EUR/JPY only: USD is always 1).
FX_RATES = [
    ("2026-10-01", "EUR", "1.10"),
    ("2026-10-02", "EUR", "1.12"),
    ("2026-10-08", "EUR", "1.08"),
    ("2026-10-02", "JPY", "0.0065"),
    ("2026-10-08", "JPY", "0.0070"),
]


def eid(n: int) -> str:
    """event_id of fixture event number n (the fixture's ids are readable on purpose)."""
    return f"e{n:07d}-0000-4000-8000-{n:012d}"


D = Decimal


def d(text: str) -> date:
    return date.fromisoformat(text)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------------------------------------
# Running sql/ on fakesnow


def sql_files() -> list[Path]:
    """The numbered files of sql/, in deploy order."""
    return sorted(p for p in SQL_DIR.glob("*.sql") if re.match(r"\d{3}_", p.name))


def strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def normalized(sql: str) -> str:
    return " ".join(strip_comments(sql).split()).rstrip(";").strip()


def task_definitions() -> dict[str, dict]:
    """Task name -> its header (schedule, WHEN...) and the file its body claims to be."""
    text = TASKS_FILE.read_text()
    pattern = re.compile(
        r"CREATE OR REPLACE TASK (\w+)\n(.*?)\nAS\n-- body: (\S+)\n(.*?;)\n", re.DOTALL)
    return {m.group(1): {"header": m.group(2), "file": m.group(3), "body": m.group(4)}
            for m in pattern.finditer(text)}


def task_body_files() -> list[Path]:
    """The SQL files the tasks run, in file order (merges 08x, then reprices 09x)."""
    return sorted(SQL_DIR / t["file"] for t in task_definitions().values())


def streams() -> dict[str, str]:
    """Stream name -> the table it is on."""
    found = re.findall(r"CREATE STREAM IF NOT EXISTS (\w+)\s+ON TABLE (\w+)", STREAMS_FILE.read_text())
    return dict(found)


def deploy(conn) -> None:
    """Apply sql/ in order, as a deploy would. Snowflake-only files are skipped, except that
    every stream gets its stand-in view; the task bodies are run separately (run_bodies)."""
    bodies = {p.name for p in task_body_files()}
    for path in sql_files():
        if path.name in bodies:
            continue
        if path.name.endswith(SNOWFLAKE_ONLY):
            if path == STREAMS_FILE:
                for stream, table in streams().items():
                    conn.cursor().execute(f"CREATE VIEW {stream} AS SELECT * FROM {table}")
            continue
        conn.execute_string(path.read_text())


def load_fx_rates(conn, rates=FX_RATES, loaded_at=None) -> None:
    with conn.cursor() as cur:
        for rate_date, currency, rate in rates:
            if loaded_at is None:
                cur.execute("INSERT INTO fx_rates (rate_date, currency, usd_per_unit, source) "
                            "VALUES (%s, %s, %s, 'test')", (rate_date, currency, rate))
            else:
                cur.execute("INSERT INTO fx_rates (rate_date, currency, usd_per_unit, source, loaded_at) "
                            "VALUES (%s, %s, %s, 'test', %s)", (rate_date, currency, rate, loaded_at))


def load_lines(conn, lines: list[str], file_name: str) -> None:
    """Land NDJSON lines through the landing INSERT (one row per line, 1-based line numbers)."""
    insert = INSERT_RAW_EVENT.read_text()
    with conn.cursor() as cur:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                cur.execute(insert, {"line": line, "file_name": file_name, "file_row_number": number})


def load_rejects_export(conn, path: Path) -> None:
    """Land a `playstream rejects export` file in rejected_events, as COPY ... MATCH_BY_COLUMN_NAME
    with BINARY_FORMAT = BASE64 would."""
    cur = conn.cursor()
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        r = json.loads(line)
        cur.execute(
            """INSERT INTO rejected_events (record_key, record_value, headers, reject_reason, reject_field,
                   reject_detail, source_topic, source_partition, source_offset, reject_schema,
                   rejected_at, validator, file_name, file_row_number)
               SELECT IFF(%s IS NULL, NULL, BASE64_DECODE_BINARY(%s)), BASE64_DECODE_BINARY(%s), PARSE_JSON(%s),
                   %s, %s, %s, %s, %s, %s, %s, %s::TIMESTAMP_NTZ, %s, %s, %s""",
            (r["record_key"], r["record_key"], r["record_value"], json.dumps(r["headers"]), r["reject_reason"],
             r["reject_field"], r["reject_detail"], r["source_topic"], r["source_partition"], r["source_offset"],
             r["reject_schema"], r["rejected_at"], r["validator"], path.name, n))


def run_bodies(conn, kinds=("merge", "reprice")) -> None:
    for path in task_body_files():
        if path.name.split("_", 2)[1] in kinds:
            conn.execute_string(path.read_text())


def query(conn, sql: str, params=None) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [c[0].lower() for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def rows(conn, sql: str, params=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def snapshot(conn) -> dict[str, list[tuple]]:
    """Every fact table's full contents, and every view's output."""
    out = {t: rows(conn, f"SELECT * FROM {t} ORDER BY event_id") for t in FACT_TABLES}
    for view in ALL_VIEWS:
        out[view] = sorted(rows(conn, f"SELECT * FROM {view}"), key=repr)
    return out


ALL_VIEWS = ["v_fx_rate_periods", "v_all_events", "v_user_activity", "dim_users",
             "v_revenue_events", "v_fx_missing", "v_dau", "v_daily_installs", "v_daily_revenue",
             "v_arpdau", "v_monthly_arpu", "v_payer_conversion", "v_retention", "v_level_funnel"]


def new_warehouse(merge=True):
    """A fresh database: sql/ deployed, rates loaded, the fixture landed and (by default) the
    fact MERGEs run once. The reprice MERGEs are not run, so the facts' USD values come from
    the fact MERGEs themselves."""
    conn = snowflake.connector.connect(database=f"pw_{uuid.uuid4().hex[:12]}", schema="playstream")
    deploy(conn)
    load_fx_rates(conn)
    load_lines(conn, FIXTURE_PATH.read_text(encoding="utf-8").splitlines(), FIXTURE_PATH.name)
    if merge:
        run_bodies(conn, kinds=("merge",))
    return conn


@pytest.fixture(scope="module")
def wh(fake_snowflake):
    """One loaded warehouse shared by the read-only tests."""
    conn = new_warehouse()
    yield conn
    conn.close()


@pytest.fixture
def fresh_wh(fake_snowflake):
    """A warehouse of its own, for tests that change data."""
    conn = new_warehouse()
    yield conn
    conn.close()


# ---------------------------------------------------------------------------------------------
# The fixtures themselves


def test_firehose_fixture_is_the_encoding_of_the_raw_events():
    """Line n of the NDJSON is exactly the Firehose record for line n of events.jsonl: schema
    field order, UTC timestamps, money at the currency's scale, quantity defaulted, unknown
    fields under _extra, then _meta."""
    origins = load_events(EVENTS_PATH)
    lines = FIXTURE_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(origins)
    for number, (origin, line) in enumerate(zip(origins, lines), start=1):
        assert line == render(expected_record(origin)), f"line {number}"


def test_duplicates_in_the_fixture_are_redeliveries_of_one_event():
    origins = load_events(EVENTS_PATH)
    records = load_firehose(FIXTURE_PATH)
    by_id: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_id.setdefault(record["event_id"], []).append(index)
    duplicated = {k: v for k, v in by_id.items() if len(v) > 1}
    # one redelivered event for each fact table
    assert sorted(duplicated) == [eid(22), eid(23), eid(26), eid(36), eid(41), eid(43)]
    for indexes in duplicated.values():
        first = origins[indexes[0]]
        for other in indexes[1:]:
            assert origins[other]["event"] == first["event"]
            assert origins[other]["offset"] != first["offset"]
    assert len(records) == 56 and len(by_id) == 50


# ---------------------------------------------------------------------------------------------
# Landing


def test_raw_events_keeps_every_line_as_loaded(wh):
    landed = query(wh, "SELECT file_name, file_row_number, loaded_at FROM raw_events ORDER BY file_row_number")
    assert [r["file_row_number"] for r in landed] == list(range(1, 57))  # 56 lines, 6 duplicates
    assert {r["file_name"] for r in landed} == {FIXTURE_PATH.name}
    assert all(r["loaded_at"] is not None for r in landed)
    # Unknown client fields stay in raw (and nowhere else).
    extra = rows(wh, """SELECT raw:"_extra"."client_build"::VARCHAR, raw:"_extra"."experiments"."shop_layout"::VARCHAR
                        FROM raw_events WHERE raw:"event_id"::VARCHAR = %s""", (eid(47),))
    assert extra == [("web-2291", "b")]


def test_rejected_events_lands_a_rejects_record(wh):
    wh.cursor().execute("""
        INSERT INTO rejected_events (record_key, record_value, headers, reject_reason, reject_field,
            reject_detail, source_topic, source_partition, source_offset, reject_schema,
            rejected_at, validator, file_name, file_row_number)
        SELECT BASE64_DECODE_BINARY('cGxheWVyLTAwMQ=='), BASE64_DECODE_BINARY('eyJwcmljZSI6LTF9'),
            PARSE_JSON('{"reject.reason":"invalid_amount","reject.field":"$.price"}'),
            'invalid_amount', '$.price', 'price must be greater than 0', 'game-events.raw', 2, 77,
            'playstream.events.Purchase v1', '2026-11-20 00:00:01', 'playstream/0.1.0',
            'rejects-2026-11-20.ndjson', 1""")
    got = query(wh, "SELECT * FROM rejected_events")
    assert len(got) == 1
    row = got[0]
    assert bytes(row["record_key"]) == b"player-001"
    assert bytes(row["record_value"]) == b'{"price":-1}'
    assert (row["reject_reason"], row["reject_field"], row["source_partition"], row["source_offset"]) == \
        ("invalid_amount", "$.price", 2, 77)
    assert row["rejected_at"] == ts("2026-11-20 00:00:01") and row["loaded_at"] is not None
    wh.cursor().execute("DELETE FROM rejected_events")


def test_a_rejects_export_loads_into_rejected_events(wh):
    """fixtures/rejects-export.jsonl is `playstream rejects export`'s own output (tests/sql_fixture.rs
    keeps it so); loaded as COPY ... MATCH_BY_COLUMN_NAME with BINARY_FORMAT = BASE64 would."""
    load_rejects_export(wh, REJECTS_EXPORT_PATH)
    cur = wh.cursor()
    got = query(wh, "SELECT * FROM rejected_events ORDER BY file_row_number")
    assert [g["reject_reason"] for g in got] == ["invalid_amount", "invalid_json", "invalid_avro"]
    assert bytes(got[0]["record_key"]) == b"player-001" and got[1]["record_key"] is None
    assert bytes(got[0]["record_value"]) == b'{"price":-1}'
    assert bytes(got[2]["record_value"]) == b"\x00\x00\x00\x00\x07\xff", "binary values survive byte for byte"
    assert [(g["source_partition"], g["source_offset"]) for g in got] == [(2, 70), (2, 71), (2, 72)]
    assert got[1]["rejected_at"] == ts("2026-11-20 00:00:02.250")
    cur.execute("DELETE FROM rejected_events")


def test_money_is_exact_numbers_never_float(wh):
    columns = query(wh, """SELECT table_name, column_name, data_type, numeric_precision, numeric_scale
                           FROM information_schema.columns""")
    by_name = {(c["table_name"].lower(), c["column_name"].lower()): c for c in columns}
    for table, column in [("fact_purchases", "price"), ("fact_purchases", "amount"),
                          ("fact_purchases", "revenue_usd"), ("fact_ads", "revenue"),
                          ("fact_ads", "revenue_usd")]:
        c = by_name[(table, column)]
        assert (c["data_type"], c["numeric_precision"], c["numeric_scale"]) == ("NUMBER", 38, 6), (table, column)
    # every USD amount, in tables and views alike
    usd = {k: (c["data_type"], c["numeric_precision"], c["numeric_scale"])
           for k, c in by_name.items() if k[1].endswith("_usd")}
    assert len(usd) >= 15 and set(usd.values()) == {("NUMBER", 38, 6)}, usd
    floats = [k for k, c in by_name.items() if c["data_type"] in ("FLOAT", "DOUBLE", "REAL")]
    assert floats == []


# ---------------------------------------------------------------------------------------------
# Facts


def test_each_event_lands_once_in_its_fact(wh):
    counts = {t: rows(wh, f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM {t}")[0] for t in FACT_TABLES}
    # installs 1 17 19 27 31 37 41 45 49; purchases 5 13 18 22 28 44 48;
    # sessions 2 6 7 14 15 16 42 43 47 50; levels 3 4 8 9 11 12 20 21 24 25 29 30 33-36 39 40;
    # ads 23 32 38 46; achievements 10 26  -> 9 + 7 + 10 + 18 + 4 + 2 = 50 distinct events.
    assert counts == {
        "fact_installs": (9, 9), "fact_purchases": (7, 7), "fact_sessions": (10, 10),
        "fact_levels": (18, 18), "fact_ads": (4, 4), "fact_achievements": (2, 2),
    }


def test_dedup_keeps_the_copy_that_landed_first(wh):
    # (event, fact): first copy at (partition, offset, line), second copy one or more lines later.
    kept = {}
    for table, n in [("fact_purchases", 22), ("fact_ads", 23), ("fact_achievements", 26),
                     ("fact_levels", 36), ("fact_installs", 41), ("fact_sessions", 43)]:
        kept[n] = rows(wh, f"""SELECT kafka_partition, kafka_offset, raw_file_row_number
                               FROM {table} WHERE event_id = %s""", (eid(n),))
    assert kept == {
        22: [(1, 203, 22)],  # copies at offsets 203 (line 22) and 205 (line 24)
        23: [(1, 204, 23)],  # 204 (line 23) and 208 (line 27)
        26: [(1, 209, 28)],  # 209 (line 28) and 210 (line 29)
        36: [(2, 309, 39)],  # 309 (line 39) and 310 (line 40)
        41: [(1, 211, 45)],  # 211 (line 45) and 212 (line 46)
        43: [(1, 214, 48)],  # 214 (line 48) and 215 (line 49)
    }


def test_fact_purchases(wh):
    got = rows(wh, """SELECT event_id, game_id, user_id, event_date, currency, price, quantity, amount,
                             fx_rate, fx_rate_date, revenue_usd
                      FROM fact_purchases ORDER BY event_id""")
    assert got == [
        # 4.99 USD x 1; USD converts at 1 with no rate date
        (eid(5), "space-miners", "player-001", d("2026-10-01"), "USD", D("4.99"), 1, D("4.99"),
         D(1), None, D("4.99")),
        # 4.99 EUR x 1 on 10-05: no EUR rate for 10-05, latest earlier is 10-02 (1.12)
        # 4.99 * 1.12 = 5.5888
        (eid(13), "space-miners", "player-001", d("2026-10-05"), "EUR", D("4.99"), 1, D("4.99"),
         D("1.12"), d("2026-10-02"), D("5.5888")),
        (eid(18), "block-party", "player-001", d("2026-10-05"), "USD", D("1.99"), 1, D("1.99"),
         D(1), None, D("1.99")),
        # 9.99 EUR x 2 = 19.98 EUR on 10-02 (rate 1.12): 19.98 * 1.12 = 22.3776
        (eid(22), "space-miners", "player-002", d("2026-10-02"), "EUR", D("9.99"), 2, D("19.98"),
         D("1.12"), d("2026-10-02"), D("22.3776")),
        # 1200 JPY on 10-01: the first JPY rate is 10-02 -> no rate, USD unknown (not 0)
        (eid(28), "space-miners", "player-003", d("2026-10-01"), "JPY", D("1200"), 1, D("1200"),
         None, None, None),
        # 480 JPY x 3 = 1440 JPY on 10-09: rate of 10-08 (0.0070): 1440 * 0.007 = 10.08
        (eid(44), "space-miners", "player-005", d("2026-10-09"), "JPY", D("480"), 3, D("1440"),
         D("0.007"), d("2026-10-08"), D("10.08")),
        (eid(48), "space-miners", "player-007", d("2026-10-08"), "USD", D("0.99"), 1, D("0.99"),
         D(1), None, D("0.99")),
    ]


def test_fact_purchase_row_in_full(wh):
    """One row with every column, including the lineage of the kept copy."""
    row = query(wh, "SELECT * FROM fact_purchases WHERE event_id = %s", (eid(5),))[0]
    merged_at = row.pop("merged_at")
    assert isinstance(merged_at, datetime)
    assert row == {
        "event_id": eid(5), "event_ts": ts("2026-10-01 08:05:00.250"),  # sent as 10:05:00.25+02:00
        "event_date": d("2026-10-01"), "user_id": "player-001", "game_id": "space-miners",
        "platform": "ios", "app_version": "1.4.0", "session_id": "s-001-a", "country": "US",
        "product_id": "gems_small", "product_name": "Small Gem Pack", "price": D("4.99"),
        "currency": "USD", "store": "app_store", "transaction_id": "1000000901", "quantity": 1,
        "amount": D("4.99"), "fx_rate": D(1), "fx_rate_date": None, "revenue_usd": D("4.99"),
        "kafka_topic": "game-events.raw", "kafka_partition": 0, "kafka_offset": 104,
        "validated_at": ts("2026-11-20 00:00:00"), "received_at": ts("2026-10-01 08:05:02.250"),
        "schema_version": 1, "raw_file_name": FIXTURE_PATH.name, "raw_file_row_number": 5,
    }
    # An event that came from an upstream service has no received_at.
    assert rows(wh, "SELECT received_at FROM fact_purchases WHERE event_id = %s", (eid(48),)) == [(None,)]


def test_fact_installs(wh):
    got = rows(wh, """SELECT event_id, game_id, user_id, event_ts, session_id, country, source,
                             campaign, device_model, os_version
                      FROM fact_installs ORDER BY event_id""")
    assert got == [
        (eid(1), "space-miners", "player-001", ts("2026-10-01 08:00:00"), None, "US", "organic",
         None, "iPhone15,2", "18.1"),
        (eid(17), "block-party", "player-001", ts("2026-10-05 15:00:00"), None, "US", "steam_store",
         None, None, None),
        (eid(19), "space-miners", "player-002", ts("2026-10-01 09:00:00"), "s-002-a", "DE",
         "google_ads", "launch_eu", None, None),
        (eid(27), "space-miners", "player-003", ts("2026-10-01 03:00:00"), None, "JP", "facebook",
         "jp_autumn", "Pixel 8", None),
        # sent as 2026-10-01T22:15:00-03:00
        (eid(31), "space-miners", "player-003", ts("2026-10-02 01:15:00"), None, "JP", "organic",
         None, None, None),
        (eid(37), "space-miners", "player-004", ts("2026-10-01 12:00:00"), None, None, None,
         None, None, None),
        (eid(41), "space-miners", "player-005", ts("2026-10-02 07:00:00"), "s-005-a", "JP",
         "apple_search_ads", "jp_autumn", "iPhone14,5", "17.6"),
        (eid(45), "space-miners", "player-006", ts("2026-10-02 16:00:00"), None, "FR", "organic",
         None, None, None),
        (eid(49), "space-miners", "player-008", ts("2026-10-25 14:00:00"), None, "CA", "organic",
         None, None, None),
    ]


def test_fact_sessions(wh):
    got = rows(wh, """SELECT event_id, event_type, user_id, event_ts, event_date, session_id, duration_ms
                      FROM fact_sessions ORDER BY event_id""")
    assert got == [
        (eid(2), "session_start", "player-001", ts("2026-10-01 08:00:05"), d("2026-10-01"), "s-001-a", None),
        (eid(6), "session_end", "player-001", ts("2026-10-01 08:20:00"), d("2026-10-01"), "s-001-a", 1195000),
        (eid(7), "session_start", "player-001", ts("2026-10-02 19:00:00"), d("2026-10-02"), "s-001-b", None),
        (eid(14), "session_start", "player-001", ts("2026-10-08 18:00:00"), d("2026-10-08"), "s-001-d", None),
        # one millisecond before midnight stays on 10-31
        (eid(15), "session_start", "player-001", ts("2026-10-31 23:59:59.999"), d("2026-10-31"), "s-001-e", None),
        (eid(16), "session_end", "player-001", ts("2026-11-01 00:10:00"), d("2026-11-01"), "s-001-e", 600001),
        (eid(42), "session_start", "player-005", ts("2026-10-03 20:00:00"), d("2026-10-03"), "s-005-b", None),
        (eid(43), "session_end", "player-005", ts("2026-10-03 20:45:00"), d("2026-10-03"), "s-005-b", 2700000),
        (eid(47), "session_start", "player-007", ts("2026-10-08 21:00:00"), d("2026-10-08"), "s-007-a", None),
        # microsecond timestamp; the raw event_id was upper case
        (eid(50), "session_start", "player-008", ts("2026-10-26 10:00:00.123456"), d("2026-10-26"), "s-008-b", None),
    ]


def test_fact_levels(wh):
    got = rows(wh, """SELECT event_id, event_type, user_id, level, duration_ms, success, score, event_date
                      FROM fact_levels ORDER BY event_id""")
    start, done = "level_start", "level_complete"
    assert got == [
        (eid(3), start, "player-001", 1, None, None, None, d("2026-10-01")),
        (eid(4), done, "player-001", 1, 45000, True, 1200, d("2026-10-01")),
        (eid(8), start, "player-001", 2, None, None, None, d("2026-10-02")),
        (eid(9), done, "player-001", 2, 60000, True, 2500, d("2026-10-02")),
        (eid(11), start, "player-001", 3, None, None, None, d("2026-10-05")),
        (eid(12), done, "player-001", 3, 270500, True, None, d("2026-10-05")),
        (eid(20), start, "player-002", 1, None, None, None, d("2026-10-01")),
        (eid(21), done, "player-002", 1, 61000, True, 900, d("2026-10-01")),
        (eid(24), start, "player-002", 2, None, None, None, d("2026-10-02")),
        (eid(25), done, "player-002", 2, 100000, False, 300, d("2026-10-02")),
        (eid(29), start, "player-003", 1, None, None, None, d("2026-10-01")),
        (eid(30), done, "player-003", 1, 120000, True, 1000, d("2026-10-01")),
        (eid(33), start, "player-003", 2, None, None, None, d("2026-10-02")),
        (eid(34), done, "player-003", 2, 120000, False, 150, d("2026-10-02")),
        (eid(35), start, "player-003", 2, None, None, None, d("2026-10-02")),
        (eid(36), done, "player-003", 2, 180000, True, 2100, d("2026-10-02")),
        (eid(39), start, "player-004", 1, None, None, None, d("2026-10-01")),
        # sent as 2026-10-02T01:30:00+02:00 = 10-01 23:30 UTC
        (eid(40), done, "player-004", 1, 1800000, False, None, d("2026-10-01")),
    ]


def test_fact_ads(wh):
    got = rows(wh, """SELECT event_id, user_id, event_date, placement, ad_type, revenue, currency,
                             fx_rate, fx_rate_date, revenue_usd
                      FROM fact_ads ORDER BY event_id""")
    assert got == [
        (eid(23), "player-002", d("2026-10-02"), "double_coins", "rewarded", D("0.05"), "USD",
         D(1), None, D("0.05")),
        # 0.04 EUR on 10-02 at 1.12 = 0.0448
        (eid(32), "player-003", d("2026-10-02"), "level_end", "interstitial", D("0.04"), "EUR",
         D("1.12"), d("2026-10-02"), D("0.0448")),
        # a banner without revenue: no rate looked up, nothing missing
        (eid(38), "player-004", d("2026-10-01"), "main_menu", "banner", None, None,
         None, None, None),
        # 0.03 EUR on 10-05 -> 10-02's rate 1.12 = 0.0336
        (eid(46), "player-006", d("2026-10-05"), "double_coins", "rewarded", D("0.03"), "EUR",
         D("1.12"), d("2026-10-02"), D("0.0336")),
    ]


def test_fact_achievements(wh):
    got = rows(wh, "SELECT event_id, user_id, achievement_id, event_date FROM fact_achievements ORDER BY event_id")
    assert got == [
        (eid(10), "player-001", "first_boss", d("2026-10-02")),
        (eid(26), "player-002", "first_boss", d("2026-10-08")),
    ]


# ---------------------------------------------------------------------------------------------
# Views


def test_fx_rate_periods(wh):
    got = rows(wh, "SELECT currency, rate_date, valid_from, valid_until, usd_per_unit FROM v_fx_rate_periods ORDER BY 1, 3")
    assert got == [
        ("EUR", d("2026-10-01"), d("2026-10-01"), d("2026-10-02"), D("1.10")),
        ("EUR", d("2026-10-02"), d("2026-10-02"), d("2026-10-08"), D("1.12")),
        ("EUR", d("2026-10-08"), d("2026-10-08"), None, D("1.08")),
        ("JPY", d("2026-10-02"), d("2026-10-02"), d("2026-10-08"), D("0.0065")),
        ("JPY", d("2026-10-08"), d("2026-10-08"), None, D("0.0070")),
        ("USD", None, d("1900-01-01"), None, D(1)),
    ]


def test_fx_missing_lists_the_unpriced_purchase(wh):
    assert rows(wh, "SELECT * FROM v_fx_missing") == [
        ("purchase", eid(28), "space-miners", "player-003", d("2026-10-01"), "JPY", D("1200")),
    ]


def test_activity_covers_every_event(wh):
    assert rows(wh, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM v_all_events") == [(50, 50)]
    # player-004's last event is 10-02 01:30 at +02:00, i.e. still 10-01 in UTC
    assert rows(wh, """SELECT activity_date FROM v_user_activity
                       WHERE user_id = 'player-004' ORDER BY 1""") == [(d("2026-10-01"),)]


def test_dim_users(wh):
    got = rows(wh, """SELECT game_id, user_id, first_install_at, install_date, install_source,
                             install_campaign, country, first_seen_date, last_seen_date,
                             purchase_count, first_purchase_date, is_payer,
                             lifetime_revenue_usd, lifetime_ad_revenue_usd
                      FROM dim_users ORDER BY game_id, user_id""")
    sm = "space-miners"
    assert got == [
        ("block-party", "player-001", ts("2026-10-05 15:00"), d("2026-10-05"), "steam_store", None,
         "US", d("2026-10-05"), d("2026-10-05"), 1, d("2026-10-05"), True, D("1.99"), D(0)),
        # 4.99 + 5.5888 = 10.5788
        (sm, "player-001", ts("2026-10-01 08:00"), d("2026-10-01"), "organic", None,
         "US", d("2026-10-01"), d("2026-11-01"), 2, d("2026-10-01"), True, D("10.5788"), D(0)),
        (sm, "player-002", ts("2026-10-01 09:00"), d("2026-10-01"), "google_ads", "launch_eu",
         "DE", d("2026-10-01"), d("2026-10-08"), 1, d("2026-10-02"), True, D("22.3776"), D("0.05")),
        # first install wins over the 10-02 re-install; the JPY purchase has no rate -> NULL
        (sm, "player-003", ts("2026-10-01 03:00"), d("2026-10-01"), "facebook", "jp_autumn",
         "JP", d("2026-10-01"), d("2026-10-02"), 1, d("2026-10-01"), True, None, D("0.0448")),
        (sm, "player-004", ts("2026-10-01 12:00"), d("2026-10-01"), None, None,
         None, d("2026-10-01"), d("2026-10-01"), 0, None, False, D(0), D(0)),
        (sm, "player-005", ts("2026-10-02 07:00"), d("2026-10-02"), "apple_search_ads", "jp_autumn",
         "JP", d("2026-10-02"), d("2026-10-09"), 1, d("2026-10-09"), True, D("10.08"), D(0)),
        (sm, "player-006", ts("2026-10-02 16:00"), d("2026-10-02"), "organic", None,
         "FR", d("2026-10-02"), d("2026-10-05"), 0, None, False, D(0), D("0.0336")),
        # no install event: no cohort; country from the first event that had one
        (sm, "player-007", None, None, None, None,
         "US", d("2026-10-08"), d("2026-10-08"), 1, d("2026-10-08"), True, D("0.99"), D(0)),
        (sm, "player-008", ts("2026-10-25 14:00"), d("2026-10-25"), "organic", None,
         "CA", d("2026-10-25"), d("2026-10-26"), 0, None, False, D(0), D(0)),
    ]


def test_dau(wh):
    assert rows(wh, "SELECT game_id, activity_date, dau FROM v_dau ORDER BY 1, 2") == [
        ("block-party", d("2026-10-05"), 1),
        ("space-miners", d("2026-10-01"), 4),   # 001 002 003 004
        ("space-miners", d("2026-10-02"), 5),   # 001 002 003 005 006
        ("space-miners", d("2026-10-03"), 1),   # 005
        ("space-miners", d("2026-10-05"), 2),   # 001 006
        ("space-miners", d("2026-10-08"), 3),   # 001 002 007
        ("space-miners", d("2026-10-09"), 1),   # 005
        ("space-miners", d("2026-10-25"), 1),   # 008
        ("space-miners", d("2026-10-26"), 1),   # 008
        ("space-miners", d("2026-10-31"), 1),   # 001
        ("space-miners", d("2026-11-01"), 1),   # 001
    ]


def test_daily_installs(wh):
    assert rows(wh, "SELECT * FROM v_daily_installs ORDER BY 1, 2") == [
        ("block-party", d("2026-10-05"), 1, 1, 0),
        ("space-miners", d("2026-10-01"), 4, 4, 0),
        # 003's re-install (01:15 UTC), 005 (sent twice, counted once), 006
        ("space-miners", d("2026-10-02"), 3, 2, 1),
        ("space-miners", d("2026-10-25"), 1, 1, 0),
    ]


def test_daily_revenue(wh):
    assert rows(wh, """SELECT game_id, revenue_date, purchases, payers, purchase_revenue_usd,
                              ad_revenue_usd, revenue_usd, unpriced_count
                       FROM v_daily_revenue ORDER BY 1, 2""") == [
        ("block-party", d("2026-10-05"), 1, 1, D("1.99"), D(0), D("1.99"), 0),
        # 4.99 USD + 1200 JPY without a rate: the day's purchase revenue is unknown, not 4.99
        ("space-miners", d("2026-10-01"), 2, 2, None, D(0), None, 1),
        # 22.3776 + ads 0.05 + 0.0448 = 22.4724
        ("space-miners", d("2026-10-02"), 1, 1, D("22.3776"), D("0.0948"), D("22.4724"), 0),
        # 5.5888 + ad 0.0336 = 5.6224
        ("space-miners", d("2026-10-05"), 1, 1, D("5.5888"), D("0.0336"), D("5.6224"), 0),
        ("space-miners", d("2026-10-08"), 1, 1, D("0.99"), D(0), D("0.99"), 0),
        ("space-miners", d("2026-10-09"), 1, 1, D("10.08"), D(0), D("10.08"), 0),
    ]


def test_arpdau(wh):
    assert rows(wh, "SELECT game_id, activity_date, dau, revenue_usd, arpdau_usd FROM v_arpdau ORDER BY 1, 2") == [
        ("block-party", d("2026-10-05"), 1, D("1.99"), D("1.99")),
        ("space-miners", d("2026-10-01"), 4, None, None),               # revenue unknown
        ("space-miners", d("2026-10-02"), 5, D("22.4724"), D("4.49448")),  # 22.4724 / 5
        ("space-miners", d("2026-10-03"), 1, D(0), D(0)),                # active, earned nothing
        ("space-miners", d("2026-10-05"), 2, D("5.6224"), D("2.8112")),  # 5.6224 / 2
        ("space-miners", d("2026-10-08"), 3, D("0.99"), D("0.33")),      # 0.99 / 3
        ("space-miners", d("2026-10-09"), 1, D("10.08"), D("10.08")),
        ("space-miners", d("2026-10-25"), 1, D(0), D(0)),
        ("space-miners", d("2026-10-26"), 1, D(0), D(0)),
        ("space-miners", d("2026-10-31"), 1, D(0), D(0)),
        ("space-miners", d("2026-11-01"), 1, D(0), D(0)),
    ]


def test_monthly_arpu(wh):
    assert rows(wh, "SELECT * FROM v_monthly_arpu ORDER BY 1, 2") == [
        ("block-party", d("2026-10-01"), 1, 1, D("1.99"), D(0), D("1.99"), D("1.99"), D("1.99")),
        # October: MAU 8 (001-008), payers 001 002 003 005 007; the JPY purchase has no rate, so
        # purchase revenue, revenue, ARPU and ARPPU are unknown; ads 0.05 + 0.0448 + 0.0336 = 0.1284
        ("space-miners", d("2026-10-01"), 8, 5, None, D("0.1284"), None, None, None),
        # November: only 001 (11-01), nothing earned; ARPPU has no payers to divide by
        ("space-miners", d("2026-11-01"), 1, 0, D(0), D(0), D(0), D(0), None),
    ]


def test_payer_conversion(wh):
    assert rows(wh, "SELECT * FROM v_payer_conversion ORDER BY 1, 2") == [
        ("block-party", d("2026-10-05"), 1, 1, D("100.00")),
        ("space-miners", d("2026-10-01"), 4, 3, D("75.00")),   # 001 002 003 paid, 004 not
        ("space-miners", d("2026-10-02"), 2, 1, D("50.00")),   # 005 paid, 006 not
        ("space-miners", d("2026-10-25"), 1, 0, D("0.00")),    # 008
        # 007 paid but has no install event, so belongs to no cohort
    ]


def test_retention(wh):
    # Latest activity: space-miners 11-01, block-party 10-05 (a later day is not yet known).
    assert rows(wh, "SELECT * FROM v_retention ORDER BY 1, 2") == [
        # block-party 10-05: D1 = 10-06 is after 10-05 -> unknown, not 0
        ("block-party", d("2026-10-05"), 1, None, None, None, None, None, None),
        # 10-01 (001 002 003 004): D1 10-02 001 002 003 -> 3/4 = 75%; D7 10-08 001 002 -> 2/4 = 50%;
        # D30 10-31 001 -> 1/4 = 25%
        ("space-miners", d("2026-10-01"), 4, 3, D("75.00"), 2, D("50.00"), 1, D("25.00")),
        # 10-02 (005 006; 003's re-install is not a new player): D1 10-03 005 -> 50%;
        # D7 10-09 005 -> 50%; D30 11-01 nobody -> 0% (11-01 is known)
        ("space-miners", d("2026-10-02"), 2, 1, D("50.00"), 1, D("50.00"), 0, D("0.00")),
        # 10-25 (008): D1 10-26 -> 100%; D7 11-01 -> 0%; D30 11-24 not known yet
        ("space-miners", d("2026-10-25"), 1, 1, D("100.00"), 0, D("0.00"), None, None),
    ]


def test_level_funnel(wh):
    assert rows(wh, "SELECT * FROM v_level_funnel ORDER BY 1, 2") == [
        # level 1: started by 001 002 003 004, won by 001 002 003 (004 failed): 3/4 = 75%
        ("space-miners", 1, 4, 3, D("75.00"), D("100.00"), 4, 3, 1),
        # level 2: started by 001 002 003 (003 twice: 4 attempts); won by 001 and 003 (second
        # try, its event sent twice but counted once): 2/3 = 66.67%; reached by 3/4 = 75%;
        # failures: 002, 003's first try
        ("space-miners", 2, 3, 2, D("66.67"), D("75.00"), 4, 2, 2),
        # level 3: 001 only: 1/1 = 100%; reached by 1/4 = 25%
        ("space-miners", 3, 1, 1, D("100.00"), D("25.00"), 1, 1, 0),
    ]


def test_revenue_events(wh):
    # 7 purchases + 3 ads with revenue (the banner reported none)
    got = rows(wh, "SELECT revenue_kind, COUNT(*) FROM v_revenue_events GROUP BY 1 ORDER BY 1")
    assert got == [("ad", 3), ("purchase", 7)]


# ---------------------------------------------------------------------------------------------
# Re-running and late data


def test_running_every_task_body_again_changes_nothing(fresh_wh):
    before = snapshot(fresh_wh)
    run_bodies(fresh_wh)  # merges again, and the reprices (nothing to reprice)
    assert snapshot(fresh_wh) == before
    run_bodies(fresh_wh)
    assert snapshot(fresh_wh) == before


def test_redelivered_lines_in_a_later_file_change_nothing(fresh_wh):
    """A later Firehose object with copies of events already merged (another offset, another
    validated_at) and one new event: the copies vanish, the new event is added."""
    records = load_firehose(FIXTURE_PATH)
    again = []
    for record in records:
        if record["event_id"] in (eid(5), eid(32), eid(49)):
            record["_meta"]["validated_at"] = "2026-11-21T08:00:00Z"
            record["_meta"]["source"]["offset"] += 1000
            again.append(render(record))
    new_purchase = {
        "event_id": "e0000099-0000-4000-8000-000000000099", "event_type": "purchase",
        "timestamp": "2026-10-09T12:00:00Z", "user_id": "player-006", "game_id": "space-miners",
        "platform": "android", "app_version": "1.4.0", "session_id": "s-006-c", "country": "FR",
        "product_id": "gems_small", "price": "2.50", "currency": "EUR", "store": "google_play",
        "quantity": 2,
        "_meta": {"validated_at": "2026-11-21T08:00:00Z",
                  "source": {"topic": "game-events.raw", "partition": 2, "offset": 400},
                  "schema": {"name": "playstream.events.Purchase", "version": 1}},
    }
    again.append(render(new_purchase))
    before = snapshot(fresh_wh)

    load_lines(fresh_wh, again, "later.ndjson")
    run_bodies(fresh_wh, kinds=("merge",))

    after = snapshot(fresh_wh)
    for table in FACT_TABLES:
        kept = [r for r in after[table] if r[0] != new_purchase["event_id"]]
        assert kept == before[table], table
    assert rows(fresh_wh, "SELECT COUNT(*) FROM raw_events") == [(60,)]  # 56 + 4
    # 2.50 EUR x 2 = 5.00 EUR on 10-09 -> rate of 10-08 (1.08): 5.00 * 1.08 = 5.40
    assert rows(fresh_wh, """SELECT amount, fx_rate_date, revenue_usd, raw_file_name FROM fact_purchases
                             WHERE event_id = %s""", (new_purchase["event_id"],)) == \
        [(D("5.00"), d("2026-10-08"), D("5.40"), "later.ndjson")]
    # player-006 became a payer: the 10-02 cohort now converts 2/2
    assert rows(fresh_wh, """SELECT payers, payer_pct FROM v_payer_conversion
                             WHERE game_id = 'space-miners' AND install_date = '2026-10-02'""") == \
        [(2, D("100.00"))]


def test_late_and_corrected_rates_are_applied_by_the_reprice(fresh_wh):
    # JPY for 10-01 arrives late; EUR for 10-05 arrives (first wrong, then corrected).
    load_fx_rates(fresh_wh, [("2026-10-01", "JPY", "0.0068")])
    load_fx_rates(fresh_wh, [("2026-10-05", "EUR", "1.20")], loaded_at="2026-11-21 00:00:00")
    load_fx_rates(fresh_wh, [("2026-10-05", "EUR", "1.15")], loaded_at="2026-11-21 06:00:00")

    # The facts keep their old rates until the reprice runs.
    assert len(rows(fresh_wh, "SELECT * FROM v_fx_missing")) == 1
    run_bodies(fresh_wh, kinds=("reprice",))

    assert rows(fresh_wh, """SELECT event_id, fx_rate, fx_rate_date, revenue_usd FROM fact_purchases
                             WHERE event_id IN (%s, %s) ORDER BY 1""", (eid(13), eid(28))) == [
        (eid(13), D("1.15"), d("2026-10-05"), D("5.7385")),  # 4.99 * 1.15 (the corrected rate)
        (eid(28), D("0.0068"), d("2026-10-01"), D("8.16")),  # 1200 * 0.0068
    ]
    assert rows(fresh_wh, "SELECT fx_rate_date, revenue_usd FROM fact_ads WHERE event_id = %s",
                (eid(46),)) == [(d("2026-10-05"), D("0.0345"))]  # 0.03 * 1.15
    assert rows(fresh_wh, "SELECT * FROM v_fx_missing") == []

    # 10-01: 4.99 + 8.16 = 13.15; / 4 DAU = 3.2875
    # 10-05: 5.7385 + 0.0345 = 5.773; / 2 DAU = 2.8865
    assert rows(fresh_wh, """SELECT activity_date, revenue_usd, arpdau_usd FROM v_arpdau
                             WHERE game_id = 'space-miners' AND activity_date IN ('2026-10-01', '2026-10-05')
                             ORDER BY 1""") == [
        (d("2026-10-01"), D("13.15"), D("3.2875")),
        (d("2026-10-05"), D("5.773"), D("2.8865")),
    ]
    # October purchases: 13.15 + 22.3776 + 5.7385 + 0.99 + 10.08 = 52.3361
    # October ads:       0.05 + 0.0448 + 0.0345 = 0.1293; revenue 52.4654
    # ARPU 52.4654 / 8 = 6.558175; ARPPU 52.3361 / 5 = 10.46722
    assert rows(fresh_wh, """SELECT * FROM v_monthly_arpu
                             WHERE game_id = 'space-miners' AND month = '2026-10-01'""") == [
        ("space-miners", d("2026-10-01"), 8, 5, D("52.3361"), D("0.1293"), D("52.4654"),
         D("6.558175"), D("10.46722")),
    ]
    # player-001: 4.99 + 5.7385 = 10.7285; player-003: 8.16
    assert rows(fresh_wh, """SELECT user_id, lifetime_revenue_usd FROM dim_users
                             WHERE game_id = 'space-miners' AND user_id IN ('player-001', 'player-003')
                             ORDER BY 1""") == [("player-001", D("10.7285")), ("player-003", D("8.16"))]

    settled = snapshot(fresh_wh)
    run_bodies(fresh_wh)
    assert snapshot(fresh_wh) == settled


# ---------------------------------------------------------------------------------------------
# The Snowflake-only files agree with what is tested here


def test_every_task_runs_its_file_verbatim():
    tasks = task_definitions()
    files = sorted(p.name for p in SQL_DIR.glob("*.sql") if re.match(r"\d{3}_(merge|reprice)_", p.name))
    assert sorted(t["file"] for t in tasks.values()) == files
    for name, task in tasks.items():
        assert task["file"] == f"{task['file'][:3]}_{name}.sql", name
        assert normalized(task["body"]) == normalized((SQL_DIR / task["file"]).read_text()), name
    # Every task is resumed.
    text = TASKS_FILE.read_text()
    assert sorted(re.findall(r"ALTER TASK (\w+) RESUME;", text)) == sorted(tasks)


def test_each_stream_has_exactly_one_reader():
    tasks = task_definitions()
    read_by = {}
    for name, task in tasks.items():
        for stream in re.findall(r"\bFROM (\w+)", strip_comments(task["body"])):
            if stream in streams():
                read_by.setdefault(stream, []).append(name)
                # the task wakes up on the stream it reads
                assert f"SYSTEM$STREAM_HAS_DATA('{stream}')" in task["header"], name
    assert sorted(read_by) == sorted(streams())
    assert all(len(readers) == 1 for readers in read_by.values()), read_by
    assert set(streams().values()) == {"raw_events"}


def test_readme_names_every_sql_file():
    readme = (SQL_DIR / "README.md").read_text()
    for path in sql_files() + [INSERT_RAW_EVENT]:
        assert path.name in readme, path.name
