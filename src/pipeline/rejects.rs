//! The rejects topic: a rejected record is produced with its original key, value and headers
//! byte for byte, plus the `reject.*` headers of the contract. The producer is idempotent with
//! acks=all, and a reject counts as delivered only once Kafka acknowledged it; failures are
//! retried with backoff, never dropped.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::firehose::backoff;
use crate::event::InboundRecord;
use crate::validate::Reject;

/// The `reject.*` headers for a reject of `record` decided at `at` (RFC 3339).
pub fn reject_headers(record: &InboundRecord, reject: &Reject, at: &str) -> Vec<(&'static str, String)> {
    vec![
        ("reject.reason", reject.code.code().to_string()),
        ("reject.field", reject.field.clone()),
        ("reject.detail", reject.detail.clone()),
        ("reject.source.topic", record.origin.topic.clone()),
        ("reject.source.partition", record.origin.partition.to_string()),
        ("reject.source.offset", record.origin.offset.to_string()),
        ("reject.schema", reject.schema.clone().unwrap_or_default()),
        ("reject.at", at.to_string()),
        ("reject.validator", format!("playstream/{}", env!("CARGO_PKG_VERSION"))),
    ]
}

/// Creates the rejects producer (idempotent, acks=all).
pub fn producer(
    brokers: &str,
    options: &[(String, String)],
) -> Result<FutureProducer, rdkafka::error::KafkaError> {
    let mut cc = crate::event::reliable_producer_config(brokers);
    cc.set("linger.ms", "5");
    // `--kafka-option` is shared with the consumer: pass on only what a producer understands.
    const CONSUMER_ONLY: [&str; 10] = [
        "group.",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "auto.offset.reset",
        "max.poll.interval.ms",
        "partition.assignment.strategy",
        "fetch.",
        "enable.auto.",
        "isolation.level",
        "auto.commit.",
    ];
    for (k, v) in options.iter().filter(|(k, _)| !CONSUMER_ONLY.iter().any(|c| k.starts_with(c))) {
        cc.set(k, v);
    }
    cc.create()
}

/// Produces the reject until Kafka acknowledges it.
pub async fn send(producer: &FutureProducer, topic: &str, record: &InboundRecord, reject: &Reject, at: &str) {
    let added = reject_headers(record, reject, at);
    let mut attempt = 0;
    loop {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len() + added.len());
        for (k, v) in &record.headers {
            headers = headers.insert(Header { key: k.as_str(), value: v.as_deref() });
        }
        for (k, v) in &added {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let mut out = FutureRecord::to(topic).payload(&record.value).headers(headers);
        if let Some(key) = &record.key {
            out = out.key(key.as_slice());
        }
        match producer.send(out, Duration::from_secs(30)).await {
            Ok(_) => return,
            Err((e, _)) => {
                tracing::warn!(error = %e, offset = record.origin.offset, "reject not acknowledged; retrying")
            }
        }
        attempt += 1;
        tokio::time::sleep(backoff(attempt, Duration::from_millis(200), Duration::from_secs(10))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;
    use crate::validate::RejectCode;

    #[test]
    fn headers_follow_the_contract() {
        let record = InboundRecord {
            origin: Origin { topic: "game-events.raw".into(), partition: 2, offset: 77 },
            key: Some(b"u".to_vec()),
            value: b"{}".to_vec(),
            headers: vec![],
        };
        let reject = Reject::field(RejectCode::InvalidAmount, "price", "too many decimals")
            .with_schema("playstream.events.Purchase v1".into());
        let h = reject_headers(&record, &reject, "2026-11-22T00:00:00Z");
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("reject.reason"), Some("invalid_amount"));
        assert_eq!(get("reject.field"), Some("$.price"));
        assert_eq!(get("reject.source.partition"), Some("2"));
        assert_eq!(get("reject.source.offset"), Some("77"));
        assert_eq!(get("reject.schema"), Some("playstream.events.Purchase v1"));
        assert!(get("reject.validator").unwrap().starts_with("playstream/"));
        assert_eq!(h.len(), 9);
    }
}
