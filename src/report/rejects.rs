//! Rejects by reason per day, from the rejects topic or from a `playstream rejects export` file
//! (the rows of sql/'s `rejected_events`). The invariant: each reject counts once, by the
//! coordinates of the raw record it stands for (`reject.source.topic/partition/offset`; a record
//! read twice after a rebalance is rejected twice but is one reject, as the demo reconciles), on
//! the UTC day of `reject.at` (the record's timestamp when the header is missing); a row that is
//! not a reject is counted as malformed, never dropped silently.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::events::{day_of, format_day};
use crate::rejects_cli::read::RejectRecord;

/// What the report needs of one reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRow {
    /// `topic/partition/offset` of the raw record.
    pub coordinates: String,
    /// Reason code.
    pub reason: String,
    /// Time of the decision, µs since the epoch.
    pub at: i64,
}

/// A reject read from the rejects topic.
pub fn from_record(r: &RejectRecord) -> Option<RejectRow> {
    let at = parse_time(&r.header("reject.at")).or_else(|| r.timestamp_ms.map(|ms| ms * 1000))?;
    let reason = r.header("reject.reason");
    (!reason.is_empty()).then(|| RejectRow {
        coordinates: format!(
            "{}/{}/{}",
            r.header("reject.source.topic"),
            r.header("reject.source.partition"),
            r.header("reject.source.offset")
        ),
        reason,
        at,
    })
}

/// RFC 3339, or the warehouse's UTC timestamp without an offset (`2026-11-20T00:00:01`).
pub fn parse_time(text: &str) -> Option<i64> {
    use crate::validate::time::parse_rfc3339;
    parse_rfc3339(text).or_else(|| parse_rfc3339(&format!("{text}Z")))
}

/// The rejects of an export file (JSONL rows of `rejected_events`); the second value counts
/// the lines that are not such a row.
pub fn parse_export(text: &str) -> (Vec<RejectRow>, u64) {
    let mut rows = Vec::new();
    let mut malformed = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        let number = |k: &str| v.get(k).map(|n| n.to_string()).unwrap_or_default();
        let row = text("reject_reason")
            .filter(|r| !r.is_empty())
            .zip(text("rejected_at").and_then(|t| parse_time(&t)));
        match row {
            Some((reason, at)) => rows.push(RejectRow {
                coordinates: format!(
                    "{}/{}/{}",
                    text("source_topic").unwrap_or_default(),
                    number("source_partition"),
                    number("source_offset")
                ),
                reason,
                at,
            }),
            None => malformed += 1,
        }
    }
    (rows, malformed)
}

/// Rejects of one reason on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectsOfDay {
    /// UTC day.
    pub date: String,
    /// Reason code.
    pub reason: String,
    /// Distinct rejects.
    pub count: u64,
}

/// The rejects section of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectsSummary {
    /// Where they were read.
    pub source: String,
    /// Distinct rejects.
    pub total: u64,
    /// Rows that were not rejects.
    pub malformed: u64,
    /// Per reason, most frequent first.
    pub by_reason: Vec<(String, u64)>,
    /// Per day and reason.
    pub by_day: Vec<RejectsOfDay>,
}

/// Counts distinct rejects by day and reason.
pub fn summarize(source: &str, rows: &[RejectRow], malformed: u64) -> RejectsSummary {
    let mut seen = HashSet::new();
    let mut by_day: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        if seen.insert(r.coordinates.as_str()) {
            *by_day.entry((format_day(day_of(r.at)), r.reason.as_str())).or_default() += 1;
            *by_reason.entry(r.reason.as_str()).or_default() += 1;
        }
    }
    let mut reasons: Vec<(String, u64)> = by_reason.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    RejectsSummary {
        source: source.to_string(),
        total: seen.len() as u64,
        malformed,
        by_reason: reasons,
        by_day: by_day
            .into_iter()
            .map(|((date, reason), count)| RejectsOfDay { date, reason: reason.to_string(), count })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_file_is_read_and_counted_by_day() {
        let text = r#"{"reject_reason":"invalid_amount","rejected_at":"2026-11-20T00:00:01","source_topic":"raw","source_partition":2,"source_offset":70}
{"reject_reason":"invalid_json","rejected_at":"2026-11-20T23:59:59.999","source_topic":"raw","source_partition":2,"source_offset":71}
{"reject_reason":"invalid_json","rejected_at":"2026-11-21T00:00:00Z","source_topic":"raw","source_partition":2,"source_offset":72}
{"reject_reason":"invalid_json","rejected_at":"2026-11-21T00:00:00Z","source_topic":"raw","source_partition":2,"source_offset":72}
not json
{"reject_reason":"invalid_json"}
"#;
        let (rows, bad) = parse_export(text);
        assert_eq!((rows.len(), bad), (4, 2));
        let s = summarize("x", &rows, bad);
        assert_eq!(s.total, 3, "the same raw record rejected twice is one reject");
        assert_eq!(s.by_reason, vec![("invalid_json".to_string(), 2), ("invalid_amount".to_string(), 1)]);
        let days: Vec<_> = s.by_day.iter().map(|d| (d.date.as_str(), d.reason.as_str(), d.count)).collect();
        assert_eq!(
            days,
            [
                ("2026-11-20", "invalid_amount", 1),
                ("2026-11-20", "invalid_json", 1),
                ("2026-11-21", "invalid_json", 1)
            ]
        );
    }

    #[test]
    fn a_topic_record_uses_its_headers_then_its_timestamp() {
        let header = |k: &str, v: &str| (k.to_string(), Some(v.as_bytes().to_vec()));
        let mut r = RejectRecord {
            topic: "rejects".into(),
            partition: 0,
            offset: 5,
            timestamp_ms: Some(1_796_169_600_000),
            key: None,
            value: b"{}".to_vec(),
            headers: vec![
                header("reject.reason", "missing_field"),
                header("reject.source.topic", "raw"),
                header("reject.source.partition", "1"),
                header("reject.source.offset", "9"),
                header("reject.at", "2026-12-02T10:00:00Z"),
            ],
        };
        let row = from_record(&r).unwrap();
        assert_eq!((row.coordinates.as_str(), format_day(day_of(row.at))), ("raw/1/9", "2026-12-02".into()));
        r.headers.retain(|(k, _)| k != "reject.at");
        assert_eq!(from_record(&r).map(|x| x.at), Some(1_796_169_600_000_000));
        r.headers.clear();
        assert_eq!(from_record(&r), None);
    }
}
