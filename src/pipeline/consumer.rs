//! The consumer loop. Records are read with offset auto-store off; each is validated and sent
//! to the batcher (good) or the rejects producer (bad); deliveries acknowledge their offsets in
//! the shared [`Offsets`], and only its watermark — the lowest undelivered offset — is ever
//! committed. A partition with too many records in flight is paused until deliveries catch up.
//! On revoke, in-flight work for the revoked partitions is drained (within a deadline shorter
//! than the session timeout) and committed synchronously before they are released; shutdown
//! does the same for every partition, then leaves the group.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::producer::FutureProducer;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::{Semaphore, mpsc};

use super::batch::{Batch, Batcher, Ticket};
use super::chunk::{Chunk, validate_chunk};
use super::firehose::FirehoseSink;
use super::metrics::Metrics;
use super::offsets::Offsets;
use super::rejects;
use super::sink::{Sink, SinkSpec};
use crate::validate::{Context, SchemaSource};

/// Errors that stop the validator; none is retryable without a configuration change.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// A Kafka client could not be created or subscribed.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A metric could not be registered (a defect).
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
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
    /// Records in flight per partition before it is paused.
    pub max_in_flight_per_partition: usize,
    /// Batches being delivered at once.
    pub concurrent_batches: usize,
    /// How often delivered offsets are committed.
    pub commit_interval: Duration,
    /// Longest a revoke or shutdown waits for in-flight records (keep below the session timeout).
    pub drain_timeout: Duration,
}

struct Shared {
    offsets: Mutex<Offsets>,
    metrics: Metrics,
    sink_healthy: Arc<AtomicBool>,
    running: AtomicBool,
    topic: String,
    drain_timeout: Duration,
}

impl Shared {
    fn offsets(&self) -> std::sync::MutexGuard<'_, Offsets> {
        self.offsets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ack(&self, partition: i32, offset: i64) {
        self.offsets().ack(partition, offset);
    }

    /// Waits until `partitions` (all if `None`) have nothing in flight, or the deadline.
    fn drain_blocking(&self, partitions: Option<&[i32]>) -> bool {
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            let busy: usize = {
                let o = self.offsets();
                match partitions {
                    None => o.in_flight(),
                    Some(ps) => ps.iter().filter_map(|p| o.get(*p)).map(|p| p.in_flight()).sum(),
                }
            };
            if busy == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                tracing::warn!(busy, "drain deadline passed; uncommitted records will be read again");
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Commits the watermark of `partitions` (all if `None`); `force` re-commits unchanged ones.
    fn commit<X: Consumer<Ctx>>(
        &self,
        consumer: &X,
        partitions: Option<&[i32]>,
        mode: CommitMode,
        force: bool,
    ) {
        let todo: Vec<(i32, i64)> = {
            let o = self.offsets();
            o.iter()
                .filter(|(p, _)| partitions.is_none_or(|ps| ps.contains(p)))
                .filter_map(|(p, st)| if force { st.watermark() } else { st.to_commit() }.map(|w| (*p, w)))
                .collect()
        };
        if todo.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &todo {
            if tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*o)).is_err() {
                return;
            }
        }
        let started = Instant::now();
        match consumer.commit(&tpl, mode) {
            Ok(()) => {
                self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
                self.offsets().committed(&todo);
                for (p, o) in &todo {
                    self.metrics.committed_offset.with_label_values(&[&p.to_string()]).set(*o);
                }
                tracing::debug!(?todo, "committed");
            }
            Err(e) => tracing::warn!(error = %e, "offset commit failed; will retry"),
        }
    }
}

