//! Assignment and commits: the state shared by the consumer loop, the validation threads and the
//! deliveries, and the consumer callbacks that change it. Invariants: a partition's state is
//! created afresh (a new generation) each time it is assigned and dropped when it is revoked,
//! after its in-flight records were drained (within the drain timeout) and its watermark
//! committed synchronously; a commit only ever names partitions owned now; a commit counts —
//! in the offsets and in the metrics — only once the broker confirmed it (the commit callback),
//! and a refused commit is sent again on the next tick. Rebalance callbacks run inside the
//! consumer's poll, on the loop's own task, so the loop sees every change between two polls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::batch::Ticket;
use super::health::Health;
use super::metrics::Metrics;
use super::offsets::Offsets;

/// State shared across the validator's tasks and threads.
#[derive(Debug)]
pub struct Shared {
    offsets: Mutex<Offsets>,
    /// Metrics.
    pub metrics: Metrics,
    /// Readiness.
    pub health: Arc<Health>,
    /// The raw topic.
    pub topic: String,
    /// Longest a revoke or shutdown waits for in-flight records.
    pub drain_timeout: Duration,
    /// Bumped after every assignment change (read by the loop to refresh its generations).
    pub epoch: AtomicU64,
    /// The in-flight budget is spent: every assigned partition is (to be) paused.
    pub paused: AtomicBool,
    /// A periodic commit is in progress.
    pub committing: AtomicBool,
    /// The last commit was made and the consumer is leaving the group: revokes only drop state.
    pub closing: AtomicBool,
}

impl Shared {
    /// Fresh state.
    pub fn new(metrics: Metrics, health: Arc<Health>, topic: &str, drain_timeout: Duration) -> Shared {
        Shared {
            offsets: Mutex::new(Offsets::default()),
            metrics,
            health,
            topic: topic.to_string(),
            drain_timeout,
            epoch: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            committing: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    /// The offsets, locked.
    pub fn offsets(&self) -> MutexGuard<'_, Offsets> {
        self.offsets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A record was delivered (ignored if its assignment is over).
    pub fn ack(&self, t: Ticket) {
        self.offsets().ack(t.partition, t.generation, t.offset);
    }

    /// Waits until `partitions` (all if `None`) have nothing in flight, or the deadline.
    pub fn drain_blocking(&self, partitions: Option<&[i32]>) -> bool {
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            let busy = {
                let o = self.offsets();
                partitions.map_or_else(|| o.in_flight().0, |ps| o.in_flight_of(ps))
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

    /// Commits the watermark of owned `partitions` (all if `None`) synchronously, so the answer
    /// is the broker's; `force` re-commits unchanged ones. Blocks: call it from a blocking thread
    /// or a consumer callback.
    pub fn commit<X: Consumer<Ctx>>(&self, consumer: &X, partitions: Option<&[i32]>, force: bool) {
        let todo = {
            let mut o = self.offsets();
            let now = Instant::now();
            let todo = o.to_commit_at(partitions, force, now);
            o.requested(&todo, now);
            todo
        };
        if todo.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, off) in &todo {
            if tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*off)).is_err() {
                self.offsets().commit_result(&todo, false);
                return;
            }
        }
        let started = Instant::now();
        // The offsets lock is not held here: a synchronous commit may run the commit callback.
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
                self.confirmed(&todo, true);
            }
            Err(e) => {
                tracing::warn!(error = %e, "offset commit failed; will retry");
                self.confirmed(&todo, false);
            }
        }
    }

    /// Records the broker's answer to a commit.
    fn confirmed(&self, offsets: &[(i32, i64)], ok: bool) {
        let mut o = self.offsets();
        o.commit_result(offsets, ok);
        self.metrics.commits.with_label_values(&[if ok { "ok" } else { "error" }]).inc();
        if ok {
            for (p, off) in offsets {
                if o.get(*p).is_some() {
                    self.metrics.committed_offset.with_label_values(&[&p.to_string()]).set(*off);
                }
            }
        }
    }
}

/// The consumer's context: rebalance and commit callbacks.
#[derive(Debug)]
pub struct Ctx {
    /// The shared state the callbacks update.
    pub shared: Arc<Shared>,
}

impl ClientContext for Ctx {}

impl Ctx {
    fn ours(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements().iter().filter(|e| e.topic() == self.shared.topic).map(|e| e.partition()).collect()
    }
}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = self.ours(tpl);
            tracing::info!(?parts, "partitions revoked: draining and committing");
            self.shared.metrics.rebalances.with_label_values(&["revoke"]).inc();
            // While closing, everything was drained and committed already; a commit from
            // inside the close could wait on a consumer that is going away.
            if !self.shared.closing.load(Ordering::Acquire) {
                self.shared.drain_blocking(Some(&parts));
                self.shared.commit(consumer, Some(&parts), true);
            }
            {
                let mut o = self.shared.offsets();
                for p in &parts {
                    o.revoke(*p);
                    self.shared.metrics.forget_partition(*p);
                }
            }
            self.shared.epoch.fetch_add(1, Ordering::Release);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let parts = self.ours(tpl);
            {
                let mut o = self.shared.offsets();
                for p in &parts {
                    o.assign(*p);
                }
            }
            self.shared.metrics.rebalances.with_label_values(&["assign"]).inc();
            self.shared.epoch.fetch_add(1, Ordering::Release);
            if self.shared.paused.load(Ordering::Acquire) && tpl.count() > 0 {
                // The budget is spent: new partitions start paused too.
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!(error = %e, "pausing newly assigned partitions failed");
                }
            }
            tracing::info!(?parts, "partitions assigned");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for e in offsets.elements().iter().filter(|e| e.topic() == self.shared.topic) {
            if let Offset::Offset(o) = e.offset() {
                if result.is_ok() && e.error().is_ok() {
                    ok.push((e.partition(), o));
                } else {
                    failed.push((e.partition(), o));
                }
            }
        }
        if !ok.is_empty() {
            self.shared.confirmed(&ok, true);
            tracing::debug!(?ok, "commit confirmed");
        }
        if !failed.is_empty() {
            let error = result.err().map(|e| e.to_string()).unwrap_or_else(|| "per-partition error".into());
            tracing::warn!(%error, ?failed, "offset commit refused; will retry");
            self.shared.confirmed(&failed, false);
        }
    }
}
