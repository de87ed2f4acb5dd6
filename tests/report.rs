//! `playstream report` as a user runs it (the binary): from a `file://` landing folder and from
//! `s3://` on a moto server (real S3 protocol through the AWS SDK's standard chain), the same
//! figures; and bad input — no FX rate, malformed lines, a broken rates file, a missing bucket —
//! gives an explicit marker or a clear error, never a silent zero and never a panic.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const FIXTURE: &str = include_str!("sql/fixtures/firehose.ndjson");
const REJECTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sql/fixtures/rejects-export.jsonl");
const RATES: &str = "rate_date,currency,usd_per_unit\n2026-10-01,EUR,1.10\n2026-10-02,EUR,1.12\n\
                     2026-10-08,EUR,1.08\n2026-10-02,JPY,0.0065\n2026-10-08,JPY,0.0070\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("playstream-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fixture split over two hourly objects (a duplicate pair straddles them).
fn landed(dir: &Path) -> PathBuf {
    let root = dir.join("landed");
    let lines: Vec<&str> = FIXTURE.lines().collect();
    for (hour, part) in [("08", &lines[..23]), ("09", &lines[23..])] {
        let d = root.join(format!("2026/11/20/{hour}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("playstream-{hour}.ndjson")), part.join("\n") + "\n").unwrap();
    }
    root
}

fn report(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_playstream"));
    cmd.arg("report").args(args).env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run playstream report")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "report failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn game<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["games"].as_array().unwrap().iter().find(|g| g["game_id"] == id).unwrap()
}

fn day<'a>(rows: &'a Value, date: &str) -> &'a Value {
    rows.as_array().unwrap().iter().find(|r| r["date"] == date).unwrap()
}

