//! The async client for the ingest service's `POST /v1/events`. Its invariant: **every event
//! [`Client::track`] accepts is resolved exactly once — acknowledged by the service (a 202 means
//! it is on Kafka), or dropped with a counted [`DropReason`] and handed to the error callback**;
//! [`Client::flush`] waits for exactly that and reports which. Events are serialized once, at
//! `track`, so every retry sends the same bytes and the same `event_id`.

mod config;
#[cfg(feature = "disk-queue")]
pub(crate) mod disk;
pub(crate) mod http;
mod retry;
mod state;
mod stats;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::Notify;

pub use config::{ClientConfig, ErrorCallback, FullPolicy, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, RetryPolicy};
pub use state::FlushReport;
pub use stats::{DropReason, Dropped, Stats};

use crate::event::Event;
use state::{Entry, Shared, State};
use stats::Counters;

/// Why a client cannot start. Retrying cannot help: the configuration must change.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting is invalid.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The disk queue cannot be opened (permissions, a full disk, a file that is not ours).
    #[error("cannot open the disk queue: {0}")]
    Disk(#[from] std::io::Error),
}

/// Why `track` did not take an event. The event is not queued; each case is counted in
/// [`Stats::dropped`] except `Closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    /// The queue is full and the policy is [`FullPolicy::DropNewest`]; retrying later can help.
    #[error("the queue is full; the event was dropped")]
    QueueFull,
    /// The event is larger than a request may be; retrying cannot help.
    #[error("the event is {0} bytes, more than a request may carry")]
    TooLarge(usize),
    /// The event could not be written to the disk queue (it was not queued); retrying can help
    /// once the disk has room.
    #[error("the disk queue refused the event: {0}")]
    Disk(String),
    /// The client is shut down.
    #[error("the client is shut down")]
    Closed,
}

/// An event as a JSON object the typed API does not cover (a type the SDK does not know yet).
/// It is sent as is: the service answers 400 for one without a string `event_type`, and the
/// client then drops it as [`DropReason::BadEvent`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent(pub Map<String, Value>);

/// A handle to the client; clones share one queue and one sender task.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    config: ClientConfig,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sender keeps going until what is queued is resolved (while the runtime lives).
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
    }
}

