//! Offset tracking: per partition and per assignment generation, the offsets read but not yet
//! delivered. Invariants: the offset to commit is always the lowest undelivered offset (or one
//! past the highest read when none is pending), so a commit never passes a record that is not on
//! the sink or the rejects topic, however out of order deliveries complete; a commit only ever
//! names a partition owned now; and a record read, or an acknowledgement made, under an earlier
//! assignment of a partition (before a revoke, or before it came back) never moves the current
//! one. Only commits the broker confirmed count as committed. Also keeps the process-wide
//! in-flight budget (records and bytes). Pure bookkeeping: no I/O; the clock is an argument.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One assignment of one partition: a new number each time a partition is assigned.
pub type Generation = u64;

#[derive(Debug, Clone, Copy)]
struct Pending {
    bytes: usize,
    read_at: Instant,
}

/// One partition's offsets under one assignment.
#[derive(Debug, Clone)]
pub struct PartitionOffsets {
    generation: Generation,
    pending: BTreeMap<i64, Pending>,
    next: Option<i64>,
    committed: Option<i64>,
    requested: Option<(i64, Instant)>,
}

/// How long a requested commit may go unanswered before it is requested again (librdkafka
/// answers every commit, but a lost answer must not stop commits for good).
pub const RESEND_AFTER: Duration = Duration::from_secs(5);

impl PartitionOffsets {
    fn new(generation: Generation) -> PartitionOffsets {
        PartitionOffsets {
            generation,
            pending: BTreeMap::new(),
            next: None,
            committed: None,
            requested: None,
        }
    }

    /// The assignment this state belongs to.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The offset a commit may name now: every record below it is delivered.
    pub fn watermark(&self) -> Option<i64> {
        self.pending.keys().next().copied().or(self.next)
    }

    /// The watermark, if it moved past the last confirmed commit and is not already requested
    /// (or was requested more than [`RESEND_AFTER`] before `now` without an answer).
    pub fn to_commit(&self, now: Instant) -> Option<i64> {
        self.watermark().filter(|w| self.committed.is_none_or(|c| *w > c)).filter(|w| {
            self.requested.is_none_or(|(r, at)| r != *w || now.saturating_duration_since(at) >= RESEND_AFTER)
        })
    }

    /// The last commit the broker confirmed.
    pub fn last_committed(&self) -> Option<i64> {
        self.committed
    }

    /// Records in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// How long the oldest undelivered record has waited, at `now`.
    pub fn oldest_age(&self, now: Instant) -> Duration {
        self.pending.values().map(|p| now.saturating_duration_since(p.read_at)).max().unwrap_or_default()
    }
}

/// The offsets of every partition this consumer owns (one topic), and the in-flight budget.
#[derive(Debug, Default, Clone)]
pub struct Offsets {
    parts: BTreeMap<i32, PartitionOffsets>,
    last_generation: Generation,
    records: usize,
    bytes: usize,
}

impl Offsets {
    /// A partition was assigned: its state starts afresh under a new generation (whatever was
    /// kept from an earlier assignment is dropped). Returns the generation.
    pub fn assign(&mut self, partition: i32) -> Generation {
        self.revoke(partition);
        self.last_generation += 1;
        self.parts.insert(partition, PartitionOffsets::new(self.last_generation));
        self.last_generation
    }

    /// A partition was revoked: its state is dropped, and so are any later reads or acks made
    /// under its generation.
    pub fn revoke(&mut self, partition: i32) -> Option<PartitionOffsets> {
        let gone = self.parts.remove(&partition)?;
        self.records -= gone.pending.len();
        self.bytes -= gone.pending.values().map(|p| p.bytes).sum::<usize>();
        Some(gone)
    }

    /// The current generation of a partition, if it is ours.
    pub fn generation(&self, partition: i32) -> Option<Generation> {
        self.parts.get(&partition).map(|p| p.generation)
    }