#[test]
fn from_a_landing_folder() {
    let dir = scratch("file");
    let root = landed(&dir);
    std::fs::write(dir.join("fx.csv"), RATES).unwrap();
    let page = dir.join("report.html");
    let from = format!("file://{}", root.display());
    let fx = dir.join("fx.csv").display().to_string();
    let page_arg = page.display().to_string();
    let out =
        report(&["--from", &from, "--fx", &fx, "--rejects", REJECTS, "--json", "--out", &page_arg], &[]);
    let r = json_of(&out);
    assert_eq!(r["input"]["objects"], 2);
    assert_eq!((r["input"]["lines"].as_u64(), r["input"]["events"].as_u64()), (Some(56), Some(50)));
    assert_eq!(r["input"]["duplicates"], 6);
    let sm = game(&r, "space-miners");
    // 9.99 EUR × 2 at 1.12 + ads 0.05 USD + 0.04 EUR at 1.12 = 22.4724; / 5 DAU
    let d2 = day(&sm["days"], "2026-10-02");
    assert_eq!((d2["dau"].as_u64(), d2["revenue_usd"].as_str()), (Some(5), Some("22.4724")));
    assert_eq!(d2["arpdau_usd"].as_str().map(|s| s.parse::<f64>().unwrap()), Some(4.49448));
    let ret = &sm["retention"][0];
    assert_eq!(
        (ret["d1_pct"].as_str(), ret["d7_pct"].as_str(), ret["d30_pct"].as_str()),
        (Some("75.00"), Some("50.00"), Some("25.00"))
    );
    assert_eq!(sm["level_funnel"][1]["completion_pct"], "66.67");
    assert_eq!(r["rejects"]["total"], 3);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("space-miners") && html.contains("<svg"), "the page shows the games");
    // without --json: one line naming the page
    let plain = report(&["--from", &from, "--fx", &fx, "--out", &page_arg], &[]);
    assert!(plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stdout).starts_with(&format!("report: {}", page.display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_s3_the_same_figures_as_from_files() {
    let moto = common::Moto::start();
    let dir = scratch("s3");
    let root = landed(&dir);
    std::fs::write(dir.join("fx.csv"), RATES).unwrap();
    let fx = dir.join("fx.csv").display().to_string();
    // Objects as Firehose names them (no extension), under the prefix; one outside it.
    moto.put(
        "landing",
        "events/2026/11/20/08/game-events-1-2026-11-20-08-00-00-a",
        &root.join("2026/11/20/08/playstream-08.ndjson"),
    );
    moto.put(
        "landing",
        "events/2026/11/20/09/game-events-1-2026-11-20-09-00-00-b",
        &root.join("2026/11/20/09/playstream-09.ndjson"),
    );
    std::fs::write(dir.join("other.ndjson"), "not an event\n").unwrap();
    moto.put("landing", "elsewhere/x", &dir.join("other.ndjson"));
    let endpoint = moto.endpoint();
    let aws = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let page = dir.join("s3.html").display().to_string();
    let mut s3 =
        json_of(&report(&["--from", "s3://landing/events/", "--fx", &fx, "--json", "--out", &page], &aws));
    let from = format!("file://{}", root.display());
    let mut files = json_of(&report(&["--from", &from, "--fx", &fx, "--json", "--out", &page], &[]));
    assert_eq!(s3["input"]["source"], "s3://landing/events/");
    assert_eq!(s3["input"]["malformed_lines"], 0, "nothing outside the prefix was read");
    s3["input"]["source"] = Value::Null;
    files["input"]["source"] = Value::Null;
    assert_eq!(s3, files);

    // A bucket that does not exist: a clear, permanent error.
    let missing = report(&["--from", "s3://no-such-bucket/x", "--out", &page], &aws);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("S3 ListObjectsV2 s3://no-such-bucket/x failed (permanent)"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_fx_rate_is_unknown_never_zero() {
    let dir = scratch("nofx");
    let root = landed(&dir);
    let page = dir.join("report.html");
    let from = format!("file://{}", root.display());
    // no --fx at all: only USD is priced
    let r = json_of(&report(&["--from", &from, "--json", "--out", &page.display().to_string()], &[]));
    let sm = game(&r, "space-miners");
    let d2 = day(&sm["revenue"], "2026-10-02");
    assert_eq!(d2["revenue_usd"], Value::Null, "EUR without a rate is unknown: {d2}");
    assert_eq!(d2["purchase_revenue_usd"], Value::Null);
    assert_eq!(d2["unpriced_count"], 2, "the EUR purchase and the EUR ad");
    assert_eq!(day(&sm["days"], "2026-10-02")["arpdau_usd"], Value::Null);
    assert_eq!(sm["totals"]["revenue_usd"], Value::Null);
    assert_eq!(sm["monthly_arpu"][0]["arpu_usd"], Value::Null);
    // a USD-only day is still priced, and a day without revenue is a true 0
    assert_eq!(day(&sm["revenue"], "2026-10-08")["revenue_usd"], "0.99");
    assert_eq!(day(&sm["days"], "2026-10-03")["revenue_usd"], "0");
    let missing = r["fx"]["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 6, "four EUR/JPY purchases and two EUR ads: {missing:?}");
    assert!(missing.iter().all(|m| m["currency"] != "USD"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-warning=\"fx_missing\"") && html.contains("unknown (not 0)"));
    assert!(html.contains("<span class=\"unknown\">unknown</span>"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_lines_are_counted_not_fatal() {
    let dir = scratch("bad");
    let root = landed(&dir);
    let junk = "not json at all\n{\"event_id\":\"x\"\n[1,2,3]\n\
        {\"event_id\":\"e1\",\"event_type\":\"teleport\",\"timestamp\":\"2026-10-01T00:00:00Z\",\"user_id\":\"u\",\"game_id\":\"g\"}\n\
        {\"event_id\":\"e2\",\"event_type\":\"purchase\",\"timestamp\":\"2026-10-01T00:00:00Z\",\"user_id\":\"u\",\"game_id\":\"g\",\"price\":\"lots\",\"currency\":\"USD\"}\n\
        {\"event_id\":\"e3\",\"event_type\":\"install\",\"timestamp\":\"last tuesday\",\"user_id\":\"u\",\"game_id\":\"g\"}\n\
        \n";
    let mut bytes = junk.as_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, b'\n']);
    std::fs::write(root.join("2026/11/20/09/zz-damaged.ndjson"), bytes).unwrap();
    let from = format!("file://{}", root.display());
    let out = report(&["--from", &from, "--json", "--out", &dir.join("r.html").display().to_string()], &[]);
    let r = json_of(&out);
    assert_eq!(r["input"]["malformed_lines"], 7, "{}", r["input"]);
    assert_eq!(r["input"]["events"], 50, "the good lines still count");
    let examples: Vec<&str> =
        r["input"]["malformed_examples"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(examples.iter().any(|e| e.ends_with("zz-damaged.ndjson:4: unknown event_type")), "{examples:?}");
    assert!(examples.iter().any(|e| e.contains(":5: money is not a decimal")), "{examples:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed lines were counted"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unusable_inputs_are_clear_errors() {
    let dir = scratch("errors");
    let root = landed(&dir);
    let from = format!("file://{}", root.display());
    let page = dir.join("r.html").display().to_string();
    std::fs::write(dir.join("fx.csv"), "rate_date,currency,usd_per_unit\n2026-10-01,EUR,one\n").unwrap();
    let fx = dir.join("fx.csv").display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--from", &from, "--fx", &fx], "FX rates line 2: usd_per_unit is not a positive decimal"),
        (&["--from", "file:///no/such/dir"], "cannot read /no/such/dir"),
        (&["--from", "ftp://x"], "expected file://DIR or s3://BUCKET/PREFIX"),
        (&["--from", &from, "--rejects", "kafka://only-brokers"], "expected kafka://BROKERS/TOPIC"),
    ];
    for (args, message) in cases {
        let out = report(&[args, &["--out", &page]].concat(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejects_from_the_rejects_topic() {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let broker = common::Broker::start();
    broker.create_topic("game-events.rejects", 2);
    let producer: BaseProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", broker.bootstrap()).create().unwrap();
    // (reason, reject.at, source offset): a record rejected twice (offset 11) is one reject; a
    // record without reject.reason is not a reject at all and is counted as malformed.
    let rejects = [
        (Some("invalid_amount"), "2026-11-20T10:00:00Z", "10"),
        (Some("invalid_amount"), "2026-11-20T10:00:01Z", "11"),
        (Some("invalid_amount"), "2026-11-20T10:05:00Z", "11"),
        (Some("missing_field"), "2026-11-21T00:00:00.5Z", "12"),
        (None, "2026-11-21T00:00:01Z", "13"),
    ];
    for (i, (reason, at, offset)) in rejects.iter().enumerate() {
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: "reject.at", value: Some(*at) })
            .insert(Header { key: "reject.source.topic", value: Some("game-events.raw") })
            .insert(Header { key: "reject.source.partition", value: Some("0") })
            .insert(Header { key: "reject.source.offset", value: Some(*offset) });
        if let Some(r) = reason {
            headers = headers.insert(Header { key: "reject.reason", value: Some(*r) });
        }
        let record = BaseRecord::to("game-events.rejects")
            .key("player-1")
            .payload(b"{\"price\":-1}".as_slice())
            .partition(i32::from(i % 2 == 1))
            .headers(headers);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(std::time::Duration::from_secs(30)).unwrap();

    let dir = scratch("topic");
    let root = landed(&dir);
    let from = format!("file://{}", root.display());
    let source = format!("kafka://{}/game-events.rejects", broker.bootstrap());
    let page = dir.join("r.html").display().to_string();
    let r = json_of(&report(&["--from", &from, "--rejects", &source, "--json", "--out", &page], &[]));
    let rej = &r["rejects"];
    assert_eq!((rej["total"].as_u64(), rej["malformed"].as_u64()), (Some(3), Some(1)), "{rej}");
    assert_eq!(rej["source"], source);
    let by_day: Vec<(String, String, u64)> = rej["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().into(),
                d["reason"].as_str().unwrap().into(),
                d["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_day,
        [("2026-11-20".into(), "invalid_amount".into(), 2), ("2026-11-21".into(), "missing_field".into(), 1)]
    );
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(html.contains("data-chart=\"rejects\"") && html.contains("3 distinct rejects"));
    std::fs::remove_dir_all(&dir).unwrap();
}