struct Ctx {
    shared: Arc<Shared>,
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts: Vec<i32> = tpl
                .elements()
                .iter()
                .filter(|e| e.topic() == self.shared.topic)
                .map(|e| e.partition())
                .collect();
            tracing::info!(?parts, "partitions revoked: draining and committing");
            self.shared.drain_blocking(Some(&parts));
            self.shared.commit(consumer, Some(&parts), CommitMode::Sync, true);
            let mut o = self.shared.offsets();
            for p in &parts {
                o.revoke(*p);
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut o = self.shared.offsets();
            for e in tpl.elements().iter().filter(|e| e.topic() == self.shared.topic) {
                o.assign(e.partition());
            }
            tracing::info!(parts = ?tpl.elements().iter().map(|e| e.partition()).collect::<Vec<_>>(), "partitions assigned");
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

impl Validator {
    /// Prepares a validator (no I/O yet).
    pub fn new(config: ValidatorConfig, schemas: Arc<dyn SchemaSource>) -> Result<Validator, ValidatorError> {
        let shared = Arc::new(Shared {
            offsets: Mutex::new(Offsets::default()),
            metrics: Metrics::new()?,
            sink_healthy: Arc::new(AtomicBool::new(true)),
            running: AtomicBool::new(false),
            topic: config.raw_topic.clone(),
            drain_timeout: config.drain_timeout,
        });
        Ok(Validator { config, schemas, shared })
    }

    /// The metrics registry (for `/metrics`).
    pub fn registry(&self) -> prometheus::Registry {
        self.shared.metrics.registry.clone()
    }

    /// A readiness probe: the loop runs and the sink is delivering.
    pub fn readiness(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let shared = self.shared.clone();
        Arc::new(move || {
            shared.running.load(Ordering::Relaxed) && shared.sink_healthy.load(Ordering::Relaxed)
        })
    }

    /// Runs until `shutdown` resolves, then drains, commits and leaves the group.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ValidatorError> {
        let Validator { config, schemas, shared } = self;
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS);
        for (k, v) in &config.kafka_options {
            cc.set(k, v);
        }
        let consumer: Arc<StreamConsumer<Ctx>> =
            Arc::new(cc.create_with_context(Ctx { shared: shared.clone() })?);
        consumer.subscribe(&[&config.raw_topic])?;
        let rejects_producer = rejects::producer(&config.brokers, &config.kafka_options)?;
        let sink = match &config.sink {
            SinkSpec::Firehose(stream) => Sink::Firehose(
                FirehoseSink::new(stream, shared.metrics.clone(), shared.sink_healthy.clone()).await,
            ),
            SinkSpec::File(dir) => Sink::File(dir.clone()),
        };
        let (tx, rx) = mpsc::channel::<Vec<(Vec<u8>, Ticket)>>(64);
        let batcher =
            tokio::spawn(batch_loop(rx, sink, shared.clone(), config.linger, config.concurrent_batches));
        let lag = tokio::spawn(lag_loop(consumer.clone(), shared.clone()));
        shared.running.store(true, Ordering::Relaxed);
        tracing::info!(topic = %config.raw_topic, group = %config.group, "validator running");

        let mut paused: HashSet<i32> = HashSet::new();
        let mut commit_tick = tokio::time::interval(config.commit_interval);
        let mut resume_tick = tokio::time::interval(Duration::from_millis(20));
        let max_future = i64::try_from(config.max_future.as_micros()).unwrap_or(i64::MAX);
        let validators = Arc::new(Semaphore::new(validation_threads()));
        let rejects_topic: Arc<str> = Arc::from(config.rejects_topic.as_str());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = commit_tick.tick() => {
                    shared.commit(consumer.as_ref(), None, CommitMode::Async, false);
                    shared.metrics.in_flight.set(i64::try_from(shared.offsets().in_flight()).unwrap_or(i64::MAX));
                }
                _ = resume_tick.tick(), if !paused.is_empty() => {
                    resume_drained(consumer.as_ref(), &shared, &mut paused, config.max_in_flight_per_partition);
                }
                msg = consumer.recv() => {
                    // Copy what is already fetched (up to a chunk) out of the consumer, track it
                    // under one lock, and hand the chunk to a validation thread.
                    let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_RECORDS * 512);
                    let mut next = Some(msg);
                    while let Some(msg) = next.take() {
                        match msg {
                            Err(e) => tracing::warn!(error = %e, "consume error"),
                            Ok(m) => chunk.push_message(&m),
                        }
                        if chunk.len() < CHUNK_RECORDS {
                            next = consumer.recv().now_or_never();
                        }
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    let full: Vec<i32> = {
                        let mut o = shared.offsets();
                        for t in chunk.tickets() {
                            o.track(t.partition, t.offset);
                        }
                        let mut parts: Vec<i32> = chunk.tickets().map(|t| t.partition).collect();
                        parts.dedup();
                        parts.retain(|p| o.get(*p).is_some_and(|x| x.in_flight() >= config.max_in_flight_per_partition));
                        parts
                    };
                    shared.metrics.consumed.inc_by(chunk.len() as u64);
                    for p in full {
                        if paused.insert(p) {
                            // pause() ignores offsets: the partition resumes where it stopped.
                            let mut tpl = TopicPartitionList::new();
                            tpl.add_partition(&config.raw_topic, p);
                            if let Err(e) = consumer.pause(&tpl) {
                                tracing::warn!(error = %e, partition = p, "pause failed");
                            }
                        }
                    }
                    let Ok(permit) = validators.clone().acquire_owned().await else { break };
                    let job = Job {
                        chunk,
                        schemas: schemas.clone(),
                        shared: shared.clone(),
                        tx: tx.clone(),
                        rejects: rejects_producer.clone(),
                        rejects_topic: rejects_topic.clone(),
                        max_future,
                        runtime: tokio::runtime::Handle::current(),
                    };
                    tokio::task::spawn_blocking(move || {
                        job.run();
                        drop(permit);
                    });
                }
            }
        }
        tracing::info!("stopping: draining in-flight records");
        shared.running.store(false, Ordering::Relaxed);
        drop(tx);
        let _ = tokio::time::timeout(config.drain_timeout, batcher).await;
        let drainer = shared.clone();
        let _ = tokio::task::spawn_blocking(move || drainer.drain_blocking(None)).await;
        shared.commit(consumer.as_ref(), None, CommitMode::Sync, true);
        lag.abort();
        consumer.unsubscribe();
        tracing::info!("validator stopped; left the group");
        Ok(())
    }
}

