//! Offset tracking: per partition, the set of offsets read but not yet delivered. The offset to
//! commit is always the lowest undelivered offset (or one past the highest read when none is
//! pending), so a commit never passes a record that is not on Firehose or the rejects topic,
//! however out of order deliveries complete. Pure bookkeeping: no I/O, no clock.

use std::collections::{BTreeMap, BTreeSet};

/// One partition's offsets.
#[derive(Debug, Default, Clone)]
pub struct PartitionOffsets {
    pending: BTreeSet<i64>,
    next: Option<i64>,
    committed: Option<i64>,
}

impl PartitionOffsets {
    /// A record at `offset` was read and is now in flight.
    pub fn track(&mut self, offset: i64) {
        self.pending.insert(offset);
        self.next = Some(self.next.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// The record at `offset` was delivered; false if it was not in flight.
    pub fn ack(&mut self, offset: i64) -> bool {
        self.pending.remove(&offset)
    }

    /// The offset a commit may name now: every record below it is delivered.
    pub fn watermark(&self) -> Option<i64> {
        self.pending.first().copied().or(self.next)
    }

    /// The watermark, if it moved past the last commit.
    pub fn to_commit(&self) -> Option<i64> {
        self.watermark().filter(|w| self.committed.is_none_or(|c| *w > c))
    }

    /// Records a successful commit of `offset`.
    pub fn committed(&mut self, offset: i64) {
        self.committed = Some(self.committed.map_or(offset, |c| c.max(offset)));
    }

    /// The last committed offset.
    pub fn last_committed(&self) -> Option<i64> {
        self.committed
    }

    /// Records in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

/// The offsets of every partition this consumer owns (one topic).
#[derive(Debug, Default, Clone)]
pub struct Offsets {
    parts: BTreeMap<i32, PartitionOffsets>,
}

impl Offsets {
    /// Starts tracking a newly assigned partition (keeps state if already tracked).
    pub fn assign(&mut self, partition: i32) {
        self.parts.entry(partition).or_default();
    }

    /// Stops tracking a revoked partition; its pending acks are dropped.
    pub fn revoke(&mut self, partition: i32) -> Option<PartitionOffsets> {
        self.parts.remove(&partition)
    }

    /// A record was read.
    pub fn track(&mut self, partition: i32, offset: i64) {
        self.parts.entry(partition).or_default().track(offset);
    }

    /// A record was delivered; false when the partition is no longer ours or it was not pending.
    pub fn ack(&mut self, partition: i32, offset: i64) -> bool {
        self.parts.get_mut(&partition).is_some_and(|p| p.ack(offset))
    }

    /// One partition.
    pub fn get(&self, partition: i32) -> Option<&PartitionOffsets> {
        self.parts.get(&partition)
    }

    /// `(partition, offset)` for every partition whose watermark moved.
    pub fn to_commit(&self) -> Vec<(i32, i64)> {
        self.parts.iter().filter_map(|(p, o)| o.to_commit().map(|w| (*p, w))).collect()
    }

    /// Records successful commits.
    pub fn committed(&mut self, done: &[(i32, i64)]) {
        for (p, o) in done {
            if let Some(part) = self.parts.get_mut(p) {
                part.committed(*o);
            }
        }
    }

    /// Records in flight across all partitions.
    pub fn in_flight(&self) -> usize {
        self.parts.values().map(PartitionOffsets::in_flight).sum()
    }

    /// Partitions tracked, with their state.
    pub fn iter(&self) -> impl Iterator<Item = (&i32, &PartitionOffsets)> {
        self.parts.iter()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn commit_stops_at_the_first_undelivered_record() {
        let mut p = PartitionOffsets::default();
        assert_eq!(p.watermark(), None);
        for o in 10..15 {
            p.track(o);
        }
        assert_eq!(p.watermark(), Some(10));
        p.ack(11);
        p.ack(12);
        assert_eq!(p.watermark(), Some(10), "10 is still in flight");
        p.ack(10);
        assert_eq!(p.watermark(), Some(13));
        p.ack(14);
        p.ack(13);
        assert_eq!(p.watermark(), Some(15), "all done: one past the highest read");
        assert_eq!(p.to_commit(), Some(15));
        p.committed(15);
        assert_eq!(p.to_commit(), None);
        assert!(!p.ack(99));
    }

    #[test]
    fn gaps_in_offsets_do_not_block() {
        let mut p = PartitionOffsets::default();
        p.track(5);
        p.track(9); // 6..8 were transaction markers or compacted away
        p.ack(5);
        assert_eq!(p.watermark(), Some(9));
        p.ack(9);
        assert_eq!(p.watermark(), Some(10));
    }

    #[test]
    fn revoked_partitions_drop_their_acks() {
        let mut o = Offsets::default();
        o.assign(1);
        o.track(1, 100);
        o.track(2, 7);
        assert_eq!(o.in_flight(), 2);
        assert!(o.revoke(1).is_some());
        assert!(!o.ack(1, 100));
        assert!(o.ack(2, 7));
        assert_eq!(o.to_commit(), vec![(2, 8)]);
        o.committed(&[(2, 8)]);
        assert!(o.to_commit().is_empty());
    }

    proptest! {
        /// Whatever order deliveries complete in, the commit offset never passes an
        /// undelivered record, and reaches the end once all are delivered.
        #[test]
        fn never_commits_past_an_undelivered_record(
            n in 1usize..200,
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..200),
        ) {
            let mut p = PartitionOffsets::default();
            let base = 1000i64;
            for o in 0..n {
                p.track(base + o as i64);
            }
            let mut undelivered: BTreeSet<i64> = (0..n).map(|o| base + o as i64).collect();
            for idx in order {
                let Some(&o) = undelivered.iter().nth(idx.index(undelivered.len().max(1))) else { break };
                undelivered.remove(&o);
                p.ack(o);
                let w = p.watermark().unwrap();
                prop_assert!(undelivered.iter().all(|u| *u >= w), "watermark {w} passes an undelivered record");
                if let Some(first) = undelivered.first() {
                    prop_assert_eq!(w, *first);
                }
            }
            for o in undelivered.clone() {
                p.ack(o);
            }
            prop_assert_eq!(p.watermark(), Some(base + n as i64));
        }
    }
}
