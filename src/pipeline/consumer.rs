//! The validator: its setup, its run and its shutdown. Records are read with offset auto-store
//! off by one poll thread (see [`super::poll`]), copied into chunks and tracked under the
//! assignment generation they were read in, then validated on a thread pool (see
//! [`super::deliver`]); only the offsets' watermark — the lowest undelivered offset — is ever
//! committed. Invariants: polling never waits on delivery, so rebalances are served and the
//! member is never evicted for not polling; one in-flight budget
//! for the process (records and bytes) bounds memory: over it, every assigned partition is
//! paused, and resumed below half of it; a record read under an assignment that ended before it
//! was tracked is dropped unprocessed (the new owner reads it). On revoke, in-flight work of the
//! revoked partitions is drained (within a deadline shorter than the session timeout) and
//! committed synchronously before they are released; shutdown does the same for every
//! partition, then leaves the group.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::mpsc;

use super::assignment::{Ctx, Shared};
use super::deliver::{JobContext, Lines, Pool, batch_loop};
use super::firehose::{FirehoseError, FirehoseSink, FirehoseTimeouts};
use super::flow::{Budget, lag_loop};
use super::health::Health;
use super::metrics::Metrics;
use super::poll::PollLoop;
use super::rejects::{RejectsError, RejectsProducer};
use super::sink::{Sink, SinkSpec, check_dir};
use crate::validate::{Probe, SchemaSource};

/// Errors that stop the validator; none is retryable without a configuration change.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// A Kafka client could not be created or subscribed.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A metric could not be registered (a defect).
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The rejects topic cannot be used.
    #[error(transparent)]
    Rejects(#[from] RejectsError),
    /// The Firehose stream cannot be used.
    #[error(transparent)]
    Firehose(#[from] FirehoseError),
    /// The file sink's directory cannot be created, or the validation or poll threads cannot
    /// start (or the poll thread stopped: a defect).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The Schema Registry cannot work as configured.
    #[error("{0}")]
    Registry(String),
}

/// Settings of the validator (see `playstream validate --help`).
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Consumer group id.
    pub group: String,
    /// Topic to read raw events from.
    pub raw_topic: String,
    /// Topic rejected records go to.
    pub rejects_topic: String,
    /// Extra librdkafka settings for the consumer and the rejects producer.
    pub kafka_options: Vec<(String, String)>,
    /// Where validated events go.
    pub sink: SinkSpec,
    /// How far in the future an event timestamp may be.
    pub max_future: Duration,
    /// Longest a validated line waits for its batch to fill.
    pub linger: Duration,
    /// Records read but not yet delivered, for the whole process, before every partition is
    /// paused.
    pub max_in_flight_records: usize,
    /// Bytes read but not yet delivered, for the whole process, before every partition is paused.
    pub max_in_flight_bytes: usize,
    /// Batches being delivered at once.
    pub concurrent_batches: usize,
    /// How often delivered offsets are committed.
    pub commit_interval: Duration,
    /// Longest a revoke or shutdown waits for in-flight records (keep below the session timeout).
    pub drain_timeout: Duration,
    /// Readiness turns false when a dependency has had no success for this long with work pending.
    pub unhealthy_after: Duration,
    /// Firehose call timeouts.
    pub firehose_timeouts: FirehoseTimeouts,
}

impl ValidatorConfig {
    /// A configuration with the command line's defaults for everything but the names.
    pub fn new(
        brokers: &str,
        group: &str,
        raw_topic: &str,
        rejects_topic: &str,
        sink: SinkSpec,
    ) -> ValidatorConfig {
        ValidatorConfig {
            brokers: brokers.to_string(),
            group: group.to_string(),
            raw_topic: raw_topic.to_string(),
            rejects_topic: rejects_topic.to_string(),
            kafka_options: Vec::new(),
            sink,
            max_future: Duration::from_secs(24 * 3600),
            linger: Duration::from_millis(200),
            max_in_flight_records: 100_000,
            max_in_flight_bytes: 128 * 1024 * 1024,
            concurrent_batches: 32,
            commit_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(10),
            unhealthy_after: Duration::from_secs(30),
            firehose_timeouts: FirehoseTimeouts {
                attempt: Duration::from_secs(10),
                operation: Duration::from_secs(30),
            },
        }
    }
}

/// A configured validator, ready to run.
pub struct Validator {
    config: ValidatorConfig,
    schemas: Arc<dyn SchemaSource>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").field("config", &self.config).finish_non_exhaustive()
    }
}

/// How long librdkafka waits before fetching again once its local queue is full. Its default
/// (1 s) starves a consumer that drains the queue faster than that: measured on the benchmark,
/// every 100k-record prefetch was followed by a ~0.4 s stall.
pub const FETCH_QUEUE_BACKOFF_MS: &str = "50";

/// Most kilobytes librdkafka prefetches ahead of the loop. Its default (64 MiB) comes on top of
/// the in-flight budget; 16 MiB is ~60k records of a few hundred bytes, far more than one fetch
/// round trip needs, and keeps a replica that starts behind a large backlog under 200 MB of RSS.
pub const PREFETCH_KBYTES: &str = "16384";

