//! `playstream validate` end to end, as real processes: a tansu broker, moto's Firehose → S3
//! through the real AWS SDK, and the validator binary. A mixed corpus (JSON and Avro, 5 %
//! invalid) produced to the raw topic must arrive in S3 as NDJSON (every valid event_id, values
//! exact) and on the rejects topic (every invalid record, right code, original bytes, source
//! headers); after a SIGTERM the committed offsets equal the end of every partition.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Broker, Moto, committed, free_port, header, produce_all, read_topic, sigterm, start_validator};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas};

#[test]
fn corpus_reaches_s3_and_rejects_and_offsets_are_committed() {
    let broker = Broker::start();
    let moto = Moto::start();
    moto.setup("lake", "game-events");
    broker.create_topic("raw", 4);
    broker.create_topic("rejects", 1);

    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 3_600_000_000,
    );
    let records = corpus(1500, 11, Mix::default(), &ts, &source);
    let produced = produce_all(
        &broker.bootstrap(),
        "raw",
        &records.iter().map(|r| (r.key.clone(), r.value.clone())).collect::<Vec<_>>(),
    );
    let ends = common::partition_ends(&produced);
    let want_ids: HashSet<String> = records.iter().filter_map(|r| r.event_id.clone()).collect();
    let invalid: Vec<usize> = (0..records.len()).filter(|i| records[*i].invalid).collect();
    assert!(!invalid.is_empty() && want_ids.len() + invalid.len() == records.len());

    let mut validator = start_validator(
        &broker.bootstrap(),
        &moto.endpoint(),
        "raw",
        "rejects",
        "e2e",
        "firehose://game-events",
        &["--linger-ms", "50"],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        lines = moto.lines("lake");
        if lines.len() >= want_ids.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let rejects = read_topic(&broker.bootstrap(), "rejects", 1, invalid.len(), Duration::from_secs(60));
    // Let the last commits happen, then stop cleanly.
    std::thread::sleep(Duration::from_millis(800));
    sigterm(&mut validator);

    // S3: every valid event, values exact (checked against the record each line names).
    let by_origin: HashMap<(i32, i64), usize> = produced.iter().enumerate().map(|(i, po)| (*po, i)).collect();
    let mut seen = HashSet::new();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON line");
        let id = v["event_id"].as_str().unwrap().to_string();
        let src = &v["_meta"]["source"];
        assert_eq!(src["topic"], "raw");
        let origin = (src["partition"].as_i64().unwrap() as i32, src["offset"].as_i64().unwrap());
        let rec = &records[by_origin[&origin]];
        assert_eq!(rec.event_id.as_deref(), Some(id.as_str()), "line names the record it came from");
        if v["event_type"] == "purchase" {
            let price = v["price"].as_str().unwrap();
            assert!(["4.99", "9.99", "1200", "19.99"].contains(&price), "{price}");
        }
        seen.insert(id);
    }
    assert_eq!(seen, want_ids, "every valid event_id is in S3");

    // Rejects: every invalid record, original bytes, code and source headers.
    assert_eq!(rejects.len(), invalid.len(), "one reject per invalid record");
    for r in &rejects {
        let partition: i32 = header(r, "reject.source.partition").unwrap().parse().unwrap();
        let offset: i64 = header(r, "reject.source.offset").unwrap().parse().unwrap();
        let rec = &records[by_origin[&(partition, offset)]];
        assert!(rec.invalid);
        assert_eq!(r.value, rec.value, "original bytes");
        assert_eq!(r.key.as_deref(), Some(rec.key.as_bytes()));
        assert_eq!(header(r, "reject.source.topic").as_deref(), Some("raw"));
        let code = header(r, "reject.reason").unwrap();
        assert!(playstream::validate::RejectCode::from_code(&code).is_some(), "{code}");
        assert!(!header(r, "reject.detail").unwrap().is_empty());
        assert!(header(r, "reject.validator").unwrap().starts_with("playstream/"));
    }

    // Offsets: committed = end of every partition.
    assert_eq!(committed(&broker.bootstrap(), "e2e", "raw", 4), ends);
}

#[test]
fn file_sink_writes_hour_prefixed_ndjson() {
    let broker = Broker::start();
    let moto = Moto::start();
    broker.create_topic("raw-f", 2);
    let dir = std::env::temp_dir().join(format!("playstream-file-sink-{}", free_port()));
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 60_000_000,
    );
    let records = corpus(300, 5, Mix { invalid_pct: 0, ..Mix::default() }, &ts, &source);
    produce_all(
        &broker.bootstrap(),
        "raw-f",
        &records.iter().map(|r| (r.key.clone(), r.value.clone())).collect::<Vec<_>>(),
    );
    let mut validator = start_validator(
        &broker.bootstrap(),
        &moto.endpoint(),
        "raw-f",
        "rejects-f",
        "file",
        &format!("file://{}", dir.display()),
        &["--linger-ms", "50"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ids = HashSet::new();
    while Instant::now() < deadline && ids.len() < records.len() {
        ids.clear();
        for path in walk(&dir) {
            let rel = path.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            assert!(rel.split('/').count() == 5 && rel.ends_with(".ndjson"), "YYYY/MM/DD/HH/file: {rel}");
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                ids.insert(v["event_id"].as_str().unwrap().to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    sigterm(&mut validator);
    assert_eq!(ids.len(), records.len());
    std::fs::remove_dir_all(dir).unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(p);
            }
        }
    }
    out
}
