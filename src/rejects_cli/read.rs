//! Reading the rejects topic for the analysts' tools: every partition from a start (the
//! beginning, a time, or the last few records), filtered by headers first so records that do not
//! match are never decoded, until the end of every partition (or for ever with `follow`).
//! Invariant: a time range is judged on each record's own timestamp — an offsets-for-times
//! lookup only gives a starting point (some brokers answer it per batch, or with the earliest
//! offset) — and the end is reached only when every partition reported its end and nothing
//! arrived for a moment, never by trusting a high watermark alone.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One record of the rejects topic.
#[derive(Debug, Clone)]
pub struct RejectRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Record timestamp, ms since the epoch (`None` if the broker gave none).
    pub timestamp_ms: Option<i64>,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes (the original record's).
    pub value: Vec<u8>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RejectRecord {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }

    /// A top-level string member of the payload, when it is a JSON object.
    pub fn payload_field(&self, name: &str) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.value)
            .ok()
            .and_then(|v| v.get(name).and_then(|x| x.as_str()).map(str::to_string))
            .unwrap_or_default()
    }
}

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Reason codes (any of them; empty: all).
    pub reasons: Vec<String>,
    /// Event type of the payload.
    pub event_type: Option<String>,
    /// `reject.field` (with or without the `$.` prefix).
    pub field: Option<String>,
    /// Records at or after this time, ms.
    pub since_ms: Option<i64>,
    /// Records before this time, ms.
    pub until_ms: Option<i64>,
}

impl Selection {
    /// Whether `r` is selected; headers are checked before the payload is decoded.
    pub fn matches(&self, r: &RejectRecord) -> bool {
        if !self.reasons.is_empty() && !self.reasons.iter().any(|c| *c == r.header("reject.reason")) {
            return false;
        }
        if let Some(f) = &self.field {
            let have = r.header("reject.field");
            if have != *f && have.strip_prefix("$.") != Some(f.as_str()) {
                return false;
            }
        }
        if let (Some(t), Some(since)) = (r.timestamp_ms, self.since_ms) {
            if t < since {
                return false;
            }
        }
        if let (Some(t), Some(until)) = (r.timestamp_ms, self.until_ms) {
            if t >= until {
                return false;
            }
        }
        self.event_type.as_ref().is_none_or(|t| *t == r.payload_field("event_type"))
    }
}

/// Parses `--since`/`--until`: a duration back from `now_ms` (`90s`, `15m`, `2h`, `7d`) or an
/// RFC 3339 time.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    if let Some(micros) = crate::validate::time::parse_rfc3339(text) {
        return Ok(micros / 1000);
    }
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 =
        n.parse().map_err(|_| format!("{text:?} is neither a duration (2h) nor an RFC 3339 time"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    Ok(now_ms - n.saturating_mul(ms))
}

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Every record kept.
    Beginning,
    /// The last `n` records of each partition.
    Last(i64),
}

/// Reads `topic` and calls `each` for every selected record, until every partition's end (or
/// for ever with `follow`). `extra` adds consumer settings (security, for instance).
pub fn read(
    brokers: &str,
    topic: &str,
    extra: &[(String, String)],
    selection: &Selection,
    start: Start,
    follow: bool,
    mut each: impl FnMut(RejectRecord),
) -> Result<u64, rdkafka::error::KafkaError> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", brokers)
        .set("group.id", "playstream-rejects-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    for (k, v) in extra {
        cc.set(k, v);
    }
    let consumer: BaseConsumer = cc.create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let offset = match (start, selection.since_ms) {
            (_, Some(since)) => Offset::Offset(since),
            (Start::Beginning, None) => Offset::Beginning,
            (Start::Last(n), None) => Offset::OffsetTail(n),
        };
        tpl.add_partition_offset(topic, *p, offset)?;
    }
    if selection.since_ms.is_some() {
        tpl = consumer.offsets_for_times(tpl, Duration::from_secs(10))?;
        // An answer "no offset at or after that time" means: start at the end of the partition.
        for e in tpl.clone().elements() {
            if matches!(e.offset(), Offset::End | Offset::Invalid) {
                let _ = tpl.set_partition_offset(topic, e.partition(), Offset::Beginning);
            }
        }
    }
    consumer.assign(&tpl)?;
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut last = Instant::now();
    let mut seen = 0u64;
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last = Instant::now();
                at_end.remove(&m.partition());
                let inbound = crate::event::InboundRecord::from_message(&m);
                let r = RejectRecord {
                    topic: inbound.origin.topic,
                    partition: inbound.origin.partition,
                    offset: inbound.origin.offset,
                    timestamp_ms: m.timestamp().to_millis(),
                    key: inbound.key,
                    value: inbound.value,
                    headers: inbound.headers,
                };
                if selection.matches(&r) {
                    seen += 1;
                    each(r);
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let done = at_end.len() >= partitions.len() || partitions.is_empty();
        if !follow && done && last.elapsed() > Duration::from_millis(500) {
            return Ok(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_time("90s", now), Ok(now - 90_000));
        assert_eq!(parse_time("2026-12-02T00:00:00Z", now), Ok(1_796_169_600_000));
        assert!(parse_time("soon", now).is_err());
        assert!(parse_time("3w", now).is_err());
    }

    #[test]
    fn selection_reads_headers_then_payload() {
        let r = RejectRecord {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            timestamp_ms: Some(5_000),
            key: None,
            value: br#"{"event_type":"purchase"}"#.to_vec(),
            headers: vec![
                ("reject.reason".into(), Some(b"invalid_amount".to_vec())),
                ("reject.field".into(), Some(b"$.price".to_vec())),
            ],
        };
        assert!(Selection::default().matches(&r));
        let s = |f: fn(&mut Selection)| {
            let mut sel = Selection::default();
            f(&mut sel);
            sel.matches(&r)
        };
        assert!(s(|x| x.reasons = vec!["invalid_json".into(), "invalid_amount".into()]));
        assert!(!s(|x| x.reasons = vec!["invalid_json".into()]));
        assert!(s(|x| x.field = Some("price".into())) && s(|x| x.field = Some("$.price".into())));
        assert!(!s(|x| x.field = Some("currency".into())));
        assert!(
            s(|x| x.event_type = Some("purchase".into())) && !s(|x| x.event_type = Some("install".into()))
        );
        assert!(!s(|x| x.since_ms = Some(6_000)) && s(|x| x.until_ms = Some(6_000)));
    }
}
