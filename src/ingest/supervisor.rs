//! Producer supervision. Invariant: the service heals by itself — when the Kafka producer can
//! no longer deliver although the broker answers (a fatal idempotence error, or deliveries that
//! keep failing with no acknowledgement for `--producer-stall-ms`, as after a cluster rebuilt at
//! the same address or a topic re-created), a new producer replaces it. What the old one still
//! held is purged, so those requests are answered 503 at once (never 202: nothing unacknowledged
//! is ever counted as delivered), and every rebuild is counted in a metric.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use rdkafka::ClientConfig;
use rdkafka::producer::{Producer, PurgeConfig};

use super::delivery::{IngestProducer, Reports};

/// When deliveries last succeeded and failed, in milliseconds since the supervisor started.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Instant,
    last_ok: AtomicU64,
    last_fail: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress { start: Instant::now(), last_ok: AtomicU64::new(0), last_fail: AtomicU64::new(0) }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A delivery report arrived.
    pub(crate) fn delivered(&self, ok: bool) {
        let slot = if ok { &self.last_ok } else { &self.last_fail };
        slot.store(self.now_ms().max(1), Ordering::Relaxed);
    }
}

/// Whether a producer built at `built_ms` must be replaced at `now_ms`: it reported a fatal
/// error, or (while the broker answers) its deliveries fail and none succeeded for `stall_ms`.
pub(crate) fn should_rebuild(
    now_ms: u64,
    built_ms: u64,
    last_ok_ms: u64,
    last_fail_ms: u64,
    stall_ms: u64,
    fatal: bool,
    broker_answers: bool,
) -> bool {
    fatal
        || (broker_answers
            && last_fail_ms > last_ok_ms
            && last_fail_ms >= built_ms
            && now_ms.saturating_sub(last_ok_ms.max(built_ms)) >= stall_ms)
}

/// The current producer, and how to build the next.
pub(crate) struct Supervised {
    current: RwLock<Arc<IngestProducer>>,
    config: ClientConfig,
    progress: Arc<Progress>,
    built_ms: AtomicU64,
    rebuilds: IntCounter,
    stall: Duration,
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised").field("stall", &self.stall).finish_non_exhaustive()
    }
}

impl Supervised {
    /// Builds the first producer from `config`.
    pub(crate) fn new(
        config: ClientConfig,
        stall: Duration,
        rebuilds: IntCounter,
    ) -> Result<Supervised, rdkafka::error::KafkaError> {
        let progress = Arc::new(Progress::new());
        let first: IngestProducer = config.create_with_context(Reports::new(progress.clone()))?;
        Ok(Supervised {
            current: RwLock::new(Arc::new(first)),
            config,
            progress,
            built_ms: AtomicU64::new(0),
            rebuilds,
            stall,
        })
    }

    /// The producer to send with now.
    pub(crate) fn get(&self) -> Arc<IngestProducer> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// One check (blocking: it may ask the broker for metadata).
    fn check(&self, topic: &str) {
        let producer = self.get();
        let fatal = producer.client().fatal_error();
        let p = &self.progress;
        let (now, ok, fail) =
            (p.now_ms(), p.last_ok.load(Ordering::Relaxed), p.last_fail.load(Ordering::Relaxed));
        let built = self.built_ms.load(Ordering::Relaxed);
        let stall = u64::try_from(self.stall.as_millis()).unwrap_or(u64::MAX);
        let stalled = fail > ok && now.saturating_sub(ok.max(built)) >= stall;
        if fatal.is_none() && !stalled {
            return;
        }
        let answers =
            fatal.is_some() || producer.client().fetch_metadata(Some(topic), Duration::from_secs(2)).is_ok();
        if !should_rebuild(now, built, ok, fail, stall, fatal.is_some(), answers) {
            return;
        }
        let fresh: IngestProducer = match self.config.create_with_context(Reports::new(p.clone())) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "a new Kafka producer could not be created; keeping the old one");
                return;
            }
        };
        match &fatal {
            Some((code, reason)) => {
                tracing::error!(?code, %reason, "the Kafka producer hit a fatal error; replacing it");
            }
            None => tracing::error!(
                stalled_ms = now.saturating_sub(ok.max(built)),
                "no delivery succeeded although the broker answers; replacing the Kafka producer"
            ),
        }
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner),
            Arc::new(fresh),
        );
        self.built_ms.store(now, Ordering::Relaxed);
        self.rebuilds.inc();
        // What the old producer still holds is failed now: those requests get their 503.
        old.purge(PurgeConfig::default().queue().inflight());
        drop(old);
    }

    /// Checks the producer every second until the process ends.
    pub(crate) async fn run(self: Arc<Self>, topic: String) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let (s, t) = (self.clone(), topic.clone());
            let _ = tokio::task::spawn_blocking(move || s.check(&t)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_only_when_stuck_with_the_broker_answering() {
        // Fatal: always.
        assert!(should_rebuild(5, 0, 0, 0, 10_000, true, false));
        // Failing for longer than the stall time with the broker up: rebuild.
        assert!(should_rebuild(20_000, 0, 5_000, 19_000, 10_000, false, true));
        // ... but not while the broker is down (a new producer would not help).
        assert!(!should_rebuild(20_000, 0, 5_000, 19_000, 10_000, false, false));
        // Not yet the stall time since the last success.
        assert!(!should_rebuild(12_000, 0, 5_000, 11_000, 10_000, false, true));
        // Succeeding again after failures: healthy.
        assert!(!should_rebuild(30_000, 0, 29_000, 20_000, 10_000, false, true));
        // Failures from before the last rebuild do not count against the new producer.
        assert!(!should_rebuild(40_000, 30_000, 5_000, 29_000, 10_000, false, true));
        // The new producer failing for the stall time after it was built: rebuild again.
        assert!(should_rebuild(41_000, 30_000, 5_000, 40_500, 10_000, false, true));
        // Never a failure: nothing to do.
        assert!(!should_rebuild(99_000, 0, 0, 0, 10_000, false, true));
    }
}