/// How long librdkafka waits before fetching again once its local queue is full. Its default
/// (1 s) starves a consumer that drains the queue faster than that: measured on the benchmark,
/// every 100k-record prefetch was followed by a ~0.4 s stall.
pub const FETCH_QUEUE_BACKOFF_MS: &str = "50";

/// Most records copied out of the consumer per chunk (the unit of validation work); a paused
/// partition may overshoot its in-flight bound by at most this much.
const CHUNK_RECORDS: usize = 512;

/// Chunks validated at once: one per core.
fn validation_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// One chunk's validation, run on a blocking thread: accepted lines go to the batcher, each
/// reject to the rejects topic (acknowledged once Kafka has it).
struct Job {
    chunk: Chunk,
    schemas: Arc<dyn SchemaSource>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Vec<(Vec<u8>, Ticket)>>,
    rejects: FutureProducer,
    rejects_topic: Arc<str>,
    max_future: i64,
    runtime: tokio::runtime::Handle,
}

impl Job {
    fn run(self) {
        let mut ctx = Context::now();
        ctx.max_future_micros = self.max_future;
        let outcome = validate_chunk(&self.chunk, &self.shared.topic, &ctx, self.schemas.as_ref());
        drop(self.chunk);
        let at: Arc<str> = Arc::from(String::from_utf8_lossy(ctx.stamp()).as_ref());
        for (record, reject) in outcome.rejected {
            let (producer, topic, shared, at) =
                (self.rejects.clone(), self.rejects_topic.clone(), self.shared.clone(), at.clone());
            self.runtime.spawn(async move {
                rejects::send(&producer, &topic, &record, &reject, &at).await;
                shared.metrics.rejected.with_label_values(&[reject.code.code()]).inc();
                shared.ack(record.origin.partition, record.origin.offset);
            });
        }
        if !outcome.accepted.is_empty() && self.tx.blocking_send(outcome.accepted).is_err() {
            tracing::error!("batcher stopped; accepted records stay uncommitted");
        }
    }
}

