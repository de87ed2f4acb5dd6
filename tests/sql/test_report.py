"""`playstream report` against sql/'s views: one NDJSON fixture, one FX table and one rejects
export go through the built binary (`report --json`) and through the warehouse on fakesnow, and
every figure of the report must equal the view's, exactly (money at NUMBER(38,6), percentages at
NUMBER(9,2)), unknown values included (NULL in the view, null in the report).

Two data sets go through every comparison: the warehouse tests' fixture (fixtures/firehose.ndjson,
hand-checked there: two games, duplicates of every fact type, a purchase with no FX rate, a
fallback rate, a re-install, a player without an install, retention days not reached yet), and
what a small `playstream demo` landed (about 11,800 lines through the real validators: eight
currencies priced with the demo's rates, duplicates, dozens of levels, nine install cohorts).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from playstream_bin import run
from test_warehouse import (FIXTURE_PATH, FX_RATES, REJECTS_EXPORT_PATH, deploy, load_fx_rates,
                            load_lines, load_rejects_export, new_warehouse, rows, run_bodies)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def norm(value):
    """One comparable form for both sides: numbers as Decimal, days as date."""
    if value is None or isinstance(value, (bool, date)):
        return value
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        raise AssertionError(f"a float reached the comparison: {value!r}")
    if isinstance(value, str) and DATE.match(value):
        return date.fromisoformat(value)
    if isinstance(value, str) and NUMBER.match(value):
        return Decimal(value)
    return value


def table(items) -> list[tuple]:
    out = [tuple(norm(v) for v in item) for item in items]
    return sorted(out, key=repr)


def from_report(report: dict, key: str, fields: list[str]) -> list[tuple]:
    return table((g["game_id"], *(r[f] for f in fields)) for g in report["games"] for r in g[key])


def from_sql(conn, sql: str) -> list[tuple]:
    return table(rows(conn, sql))


def same(report_rows: list[tuple], sql_rows: list[tuple], at_least: int) -> None:
    assert len(sql_rows) >= at_least, "the view must have rows for the comparison to mean something"
    assert report_rows == sql_rows


def report_json(work: Path, landed: Path, fx: Path, *extra: str) -> dict:
    done = run("report", "--from", f"file://{landed}", "--fx", str(fx), "--out", str(work / "report.html"),
               "--json", *extra)
    assert (work / "report.html").stat().st_size > 10_000
    return json.loads(done.stdout)


def fixture_dataset(work: Path):
    landed = work / "landed"
    hour = landed / "2026" / "11" / "20" / "00"
    hour.mkdir(parents=True)
    shutil.copy(FIXTURE_PATH, hour / "playstream-1.ndjson")
    fx = work / "fx.csv"
    fx.write_text("rate_date,currency,usd_per_unit\n" + "".join(f"{d},{c},{r}\n" for d, c, r in FX_RATES))
    conn = new_warehouse()
    load_rejects_export(conn, REJECTS_EXPORT_PATH)
    return report_json(work, landed, fx, "--rejects", str(REJECTS_EXPORT_PATH)), conn


def demo_dataset(work: Path):
    out = work / "demo"
    run("demo", "--players", "120", "--days", "9", "--seed", "5", "--replicas", "1", "--json", "--out", str(out))
    landed, fx = out / "landed", out / "fx.csv"
    conn = snowflake_connect()
    deploy(conn)
    rates = [line.split(",") for line in fx.read_text().splitlines()
             if line and not line.startswith(("#", "rate_date"))]
    load_fx_rates(conn, [tuple(r) for r in rates])
    for path in sorted(landed.rglob("*.ndjson")):
        load_lines(conn, path.read_text().splitlines(), str(path.relative_to(landed)))
    run_bodies(conn, kinds=("merge",))
    return report_json(work, landed, fx), conn


def snowflake_connect():
    import uuid

    import snowflake.connector
    return snowflake.connector.connect(database=f"pr_{uuid.uuid4().hex[:12]}", schema="playstream")


@pytest.fixture(scope="module", params=["fixture", "demo"])
def dataset(request, tmp_path_factory, fake_snowflake):
    build = fixture_dataset if request.param == "fixture" else demo_dataset
    report, conn = build(tmp_path_factory.mktemp(request.param))
    yield request.param, report, conn
    conn.close()


# Each figure of the report and the sql/ query it must equal: (report list, its fields, SQL).
VIEWS = {
    "dau_and_arpdau": ("days", ["date", "dau", "revenue_usd", "arpdau_usd"],
                       "SELECT game_id, activity_date, dau, revenue_usd, arpdau_usd FROM v_arpdau"),
    "daily_installs": ("installs", ["date", "installs", "new_users", "reinstalls"],
                       "SELECT game_id, install_date, installs, new_users, reinstalls FROM v_daily_installs"),
    "installs_by_source_and_country": (
        "installs_by_source_country", ["date", "source", "country", "installs"],
        """SELECT game_id, event_date, source, country, COUNT(*) AS installs
           FROM fact_installs GROUP BY game_id, event_date, source, country"""),
    "daily_revenue": ("revenue", ["date", "purchases", "payers", "purchase_revenue_usd", "ad_revenue_usd",
                                  "revenue_usd", "unpriced_count"],
                      """SELECT game_id, revenue_date, purchases, payers, purchase_revenue_usd, ad_revenue_usd,
                                revenue_usd, unpriced_count FROM v_daily_revenue"""),
    "ad_revenue_per_day": ("ads", ["date", "views", "views_with_revenue", "ad_revenue_usd"],
                           """SELECT game_id, event_date, COUNT(*) AS views,
                                     COUNT_IF(revenue IS NOT NULL) AS views_with_revenue,
                                     CASE WHEN COUNT_IF(revenue IS NOT NULL AND revenue_usd IS NULL) > 0 THEN NULL
                                          ELSE COALESCE(SUM(revenue_usd), 0) END::NUMBER(38,6) AS ad_revenue_usd
                              FROM fact_ads GROUP BY game_id, event_date"""),
    "monthly_arpu": ("monthly_arpu", ["month", "mau", "payers", "purchase_revenue_usd", "ad_revenue_usd",
                                      "revenue_usd", "arpu_usd", "arppu_usd"], "SELECT * FROM v_monthly_arpu"),
    "payer_conversion": ("payer_conversion", ["install_date", "cohort_users", "payers", "payer_pct"],
                         "SELECT * FROM v_payer_conversion"),
    "retention_cohorts": ("retention", ["install_date", "cohort_users", "d1_users", "d1_pct", "d7_users", "d7_pct",
                                        "d30_users", "d30_pct"], "SELECT * FROM v_retention"),
    "level_funnel": ("level_funnel", ["level", "players_started", "players_completed", "completion_pct",
                                      "reached_pct", "attempts", "completions", "failures"],
                     "SELECT * FROM v_level_funnel"),
}

# Rows each comparison has at least, per data set (so that equal never means both empty).
AT_LEAST = {"dau_and_arpdau": 9, "daily_installs": 4, "installs_by_source_and_country": 8, "daily_revenue": 6,
            "ad_revenue_per_day": 3, "monthly_arpu": 2, "payer_conversion": 4, "retention_cohorts": 4,
            "level_funnel": 3}


@pytest.mark.parametrize("view", VIEWS)
def test_the_report_equals_the_view(dataset, view):
    _, report, wh = dataset
    key, fields, sql = VIEWS[view]
    same(from_report(report, key, fields), from_sql(wh, sql), AT_LEAST[view])


def test_input_is_accounted_like_the_landing_and_the_facts(dataset):
    kind, report, wh = dataset
    i = report["input"]
    assert (i["lines"], i["malformed_lines"]) == (rows(wh, "SELECT COUNT(*) FROM raw_events")[0][0], 0)
    assert i["events"] == rows(wh, "SELECT COUNT(*) FROM v_all_events")[0][0]
    assert i["duplicates"] == i["lines"] - i["events"] > 0
    if kind == "fixture":
        assert (i["events"], i["duplicates"]) == (50, 6)


def test_fx_missing_is_listed_not_zero(dataset):
    kind, report, wh = dataset
    got = table((m["revenue_kind"], m["event_id"], m["game_id"], m["user_id"], m["date"], m["currency"],
                 m["amount_local"]) for m in report["fx"]["missing"])
    assert got == from_sql(wh, "SELECT * FROM v_fx_missing")
    if kind == "fixture":
        assert len(got) == 1
        space = next(g for g in report["games"] if g["game_id"] == "space-miners")
        assert space["totals"]["revenue_usd"] is None and space["totals"]["unpriced_count"] == 1
    else:
        assert got == [], "the demo's rates cover every currency it sells in"
        assert all(g["totals"]["revenue_usd"] is not None for g in report["games"])


def round_to(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_kpi_tiles_follow_from_the_views(dataset):
    """The tiles' figures are whole-window aggregates of the views' rows, with the views' rules:
    a total holding an unpriced row is unknown; ratios rounded half away from zero."""
    kind, report, wh = dataset
    players = {g: (n, p) for g, n, p in rows(wh, "SELECT game_id, COUNT(*), COUNT_IF(is_payer) FROM dim_users GROUP BY 1")}
    installs = {g: (n, u) for g, n, u in rows(wh, "SELECT game_id, COUNT(*), COUNT(DISTINCT user_id) FROM fact_installs GROUP BY 1")}
    revenue = {g: (p, a, u) for g, p, a, u in rows(wh, """
        SELECT game_id,
               CASE WHEN COUNT_IF(revenue_kind = 'purchase' AND revenue_usd IS NULL) > 0 THEN NULL
                    ELSE COALESCE(SUM(IFF(revenue_kind = 'purchase', revenue_usd, NULL)), 0) END::NUMBER(38,6),
               CASE WHEN COUNT_IF(revenue_kind = 'ad' AND revenue_usd IS NULL) > 0 THEN NULL
                    ELSE COALESCE(SUM(IFF(revenue_kind = 'ad', revenue_usd, NULL)), 0) END::NUMBER(38,6),
               COUNT_IF(revenue_usd IS NULL)
        FROM v_revenue_events GROUP BY 1""")}
    dau: dict[str, list[int]] = {}
    for g, n in rows(wh, "SELECT game_id, dau FROM v_dau"):
        dau.setdefault(g, []).append(n)
    retention: dict[str, list] = {}
    for r in rows(wh, "SELECT game_id, cohort_users, d1_users, d7_users, d30_users FROM v_retention"):
        retention.setdefault(r[0], []).append(r[1:])
    assert len(report["games"]) == (2 if kind == "fixture" else 1)
    for g in report["games"]:
        game, t = g["game_id"], g["totals"]
        n_players, payers = players[game]
        purchase, ad, unpriced = revenue[game]
        total = None if purchase is None or ad is None else purchase + ad
        days = dau[game]

        def pooled(k):
            known = [(r[0], r[k]) for r in retention[game] if r[k] is not None]
            cohort = sum(c for c, _ in known)
            return round_to(Decimal(100 * sum(a for _, a in known)) / cohort, 2) if cohort else None

        want = {
            "players": n_players, "payers": payers, "installs": installs[game][0], "new_users": installs[game][1],
            "payer_pct": round_to(Decimal(100 * payers) / n_players, 2),
            "purchase_revenue_usd": purchase, "ad_revenue_usd": ad, "revenue_usd": total, "unpriced_count": unpriced,
            "arpu_usd": None if total is None else round_to(total / n_players, 6),
            "arpdau_usd": None if total is None else round_to(total / sum(days), 6),
            "avg_dau": round_to(Decimal(sum(days)) / len(days), 2),
            "d1_pct": pooled(1), "d7_pct": pooled(2), "d30_pct": pooled(3),
        }
        got = {k: norm(t[k]) for k in want}
        assert got == {k: norm(v) for k, v in want.items()}, game
    if kind == "fixture":
        block = next(g for g in report["games"] if g["game_id"] == "block-party")["totals"]
        assert (block["revenue_usd"], block["arpu_usd"]) == ("1.99", "1.99")


@pytest.fixture(scope="module")
def with_rejects(tmp_path_factory, fake_snowflake):
    """The fixture with its rejects export (the demo's rejects stay on its embedded broker)."""
    report, conn = fixture_dataset(tmp_path_factory.mktemp("rejects"))
    yield report, conn
    conn.close()


def test_rejects_by_reason_per_day(with_rejects):
    report, wh = with_rejects
    got = table((d["date"], d["reason"], d["count"]) for d in report["rejects"]["by_day"])
    same(got, from_sql(wh, """
        WITH distinct_rejects AS (
            SELECT * FROM rejected_events
            QUALIFY ROW_NUMBER() OVER (PARTITION BY source_topic, source_partition, source_offset
                                       ORDER BY rejected_at) = 1)
        SELECT rejected_at::DATE AS reject_date, reject_reason, COUNT(*) AS rejects
        FROM distinct_rejects GROUP BY 1, 2"""), 3)
    assert report["rejects"]["total"] == 3 and report["rejects"]["malformed"] == 0
