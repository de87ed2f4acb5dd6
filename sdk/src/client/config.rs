//! The client's settings. Every limit has a default that fits the ingest service's contract
//! (≤ 500 events and ≤ 1 MiB per request), so `ClientConfig::new(url, key)` is ready to use.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::stats::Dropped;

/// Most events one request may carry (the service's limit).
pub const MAX_BATCH_EVENTS: usize = 500;
/// Largest request body before gzip (the service's limit on the decoded body).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// What [`Client::track`](super::Client::track) does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Refuse the new event (counted as `queue_full`; `track` returns the error).
    DropNewest,
    /// Drop the oldest event not yet being sent to make room (counted as `queue_full` and
    /// handed to the error callback).
    DropOldest,
    /// Wait until there is room.
    Block,
}

/// Exponential backoff with full jitter: before retry *n* (from 0) the client waits a random
/// time in `[0, min(max_backoff, initial_backoff · 2ⁿ)]`, and never less than a `Retry-After`
/// the service asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upper bound of the first wait.
    pub initial_backoff: Duration,
    /// Upper bound of any wait chosen by the backoff (a longer `Retry-After` is still honoured).
    pub max_backoff: Duration,
    /// Attempts per batch before its events are dropped as `retries_exhausted`; `None` (the
    /// default) retries until the service takes them, so an outage loses nothing.
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

/// Called with every event the client gives up on (never from inside a lock; keep it quick).
pub type ErrorCallback = Arc<dyn Fn(&Dropped) + Send + Sync>;

/// Settings of a [`Client`](super::Client).
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL of the ingest service (`https://ingest.example.com`); `/v1/events` is appended.
    pub endpoint: String,
    /// API key, sent as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Events per request, at most [`MAX_BATCH_EVENTS`] (default 500).
    pub max_batch_events: usize,
    /// Bytes per request body before compression, at most [`MAX_BATCH_BYTES`] (default 1 MiB).
    pub max_batch_bytes: usize,
    /// How long an event may wait for a fuller batch before it is sent (default 1 s).
    pub flush_interval: Duration,
    /// Compress request bodies with gzip (default true).
    pub gzip: bool,
    /// Events held (queued or being sent) at most (default 10,000).
    pub max_queue_events: usize,
    /// Bytes of event JSON held at most, in memory and on disk (default 16 MiB).
    pub max_queue_bytes: usize,
    /// What `track` does when either bound is reached (default [`FullPolicy::DropNewest`]).
    pub full_policy: FullPolicy,
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// Longest one request may take before it counts as failed and is retried (default 30 s).
    pub request_timeout: Duration,
    /// Called with every event dropped, with the reason.
    pub on_error: Option<ErrorCallback>,
    /// Directory of the persistent queue (feature `disk-queue`); `None`: memory only.
    pub disk_queue: Option<PathBuf>,
}

impl ClientConfig {
    /// Defaults for everything but the service's address and the API key.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            max_batch_events: MAX_BATCH_EVENTS,
            max_batch_bytes: MAX_BATCH_BYTES,
            flush_interval: Duration::from_secs(1),
            gzip: true,
            max_queue_events: 10_000,
            max_queue_bytes: 16 * 1024 * 1024,
            full_policy: FullPolicy::DropNewest,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            on_error: None,
            disk_queue: None,
        }
    }

    /// Sets the error callback.
    pub fn on_error(mut self, f: impl Fn(&Dropped) + Send + Sync + 'static) -> ClientConfig {
        self.on_error = Some(Arc::new(f));
        self
    }

    /// Keeps the queue in `dir` (feature `disk-queue`): events survive a crash or restart.
    pub fn disk_queue(mut self, dir: impl Into<PathBuf>) -> ClientConfig {
        self.disk_queue = Some(dir.into());
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("api_key", &"<redacted>")
            .field("max_batch_events", &self.max_batch_events)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("flush_interval", &self.flush_interval)
            .field("gzip", &self.gzip)
            .field("max_queue_events", &self.max_queue_events)
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("full_policy", &self.full_policy)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .field("on_error", &self.on_error.as_ref().map(|_| "<callback>"))
            .field("disk_queue", &self.disk_queue)
            .finish()
    }
}
