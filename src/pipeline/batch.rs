//! Batching for Firehose: encoded entries (see [`super::wire`]) are grouped into PutRecordBatch
//! calls of at most 500 records and 4 MiB of lines, closed early when the oldest entry has
//! waited the linger time. Every entry carries the ticket (partition, offset) that is
//! acknowledged once it is delivered; a batch never drops or reorders tickets. Pure: the clock
//! is an argument.

use std::ops::Range;
use std::time::{Duration, Instant};

use super::wire::Frame;

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
    /// The request body: the entries in the sink's encoding (see [`super::wire`]), framed as
    /// the batcher's [`Frame`] says (opened, separated and closed).
    pub buf: Vec<u8>,
    /// Where each entry is in `buf`, in arrival order.
    pub ranges: Vec<Range<usize>>,
    /// One ticket per entry.
    pub tickets: Vec<Ticket>,
    /// Sum of the lines' sizes before encoding (what the byte limit counts).
    pub bytes: usize,
}

impl Batch {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// The bytes of entry `i`.
    pub fn entry(&self, i: usize) -> &[u8] {
        self.ranges.get(i).and_then(|r| self.buf.get(r.clone())).unwrap_or_default()
    }
}

/// Accumulates entries into batches.
#[derive(Debug)]
pub struct Batcher {
    current: Batch,
    opened: Option<Instant>,
    linger: Duration,
    max_records: usize,
    max_bytes: usize,
    /// Size of the last closed batch's buffer: a new one is allocated at that size at once.
    last_buf: usize,
    frame: Frame,
}

impl Batcher {
    /// A batcher with the Firehose limits and `linger`.
    pub fn new(linger: Duration) -> Batcher {
        Batcher::with_limits(linger, MAX_RECORDS, MAX_BYTES)
    }

    /// A batcher with explicit limits (tests, other sinks).
    pub fn with_limits(linger: Duration, max_records: usize, max_bytes: usize) -> Batcher {
        Batcher {
            current: Batch::default(),
            opened: None,
            linger,
            max_records,
            max_bytes,
            last_buf: 0,
            frame: Frame::none(),
        }
    }

    /// The same batcher, framing every batch's body with `frame`.
    pub fn framed(self, frame: Frame) -> Batcher {
        Batcher { frame, ..self }
    }

    /// Adds an entry (`line_len`: the size of its line before encoding); returns the batch that
    /// had to be closed to make room (or that became full).
    pub fn push(&mut self, entry: &[u8], line_len: usize, ticket: Ticket, now: Instant) -> Option<Batch> {
        let mut closed = None;
        if !self.current.is_empty() && self.current.bytes + line_len > self.max_bytes {
            closed = self.take();
        }
        if self.opened.is_none() {
            self.opened = Some(now);
            self.current.buf.reserve(self.last_buf.max(entry.len() + self.frame.open.len() + 8));
            self.current.buf.extend_from_slice(&self.frame.open);
        } else {
            self.current.buf.extend_from_slice(self.frame.separator);
        }
        let start = self.current.buf.len();
        self.current.buf.extend_from_slice(entry);
        self.current.ranges.push(start..self.current.buf.len());
        self.current.bytes += line_len;
        self.current.tickets.push(ticket);
        if self.current.len() >= self.max_records || self.current.bytes >= self.max_bytes {
            // At most one of the two can be non-empty: a close above leaves a single entry here.
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
        if self.current.is_empty() {
            return None;
        }
        self.current.buf.extend_from_slice(self.frame.close);
        self.last_buf = self.current.buf.len();
        Some(std::mem::take(&mut self.current))
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
            assert!(b.push(&[b'x'; 10], 10, t(o), now).is_none());
        }
        let full = b.push(&[b'x'; 10], 10, t(499), now).unwrap();
        assert_eq!(full.len(), 500);
        assert_eq!(full.tickets.first(), Some(&t(0)));
        assert_eq!(full.tickets.last(), Some(&t(499)));
        assert!(b.take().is_none());
    }

    #[test]
    fn closes_before_exceeding_the_byte_limit() {
        let now = Instant::now();
        let mut b = Batcher::with_limits(Duration::from_secs(1), 500, 100);
        assert!(b.push(&[1; 80], 60, t(0), now).is_none());
        let first = b.push(&[2; 80], 60, t(1), now).unwrap();
        assert_eq!((first.len(), first.bytes), (1, 60));
        let rest = b.take().unwrap();
        assert_eq!(rest.tickets, vec![t(1)]);
        let big = b.push(&[3; 133], 100, t(2), now).unwrap();
        assert_eq!(big.bytes, 100, "a line at the limit goes alone");
    }

    #[test]
    fn a_framed_batch_is_a_whole_body_and_its_ranges_are_the_entries() {
        let now = Instant::now();
        let frame = Frame::put_record_batch("s");
        let mut b = Batcher::with_limits(Duration::from_secs(1), 3, 1000).framed(frame.clone());
        assert!(b.push(b"{\"Data\":\"QQ==\"}", 1, t(0), now).is_none());
        assert!(b.push(b"{\"Data\":\"Qg==\"}", 1, t(1), now).is_none());
        let full = b.push(b"{\"Data\":\"Qw==\"}", 1, t(2), now).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&full.buf).unwrap();
        assert_eq!(v["Records"][2]["Data"], "Qw==");
        assert_eq!(full.entry(1), b"{\"Data\":\"Qg==\"}");
        assert_eq!(frame.body(&full.buf, &full.ranges), full.buf, "the body is the frame of its entries");
        b.push(b"{\"Data\":\"RA==\"}", 1, t(3), now);
        let rest = b.take().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&rest.buf).unwrap()["Records"][0]["Data"],
            "RA=="
        );
    }

    #[test]
    fn linger() {
        let now = Instant::now();
        let mut b = Batcher::new(Duration::from_millis(50));
        assert!(b.deadline().is_none());
        b.push(&[1], 1, t(0), now);
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
            if let Some(batch) =
                b.push(&vec![o as u8; (o % 13) as usize + 1], (o % 13) as usize + 1, t(o), now)
            {
                assert!(batch.len() <= 7 && batch.bytes <= 50);
                for (i, ticket) in batch.tickets.iter().enumerate() {
                    let o = ticket.offset;
                    assert_eq!(batch.entry(i), vec![o as u8; (o % 13) as usize + 1], "entry {o} intact");
                }
                seen.extend(batch.tickets);
            }
        }
        seen.extend(b.take().map(|b| b.tickets).unwrap_or_default());
        assert_eq!(seen, (0..1000).map(t).collect::<Vec<_>>());
    }
}
