//! `playstream ingest`: the thin HTTP producer game clients post events to. Its one promise:
//! a 202 means every event of the request is on Kafka (acks=all, idempotent producer). It never
//! validates business rules (the validator does), never rewrites an event's bytes, and never
//! answers 202 for an event Kafka has not acknowledged.

pub mod auth;
pub mod body;
mod delivery;
mod routes;
mod supervisor;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use auth::{KeyStore, Limit, RateLimiter};
use supervisor::Supervised;

/// Errors starting the ingest service; none is retryable without a configuration change.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The API keys file could not be loaded.
    #[error(transparent)]
    Keys(#[from] auth::KeysError),
    /// Neither an API keys file nor `--no-auth` was given.
    #[error("no --api-keys-file given; pass --no-auth to run without authentication (development only)")]
    NoAuth,
    /// The Kafka producer could not be created.
    #[error("cannot create the Kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The API keys file holds no key (and `--no-auth` was not given).
    #[error("the API keys file {0} holds no key; add one, or pass --no-auth (development only)")]
    NoKeys(PathBuf),
    /// The HTTP server failed.
    #[error("HTTP server error: {0}")]
    Io(#[from] std::io::Error),
    /// A metric could not be registered (a defect).
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Settings of the ingest service (see `playstream ingest --help`).
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Topic raw events are produced to.
    pub topic: String,
    /// API keys file (`id:key` or `id:sha256:<hex>` per line); reloaded on SIGHUP.
    pub api_keys_file: Option<PathBuf>,
    /// Accept requests without an API key (development only).
    pub no_auth: bool,
    /// Extra librdkafka producer settings.
    pub kafka_options: Vec<(String, String)>,
    /// How long a request waits for Kafka to acknowledge its events before answering 503.
    pub produce_timeout: Duration,
    /// Per-key rate limit.
    pub limit: Limit,
    /// Origins allowed by CORS (`*` for any); empty disables CORS.
    pub cors_origins: Vec<String>,
    /// Requests handled at once; beyond it a request is answered 503 `overloaded` at once.
    pub max_concurrent_requests: usize,
    /// How long a connection may wait for a complete request head (new or kept alive) before it
    /// is closed, and a request body may take to arrive before it is answered 408.
    pub idle_timeout: Duration,
    /// Largest event accepted, in bytes (`None`: the producer's `message.max.bytes` less room
    /// for the key and headers).
    pub max_event_bytes: Option<usize>,
    /// How long deliveries may fail with no success, while the broker answers, before the
    /// producer is replaced.
    pub producer_stall: Duration,
    /// Longest a shutdown (finishing requests, flushing the producer) may take.
    pub shutdown_timeout: Duration,
}

impl IngestConfig {
    /// A configuration with the command line's defaults for everything but the names.
    pub fn new(brokers: &str, topic: &str) -> IngestConfig {
        IngestConfig {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            api_keys_file: None,
            no_auth: false,
            kafka_options: Vec::new(),
            produce_timeout: Duration::from_secs(5),
            limit: Limit { rate: 10_000.0, burst: 20_000.0 },
            cors_origins: Vec::new(),
            max_concurrent_requests: 4096,
            idle_timeout: Duration::from_millis(crate::http_server::DEFAULT_IDLE_TIMEOUT_MS),
            max_event_bytes: None,
            producer_stall: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// Room kept below `message.max.bytes` for an event's key, headers and framing.
const RECORD_ROOM: usize = 1024;

/// The largest event the producer can take: `--max-event-bytes`, else `message.max.bytes`
/// (from `--kafka-option`, or librdkafka's default) less room for key and headers.
pub fn max_event_bytes(config: &IngestConfig) -> usize {
    config.max_event_bytes.unwrap_or_else(|| {
        let limit = config
            .kafka_options
            .iter()
            .rev()
            .find(|(k, _)| k == "message.max.bytes")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_MESSAGE_MAX_BYTES);
        limit.saturating_sub(RECORD_ROOM)
    })
}

/// The service's metrics, on its own registry.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) events: IntCounter,
    pub(crate) produce_seconds: Histogram,
    pub(crate) queue_depth: IntGauge,
    pub(crate) producer_rebuilds: IntCounter,
    pub(crate) key_reloads: IntCounterVec,
}

impl Metrics {
    fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("playstream_ingest_requests_total", "HTTP requests to /v1/events by status code"),
            &["status"],
        )?;
        let events =
            IntCounter::new("playstream_ingest_events_produced_total", "Events acknowledged by Kafka")?;
        let produce_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "playstream_ingest_produce_seconds",
                "Time from produce to Kafka ack, per request",
            )
            .buckets(vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        )?;
        let queue_depth =
            IntGauge::new("playstream_ingest_queue_depth", "Messages waiting in the producer queue")?;
        let producer_rebuilds = IntCounter::new(
            "playstream_ingest_producer_rebuilds_total",
            "Kafka producers replaced after a fatal error or a stall",
        )?;
        let key_reloads = IntCounterVec::new(
            Opts::new("playstream_ingest_key_reloads_total", "API keys file reloads by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(produce_seconds.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(producer_rebuilds.clone()))?;
        registry.register(Box::new(key_reloads.clone()))?;
        for o in ["ok", "error"] {
            key_reloads.with_label_values(&[o]);
        }
        Ok(Metrics {
            registry,
            requests,
            events,
            produce_seconds,
            queue_depth,
            producer_rebuilds,
            key_reloads,
        })
    }
}

/// Shared state of the handlers.
pub(crate) struct State {
    pub(crate) producer: Arc<Supervised>,
    /// Largest event accepted, bytes.
    pub(crate) max_event_bytes: usize,
    pub(crate) config: IngestConfig,
    pub(crate) keys: RwLock<Arc<KeyStore>>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) metrics: Metrics,
    pub(crate) epoch: Instant,
    /// One permit per request being handled (load shedding beyond `max_concurrent_requests`).
    pub(crate) admission: tokio::sync::Semaphore,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The producer settings: acks=all, idempotent, lz4, and a delivery timeout equal to the
/// request timeout so an event answered 503 is not delivered later behind the client's back.
fn producer_config(config: &IngestConfig) -> rdkafka::ClientConfig {
    let mut cc = crate::event::reliable_producer_config(&config.brokers);
    cc.set("linger.ms", "2")
        .set("message.timeout.ms", config.produce_timeout.as_millis().to_string())
        .set("queue.buffering.max.messages", "200000");
    for (k, v) in &config.kafka_options {
        cc.set(k, v);
    }
    cc
}

/// Runs the service on `listener` until `shutdown` resolves; then finishes in-flight requests
/// and flushes the producer.
pub async fn serve(
    config: IngestConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    let keys = match (&config.api_keys_file, config.no_auth) {
        (Some(path), no_auth) => {
            let keys = KeyStore::load(path)?;
            if keys.is_empty() && !no_auth {
                return Err(IngestError::NoKeys(path.clone()));
            }
            keys
        }
        (None, true) => {
            tracing::warn!(
                "AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port can write events"
            );
            KeyStore::default()
        }
        (None, false) => return Err(IngestError::NoAuth),
    };
    let metrics = Metrics::new()?;
    let producer = Arc::new(Supervised::new(
        producer_config(&config),
        config.producer_stall,
        metrics.producer_rebuilds.clone(),
    )?);
    let supervisor = tokio::spawn(producer.clone().run(config.topic.clone()));
    let state = Arc::new(State {
        producer,
        max_event_bytes: max_event_bytes(&config),
        keys: RwLock::new(Arc::new(keys)),
        limiter: Mutex::new(RateLimiter::default()),
        metrics,
        epoch: Instant::now(),
        admission: tokio::sync::Semaphore::new(config.max_concurrent_requests.max(1)),
        config,
    });
    spawn_key_reloader(state.clone());
    let app = routes::router(state.clone());
    tracing::info!(addr = %listener.local_addr()?, topic = %state.config.topic, "ingest listening");
    // Shutdown is bounded: requests still waiting when the time is up are cut off (their
    // clients see the connection close and retry; nothing was answered 202 without Kafka).
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = started_tx.send(());
    };
    let server = crate::http_server::run(listener, app, state.config.idle_timeout, shutdown);
    tokio::pin!(server);
    let timeout = state.config.shutdown_timeout;
    tokio::select! {
        () = &mut server => {}
        Ok(()) = started_rx => {
            if tokio::time::timeout(timeout, &mut server).await.is_err() {
                tracing::error!(timeout_ms = timeout.as_millis() as u64, "shutdown timeout: requests still in progress were cut off");
            }
        }
    }
    supervisor.abort();
    tracing::info!("draining: flushing the producer");
    let producer = state.producer.get();
    let flushed = tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer;
        producer.flush(Duration::from_secs(5))
    })
    .await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::error!("producer flush did not complete; unacknowledged events were answered 503");
    }
    Ok(())
}

