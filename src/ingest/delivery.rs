//! Acknowledgements of one request's records. Invariant: a request is complete only when every
//! record it handed to the producer has had its delivery report, and an index counts as
//! accepted only if Kafka acknowledged that very record. One shared counter per request (not a
//! future per record) keeps the per-event cost to an atomic decrement in the delivery thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use tokio::sync::Notify;

use super::supervisor::Progress;

/// The ingest producer: delivery reports settle [`Acks`].
pub(crate) type IngestProducer = ThreadedProducer<Reports>;

/// Producer context routing each delivery report to its request (and to the supervisor's
/// record of progress).
#[derive(Debug)]
pub(crate) struct Reports {
    progress: Arc<Progress>,
}

impl Reports {
    pub(crate) fn new(progress: Arc<Progress>) -> Reports {
        Reports { progress }
    }
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<Slot>) {
        self.progress.delivered(result.is_ok());
        slot.report(result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string()));
    }
}

/// Which record of which request a delivery report is for.
#[derive(Debug)]
pub(crate) struct Slot {
    acks: Arc<Acks>,
    index: usize,
}

impl Slot {
    /// Records Kafka's answer for this record.
    fn report(self, result: Result<(), String>) {
        match result {
            Ok(()) => self.acks.accept(self.index),
            Err(cause) => self.acks.fail(&cause),
        }
    }
}

/// The delivery state of one request's records.
#[derive(Debug)]
pub(crate) struct Acks {
    /// Reports still expected, plus one held by the request until it has sent everything.
    pending: AtomicUsize,
    accepted: Vec<AtomicBool>,
    cause: Mutex<Option<String>>,
    done: Notify,
}

impl Acks {
    /// State for a request of `n` records.
    pub(crate) fn new(n: usize) -> Arc<Acks> {
        Arc::new(Acks {
            pending: AtomicUsize::new(1),
            accepted: (0..n).map(|_| AtomicBool::new(false)).collect(),
            cause: Mutex::new(None),
            done: Notify::new(),
        })
    }

    /// The delivery opaque for record `index`; call [`Acks::refused`] if the send fails.
    pub(crate) fn slot(self: &Arc<Self>, index: usize) -> Box<Slot> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        Box::new(Slot { acks: self.clone(), index })
    }

    fn settle(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    fn accept(&self, index: usize) {
        if let Some(a) = self.accepted.get(index) {
            a.store(true, Ordering::Release);
        }
        self.settle();
    }

    fn fail(&self, cause: &str) {
        if let Ok(mut c) = self.cause.lock() {
            c.get_or_insert_with(|| cause.to_string());
        }
        self.settle();
    }

    /// The producer refused a record (its slot came back unsent): no report will come for it.
    pub(crate) fn refused(&self, cause: &str) {
        self.fail(cause);
    }

    /// Releases the request's own hold and waits until every report is in or `timeout` passes;
    /// `true` when all reports arrived.
    pub(crate) async fn wait(&self, timeout: Duration) -> bool {
        self.settle();
        if self.pending.load(Ordering::Acquire) == 0 {
            return true;
        }
        tokio::time::timeout(timeout, self.done.notified()).await.is_ok()
    }

    /// Indexes Kafka has not acknowledged (so far), ascending.
    pub(crate) fn not_accepted(&self) -> Vec<usize> {
        (0..self.accepted.len())
            .filter(|i| !self.accepted.get(*i).is_some_and(|a| a.load(Ordering::Acquire)))
            .collect()
    }

    /// The first failure reported, if any.
    pub(crate) fn cause(&self) -> Option<String> {
        self.cause.lock().ok().and_then(|c| c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(slot: Slot, ok: bool) {
        slot.report(if ok { Ok(()) } else { Err("broker down".into()) });
    }

    #[tokio::test]
    async fn completes_only_after_every_report() {
        let acks = Acks::new(3);
        let slots: Vec<Box<Slot>> = (0..3).map(|i| acks.slot(i)).collect();
        let waiter = {
            let acks = acks.clone();
            tokio::spawn(async move { acks.wait(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "two reports missing");
        let mut slots = slots.into_iter();
        report(*slots.next().unwrap_or_else(|| unreachable!()), true);
        report(*slots.next().unwrap_or_else(|| unreachable!()), false);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one report missing");
        report(*slots.next().unwrap_or_else(|| unreachable!()), true);
        assert!(waiter.await.unwrap_or(false));
        assert_eq!(acks.not_accepted(), vec![1]);
        assert_eq!(acks.cause().as_deref(), Some("broker down"));
    }

    #[tokio::test]
    async fn reports_before_the_wait_and_refusals_are_not_lost() {
        let acks = Acks::new(2);
        report(*acks.slot(0), true);
        let refused = acks.slot(1);
        drop(refused);
        acks.refused("queue full");
        assert!(acks.wait(Duration::from_millis(10)).await);
        assert_eq!(acks.not_accepted(), vec![1]);
    }

    #[tokio::test]
    async fn a_missing_report_times_out_with_its_index() {
        let acks = Acks::new(2);
        report(*acks.slot(0), true);
        let _lost = acks.slot(1);
        assert!(!acks.wait(Duration::from_millis(20)).await);
        assert_eq!(acks.not_accepted(), vec![1]);
    }
}
