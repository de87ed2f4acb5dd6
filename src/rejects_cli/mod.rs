//! `playstream rejects`: the analysts' tools over the rejects topic — `summary` (counts by reason,
//! event type, field, schema or app version), `tail` (records with coordinates, headers and the
//! payload), `export` (rows for sql/'s `rejected_events`, or the original payloads) and `replay`
//! (see [`replay`]). Invariant: these tools only read the rejects topic (replay writes to the
//! raw topic and its own ledger), so looking never changes what is there.

pub mod read;
pub mod replay;

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine as _;
use serde_json::{Value as Json, json};

use read::RejectRecord;

/// One dimension of `summary --by`.
pub fn dimension(r: &RejectRecord, by: &str) -> String {
    match by {
        "reason" => r.header("reject.reason"),
        "field" => r.header("reject.field"),
        "schema" => r.header("reject.schema"),
        "event_type" => r.payload_field("event_type"),
        "app_version" => r.payload_field("app_version"),
        _ => String::new(),
    }
}

/// The dimensions `summary --by` accepts.
pub const DIMENSIONS: [&str; 5] = ["reason", "event_type", "field", "schema", "app_version"];

/// Counts of records by the `by` dimensions.
#[derive(Debug, Default)]
pub struct Summary {
    /// Records counted.
    pub total: u64,
    /// Count per group (one value per dimension).
    pub groups: BTreeMap<Vec<String>, u64>,
}

impl Summary {
    /// Adds a record.
    pub fn add(&mut self, r: &RejectRecord, by: &[String]) {
        self.total += 1;
        *self.groups.entry(by.iter().map(|b| dimension(r, b)).collect()).or_default() += 1;
    }

    /// The `--json` object: `{"total", "by", "groups": [{dim: value, ..., "count"}]}`, largest
    /// groups first.
    pub fn to_json(&self, by: &[String]) -> Json {
        let mut groups: Vec<(&Vec<String>, &u64)> = self.groups.iter().collect();
        groups.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let groups: Vec<Json> = groups
            .into_iter()
            .map(|(values, count)| {
                let mut o = serde_json::Map::new();
                for (d, v) in by.iter().zip(values) {
                    o.insert(d.clone(), json!(v));
                }
                o.insert("count".into(), json!(count));
                Json::Object(o)
            })
            .collect();
        json!({"total": self.total, "by": by, "groups": groups})
    }

    /// A plain table.
    pub fn write_table(&self, by: &[String], out: &mut impl Write) -> std::io::Result<()> {
        let j = self.to_json(by);
        writeln!(out, "{:>8}  {}", "count", by.join("  "))?;
        for g in j.get("groups").and_then(Json::as_array).into_iter().flatten() {
            let cells: Vec<String> =
                by.iter().map(|d| g.get(d).and_then(Json::as_str).unwrap_or("").to_string()).collect();
            writeln!(out, "{:>8}  {}", g.get("count").cloned().unwrap_or_default(), cells.join("  "))?;
        }
        writeln!(out, "{:>8}  total", self.total)
    }
}

/// A Confluent-framed Avro value as its writer wrote it (through the schema source), with the
/// schema id; `None` for anything else or a frame that does not decode.
pub fn decode_frame(value: &[u8], schemas: &dyn crate::validate::SchemaSource) -> Option<Json> {
    let (magic, rest) = value.split_first()?;
    if *magic != 0 {
        return None;
    }
    let (id, body) = rest.split_at_checked(4)?;
    let id = u32::from_be_bytes(id.try_into().ok()?);
    let decoded = schemas.writer(id).ok()?.to_json(body)?;
    Some(json!({"schema_id": id, "avro": decoded}))
}

/// The `tail --json` object of a record.
pub fn record_json(r: &RejectRecord) -> Json {
    let headers: serde_json::Map<String, Json> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_deref().map_or(Json::Null, |v| json!(String::from_utf8_lossy(v)))))
        .collect();
    let value = serde_json::from_slice::<Json>(&r.value)
        .unwrap_or_else(|_| json!({"base64": base64::engine::general_purpose::STANDARD.encode(&r.value)}));
    json!({
        "topic": r.topic, "partition": r.partition, "offset": r.offset,
        "timestamp": r.timestamp_ms.map(|t| crate::validate::time::to_rfc3339(t * 1000)),
        "key": r.key.as_deref().map(|k| String::from_utf8_lossy(k).into_owned()),
        "headers": headers, "value": value,
    })
}

/// [`record_json`], with a Confluent-framed Avro value decoded through `schemas`.
pub fn record_json_with(r: &RejectRecord, schemas: &dyn crate::validate::SchemaSource) -> Json {
    let mut j = record_json(r);
    if let (Some(decoded), Some(o)) = (decode_frame(&r.value, schemas), j.as_object_mut()) {
        o.insert("value".into(), decoded);
    }
    j
}

/// A human-readable rendering of a record for `tail`, a framed Avro value decoded through
/// `schemas`.
pub fn record_text_with(r: &RejectRecord, schemas: &dyn crate::validate::SchemaSource) -> String {
    match decode_frame(&r.value, schemas) {
        Some(decoded) => {
            let mut s = record_text(r);
            s.push('\n');
            s.push_str(&serde_json::to_string_pretty(&decoded).unwrap_or_default());
            s
        }
        None => record_text(r),
    }
}

