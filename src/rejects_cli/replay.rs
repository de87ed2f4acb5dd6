//! `rejects replay`: sends selected rejects back to the raw topic — original key, value and
//! headers without `reject.*`, plus `replay.of` (`TOPIC/PARTITION/OFFSET` of the reject) and
//! `replay.count` (the count the record already carried, plus one). Invariants: each reject is
//! replayed at most once unless `--force` — a ledger topic (`<rejects topic>.replays.<group>`, one
//! record per replayed reject, written only after the raw topic acknowledged the replay) is read
//! first, so a second run, or a run with another filter, skips what was done, and an interrupted
//! run resumes; a record whose `replay.count` reached `--max-replays` is never replayed (no
//! loops); `--revalidate` replays only what the current schemas accept; `--dry-run` writes
//! nothing. The producer is idempotent with acks=all.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::read::{RejectRecord, Selection, Start, read};
use crate::validate::{Context, SchemaSource, check};

/// Settings of a replay.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    /// Brokers.
    pub brokers: String,
    /// The rejects topic read.
    pub rejects_topic: String,
    /// The raw topic written.
    pub raw_topic: String,
    /// Which rejects.
    pub selection: Selection,
    /// Run the current schemas first and replay only what they accept.
    pub revalidate: bool,
    /// How far in the future an event timestamp may be when revalidating, µs.
    pub max_future_micros: i64,
    /// Count, write nothing.
    pub dry_run: bool,
    /// Records per second (0: unpaced).
    pub rate: f64,
    /// Skip records already replayed this many times.
    pub max_replays: u64,
    /// Replay even what the ledger says was replayed.
    pub force: bool,
    /// Extra librdkafka settings.
    pub kafka_options: Vec<(String, String)>,
    /// Names the replay ledger (`<rejects topic>.replays.<group>`): exactly once per reject and
    /// group.
    pub group: String,
}

/// What a replay did (the `--json` object).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Rejects selected by the filters.
    pub selected: u64,
    /// Rejects produced to the raw topic (or that would be, with `--dry-run`).
    pub replayed: u64,
    /// Skipped: the ledger says they were replayed already.
    pub skipped_already_replayed: u64,
    /// Skipped: the current schemas still reject them, by code.
    pub skipped_still_invalid: BTreeMap<String, u64>,
    /// Skipped: `replay.count` reached `--max-replays`.
    pub skipped_max_replays: u64,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Kafka refused (a configuration or availability problem; rerun to resume).
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// The replay's coordinates of a reject.
fn coordinates(r: &RejectRecord) -> String {
    format!("{}/{}/{}", r.topic, r.partition, r.offset)
}

/// The record to produce for a reject: headers without `reject.*` and earlier `replay.*`,
/// then `replay.of` and `replay.count`.
pub fn replay_headers(r: &RejectRecord) -> Vec<(String, Option<Vec<u8>>)> {
    let count = r.header("replay.count").parse::<u64>().unwrap_or(0) + 1;
    let mut out: Vec<(String, Option<Vec<u8>>)> = r
        .headers
        .iter()
        .filter(|(k, _)| !k.starts_with("reject.") && k != "replay.of" && k != "replay.count")
        .cloned()
        .collect();
    out.push(("replay.of".into(), Some(coordinates(r).into_bytes())));
    out.push(("replay.count".into(), Some(count.to_string().into_bytes())));
    out
}

/// Runs a replay; `progress` is called after each record with (done, selected so far).
pub async fn replay(
    s: &ReplaySettings,
    schemas: &dyn SchemaSource,
    mut progress: impl FnMut(u64),
) -> Result<ReplayReport, ReplayError> {
    let ledger_topic = format!("{}.replays.{}", s.rejects_topic, s.group);
    let done: HashSet<String> = if s.force {
        HashSet::new()
    } else {
        let mut d = HashSet::new();
        let (b, t, o) = (s.brokers.clone(), ledger_topic.clone(), s.kafka_options.clone());
        let found = tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            let r = read(&b, &t, &o, &Selection::default(), Start::Beginning, false, |r| {
                seen.push(String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned())
            });
            r.map(|_| seen)
        })
        .await
        .unwrap_or_else(|_| Ok(Vec::new()));
        // A ledger topic that does not exist yet means nothing was replayed.
        d.extend(found.unwrap_or_default());
        d
    };
    let (b, t, o, sel) =
        (s.brokers.clone(), s.rejects_topic.clone(), s.kafka_options.clone(), s.selection.clone());
    let selected = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        read(&b, &t, &o, &sel, Start::Beginning, false, |r| all.push(r)).map(|_| all)
    })
    .await
    .unwrap_or_else(|_| Ok(Vec::new()))?;
    let mut report =
        ReplayReport { selected: selected.len() as u64, dry_run: s.dry_run, ..ReplayReport::default() };
    let mut cc = crate::event::reliable_producer_config(&s.brokers);
    cc.set("linger.ms", "5");
    for (k, v) in &s.kafka_options {
        cc.set(k, v);
    }
    let producer: FutureProducer = cc.create()?;
    let mut ctx = Context::now();
    ctx.max_future_micros = s.max_future_micros;
    let started = Instant::now();
    for r in selected {
        if done.contains(&coordinates(&r)) {
            report.skipped_already_replayed += 1;
            continue;
        }
        if r.header("replay.count").parse::<u64>().unwrap_or(0) >= s.max_replays {
            report.skipped_max_replays += 1;
            continue;
        }
        if s.revalidate {
            if let Ok(Err(reject)) = check(&r.value, &ctx, schemas) {
                *report.skipped_still_invalid.entry(reject.code.code().to_string()).or_default() += 1;
                continue;
            }
        }
        if s.rate > 0.0 {
            let due = Duration::from_secs_f64(report.replayed as f64 / s.rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        if !s.dry_run {
            let headers = replay_headers(&r);
            let mut h = OwnedHeaders::new_with_capacity(headers.len());
            for (k, v) in &headers {
                h = h.insert(Header { key: k, value: v.as_deref() });
            }
            let mut rec = FutureRecord::to(&s.raw_topic).payload(&r.value).headers(h);
            if let Some(k) = &r.key {
                rec = rec.key(k.as_slice());
            }
            producer.send(rec, Duration::from_secs(60)).await.map_err(|(e, _)| e)?;
            // Only now, with the raw topic's acknowledgement, is the reject marked done.
            let id = coordinates(&r);
            let mark = FutureRecord::to(&ledger_topic).key(id.as_bytes()).payload(b"");
            producer.send(mark, Duration::from_secs(60)).await.map_err(|(e, _)| e)?;
        }
        report.replayed += 1;
        progress(report.replayed);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_headers_drop_reject_headers_and_count_up() {
        let r = RejectRecord {
            topic: "game-events.rejects".into(),
            partition: 2,
            offset: 40,
            timestamp_ms: None,
            key: None,
            value: vec![],
            headers: vec![
                ("content-type".into(), Some(b"application/json".to_vec())),
                ("reject.reason".into(), Some(b"invalid_amount".to_vec())),
                ("replay.of".into(), Some(b"game-events.rejects/0/3".to_vec())),
                ("replay.count".into(), Some(b"1".to_vec())),
                ("ingest.key_id".into(), None),
            ],
        };
        let h = replay_headers(&r);
        let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["content-type", "ingest.key_id", "replay.of", "replay.count"]);
        assert_eq!(h[2].1.as_deref(), Some(&b"game-events.rejects/2/40"[..]));
        assert_eq!(h[3].1.as_deref(), Some(&b"2"[..]));
    }
}
