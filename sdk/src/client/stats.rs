//! Client-side counters, so an app can report its own loss rate: every event queued ends up
//! acknowledged, dropped with exactly one [`DropReason`], or still held — nothing else.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why the client gave up on an event. Each is final: retrying the same bytes cannot help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The queue was full (per [`FullPolicy`](super::FullPolicy)).
    QueueFull,
    /// The event alone is larger than a request may be.
    TooLarge,
    /// The service answered 400 naming this event (not JSON, not an object, no `event_type`).
    BadEvent,
    /// The service answered 400 for the whole request.
    BadRequest,
    /// The service answered 401: the API key is not valid.
    Unauthorized,
    /// The service answered 413: the event or request is over its limit.
    PayloadTooLarge,
    /// The service answered 415.
    UnsupportedMediaType,
    /// The service answered another 4xx status that retrying cannot change.
    ClientError,
    /// [`RetryPolicy::max_attempts`](super::RetryPolicy::max_attempts) was reached.
    RetriesExhausted,
    /// The client was shut down (or dropped) before the event was acknowledged, and it has no
    /// disk queue to keep it in.
    Shutdown,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 10] = [
        DropReason::QueueFull,
        DropReason::TooLarge,
        DropReason::BadEvent,
        DropReason::BadRequest,
        DropReason::Unauthorized,
        DropReason::PayloadTooLarge,
        DropReason::UnsupportedMediaType,
        DropReason::ClientError,
        DropReason::RetriesExhausted,
        DropReason::Shutdown,
    ];

    /// A stable snake_case label (for metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::TooLarge => "too_large",
            DropReason::BadEvent => "bad_event",
            DropReason::BadRequest => "bad_request",
            DropReason::Unauthorized => "unauthorized",
            DropReason::PayloadTooLarge => "payload_too_large",
            DropReason::UnsupportedMediaType => "unsupported_media_type",
            DropReason::ClientError => "client_error",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Events the client gave up on, as handed to the error callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Why.
    pub reason: DropReason,
    /// The HTTP status that decided it, if any.
    pub status: Option<u16>,
    /// The service's (or the client's) explanation.
    pub message: String,
    /// The dropped events' ids (empty string for a raw event without one).
    pub event_ids: Vec<String>,
    /// The dropped events' JSON, as it would have been sent.
    pub events: Vec<String>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted by `track` (and, with a disk queue, recovered from it at start).
    pub queued: u64,
    /// Events put in a request, counting every attempt.
    pub sent: u64,
    /// Events the service acknowledged (on Kafka).
    pub acknowledged: u64,
    /// Events sent again after a failed attempt.
    pub retried: u64,
    /// Requests made.
    pub requests: u64,
    /// Events held now (queued or being sent).
    pub in_queue: u64,
    /// Events recovered from the disk queue at start (included in `queued`).
    pub recovered: u64,
    /// Events dropped, by reason (every reason listed, zeros included).
    pub dropped: Vec<(DropReason, u64)>,
}

impl Stats {
    /// Events dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }

    /// Events dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| *n)
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) acknowledged: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) recovered: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
    }

    pub(crate) fn drop_n(&self, reason: DropReason, n: usize) {
        if let Some(c) = self.dropped.get(reason as usize) {
            Counters::add(c, n);
        }
    }

    pub(crate) fn snapshot(&self, in_queue: usize) -> Stats {
        Stats {
            queued: self.queued.load(Relaxed),
            sent: self.sent.load(Relaxed),
            acknowledged: self.acknowledged.load(Relaxed),
            retried: self.retried.load(Relaxed),
            requests: self.requests.load(Relaxed),
            in_queue: u64::try_from(in_queue).unwrap_or(u64::MAX),
            recovered: self.recovered.load(Relaxed),
            dropped: DropReason::ALL.iter().zip(&self.dropped).map(|(r, c)| (*r, c.load(Relaxed))).collect(),
        }
    }
}
