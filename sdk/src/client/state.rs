//! The queue shared by `track`, the sender and `flush`. Invariant: every event is in exactly one
//! place — `outstanding` (queued or being sent) until it is resolved once, as acknowledged or
//! dropped with a reason; a flush waiter is answered when no event with a sequence number at or
//! below its target is outstanding any more.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};

use super::config::ErrorCallback;
use super::stats::{Counters, DropReason, Dropped};

/// One event as it is held: serialized once, so every retry sends the same bytes (and id).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Order of arrival (persistent across restarts with a disk queue).
    pub(crate) seq: u64,
    /// The event's id, if it has one.
    pub(crate) event_id: String,
    /// The JSON sent.
    pub(crate) json: Bytes,
}

/// What a [`flush`](super::Client::flush) learned about the events queued before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Of the events outstanding when the flush began: acknowledged by the service.
    pub acknowledged: u64,
    /// … dropped, by reason (only reasons that occurred).
    pub failed: BTreeMap<DropReason, u64>,
    /// … ids of the dropped ones.
    pub failed_event_ids: Vec<String>,
    /// … neither yet (only when the flush gave up waiting).
    pub pending: u64,
}

impl FlushReport {
    /// True when every event queued before the flush was acknowledged.
    pub fn all_acknowledged(&self) -> bool {
        self.failed.is_empty() && self.pending == 0
    }

    /// Events dropped.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

struct Waiter {
    id: u64,
    target: u64,
    report: FlushReport,
    tx: Option<oneshot::Sender<FlushReport>>,
}

/// The mutable part, behind one lock.
#[derive(Default)]
pub(crate) struct State {
    /// Waiting to be sent, oldest first.
    pub(crate) queue: VecDeque<Entry>,
    /// When the oldest queued event arrived (for the flush interval).
    pub(crate) oldest_at: Option<Instant>,
    /// Bytes of JSON held (queued or being sent).
    pub(crate) bytes: usize,
    /// Every event not yet resolved: seq → its JSON's length.
    outstanding: BTreeMap<u64, usize>,
    /// The batch being sent (for shutdown's accounting).
    pub(crate) inflight: Vec<Entry>,
    /// Next sequence number.
    pub(crate) next_seq: u64,
    /// Send everything up to this seq without waiting for a fuller batch.
    pub(crate) urgent_upto: Option<u64>,
    /// No more `track`.
    pub(crate) closed: bool,
    waiters: Vec<Waiter>,
    next_waiter: u64,
}

impl State {
    /// Events held (queued or being sent).
    pub(crate) fn held(&self) -> usize {
        self.outstanding.len()
    }

    /// Takes a new event in.
    pub(crate) fn push(&mut self, entry: Entry) {
        self.outstanding.insert(entry.seq, entry.json.len());
        self.bytes += entry.json.len();
        if self.queue.is_empty() {
            self.oldest_at = Some(Instant::now());
        }
        self.queue.push_back(entry);
    }

    /// Takes the next batch off the queue: at most `max_events`, and at most `max_bytes` as a
    /// JSON array (one event always goes, it was checked against the limit when tracked).
    pub(crate) fn take_batch(&mut self, max_events: usize, max_bytes: usize) -> Vec<Entry> {
        let mut batch = Vec::new();
        let mut size = 2usize; // "[" and "]"
        while let Some(front) = self.queue.front() {
            let add = front.json.len() + usize::from(!batch.is_empty());
            if batch.len() >= max_events || (!batch.is_empty() && size + add > max_bytes) {
                break;
            }
            size += add;
            if let Some(e) = self.queue.pop_front() {
                batch.push(e);
            }
        }
        self.oldest_at = if self.queue.is_empty() { None } else { Some(Instant::now()) };
        batch
    }

    /// Puts events back at the front of the queue (a batch split in two).
    pub(crate) fn unshift(&mut self, entries: Vec<Entry>) {
        for e in entries.into_iter().rev() {
            self.queue.push_front(e);
        }
        self.oldest_at.get_or_insert_with(Instant::now);
    }

    /// The oldest queued event that is not being sent, removed (for [`FullPolicy::DropOldest`]).
    pub(crate) fn pop_oldest(&mut self) -> Option<Entry> {
        let e = self.queue.pop_front()?;
        if self.queue.is_empty() {
            self.oldest_at = None;
        }
        Some(e)
    }

    /// Registers a flush of everything tracked so far.
    pub(crate) fn add_waiter(&mut self) -> (u64, oneshot::Receiver<FlushReport>) {
        let (tx, rx) = oneshot::channel();
        let target = self.next_seq.saturating_sub(1);
        let pending = self.outstanding.range(..=target).count();
        let id = self.next_waiter;
        self.next_waiter += 1;
        let report =
            FlushReport { pending: u64::try_from(pending).unwrap_or(u64::MAX), ..FlushReport::default() };
        self.waiters.push(Waiter { id, target, report, tx: Some(tx) });
        if self.next_seq > 0 {
            self.urgent_upto = Some(self.urgent_upto.map_or(target, |u| u.max(target)));
        }
        self.answer_waiters();
        (id, rx)
    }

