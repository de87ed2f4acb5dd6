//! Batching for Firehose: validated lines are grouped into PutRecordBatch calls of at most 500
//! records and 4 MiB, closed early when the oldest line has waited the linger time. Every line
//! carries the ticket (partition, offset) that is acknowledged once it is delivered; a batch
//! never drops or reorders tickets. Pure: the clock is an argument.

use std::time::{Duration, Instant};

/// Most records in one PutRecordBatch call.
pub const MAX_RECORDS: usize = 500;
/// Most bytes in one PutRecordBatch call.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Identifies the Kafka record a line came from, and the assignment it was read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    /// Partition.
    pub partition: i32,
    /// The partition's assignment generation when the record was read.
    pub generation: super::offsets::Generation,
    /// Offset.
    pub offset: i64,
}

/// A batch ready to send.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The NDJSON lines, in arrival order.
    pub lines: Vec<Vec<u8>>,
    /// One ticket per line.
    pub tickets: Vec<Ticket>,
    /// Sum of the lines' sizes.
    pub bytes: usize,
}

/// Accumulates lines into batches.
#[derive(Debug)]
pub struct Batcher {
    current: Batch,
    opened: Option<Instant>,
    linger: Duration,
    max_records: usize,
    max_bytes: usize,
}

impl Batcher {
    /// A batcher with the Firehose limits and `linger`.
    pub fn new(linger: Duration) -> Batcher {
        Batcher::with_limits(linger, MAX_RECORDS, MAX_BYTES)
    }

    /// A batcher with explicit limits (tests, other sinks).
    pub fn with_limits(linger: Duration, max_records: usize, max_bytes: usize) -> Batcher {
        Batcher { current: Batch::default(), opened: None, linger, max_records, max_bytes }
    }

    /// Adds a line; returns the batch that had to be closed to make room (or that became full).
    pub fn push(&mut self, line: Vec<u8>, ticket: Ticket, now: Instant) -> Option<Batch> {
        let mut closed = None;
        if !self.current.lines.is_empty() && self.current.bytes + line.len() > self.max_bytes {
            closed = self.take();
        }
        self.opened.get_or_insert(now);
        self.current.bytes += line.len();
        self.current.lines.push(line);
        self.current.tickets.push(ticket);
        if self.current.lines.len() >= self.max_records || self.current.bytes >= self.max_bytes {
            // At most one of the two can be non-empty: a close above leaves a single line here.
            return closed.or_else(|| self.take());
        }
        closed
    }

    /// When the open batch must be sent, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + self.linger)
    }

    /// The open batch, if its linger time is over.
    pub fn take_due(&mut self, now: Instant) -> Option<Batch> {
        if self.deadline().is_some_and(|d| now >= d) { self.take() } else { None }
    }

    /// The open batch, whatever its age.
    pub fn take(&mut self) -> Option<Batch> {
        self.opened = None;
        (!self.current.lines.is_empty()).then(|| std::mem::take(&mut self.current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(o: i64) -> Ticket {
        Ticket { partition: 0, generation: 1, offset: o }
    }

    #[test]
    fn closes_at_the_record_limit() {
        let now = Instant::now();
        let mut b = Batcher::new(Duration::from_secs(1));
        for o in 0..499 {
            assert!(b.push(vec![b'x'; 10], t(o), now).is_none());
        }
        let full = b.push(vec![b'x'; 10], t(499), now).unwrap();
        assert_eq!(full.lines.len(), 500);
        assert_eq!(full.tickets.first(), Some(&t(0)));
        assert_eq!(full.tickets.last(), Some(&t(499)));
        assert!(b.take().is_none());
    }

    #[test]
    fn closes_before_exceeding_the_byte_limit() {
        let now = Instant::now();
        let mut b = Batcher::with_limits(Duration::from_secs(1), 500, 100);
        assert!(b.push(vec![1; 60], t(0), now).is_none());
        let first = b.push(vec![2; 60], t(1), now).unwrap();
        assert_eq!((first.lines.len(), first.bytes), (1, 60));
        let rest = b.take().unwrap();
        assert_eq!(rest.tickets, vec![t(1)]);
        let big = b.push(vec![3; 100], t(2), now).unwrap();
        assert_eq!(big.bytes, 100, "a line at the limit goes alone");
    }

    #[test]
    fn linger() {
        let now = Instant::now();
        let mut b = Batcher::new(Duration::from_millis(50));
        assert!(b.deadline().is_none());
        b.push(vec![1], t(0), now);
        assert!(b.take_due(now + Duration::from_millis(10)).is_none());
        assert_eq!(b.take_due(now + Duration::from_millis(50)).unwrap().tickets, vec![t(0)]);
        assert!(b.deadline().is_none());
    }

    #[test]
    fn never_loses_a_ticket() {
        let now = Instant::now();
        let mut b = Batcher::with_limits(Duration::from_secs(1), 7, 50);
        let mut seen = Vec::new();
        for o in 0..1000 {
            if let Some(batch) = b.push(vec![0; (o % 13) as usize + 1], t(o), now) {
                assert!(batch.lines.len() <= 7 && batch.bytes <= 50);
                seen.extend(batch.tickets);
            }
        }
        seen.extend(b.take().map(|b| b.tickets).unwrap_or_default());
        assert_eq!(seen, (0..1000).map(t).collect::<Vec<_>>());
    }
}
