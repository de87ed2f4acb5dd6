//! `playstream ingest`: the thin HTTP producer game clients post events to. Its one promise:
//! a 202 means every event of the request is on Kafka (acks=all, idempotent producer). It never
//! validates business rules (the validator does), never rewrites an event's bytes, and never
//! answers 202 for an event Kafka has not acknowledged.

pub mod auth;
pub mod body;
mod delivery;
mod routes;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use auth::{KeyStore, Limit, RateLimiter};
use delivery::{IngestProducer, Reports};

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
}

/// The service's metrics, on its own registry.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) events: IntCounter,
    pub(crate) produce_seconds: Histogram,
    pub(crate) queue_depth: IntGauge,
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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(produce_seconds.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(Metrics { registry, requests, events, produce_seconds, queue_depth })
    }
}

/// Shared state of the handlers.
pub(crate) struct State {
    pub(crate) producer: Arc<IngestProducer>,
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

/// Builds the producer: acks=all, idempotent, lz4, and a delivery timeout equal to the request
/// timeout so an event answered 503 is not delivered later behind the client's back.
fn producer(config: &IngestConfig) -> Result<IngestProducer, rdkafka::error::KafkaError> {
    let mut cc = crate::event::reliable_producer_config(&config.brokers);
    cc.set("linger.ms", "2")
        .set("message.timeout.ms", config.produce_timeout.as_millis().to_string())
        .set("queue.buffering.max.messages", "200000");
    for (k, v) in &config.kafka_options {
        cc.set(k, v);
    }
    cc.create_with_context(Reports)
}

/// Runs the service on `listener` until `shutdown` resolves; then finishes in-flight requests
/// and flushes the producer.
pub async fn serve(
    config: IngestConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    let keys = match (&config.api_keys_file, config.no_auth) {
        (Some(path), _) => KeyStore::load(path)?,
        (None, true) => {
            tracing::warn!(
                "AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port can write events"
            );
            KeyStore::default()
        }
        (None, false) => return Err(IngestError::NoAuth),
    };
    let state = Arc::new(State {
        producer: Arc::new(producer(&config)?),
        keys: RwLock::new(Arc::new(keys)),
        limiter: Mutex::new(RateLimiter::default()),
        metrics: Metrics::new()?,
        epoch: Instant::now(),
        admission: tokio::sync::Semaphore::new(config.max_concurrent_requests.max(1)),
        config,
    });
    spawn_key_reloader(state.clone());
    let app = routes::router(state.clone());
    tracing::info!(addr = %listener.local_addr()?, topic = %state.config.topic, "ingest listening");
    crate::http_server::run(listener, app, state.config.idle_timeout, shutdown).await;
    tracing::info!("draining: flushing the producer");
    let producer = state.producer.clone();
    let flushed = tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer;
        producer.flush(Duration::from_secs(10))
    })
    .await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::error!("producer flush did not complete; unacknowledged events were answered 503");
    }
    Ok(())
}

#[cfg(unix)]
fn spawn_key_reloader(state: Arc<State>) {
    let Some(path) = state.config.api_keys_file.clone() else { return };
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match KeyStore::load(&path) {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "API keys reloaded");
                    if let Ok(mut slot) = state.keys.write() {
                        *slot = Arc::new(keys);
                    }
                }
                Err(e) => tracing::error!(error = %e, "API keys NOT reloaded; keeping the previous set"),
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_key_reloader(_state: Arc<State>) {}