    /// Removes a waiter that stopped waiting; its report so far.
    pub(crate) fn remove_waiter(&mut self, id: u64) -> Option<FlushReport> {
        let i = self.waiters.iter().position(|w| w.id == id)?;
        Some(self.waiters.swap_remove(i).report)
    }

    /// Marks events resolved: `None` acknowledged, `Some(reason)` dropped.
    /// Returns the entries that were still outstanding (each is resolved once only).
    pub(crate) fn resolve<'e>(
        &mut self,
        entries: &'e [Entry],
        outcome: Option<DropReason>,
    ) -> Vec<&'e Entry> {
        let mut done = Vec::with_capacity(entries.len());
        for e in entries {
            let Some(len) = self.outstanding.remove(&e.seq) else { continue };
            done.push(e);
            self.bytes = self.bytes.saturating_sub(len);
            for w in self.waiters.iter_mut().filter(|w| e.seq <= w.target) {
                w.report.pending = w.report.pending.saturating_sub(1);
                match outcome {
                    None => w.report.acknowledged += 1,
                    Some(r) => {
                        *w.report.failed.entry(r).or_insert(0) += 1;
                        w.report.failed_event_ids.push(e.event_id.clone());
                    }
                }
            }
        }
        done
    }

    /// Takes back an event that was never really queued (its disk write failed).
    #[cfg(feature = "disk-queue")]
    pub(crate) fn withdraw(&mut self, seq: u64) {
        if let Some(len) = self.outstanding.remove(&seq) {
            self.bytes = self.bytes.saturating_sub(len);
            for w in self.waiters.iter_mut().filter(|w| seq <= w.target) {
                w.report.pending = w.report.pending.saturating_sub(1);
            }
        }
        self.queue.retain(|e| e.seq != seq);
        self.answer_waiters();
    }

    /// Answers every flush whose events are all resolved.
    pub(crate) fn answer_waiters(&mut self) {
        let lowest = self.outstanding.keys().next().copied();
        self.waiters.retain_mut(|w| {
            let done = lowest.is_none_or(|l| l > w.target);
            if done {
                if let Some(tx) = w.tx.take() {
                    let _ = tx.send(std::mem::take(&mut w.report));
                }
            }
            !done
        });
        if lowest.is_none() {
            self.urgent_upto = None;
        }
    }

    /// Whether the next batch should go now (full, old enough, flushed or closing).
    pub(crate) fn ready(&self, max_events: usize, max_bytes: usize, interval: std::time::Duration) -> bool {
        let Some(front) = self.queue.front() else { return false };
        self.closed
            || self.queue.len() >= max_events
            || self.bytes >= max_bytes
            || self.urgent_upto.is_some_and(|u| front.seq <= u)
            || self.oldest_at.is_some_and(|t| t.elapsed() >= interval)
    }
}

/// What the client handle and the sender share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Wakes the sender: new events, a flush, shutdown.
    pub(crate) work: Notify,
    /// Wakes `track` callers blocked on a full queue.
    pub(crate) space: Notify,
    pub(crate) counters: Counters,
    pub(crate) on_error: Option<ErrorCallback>,
    #[cfg(feature = "disk-queue")]
    pub(crate) journal: Option<Arc<Mutex<crate::client::disk::Journal>>>,
}

impl Shared {
    /// The state, even if a callback panicked while holding the lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Resolves events: state, counters, the disk queue, waiters, blocked `track` calls, and the
    /// error callback for drops.
    pub(crate) fn resolve(
        &self,
        entries: &[Entry],
        outcome: Option<DropReason>,
        status: Option<u16>,
        message: &str,
    ) {
        if entries.is_empty() {
            return;
        }
        let done = self.lock().resolve(entries, outcome);
        if done.is_empty() {
            self.lock().answer_waiters();
            return;
        }
        #[cfg(feature = "disk-queue")]
        if let Some(j) = &self.journal {
            let mut j = j.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            j.resolve(done.iter().map(|e| e.seq));
        }
        match outcome {
            None => Counters::add(&self.counters.acknowledged, done.len()),
            Some(reason) => {
                self.counters.drop_n(reason, done.len());
                if let Some(cb) = &self.on_error {
                    cb(&Dropped {
                        reason,
                        status,
                        message: message.to_string(),
                        event_ids: done.iter().map(|e| e.event_id.clone()).collect(),
                        events: done.iter().map(|e| String::from_utf8_lossy(&e.json).into_owned()).collect(),
                    });
                }
            }
        }
        // Flushes are answered only now, so their callers see the counters and callbacks.
        self.lock().answer_waiters();
        self.space.notify_waiters();
    }
}

/// A handle the sender and the client both hold.
pub(crate) type SharedRef = Arc<Shared>;