fn resume_drained(consumer: &StreamConsumer<Ctx>, shared: &Shared, paused: &mut HashSet<i32>, max: usize) {
    let ready: Vec<i32> = {
        let o = shared.offsets();
        paused.iter().copied().filter(|p| o.get(*p).is_none_or(|x| x.in_flight() <= max / 2)).collect()
    };
    for p in ready {
        paused.remove(&p);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&shared.topic, p);
        if let Err(e) = consumer.resume(&tpl) {
            tracing::warn!(error = %e, partition = p, "resume failed");
        }
    }
}

async fn batch_loop(
    mut rx: mpsc::Receiver<Vec<(Vec<u8>, Ticket)>>,
    sink: Sink,
    shared: Arc<Shared>,
    linger: Duration,
    concurrency: usize,
) {
    let concurrency = concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut batcher = Batcher::new(linger);
    let mut incoming = Vec::with_capacity(64);
    // One timer, re-armed only when the open batch's deadline changes (not per record).
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        if batcher.deadline() != armed {
            armed = batcher.deadline();
            if let Some(d) = armed {
                timer.as_mut().reset(d.into());
            }
        }
        tokio::select! {
            n = rx.recv_many(&mut incoming, 64) => {
                if n == 0 {
                    if let Some(b) = batcher.take() {
                        dispatch(b, &sink, &shared, &permits).await;
                    }
                    break;
                }
                let now = Instant::now();
                for (line, ticket) in incoming.drain(..).flatten() {
                    if let Some(b) = batcher.push(line, ticket, now) {
                        dispatch(b, &sink, &shared, &permits).await;
                    }
                }
            }
            () = &mut timer, if armed.is_some() => {
                if let Some(b) = batcher.take_due(Instant::now()) {
                    dispatch(b, &sink, &shared, &permits).await;
                }
                armed = None;
            }
        }
    }
    let _ = permits.acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX)).await;
}

async fn dispatch(batch: Batch, sink: &Sink, shared: &Arc<Shared>, permits: &Arc<Semaphore>) {
    let Ok(permit) = permits.clone().acquire_owned().await else { return };
    let sink = sink.clone();
    let shared = shared.clone();
    tokio::spawn(async move {
        sink.deliver(&batch.lines, Context::now().now_micros()).await;
        let n = batch.tickets.len();
        {
            let mut o = shared.offsets();
            for t in &batch.tickets {
                o.ack(t.partition, t.offset);
            }
        }
        shared.metrics.accepted.inc_by(n as u64);
        drop(permit);
    });
}

/// Every 10 s: high watermark minus committed offset per partition.
async fn lag_loop(consumer: Arc<StreamConsumer<Ctx>>, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        let parts: Vec<(i32, i64)> =
            shared.offsets().iter().filter_map(|(p, st)| st.last_committed().map(|c| (*p, c))).collect();
        let c = consumer.clone();
        let topic = shared.topic.clone();
        let highs = tokio::task::spawn_blocking(move || {
            parts
                .into_iter()
                .filter_map(|(p, committed)| {
                    c.fetch_watermarks(&topic, p, Duration::from_secs(2))
                        .ok()
                        .map(|(_, high)| (p, high - committed))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (p, lag) in highs {
            shared.metrics.lag.with_label_values(&[&p.to_string()]).set(lag.max(0));
        }
    }
}