/// How often the keys file is checked for a change.
const KEYS_POLL: Duration = Duration::from_secs(2);

/// What identifies the keys file's content without reading it: the file it resolves to (a
/// Kubernetes Secret volume swaps a symlink), its inode, size and modification time.
#[cfg(unix)]
fn keys_stamp(path: &std::path::Path) -> Option<(PathBuf, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).ok()?;
    let m = std::fs::metadata(&real).ok()?;
    Some((real, m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

#[cfg(unix)]
fn reload_keys(state: &State, path: &std::path::Path, why: &str) {
    match KeyStore::load(path) {
        Ok(keys) if keys.is_empty() && !state.config.no_auth => {
            state.metrics.key_reloads.with_label_values(&["error"]).inc();
            tracing::error!(why, "the API keys file now holds no key; keeping the previous set");
        }
        Ok(keys) => {
            state.metrics.key_reloads.with_label_values(&["ok"]).inc();
            tracing::info!(keys = keys.len(), why, "API keys reloaded");
            if let Ok(mut slot) = state.keys.write() {
                *slot = Arc::new(keys);
            }
        }
        Err(e) => {
            state.metrics.key_reloads.with_label_values(&["error"]).inc();
            tracing::error!(error = %e, why, "API keys NOT reloaded; keeping the previous set");
        }
    }
}

/// Reloads the keys file on SIGHUP and whenever it changes (checked every [`KEYS_POLL`]).
#[cfg(unix)]
fn spawn_key_reloader(state: Arc<State>) {
    let Some(path) = state.config.api_keys_file.clone() else { return };
    tokio::spawn(async move {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut poll = tokio::time::interval(KEYS_POLL);
        let mut stamp = keys_stamp(&path);
        loop {
            let why = tokio::select! {
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                _ = poll.tick() => {
                    let now = keys_stamp(&path);
                    if now == stamp || now.is_none() {
                        continue;
                    }
                    stamp = now;
                    "file changed"
                }
            };
            reload_keys(&state, &path, why);
        }
    });
}

#[cfg(not(unix))]
fn spawn_key_reloader(_state: Arc<State>) {}
