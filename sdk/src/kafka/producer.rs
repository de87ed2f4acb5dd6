//! The emitter's producer, replaced when it can no longer deliver: after a fatal error
//! (librdkafka's word that an idempotent producer lost its state for good), or when records
//! time out, none was acknowledged for a whole delivery timeout, and yet the broker answers —
//! as after a cluster rebuilt at the same address or a topic re-created, where the old
//! producer's id and sequence numbers mean nothing any more and it would wait forever.
//! Invariant: a replaced producer's pending records are purged, so their emits fail at once
//! with a retryable error (none is reported acknowledged), and the next emit goes through the
//! new producer.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer, PurgeConfig};

/// A producer and when it last made progress.
pub(crate) struct Supervised {
    current: RwLock<FutureProducer>,
    config: rdkafka::ClientConfig,
    start: Instant,
    /// Milliseconds since `start` of the last acknowledgement (0: none yet).
    last_ok_ms: AtomicU64,
    /// Milliseconds since `start` when the current producer was made.
    built_ms: AtomicU64,
    /// How long without an acknowledgement counts as stuck (the delivery timeout).
    stall: Duration,
}

impl Supervised {
    /// A producer made from `config`.
    pub(crate) fn new(config: rdkafka::ClientConfig, stall: Duration) -> Result<Supervised, KafkaError> {
        let first = config.create::<FutureProducer>()?;
        Ok(Supervised {
            current: RwLock::new(first),
            config,
            start: Instant::now(),
            last_ok_ms: AtomicU64::new(0),
            built_ms: AtomicU64::new(0),
            stall,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// The producer to send with now.
    pub(crate) fn get(&self) -> FutureProducer {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Kafka acknowledged a record.
    pub(crate) fn acknowledged(&self) {
        self.last_ok_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// After `error` from `failed`: replaces the producer when it is unusable or stuck; `true`
    /// when the next emit goes through a new one.
    pub(crate) async fn after_failure(
        &self,
        failed: &FutureProducer,
        error: &KafkaError,
        topic: &str,
    ) -> bool {
        let fatal = failed.client().fatal_error().is_some();
        if !fatal && !self.stalled(error) {
            return false;
        }
        if !fatal {
            // Stuck only counts while the broker answers: an outage is waited out instead.
            let (probe, topic) = (failed.clone(), topic.to_string());
            let answers = tokio::task::spawn_blocking(move || {
                probe.client().fetch_metadata(Some(&topic), Duration::from_secs(2)).is_ok()
            })
            .await;
            if !matches!(answers, Ok(true)) {
                return false;
            }
        }
        self.replace(failed)
    }

    /// A timed-out record, with no acknowledgement for a whole stall period from this producer.
    fn stalled(&self, error: &KafkaError) -> bool {
        let timed_out = error.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageTimedOut);
        let since = self.last_ok_ms.load(Ordering::Relaxed).max(self.built_ms.load(Ordering::Relaxed));
        let stall = u64::try_from(self.stall.as_millis()).unwrap_or(u64::MAX);
        timed_out && self.now_ms().saturating_sub(since) >= stall
    }

    fn replace(&self, failed: &FutureProducer) -> bool {
        let mut slot = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.client().native_ptr() != failed.client().native_ptr() {
            return true; // another emit replaced it already
        }
        let Ok(fresh) = self.config.create::<FutureProducer>() else { return false };
        let old = std::mem::replace(&mut *slot, fresh);
        drop(slot);
        self.built_ms.store(self.now_ms(), Ordering::Relaxed);
        old.purge(PurgeConfig::default().queue().inflight());
        true
    }
}