/// Chunks validated at once: one per core.
fn validation_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl Validator {
    /// Prepares a validator (no I/O yet).
    pub fn new(config: ValidatorConfig, schemas: Arc<dyn SchemaSource>) -> Result<Validator, ValidatorError> {
        let health = Arc::new(Health::new(config.unhealthy_after));
        let shared = Arc::new(Shared::new(Metrics::new()?, health, &config.raw_topic, config.drain_timeout));
        Ok(Validator { config, schemas, shared })
    }

    /// The metrics registry (for `/metrics`).
    pub fn registry(&self) -> prometheus::Registry {
        self.shared.metrics.registry.clone()
    }

    /// A readiness probe: the loop runs and every dependency can take work.
    pub fn readiness(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let health = self.shared.health.clone();
        Arc::new(move || health.ready())
    }

    /// Checks the dependencies (failing fast on a configuration error), then runs until
    /// `shutdown` resolves; then drains, commits and leaves the group.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ValidatorError> {
        let Validator { config, schemas, shared } = self;
        let probe = schemas.clone();
        match tokio::task::spawn_blocking(move || probe.check()).await {
            Ok(Probe::Misconfigured(why)) => return Err(ValidatorError::Registry(why)),
            Ok(Probe::Down(why)) => {
                tracing::warn!(%why, "the Schema Registry does not answer; framed records wait for it")
            }
            _ => {}
        }
        let rejects = Arc::new(RejectsProducer::new(
            &config.brokers,
            &config.kafka_options,
            &config.rejects_topic,
            shared.health.clone(),
            shared.metrics.clone(),
        )?);
        rejects.probe(Duration::from_secs(10)).await?;
        let sink = match &config.sink {
            SinkSpec::Firehose(stream) => {
                let f = FirehoseSink::new(
                    stream,
                    config.firehose_timeouts,
                    shared.metrics.clone(),
                    shared.health.clone(),
                )
                .await;
                f.healthcheck().await?;
                Sink::Firehose(f)
            }
            SinkSpec::File(dir) => {
                check_dir(dir)?;
                Sink::File(dir.clone(), shared.health.clone())
            }
        };
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
            .set("queued.max.messages.kbytes", PREFETCH_KBYTES);
        for (k, v) in &config.kafka_options {
            cc.set(k, v);
        }
        let consumer: Arc<BaseConsumer<Ctx>> =
            Arc::new(cc.create_with_context(Ctx { shared: shared.clone() })?);
        consumer.subscribe(&[&config.raw_topic])?;

        let encoding = sink.encoding();
        let (lines_tx, lines_rx) = mpsc::channel::<Lines>(64);
        let batcher = tokio::spawn(batch_loop(
            lines_rx,
            sink,
            shared.clone(),
            config.linger,
            config.concurrent_batches,
        ));
        let source = schemas.clone();
        let pool = Pool::start(
            validation_threads(),
            JobContext {
                schemas,
                shared: shared.clone(),
                lines: lines_tx,
                rejects,
                encoding,
                max_future_micros: i64::try_from(config.max_future.as_micros()).unwrap_or(i64::MAX),
                runtime: tokio::runtime::Handle::current(),
            },
        )?;
        let lag = tokio::spawn(lag_loop(consumer.clone(), shared.clone()));
        shared.health.set_running(true);
        tracing::info!(topic = %config.raw_topic, group = %config.group, "validator running");

        let budget =
            Budget { records: config.max_in_flight_records.max(1), bytes: config.max_in_flight_bytes.max(1) };
        let stop = Arc::new(AtomicBool::new(false));
        let poll = PollLoop {
            consumer: consumer.clone(),
            shared: shared.clone(),
            pool,
            budget,
            commit_interval: config.commit_interval,
            source,
            runtime: tokio::runtime::Handle::current(),
            stop: stop.clone(),
        };
        let (exited_tx, exited_rx) = tokio::sync::oneshot::channel::<Pool>();
        std::thread::Builder::new().name("poll".into()).spawn(move || {
            let _ = exited_tx.send(poll.run());
        })?;
        tokio::pin!(shutdown);
        tokio::pin!(exited_rx);
        let early = tokio::select! {
            () = &mut shutdown => None,
            pool = &mut exited_rx => Some(pool),
        };
        stop.store(true, Ordering::Release);
        let pool = match early {
            Some(pool) => pool,
            None => exited_rx.await,
        };
        let Ok(pool) = pool else {
            // Only a defect (a panic on the poll thread) gets here; nothing is committed past
            // what was confirmed, so the records in flight are read again by the next owner.
            return Err(ValidatorError::Io(std::io::Error::other(
                "the poll thread stopped without handing back the validation threads",
            )));
        };
        tracing::info!("stopping: draining in-flight records");
        shared.health.set_running(false);
        let drainer = shared.clone();
        let drained = tokio::task::spawn_blocking(move || {
            pool.finish();
            drainer.drain_blocking(None)
        });
        let _ = tokio::time::timeout(config.drain_timeout, drained).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), batcher).await;
        // No periodic commit may run beside the last one, nor hold the consumer past it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.committing.swap(true, Ordering::AcqRel) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shared.commit(consumer.as_ref(), None, true);
        lag.abort();
        let _ = lag.await;
        shared.closing.store(true, Ordering::Release);
        consumer.unsubscribe();
        // Closing the consumer leaves the group (running the revoke callback once more); it is
        // bounded so a broker that does not answer cannot hold the exit.
        let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            drop(consumer);
            let _ = closed_tx.send(());
        });
        let wait = config.drain_timeout + Duration::from_secs(5);
        if tokio::task::spawn_blocking(move || closed_rx.recv_timeout(wait))
            .await
            .map_or(true, |r| r.is_err())
        {
            tracing::warn!("the consumer did not close in time; exiting without waiting for it");
        }
        tracing::info!("validator stopped; left the group");
        Ok(())
    }
}
