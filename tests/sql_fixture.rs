//! The warehouse tests' NDJSON fixture is the validator's own output: this test runs every raw
//! event in `tests/sql/fixtures/events.jsonl` through the real validation core and encoder and
//! requires the result to equal `tests/sql/fixtures/firehose.ndjson`, line for line. The SQL
//! tests load that file, so the SQL and the encoder cannot drift apart. Regenerate it after an
//! intended format change with `PLAYSTREAM_REGENERATE_FIXTURE=1 cargo test --test sql_fixture`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

use std::path::Path;
use std::sync::Arc;

use playstream::validate::{Catalog, Context, LocalSchemas, Provenance, Verdict, time, validate};

const VALIDATED_AT: &str = "2026-11-20T00:00:00Z";

#[test]
fn fixture_is_the_encoders_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/fixtures");
    let input = std::fs::read_to_string(dir.join("events.jsonl")).expect("events.jsonl");
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).expect("schemas");
    let ctx = Context::at(time::parse_rfc3339(VALIDATED_AT).expect("time"));
    let mut produced = String::new();
    for (n, line) in input.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let wrapper: serde_json::Value = serde_json::from_str(line).expect("wrapper line is JSON");
        let event = wrapper["event"].to_string();
        let received_at = wrapper["received_at"].as_str().and_then(time::parse_rfc3339);
        let prov = Provenance {
            topic: "game-events.raw",
            partition: wrapper["partition"].as_i64().and_then(|p| i32::try_from(p).ok()).expect("partition"),
            offset: wrapper["offset"].as_i64().expect("offset"),
            received_at,
        };
        match validate(event.as_bytes(), &prov, &ctx, &source).expect("local schemas") {
            Verdict::Accepted(out) => produced.push_str(std::str::from_utf8(&out).expect("utf-8")),
            Verdict::Rejected(r) => panic!("fixture line {} is rejected: {r:?}", n + 1),
        }
    }
    let path = dir.join("firehose.ndjson");
    if std::env::var_os("PLAYSTREAM_REGENERATE_FIXTURE").is_some() {
        std::fs::write(&path, &produced).expect("write fixture");
    }
    let committed = std::fs::read_to_string(&path).expect("firehose.ndjson");
    for (i, (want, got)) in committed.lines().zip(produced.lines()).enumerate() {
        assert_eq!(want, got, "line {} differs", i + 1);
    }
    assert_eq!(committed.lines().count(), produced.lines().count(), "line counts differ");
}

/// The rejects export fixture the SQL tests load into `rejected_events` is `rejects export`'s
/// own row format (same regeneration switch as above).
#[test]
fn rejects_export_fixture_is_the_exporters_output() {
    use playstream::rejects_cli::export_row;
    use playstream::rejects_cli::read::RejectRecord;
    let h = |k: &str, v: &str| (k.to_string(), Some(v.as_bytes().to_vec()));
    let record =
        |offset: i64, key: Option<&[u8]>, value: &[u8], reason: &str, field: &str, at: &str| RejectRecord {
            topic: "game-events.rejects".into(),
            partition: 0,
            offset,
            timestamp_ms: None,
            key: key.map(<[u8]>::to_vec),
            value: value.to_vec(),
            headers: vec![
                h("content-type", "application/json"),
                h("reject.reason", reason),
                h("reject.field", field),
                h("reject.detail", "a sentence"),
                h("reject.source.topic", "game-events.raw"),
                h("reject.source.partition", "2"),
                h("reject.source.offset", &(70 + offset).to_string()),
                h("reject.schema", "playstream.events.Purchase v1"),
                h("reject.at", at),
                h("reject.validator", "playstream/0.1.0"),
            ],
        };
    let rows = [
        record(
            0,
            Some(b"player-001"),
            br#"{"price":-1}"#,
            "invalid_amount",
            "$.price",
            "2026-11-20T00:00:01Z",
        ),
        record(1, None, b"{\"event_type\": ", "invalid_json", "", "2026-11-20T00:00:02.250Z"),
        record(
            2,
            Some(b"player-002"),
            b"\x00\x00\x00\x00\x07\xff",
            "invalid_avro",
            "",
            "2026-11-20T00:00:03Z",
        ),
    ];
    let produced: String = rows.iter().map(|r| format!("{}\n", export_row(r))).collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/fixtures/rejects-export.jsonl");
    if std::env::var_os("PLAYSTREAM_REGENERATE_FIXTURE").is_some() {
        std::fs::write(&path, &produced).expect("write fixture");
    }
    assert_eq!(std::fs::read_to_string(&path).expect("rejects-export.jsonl"), produced);
}
