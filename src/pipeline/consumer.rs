//! The consumer loop. Records are read with offset auto-store off, copied into chunks and
//! tracked under the assignment generation they were read in, then validated on a thread pool
//! (see [`super::deliver`]); only the offsets' watermark — the lowest undelivered offset — is
//! ever committed. Invariants: the loop never waits on delivery — it keeps calling poll, so
//! rebalances are served and the member is never evicted for not polling; one in-flight budget
//! for the process (records and bytes) bounds memory: over it, every assigned partition is
//! paused, and resumed below half of it; a record read under an assignment that ended before it
//! was tracked is dropped unprocessed (the new owner reads it). On revoke, in-flight work of the
//! revoked partitions is drained (within a deadline shorter than the session timeout) and
//! committed synchronously before they are released; shutdown does the same for every
//! partition, then leaves the group.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use tokio::sync::mpsc;

use super::assignment::{Ctx, Shared};
use super::chunk::Chunk;
use super::deliver::{JobContext, Lines, Pool, batch_loop};
use super::firehose::{FirehoseError, FirehoseSink, FirehoseTimeouts};
use super::flow::{Budget, Generations, lag_loop, report, set_paused};
use super::health::Health;
use super::metrics::Metrics;
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
    /// The file sink's directory cannot be created, or the validation threads cannot start.
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

/// Most records copied out of the consumer per chunk (the unit of validation work).
const CHUNK_RECORDS: usize = 512;

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
        let consumer: Arc<StreamConsumer<Ctx>> =
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
        let mut commit_tick = tokio::time::interval(config.commit_interval);
        let mut budget_tick = tokio::time::interval(Duration::from_millis(20));
        let mut generations = Generations::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = commit_tick.tick() => {
                    // A synchronous commit on a blocking thread: its answer is the broker's (an
                    // async commit's answer would only reach the commit callback, which the
                    // stream consumer does not deliver reliably), and the loop keeps polling.
                    if !shared.committing.swap(true, Ordering::AcqRel) {
                        let (c, s) = (consumer.clone(), shared.clone());
                        tokio::task::spawn_blocking(move || {
                            s.commit(c.as_ref(), None, false);
                            s.committing.store(false, Ordering::Release);
                        });
                    }
                    report(&shared, source.as_ref());
                }
                _ = budget_tick.tick(), if shared.paused.load(Ordering::Relaxed) => {
                    if budget.below_half(shared.offsets().in_flight()) {
                        set_paused(consumer.as_ref(), &shared, false);
                    }
                }
                msg = consumer.recv() => {
                    // Copy what is already fetched (up to a chunk) out of the consumer, each
                    // record with the generation of its partition at the moment it was read.
                    let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_RECORDS * 512);
                    let mut stale = 0u64;
                    let mut next = Some(msg);
                    while let Some(msg) = next.take() {
                        match msg {
                            Err(e) => tracing::warn!(error = %e, "consume error"),
                            Ok(m) => match generations.of(&shared, m.partition()) {
                                Some(g) => chunk.push_message(&m, g),
                                None => stale += 1,
                            },
                        }
                        if chunk.len() < CHUNK_RECORDS {
                            next = consumer.recv().now_or_never();
                        }
                    }
                    // Track under one lock; a record whose assignment ended meanwhile (a revoke
                    // ran inside one of the polls above) is dropped unprocessed.
                    let now = Instant::now();
                    let in_flight = {
                        let mut o = shared.offsets();
                        chunk.retain(|t, bytes| {
                            let kept = o.track(t.partition, t.generation, t.offset, bytes, now);
                            stale += u64::from(!kept);
                            kept
                        });
                        o.in_flight()
                    };
                    if stale > 0 {
                        shared.metrics.stale_records.inc_by(stale);
                    }
                    if !budget.within(in_flight) && !shared.paused.load(Ordering::Relaxed) {
                        set_paused(consumer.as_ref(), &shared, true);
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    shared.metrics.consumed.inc_by(chunk.len() as u64);
                    if !pool.submit(chunk) {
                        tracing::error!("validation threads stopped");
                        break;
                    }
                }
            }
        }
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
