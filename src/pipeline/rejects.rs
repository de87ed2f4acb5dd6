//! The rejects topic: a rejected record is produced with its original key, value and headers
//! byte for byte, plus the `reject.*` headers of the contract. The producer is idempotent with
//! acks=all, and a reject counts as delivered only once Kafka acknowledged it. Invariant: every
//! reject is eventually on the topic, and none wedges its partition. Transient failures are
//! retried with backoff; a reject the topic can never take as it is (over the producer's
//! `message.max.bytes` or the topic's `max.message.bytes`) is produced with its value cut to
//! what the topic takes, flagged `reject.truncated=true` with `reject.original_size`; fatal
//! failures (authorization, a missing topic) make the process unready and are retried slowly,
//! never dropped.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::health::{Dependency, Health};
use super::metrics::Metrics;
use super::retry::{FailureClass, classify_kafka};
use crate::event::InboundRecord;
use crate::validate::Reject;

/// Header set on a reject whose value was cut.
pub const HEADER_TRUNCATED: &str = "reject.truncated";
/// Header holding the original value's size in bytes when it was cut.
pub const HEADER_ORIGINAL_SIZE: &str = "reject.original_size";

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// Room left for the record's framing beside key and headers when cutting a value.
const RECORD_OVERHEAD: usize = 1024;

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

/// How many bytes of a `len`-byte value to send after the topic refused `current` bytes
/// (`None`: the whole value) as too large; `None` when even an empty value was refused.
/// The first cut aims just under the producer's limit; every later refusal (the topic's own
/// limit is smaller) halves what is kept.
pub fn next_cut(len: usize, current: Option<usize>, limit: usize, overhead: usize) -> Option<usize> {
    match current {
        None => {
            let target = limit.saturating_sub(overhead);
            Some(if target < len { target } else { len / 2 })
        }
        Some(0) => None,
        Some(n) => Some(n / 2),
    }
}

