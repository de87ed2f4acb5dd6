//! `playstream rejects` against a real broker (tansu), on rejects the real validator binary
//! produced: summary counts by reason, tail prints records (JSON values decoded, others as
//! base64), export writes `rejected_events` rows, and replay re-produces only what the current
//! schemas accept, exactly once — a second run replays nothing — with `replay.of` and
//! `replay.count` on each replayed record.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Broker, committed, header, partition_ends, produce_all, read_topic, sigterm, start_validator};
use serde_json::Value;

fn cli(bootstrap: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_playstream"))
        .args(["rejects"])
        .args(args)
        .args(["--brokers", bootstrap, "--rejects-topic", "rejects-rc"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "rejects {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn event(ts: &str, n: usize, event_type: &str) -> Vec<u8> {
    format!(
        r#"{{"event_id":"0b7e6f2a-5c1d-4e8f-9a3b-2c4d6e8f{n:04x}","event_type":"{event_type}","timestamp":"{ts}","user_id":"u{n}","game_id":"g","platform":"ios","app_version":"1.0","session_id":"s"}}"#
    )
    .into_bytes()
}

#[test]
fn summarize_tail_export_and_replay_exactly_once() {
    let broker = Broker::start();
    broker.create_topic("raw-rc", 2);
    broker.create_topic("rejects-rc", 2);
    let now = playstream::validate::Context::now().now_micros();
    let past = playstream::validate::time::to_rfc3339(now - 60_000_000);
    let ahead = playstream::validate::time::to_rfc3339(now + 30 * 3_600_000_000); // 30 h: rejected today
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for n in 0..3 {
        records.push((format!("j{n}"), b"{\"event_type\": ".to_vec()));
    }
    for n in 0..4 {
        records.push((format!("f{n}"), event(&ahead, n, "session_start")));
    }
    for n in 10..12 {
        records.push((format!("x{n}"), event(&past, n, "crash_report")));
    }
    for n in 20..25 {
        records.push((format!("v{n}"), event(&past, n, "session_start")));
    }
    let ends = partition_ends(&produce_all(&broker.bootstrap(), "raw-rc", &records));
    let sink = std::env::temp_dir().join(format!("playstream-rc-{}", common::free_port()));
    let mut v = start_validator(
        &broker.bootstrap(),
        "http://127.0.0.1:1",
        "raw-rc",
        "rejects-rc",
        "rc",
        &format!("file://{}", sink.display()),
        &[],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while committed(&broker.bootstrap(), "rc", "raw-rc", 2) != ends {
        assert!(std::time::Instant::now() < deadline, "the validator did not finish");
        std::thread::sleep(Duration::from_millis(300));
    }
    sigterm(&mut v);

    let summary: Value = serde_json::from_str(&cli(&broker.bootstrap(), &["summary", "--json"])).unwrap();
    assert_eq!(summary["total"], 9);
    assert_eq!(summary["by"], serde_json::json!(["reason"]));
    assert_eq!(summary["groups"][0], serde_json::json!({"reason": "timestamp_in_future", "count": 4}));
    let counts: Vec<(String, u64)> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["reason"].as_str().unwrap().to_string(), g["count"].as_u64().unwrap()))
        .collect();
    assert!(
        counts.contains(&("invalid_json".into(), 3)) && counts.contains(&("unknown_event_type".into(), 2)),
        "{counts:?}"
    );

    let tail = cli(&broker.bootstrap(), &["tail", "--json", "--from-beginning", "--reason", "invalid_json"]);
    let lines: Vec<Value> = tail.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{tail}");
    assert!(
        lines
            .iter()
            .all(|l| l["value"]["base64"].is_string() && l["headers"]["reject.reason"] == "invalid_json")
    );
    let future =
        cli(&broker.bootstrap(), &["tail", "--json", "--from-beginning", "--reason", "timestamp_in_future"]);
    let first: Value = serde_json::from_str(future.lines().next().unwrap()).unwrap();
    assert_eq!(first["value"]["event_type"], "session_start", "a JSON payload is shown decoded");

    let file = sink.join("export.jsonl");
    cli(&broker.bootstrap(), &["export", "--output", file.to_str().unwrap()]);
    let rows: Vec<Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| r["source_topic"] == "raw-rc" && r["source_offset"].as_i64().unwrap() >= 0));

    // With a 48-hour skew allowed, the future timestamps now pass; the rest still fail.
    let replay = |extra: &[&str]| -> Value {
        let mut args =
            vec!["replay", "--raw-topic", "raw-rc", "--revalidate", "--max-future-hours", "48", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(cli(&broker.bootstrap(), &args).trim()).unwrap()
    };
    let dry = replay(&["--dry-run"]);
    assert_eq!((dry["replayed"].as_u64(), dry["dry_run"].as_bool()), (Some(4), Some(true)));
    let first = replay(&[]);
    assert_eq!(first["selected"], 9);
    assert_eq!(first["replayed"], 4, "{first}");
    assert_eq!(
        first["skipped_still_invalid"],
        serde_json::json!({"invalid_json": 3, "unknown_event_type": 2})
    );
    let second = replay(&[]);
    assert_eq!(
        (second["replayed"].as_u64(), second["skipped_already_replayed"].as_u64()),
        (Some(0), Some(4)),
        "{second}"
    );

    let raw = read_topic(&broker.bootstrap(), "raw-rc", 2, records.len() + 4, Duration::from_secs(20));
    let replayed: Vec<_> = raw.iter().filter(|r| header(r, "replay.of").is_some()).collect();
    assert_eq!(replayed.len(), 4, "exactly the four now-valid rejects were replayed once");
    for r in &replayed {
        assert_eq!(header(r, "replay.count").as_deref(), Some("1"));
        assert!(header(r, "replay.of").unwrap().starts_with("rejects-rc/"));
        assert!(
            r.headers.iter().all(|(k, _)| !k.starts_with("reject.")),
            "no reject.* header goes back to the raw topic"
        );
        assert!(r.key.as_deref().unwrap().starts_with(b"f"));
    }
    // The loop guard: with --max-replays 0 every reject (replay.count 0) is skipped and counted.
    let guard = replay(&["--force", "--max-replays", "0"]);
    assert_eq!(guard["skipped_max_replays"], 9, "{guard}");
    let _ = std::fs::remove_dir_all(&sink);
}