impl Client {
    /// Starts a client (and its sender task) on the current tokio runtime. With a disk queue,
    /// events left there by an earlier run are queued again first.
    pub fn start(config: ClientConfig) -> Result<Client, ClientError> {
        if config.max_batch_events == 0 || config.max_batch_events > MAX_BATCH_EVENTS {
            return Err(ClientError::Config(format!("max_batch_events must be 1–{MAX_BATCH_EVENTS}")));
        }
        if config.max_batch_bytes < 1024 || config.max_batch_bytes > MAX_BATCH_BYTES {
            return Err(ClientError::Config(format!("max_batch_bytes must be 1024–{MAX_BATCH_BYTES}")));
        }
        let transport =
            http::Transport::new(&config.endpoint, &config.api_key, config.gzip, config.request_timeout)?;
        #[cfg_attr(not(feature = "disk-queue"), allow(unused_mut))] // filled from disk
        let mut state = State::default();
        let counters = Counters::default();
        #[cfg(feature = "disk-queue")]
        let journal = match &config.disk_queue {
            Some(dir) => {
                let (journal, pending) = disk::Journal::open(dir)?;
                Counters::add(&counters.queued, pending.len());
                Counters::add(&counters.recovered, pending.len());
                state.next_seq = journal.next_seq();
                for (seq, json) in pending {
                    state.push(Entry { seq, event_id: event_id_of(&json), json });
                }
                state.urgent_upto = state.next_seq.checked_sub(1);
                Some(Arc::new(Mutex::new(journal)))
            }
            None => None,
        };
        #[cfg(not(feature = "disk-queue"))]
        if config.disk_queue.is_some() {
            return Err(ClientError::Config("disk_queue needs the `disk-queue` feature".into()));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            work: Notify::new(),
            space: Notify::new(),
            counters,
            on_error: config.on_error.clone(),
            #[cfg(feature = "disk-queue")]
            journal,
        });
        let worker = worker::Worker {
            shared: shared.clone(),
            transport,
            config: config.clone(),
            rng: fastrand::Rng::new(),
        };
        let handle = tokio::spawn(worker.run());
        Ok(Client { inner: Arc::new(Inner { shared, config, worker: Mutex::new(Some(handle)) }) })
    }

    /// Queues one event. Returns once it is held (with a disk queue: written and fsync'd);
    /// sending happens in the background.
    pub async fn track(&self, event: &Event) -> Result<(), TrackError> {
        self.enqueue(event.event_id().hyphenated().to_string(), Bytes::from(event.to_json())).await
    }

    /// Queues a raw JSON object as it is (see [`RawEvent`]).
    pub async fn track_raw(&self, event: RawEvent) -> Result<(), TrackError> {
        let json = Value::Object(event.0).to_string().into_bytes();
        let id = event_id_of(&json);
        self.enqueue(id, Bytes::from(json)).await
    }

    async fn enqueue(&self, event_id: String, json: Bytes) -> Result<(), TrackError> {
        let shared = &self.inner.shared;
        let config = &self.inner.config;
        let entry = Entry { seq: 0, event_id, json };
        if entry.json.len() + 2 > config.max_batch_bytes {
            let len = entry.json.len();
            let msg = format!("the event is {len} bytes; a request may carry {}", config.max_batch_bytes);
            shared.resolve_untracked(&entry, DropReason::TooLarge, &msg);
            return Err(TrackError::TooLarge(len));
        }
        let len = entry.json.len();
        let (entry, evicted) = loop {
            let space = shared.space.notified();
            {
                let mut st = shared.lock();
                if st.closed {
                    return Err(TrackError::Closed);
                }
                // Full once `freed` events / bytes (evicted, resolved below) are discounted.
                let full = |st: &State, freed: usize, freed_bytes: usize| {
                    st.held().saturating_sub(freed) >= config.max_queue_events
                        || st.bytes.saturating_sub(freed_bytes) + len > config.max_queue_bytes
                };
                let mut evicted: Vec<Entry> = Vec::new();
                let mut freed_bytes = 0;
                if full(&st, 0, 0) {
                    match config.full_policy {
                        FullPolicy::Block => {}
                        FullPolicy::DropNewest => {
                            drop(st);
                            shared.resolve_untracked(&entry, DropReason::QueueFull, "the queue is full");
                            return Err(TrackError::QueueFull);
                        }
                        FullPolicy::DropOldest => {
                            while full(&st, evicted.len(), freed_bytes) {
                                let Some(e) = st.pop_oldest() else { break };
                                freed_bytes += e.json.len();
                                evicted.push(e);
                            }
                        }
                    }
                }
                if !full(&st, evicted.len(), freed_bytes) || config.full_policy == FullPolicy::DropOldest {
                    // (DropOldest: when everything held is being sent, nothing older can make
                    // room; the bound is then exceeded by at most the batch in flight.)
                    let entry = Entry { seq: st.next_seq, ..entry };
                    st.next_seq += 1;
                    st.push(entry.clone());
                    break (entry, evicted);
                }
            }
            space.await;
        };
        shared.resolve(
            &evicted,
            Some(DropReason::QueueFull),
            None,
            "the queue is full: dropped the oldest event",
        );
        #[cfg(not(feature = "disk-queue"))]
        let _ = entry;
        #[cfg(feature = "disk-queue")]
        if let Some(journal) = shared.journal.clone() {
            let e = entry.clone();
            let written = tokio::task::spawn_blocking(move || {
                journal.lock().unwrap_or_else(std::sync::PoisonError::into_inner).append(e.seq, &e.json)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(why) = written {
                // Not on disk: take it back out, as if it had never been queued.
                shared.lock().withdraw(entry.seq);
                return Err(TrackError::Disk(why));
            }
        }
        Counters::add(&shared.counters.queued, 1);
        shared.work.notify_one();
        Ok(())
    }

    /// Waits until every event tracked before this call is acknowledged or dropped, sending
    /// them without waiting for the flush interval; the report says which. With unlimited
    /// retries this waits as long as the service is unavailable: see [`Client::flush_within`].
    pub async fn flush(&self) -> FlushReport {
        self.flush_within(Duration::MAX).await
    }

    /// Like [`Client::flush`], but waits at most `timeout`; events still undecided then are
    /// counted in [`FlushReport::pending`] (and stay queued).
    pub async fn flush_within(&self, timeout: Duration) -> FlushReport {
        let shared = &self.inner.shared;
        let (id, rx) = shared.lock().add_waiter();
        shared.work.notify_one();
        let answered = match tokio::time::Instant::now().checked_add(timeout) {
            Some(deadline) => tokio::time::timeout_at(deadline, rx).await.ok(),
            None => Some(rx.await),
        };
        match answered {
            Some(Ok(report)) => report,
            _ => shared.lock().remove_waiter(id).unwrap_or_default(),
        }
    }

    /// Stops taking events, sends what is queued for at most `timeout`, and stops the sender.
    /// Events still undecided then are dropped as [`DropReason::Shutdown`] — unless a disk
    /// queue keeps them for the next start, in which case they are [`FlushReport::pending`].
    pub async fn shutdown(&self, timeout: Duration) -> FlushReport {
        let shared = &self.inner.shared;
        shared.lock().closed = true;
        shared.space.notify_waiters();
        let started = tokio::time::Instant::now();
        let mut report = self.flush_within(timeout).await;
        let handle = self.inner.worker.lock().ok().and_then(|mut h| h.take());
        if let Some(mut handle) = handle {
            let left = timeout.saturating_sub(started.elapsed());
            if tokio::time::timeout(left, &mut handle).await.is_err() {
                handle.abort();
                let _ = handle.await;
            }
        }
        let rest: Vec<Entry> = {
            let mut st = shared.lock();
            let mut rest: Vec<Entry> = st.queue.drain(..).collect();
            rest.append(&mut st.inflight);
            rest
        };
        if !self.keeps_on_disk() && !rest.is_empty() {
            let n = u64::try_from(rest.len()).unwrap_or(u64::MAX);
            shared.resolve(
                &rest,
                Some(DropReason::Shutdown),
                None,
                "the client shut down before the service took it",
            );
            report.pending = report.pending.saturating_sub(n);
            *report.failed.entry(DropReason::Shutdown).or_insert(0) += n;
            report.failed_event_ids.extend(rest.iter().map(|e| e.event_id.clone()));
        }
        report
    }

    fn keeps_on_disk(&self) -> bool {
        #[cfg(feature = "disk-queue")]
        return self.inner.shared.journal.is_some();
        #[cfg(not(feature = "disk-queue"))]
        false
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let held = self.inner.shared.lock().held();
        self.inner.shared.counters.snapshot(held)
    }
}

/// The `event_id` member of an event's JSON, or an empty string.
fn event_id_of(json: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: Option<String>,
    }
    serde_json::from_slice::<Id>(json).ok().and_then(|i| i.event_id).unwrap_or_default()
}

impl Shared {
    /// Counts and reports an event refused before it was ever queued.
    fn resolve_untracked(&self, entry: &Entry, reason: DropReason, message: &str) {
        self.counters.drop_n(reason, 1);
        if let Some(cb) = &self.on_error {
            cb(&Dropped {
                reason,
                status: None,
                message: message.to_string(),
                event_ids: vec![entry.event_id.clone()],
                events: vec![String::from_utf8_lossy(&entry.json).into_owned()],
            });
        }
    }
}
