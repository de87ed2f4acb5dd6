//! Flow control of the consumer loop: the process-wide in-flight budget and the pausing it
//! drives, the loop's copy of the assignment generations, and the gauges refreshed on every
//! commit tick. Invariant: pausing never stops polling — it only stops fetching — and a paused
//! process resumes by itself once deliveries bring it below half of the budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::consumer::Consumer;

use super::assignment::{Ctx, Shared};
use super::health::Dependency;
use super::offsets::Generation;
use crate::validate::SchemaSource;

/// The process-wide in-flight budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) records: usize,
    pub(crate) bytes: usize,
}

impl Budget {
    pub(crate) fn within(self, (records, bytes): (usize, usize)) -> bool {
        records < self.records && bytes < self.bytes
    }

    pub(crate) fn below_half(self, (records, bytes): (usize, usize)) -> bool {
        records <= self.records / 2 && bytes <= self.bytes / 2
    }
}

/// The loop's copy of each owned partition's generation, refreshed when the assignment changes.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    epoch: u64,
    map: HashMap<i32, Generation>,
    loaded: bool,
}

impl Generations {
    pub(crate) fn of(&mut self, shared: &Shared, partition: i32) -> Option<Generation> {
        let epoch = shared.epoch.load(Ordering::Acquire);
        if !self.loaded || epoch != self.epoch {
            self.map = shared.offsets().iter().map(|(p, o)| (*p, o.generation())).collect();
            self.epoch = epoch;
            self.loaded = true;
        }
        self.map.get(&partition).copied()
    }
}

/// Pauses (or resumes) every assigned partition. The loop keeps polling either way.
pub(crate) fn set_paused(consumer: &impl Consumer<Ctx>, shared: &Shared, paused: bool) {
    shared.paused.store(paused, Ordering::Release);
    let assignment = consumer.assignment().unwrap_or_else(|_| TopicPartitionList::new());
    let n = assignment.count();
    let result = if paused { consumer.pause(&assignment) } else { consumer.resume(&assignment) };
    if let Err(e) = result {
        tracing::warn!(error = %e, paused, "pause/resume failed");
    }
    shared.metrics.paused_partitions.set(if paused { i64::try_from(n).unwrap_or(i64::MAX) } else { 0 });
    let (records, bytes) = shared.offsets().in_flight();
    if paused {
        tracing::info!(records, bytes, partitions = n, "in-flight budget spent: every partition paused");
    } else {
        tracing::info!(records, bytes, partitions = n, "below half the budget: partitions resumed");
    }
}

/// Gauges refreshed on every commit tick.
pub(crate) fn report(shared: &Shared, schemas: &dyn SchemaSource) {
    for (outcome, n) in schemas.lookup_counts() {
        let c = shared.metrics.registry_lookups.with_label_values(&[outcome]);
        c.inc_by(n.saturating_sub(c.get()));
    }
    let now = Instant::now();
    let o = shared.offsets();
    let (records, bytes) = o.in_flight();
    shared.metrics.in_flight.set(i64::try_from(records).unwrap_or(i64::MAX));
    shared.metrics.in_flight_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    for (p, st) in o.iter() {
        shared
            .metrics
            .oldest_undelivered
            .with_label_values(&[&p.to_string()])
            .set(st.oldest_age(now).as_secs_f64());
    }
    drop(o);
    for d in [Dependency::Sink, Dependency::Rejects] {
        shared.metrics.dependency_up.with_label_values(&[d.code()]).set(i64::from(shared.health.healthy(d)));
    }
}

/// Every 10 s: high watermark minus committed offset per owned partition.
pub(crate) async fn lag_loop<C>(consumer: Arc<C>, shared: Arc<Shared>)
where
    C: Consumer<Ctx> + Send + Sync + 'static,
{
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
        let o = shared.offsets();
        for (p, lag) in highs.into_iter().filter(|(p, _)| o.get(*p).is_some()) {
            shared.metrics.lag.with_label_values(&[&p.to_string()]).set(lag.max(0));
        }
    }
}