/// A human-readable rendering of a record for `tail`.
pub fn record_text(r: &RejectRecord) -> String {
    let mut s = format!(
        "── {}/{}/{}  {}  {} {}\n",
        r.topic,
        r.partition,
        r.offset,
        r.timestamp_ms.map(|t| crate::validate::time::to_rfc3339(t * 1000)).unwrap_or_default(),
        r.header("reject.reason"),
        r.header("reject.field")
    );
    s.push_str(&format!("   {}\n", r.header("reject.detail")));
    for (k, v) in &r.headers {
        s.push_str(&format!(
            "   {k}: {}\n",
            v.as_deref().map(String::from_utf8_lossy).unwrap_or_else(|| "(null)".into())
        ));
    }
    match serde_json::from_slice::<Json>(&r.value) {
        Ok(v) => s.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) if r.value.first() == Some(&0) => {
            s.push_str(&format!("(Confluent-framed Avro, {} bytes)", r.value.len()))
        }
        Err(_) => s.push_str(&String::from_utf8_lossy(&r.value)),
    }
    s
}

/// A row for sql/'s `rejected_events` (binary columns as base64, as its file format expects).
pub fn export_row(r: &RejectRecord) -> Json {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let headers = record_json(r).get("headers").cloned().unwrap_or_default();
    let at = r.header("reject.at");
    json!({
        "record_key": r.key.as_deref().map(b64),
        "record_value": b64(&r.value),
        "headers": headers,
        "reject_reason": r.header("reject.reason"),
        "reject_field": r.header("reject.field"),
        "reject_detail": r.header("reject.detail"),
        "source_topic": r.header("reject.source.topic"),
        "source_partition": r.header("reject.source.partition").parse::<i64>().unwrap_or(-1),
        "source_offset": r.header("reject.source.offset").parse::<i64>().unwrap_or(-1),
        "reject_schema": r.header("reject.schema"),
        "rejected_at": at.trim_end_matches('Z'),
        "validator": r.header("reject.validator"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(reason: &str, value: &[u8]) -> RejectRecord {
        RejectRecord {
            topic: "game-events.rejects".into(),
            partition: 1,
            offset: 9,
            timestamp_ms: Some(1_796_169_600_000),
            key: Some(b"u1".to_vec()),
            value: value.to_vec(),
            headers: vec![
                ("reject.reason".into(), Some(reason.as_bytes().to_vec())),
                ("reject.source.partition".into(), Some(b"3".to_vec())),
                ("reject.source.offset".into(), Some(b"77".to_vec())),
                ("reject.at".into(), Some(b"2026-12-02T00:00:00.5Z".to_vec())),
                ("odd".into(), None),
            ],
        }
    }

    #[test]
    fn summary_groups_by_dimensions_largest_first() {
        let by = vec!["reason".to_string(), "event_type".to_string()];
        let mut s = Summary::default();
        s.add(&rec("invalid_amount", br#"{"event_type":"purchase"}"#), &by);
        s.add(&rec("invalid_amount", br#"{"event_type":"purchase"}"#), &by);
        s.add(&rec("invalid_json", b"{oops"), &by);
        let j = s.to_json(&by);
        assert_eq!(j["total"], 3);
        assert_eq!(j["groups"][0], json!({"reason": "invalid_amount", "event_type": "purchase", "count": 2}));
        assert_eq!(j["groups"][1], json!({"reason": "invalid_json", "event_type": "", "count": 1}));
    }

    #[test]
    fn tail_and_export_shapes() {
        let r = rec("invalid_json", b"\xff not json");
        let t = record_json(&r);
        assert_eq!(t["value"]["base64"], "/yBub3QganNvbg==");
        assert_eq!(t["headers"]["odd"], Json::Null);
        assert_eq!(t["timestamp"], "2026-12-02T00:00:00Z");
        let e = export_row(&r);
        assert_eq!((e["source_partition"].as_i64(), e["source_offset"].as_i64()), (Some(3), Some(77)));
        assert_eq!(e["record_key"], "dTE=");
        assert_eq!(e["rejected_at"], "2026-12-02T00:00:00.5");
        assert!(record_text(&rec("x", br#"{"a":1}"#)).contains("\"a\": 1"));
    }

    #[test]
    fn tail_decodes_confluent_frames_through_the_schemas() {
        use crate::validate::SchemaSource;
        use std::sync::Arc;
        let source = crate::validate::LocalSchemas::new(Arc::new(crate::validate::Catalog::embedded()))
            .unwrap_or_else(|e| panic!("{e}"));
        let json = br#"{"event_id":"0b7e6f2a-5c1d-4e8f-9a3b-2c4d6e8f0a1b","event_type":"session_start","timestamp":"2026-12-01T10:00:00Z","user_id":"u","game_id":"g","platform":"ios","app_version":"1.0","session_id":"s"}"#;
        let ctx = crate::validate::Context::now();
        let event = match crate::validate::check(json, &ctx, &source) {
            Ok(Ok(e)) => e,
            other => panic!("{other:?}"),
        };
        let (id, _) = source
            .catalog()
            .all()
            .into_iter()
            .find(|(_, s)| s.label == event.schema.label)
            .unwrap_or_else(|| panic!("id"));
        let frame =
            crate::validate::avro_out::to_confluent_frame(&event, id).unwrap_or_else(|e| panic!("{e:?}"));
        let shown = record_json_with(&rec("invalid_amount", &frame), &source);
        assert_eq!(shown["value"]["schema_id"], id);
        assert_eq!(shown["value"]["avro"]["user_id"], "u");
        assert!(record_text_with(&rec("x", &frame), &source).contains("\"platform\""));
        // Not a frame, or a frame of an unknown id: shown as before.
        assert!(decode_frame(b"{}", &source).is_none());
        assert!(decode_frame(&[0, 0, 0, 0x7f, 0x7f, 1], &source).is_none());
    }
}