    /// A record of `bytes` bytes read under `generation` is now in flight; false (and nothing
    /// tracked) when that assignment is over, so the record must be dropped unprocessed.
    pub fn track(
        &mut self,
        partition: i32,
        generation: Generation,
        offset: i64,
        bytes: usize,
        now: Instant,
    ) -> bool {
        let Some(p) = self.parts.get_mut(&partition).filter(|p| p.generation == generation) else {
            return false;
        };
        if p.pending.insert(offset, Pending { bytes, read_at: now }).is_none() {
            self.records += 1;
            self.bytes += bytes;
        }
        p.next = Some(p.next.map_or(offset + 1, |n| n.max(offset + 1)));
        true
    }

    /// A record was delivered; false when its assignment is over or it was not pending.
    pub fn ack(&mut self, partition: i32, generation: Generation, offset: i64) -> bool {
        let Some(p) = self.parts.get_mut(&partition).filter(|p| p.generation == generation) else {
            return false;
        };
        match p.pending.remove(&offset) {
            Some(done) => {
                self.records -= 1;
                self.bytes -= done.bytes;
                true
            }
            None => false,
        }
    }

    /// One partition.
    pub fn get(&self, partition: i32) -> Option<&PartitionOffsets> {
        self.parts.get(&partition)
    }

    /// Whether `partition` is still owned under `generation`.
    pub fn owns(&self, partition: i32, generation: Generation) -> bool {
        self.generation(partition) == Some(generation)
    }

    /// `(partition, offset)` for every owned partition whose watermark moved past its last
    /// confirmed commit and is not already requested; `force`: every owned watermark.
    pub fn to_commit_at(&self, partitions: Option<&[i32]>, force: bool, now: Instant) -> Vec<(i32, i64)> {
        self.parts
            .iter()
            .filter(|(p, _)| partitions.is_none_or(|ps| ps.contains(p)))
            .filter_map(|(p, o)| if force { o.watermark() } else { o.to_commit(now) }.map(|w| (*p, w)))
            .collect()
    }

    /// [`Offsets::to_commit_at`] now.
    pub fn to_commit(&self, partitions: Option<&[i32]>, force: bool) -> Vec<(i32, i64)> {
        self.to_commit_at(partitions, force, Instant::now())
    }

    /// A commit of these offsets was sent at `now` (not yet confirmed).
    pub fn requested(&mut self, sent: &[(i32, i64)], now: Instant) {
        for (p, o) in sent {
            if let Some(part) = self.parts.get_mut(p) {
                part.requested = Some((*o, now));
            }
        }
    }

    /// The broker confirmed (`ok`) or refused a commit of these offsets. Confirmed offsets
    /// count as committed; refused ones are requested again by the next [`Offsets::to_commit`].
    pub fn commit_result(&mut self, offsets: &[(i32, i64)], ok: bool) {
        for (p, o) in offsets {
            if let Some(part) = self.parts.get_mut(p) {
                if part.requested.is_some_and(|(r, _)| r == *o) {
                    part.requested = None;
                }
                if ok {
                    part.committed = Some(part.committed.map_or(*o, |c| c.max(*o)));
                }
            }
        }
    }

    /// Records and bytes in flight across all partitions (the process's budget).
    pub fn in_flight(&self) -> (usize, usize) {
        (self.records, self.bytes)
    }

    /// Records in flight in `partitions`.
    pub fn in_flight_of(&self, partitions: &[i32]) -> usize {
        partitions.iter().filter_map(|p| self.parts.get(p)).map(PartitionOffsets::in_flight).sum()
    }

