//! The poll thread: one dedicated thread owns the consumer's poll. It copies whatever is
//! already fetched (up to a chunk) into one arena, tracks it under the assignment generation it
//! was read in and hands the chunk to the validation threads; it also runs the periodic commit
//! (on a blocking thread, so polling goes on) and the budget's pause and resume. Invariants: the
//! thread never waits on delivery — between two polls it only copies, tracks and queues — so
//! rebalances are served (their callbacks run inside its poll) and the member is never evicted
//! for not polling; over the in-flight budget every partition is paused, and resumed below half
//! of it; a record whose assignment ended before it was tracked is dropped unprocessed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;

use super::assignment::{Ctx, Shared};
use super::chunk::Chunk;
use super::deliver::Pool;
use super::flow::{Budget, Generations, report, set_paused};
use crate::validate::SchemaSource;

/// Most records copied out of the consumer per chunk (the unit of validation work).
const CHUNK_RECORDS: usize = 512;

/// How long one poll waits for a record when nothing is fetched.
const POLL_WAIT: Duration = Duration::from_millis(20);

/// What the poll thread needs.
pub(crate) struct PollLoop {
    pub(crate) consumer: Arc<BaseConsumer<Ctx>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) pool: Pool,
    pub(crate) budget: Budget,
    pub(crate) commit_interval: Duration,
    pub(crate) source: Arc<dyn SchemaSource>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// Set to stop the loop (shutdown).
    pub(crate) stop: Arc<AtomicBool>,
}

impl PollLoop {
    /// Polls until `stop` is set or the validation threads are gone; returns the pool so the
    /// caller can drain it.
    pub(crate) fn run(self) -> Pool {
        let PollLoop { consumer, shared, pool, budget, commit_interval, source, runtime, stop } = self;
        let mut generations = Generations::default();
        let mut next_commit = Instant::now() + commit_interval;
        let mut next_budget_check = Instant::now();
        while !stop.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= next_commit {
                next_commit = now + commit_interval;
                // A synchronous commit on a blocking thread: its answer is the broker's, and this
                // thread keeps polling (which also serves the commit callback).
                if !shared.committing.swap(true, Ordering::AcqRel) {
                    let (c, s) = (consumer.clone(), shared.clone());
                    runtime.spawn_blocking(move || {
                        s.commit(c.as_ref(), None, false);
                        s.committing.store(false, Ordering::Release);
                    });
                }
                report(&shared, source.as_ref());
            }
            if shared.paused.load(Ordering::Relaxed) && now >= next_budget_check {
                next_budget_check = now + Duration::from_millis(20);
                if budget.below_half(shared.offsets().in_flight()) {
                    set_paused(consumer.as_ref(), &shared, false);
                }
            }
            let Some(first) = consumer.poll(POLL_WAIT) else { continue };
            // Copy what is already fetched (up to a chunk), each record with the generation of
            // its partition at the moment it was read.
            let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_RECORDS * 512);
            let mut stale = 0u64;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Err(e) => tracing::warn!(error = %e, "consume error"),
                    Ok(m) => match generations.of(&shared, m.partition()) {
                        Some(g) => chunk.push_message(&m, g),
                        None => stale += 1,
                    },
                }
                if chunk.len() < CHUNK_RECORDS {
                    next = consumer.poll(Duration::ZERO);
                }
            }
            // Track under one lock; a record whose assignment ended meanwhile (a revoke ran
            // inside one of the polls above) is dropped unprocessed.
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
        pool
    }
}