/// Why the rejects topic cannot be used at all (checked at start).
#[derive(Debug, thiserror::Error)]
pub enum RejectsError {
    /// The producer could not be created (bad `--kafka-option`): not retryable.
    #[error("the rejects producer cannot be created: {0}")]
    Create(#[source] KafkaError),
    /// The broker says the topic cannot be used (missing and not auto-created, or not
    /// authorized): not retryable without a configuration change.
    #[error("the rejects topic {topic:?} cannot be used: {reason}")]
    Unusable {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
}

/// The rejects producer, rebuilt when librdkafka reports it unusable (a fatal idempotence error).
pub struct RejectsProducer {
    producer: RwLock<FutureProducer>,
    config: ClientConfig,
    topic: String,
    max_message_bytes: usize,
    health: Arc<Health>,
    metrics: Metrics,
}

impl std::fmt::Debug for RejectsProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectsProducer").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// The producer settings: idempotent, acks=all, plus the `--kafka-option`s a producer takes.
fn config(brokers: &str, options: &[(String, String)]) -> ClientConfig {
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
    cc
}

impl RejectsProducer {
    /// Creates the producer for `topic`.
    pub fn new(
        brokers: &str,
        options: &[(String, String)],
        topic: &str,
        health: Arc<Health>,
        metrics: Metrics,
    ) -> Result<RejectsProducer, RejectsError> {
        let config = config(brokers, options);
        let producer: FutureProducer = config.create().map_err(RejectsError::Create)?;
        let max_message_bytes =
            config.get("message.max.bytes").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MESSAGE_MAX_BYTES);
        Ok(RejectsProducer {
            producer: RwLock::new(producer),
            config,
            topic: topic.to_string(),
            max_message_bytes,
            health,
            metrics,
        })
    }

    fn current(&self) -> FutureProducer {
        self.producer.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Startup check: asks the broker for the topic (a producer's metadata request lets a broker
    /// with auto-create on create it). A missing or forbidden topic is an error; a broker that
    /// does not answer is only logged (the process stays unready until rejects go through).
    pub async fn probe(&self, timeout: Duration) -> Result<(), RejectsError> {
        let producer = self.current();
        let topic = self.topic.clone();
        let answer = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&topic), timeout).map(|md| {
                md.topics()
                    .first()
                    .and_then(|t| t.error())
                    .map(|e| format!("{:?}", rdkafka::types::RDKafkaErrorCode::from(e)))
            })
        })
        .await;
        match answer {
            Ok(Ok(None)) => Ok(()),
            Ok(Ok(Some(reason))) => Err(RejectsError::Unusable {
                topic: self.topic.clone(),
                reason: format!("the broker answered {reason} (create the topic, or grant access to it)"),
            }),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, topic = %self.topic, "the broker did not answer for the rejects topic; starting unready");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "rejects topic check did not run");
                Ok(())
            }
        }
    }

    fn rebuild_if_fatal(&self, producer: &FutureProducer) {
        if let Some(fatal) = producer.client().fatal_error() {
            tracing::error!(error = ?fatal, "rejects producer hit a fatal error; creating a new one");
            match self.config.create::<FutureProducer>() {
                Ok(fresh) => {
                    *self.producer.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh
                }
                Err(e) => tracing::error!(error = %e, "the rejects producer could not be created again"),
            }
        }
    }

    /// Produces the reject until Kafka acknowledges it, cutting its value if the topic cannot
    /// take it whole.
    pub async fn send(&self, record: &InboundRecord, reject: &Reject, at: &str) {
        let added = reject_headers(record, reject, at);
        let original_size = record.value.len().to_string();
        let mut cut: Option<usize> = None;
        let mut original_headers = true;
        let mut attempt = 0;
        self.health.started(Dependency::Rejects);
        loop {
            let value = cut.and_then(|n| record.value.get(..n)).unwrap_or(&record.value);
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len() + added.len() + 2);
            let mut header_bytes = 0;
            if original_headers {
                for (k, v) in &record.headers {
                    header_bytes += k.len() + v.as_ref().map_or(0, Vec::len);
                    headers = headers.insert(Header { key: k.as_str(), value: v.as_deref() });
                }
            }
            for (k, v) in &added {
                header_bytes += k.len() + v.len();
                headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
            }
            if cut.is_some() {
                headers = headers
                    .insert(Header { key: HEADER_TRUNCATED, value: Some("true") })
                    .insert(Header { key: HEADER_ORIGINAL_SIZE, value: Some(original_size.as_str()) });
            }
            let mut out = FutureRecord::to(&self.topic).payload(value).headers(headers);
            if let Some(key) = &record.key {
                out = out.key(key.as_slice());
            }
            let producer = self.current();
            let err = match producer.send(out, Duration::from_secs(30)).await {
                Ok(_) => {
                    self.health.succeeded(Dependency::Rejects);
                    self.health.finished(Dependency::Rejects);
                    if cut.is_some() {
                        self.metrics.rejects_truncated.inc();
                    }
                    return;
                }
                Err((e, _)) => e,
            };
            attempt += 1;
            let class = classify_kafka(&err);
            self.metrics.delivery_failed(Dependency::Rejects, class);
            let offset = record.origin.offset;
            let partition = record.origin.partition;
            match class {
                FailureClass::PermanentForRecord => {
                    let overhead = record.key.as_ref().map_or(0, Vec::len) + header_bytes + RECORD_OVERHEAD;
                    match next_cut(record.value.len(), cut, self.max_message_bytes, overhead) {
                        Some(n) => {
                            tracing::warn!(error = %err, partition, offset, size = record.value.len(), keep = n, "the rejects topic refuses this reject as it is; cutting its value");
                            cut = Some(n);
                        }
                        None if original_headers => {
                            tracing::warn!(error = %err, partition, offset, "the rejects topic refuses even an empty value; dropping the original headers from the reject");
                            original_headers = false;
                        }
                        None => {
                            self.health.fatal(Dependency::Rejects);
                            tracing::error!(error = %err, partition, offset, "the rejects topic refuses even the bare reject headers; retrying slowly (raise the topic's max.message.bytes)");
                            tokio::time::sleep(FailureClass::Fatal.backoff(attempt)).await;
                        }
                    }
                }
                FailureClass::Fatal => {
                    self.health.fatal(Dependency::Rejects);
                    tracing::error!(error = %err, topic = %self.topic, partition, offset, "the rejects topic cannot take rejects; unready, retrying slowly (check the topic exists and the producer may write to it)");
                    self.rebuild_if_fatal(&producer);
                    tokio::time::sleep(class.backoff(attempt)).await;
                }
                FailureClass::Transient => {
                    tracing::warn!(error = %err, partition, offset, attempt, "reject not acknowledged; retrying");
                    tokio::time::sleep(class.backoff(attempt)).await;
                }
            }
        }
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
        assert!(get("reject.validator").unwrap_or_default().starts_with("playstream/"));
        assert_eq!(h.len(), 9);
    }

    #[test]
    fn cuts_aim_under_the_limit_then_halve_down_to_nothing() {
        let limit = 1_000_000;
        let first = next_cut(1_500_000, None, limit, 2_000);
        assert_eq!(first, Some(998_000), "just under the producer's limit");
        let mut n = first;
        let mut steps = 0;
        while let Some(k) = n {
            n = next_cut(1_500_000, Some(k), limit, 2_000);
            steps += 1;
            assert!(steps < 40);
        }
        assert!(steps > 10, "halving reaches an empty value, then gives up");
        // A value smaller than the producer's limit that the topic still refuses.
        let small = next_cut(50_000, None, limit, 2_000).unwrap_or(usize::MAX);
        assert!(small < 50_000, "always cuts something: {small}");
        assert_eq!(next_cut(1, None, limit, 2_000), Some(0));
        assert_eq!(next_cut(0, None, limit, 2_000), Some(0));
        assert_eq!(next_cut(0, Some(0), limit, 2_000), None);
    }
}