    /// Partitions owned, with their state.
    pub fn iter(&self) -> impl Iterator<Item = (&i32, &PartitionOffsets)> {
        self.parts.iter()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at() -> Instant {
        Instant::now()
    }

    #[test]
    fn commit_stops_at_the_first_undelivered_record() {
        let mut o = Offsets::default();
        let g = o.assign(0);
        assert_eq!(o.get(0).and_then(PartitionOffsets::watermark), None);
        for off in 10..15 {
            assert!(o.track(0, g, off, 100, at()));
        }
        assert_eq!(o.to_commit(None, false), vec![(0, 10)]);
        o.ack(0, g, 11);
        o.ack(0, g, 12);
        assert_eq!(o.to_commit(None, false), vec![(0, 10)], "10 is still in flight");
        o.ack(0, g, 10);
        assert_eq!(o.to_commit(None, false), vec![(0, 13)]);
        o.ack(0, g, 14);
        o.ack(0, g, 13);
        assert_eq!(o.to_commit(None, false), vec![(0, 15)], "all done: one past the highest read");
        assert_eq!(o.in_flight(), (0, 0));
        assert!(!o.ack(0, g, 99));
    }

    #[test]
    fn only_confirmed_commits_count_and_refused_ones_are_requested_again() {
        let mut o = Offsets::default();
        let g = o.assign(1);
        o.track(1, g, 0, 1, at());
        o.ack(1, g, 0);
        let todo = o.to_commit(None, false);
        assert_eq!(todo, vec![(1, 1)]);
        let t0 = at();
        o.requested(&todo, t0);
        assert!(o.to_commit_at(None, false, t0).is_empty(), "not sent twice while in flight");
        assert_eq!(
            o.to_commit_at(None, false, t0 + RESEND_AFTER),
            todo,
            "an unanswered request is sent again"
        );
        assert_eq!(o.get(1).and_then(PartitionOffsets::last_committed), None, "queued is not committed");
        o.commit_result(&todo, false);
        assert_eq!(o.to_commit(None, false), vec![(1, 1)], "a refused commit is retried");
        o.requested(&todo, at());
        o.commit_result(&todo, true);
        assert_eq!(o.get(1).and_then(PartitionOffsets::last_committed), Some(1));
        assert!(o.to_commit(None, false).is_empty());
        assert_eq!(o.to_commit(None, true), vec![(1, 1)], "forced: the watermark again");
    }

    #[test]
    fn gaps_in_offsets_do_not_block() {
        let mut o = Offsets::default();
        let g = o.assign(0);
        o.track(0, g, 5, 1, at());
        o.track(0, g, 9, 1, at()); // 6..8 were transaction markers or compacted away
        o.ack(0, g, 5);
        assert_eq!(o.to_commit(None, false), vec![(0, 9)]);
        o.ack(0, g, 9);
        assert_eq!(o.to_commit(None, false), vec![(0, 10)]);
    }

    #[test]
    fn budget_counts_records_and_bytes_and_revoke_releases_them() {
        let mut o = Offsets::default();
        let (a, b) = (o.assign(1), o.assign(2));
        o.track(1, a, 100, 300, at());
        o.track(1, a, 100, 300, at()); // read twice: counted once
        o.track(2, b, 7, 50, at());
        assert_eq!(o.in_flight(), (2, 350));
        assert!(o.revoke(1).is_some());
        assert_eq!(o.in_flight(), (1, 50));
        assert!(!o.ack(1, a, 100));
        assert!(o.ack(2, b, 7));
        assert_eq!(o.in_flight(), (0, 0));
        assert_eq!(o.to_commit(None, false), vec![(2, 8)]);
    }

    #[test]
    fn oldest_age_is_that_of_the_lowest_waiting_record() {
        let mut o = Offsets::default();
        let g = o.assign(0);
        let t0 = at();
        o.track(0, g, 1, 1, t0);
        o.track(0, g, 2, 1, t0 + Duration::from_secs(3));
        let age = |o: &Offsets| o.get(0).map(|p| p.oldest_age(t0 + Duration::from_secs(5)));
        assert_eq!(age(&o), Some(Duration::from_secs(5)));
        o.ack(0, g, 1);
        assert_eq!(age(&o), Some(Duration::from_secs(2)));
    }

    /// The revoke race: a record copied into a chunk before the revoke callback ran is tracked
    /// after it. It must be refused, and no commit may name the partition.
    #[test]
    fn a_record_read_before_a_revoke_is_never_committed_after_it() {
        let mut o = Offsets::default();
        let g = o.assign(3);
        for off in 0..10 {
            o.track(3, g, off, 1, at());
            o.ack(3, g, off);
        }
        o.commit_result(&[(3, 10)], true);
        o.revoke(3);
        assert!(!o.track(3, g, 10, 1, at()), "read under the old assignment: dropped");
        assert!(!o.ack(3, g, 10));
        assert!(o.to_commit(None, false).is_empty(), "committed for a partition we no longer own");
        assert!(o.to_commit(None, true).is_empty());
    }

    /// The partition comes back to us: stale state is gone, and late acks of the old
    /// generation do not move the new one.
    #[test]
    fn a_partition_that_comes_back_starts_afresh() {
        let mut o = Offsets::default();
        let old = o.assign(4);
        o.track(4, old, 50, 1, at());
        o.track(4, old, 51, 1, at());
        let new = o.assign(4); // revoke + assign, or an assign without a revoke seen
        assert_ne!(old, new);
        assert_eq!(o.in_flight(), (0, 0), "stale records are not counted");
        assert!(o.track(4, new, 50, 1, at()));
        assert!(o.track(4, new, 51, 1, at()));
        assert!(!o.ack(4, old, 50), "an ack of the old generation is refused");
        assert_eq!(o.to_commit(None, false), vec![(4, 50)]);
        o.commit_result(&[(4, 49)], true); // a late confirmation of an old commit
        assert_eq!(o.to_commit(None, false), vec![(4, 50)]);
    }

    proptest! {
        /// Whatever order deliveries complete in, and whatever revokes and re-assignments
        /// happen in between, a commit never passes an undelivered record of the current
        /// generation, never names a partition not owned, and reaches the end once all of
        /// the current generation's records are delivered.
        #[test]
        fn never_commits_past_an_undelivered_record(
            n in 1usize..120,
            steps in proptest::collection::vec((0u8..10, any::<prop::sample::Index>()), 0..300),
        ) {
            let mut o = Offsets::default();
            let base = 1000i64;
            let mut generation = o.assign(0);
            // (generation, offset) of every record tracked and not yet acked.
            let mut undelivered: Vec<(Generation, i64)> = Vec::new();
            let mut owned = true;
            let mut read = 0usize;
            for (kind, idx) in steps {
                match kind {
                    0 => { o.revoke(0); owned = false; }
                    1 => { generation = o.assign(0); owned = true; read = 0; }
                    2..=5 if read < n => {
                        let off = base + read as i64;
                        let tracked = o.track(0, generation, off, 10, Instant::now());
                        prop_assert_eq!(tracked, owned);
                        if tracked { undelivered.push((generation, off)); }
                        read += 1;
                    }
                    _ if !undelivered.is_empty() => {
                        let (g, off) = undelivered.remove(idx.index(undelivered.len()));
                        prop_assert_eq!(o.ack(0, g, off), owned && g == generation);
                    }
                    _ => {}
                }
                undelivered.retain(|(g, _)| owned && *g == generation);
                let todo = o.to_commit(None, true);
                prop_assert!(owned || todo.is_empty(), "commit names a partition not owned");
                for (_, w) in todo {
                    prop_assert!(undelivered.iter().all(|(_, u)| *u >= w), "watermark {} passes an undelivered record", w);
                }
                prop_assert_eq!(o.in_flight().0, undelivered.len());
            }
            if owned {
                for (g, off) in std::mem::take(&mut undelivered) {
                    prop_assert!(o.ack(0, g, off));
                }
                let end = (read > 0).then_some(base + read as i64);
                prop_assert_eq!(o.to_commit(None, true).first().map(|x| x.1), end);
            }
        }
    }
}
