//! Chunks: the records of one consumer drain copied into a single arena (no allocation per
//! record), and their validation as one unit of work for a validation thread. Invariant: every
//! record pushed into a chunk comes out of [`validate_chunk`] exactly once, as an accepted line
//! or as a reject carrying the record's original key, value and headers byte for byte.

use std::ops::Range;
use std::time::Duration;

use super::batch::Ticket;
use super::offsets::Generation;
use super::retry::backoff;
use super::wire::{Encoded, Encoding};
use crate::event::{HEADER_RECEIVED_AT, InboundRecord, Origin};
use crate::validate::{Context, Provenance, Reject, SchemaSource, time, validate_into};

#[derive(Debug, Clone)]
struct Entry {
    partition: i32,
    generation: Generation,
    offset: i64,
    key: Option<Range<usize>>,
    value: Range<usize>,
    headers: Range<usize>,
}

impl Entry {
    fn ticket(&self) -> Ticket {
        Ticket { partition: self.partition, generation: self.generation, offset: self.offset }
    }
}

#[derive(Debug, Clone)]
struct HeaderEntry {
    name: Range<usize>,
    value: Option<Range<usize>>,
}

/// Records read together, with their bytes in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Chunk {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    headers: Vec<HeaderEntry>,
}

impl Chunk {
    /// An empty chunk sized for `records` records of about `bytes` bytes in all.
    pub fn with_capacity(records: usize, bytes: usize) -> Chunk {
        Chunk {
            arena: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(records),
            headers: Vec::with_capacity(records * 3),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        start..self.arena.len()
    }

    /// Copies one record in, read under assignment `generation` of its partition.
    pub fn push<'h>(
        &mut self,
        partition: i32,
        generation: Generation,
        offset: i64,
        key: Option<&[u8]>,
        value: &[u8],
        headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) {
        let key = key.map(|k| self.put(k));
        let value = self.put(value);
        let first = self.headers.len();
        for (name, v) in headers {
            let name = self.put(name.as_bytes());
            let value = v.map(|v| self.put(v));
            self.headers.push(HeaderEntry { name, value });
        }
        let headers = first..self.headers.len();
        self.entries.push(Entry { partition, generation, offset, key, value, headers });
    }

    /// Copies one fetched Kafka record in.
    pub fn push_message<M: rdkafka::message::Message>(&mut self, m: &M, generation: Generation) {
        use rdkafka::message::Headers;
        let headers = m.headers();
        let iter = headers.into_iter().flat_map(|h| h.iter().map(|x| (x.key, x.value)));
        self.push(m.partition(), generation, m.offset(), m.key(), m.payload().unwrap_or_default(), iter);
    }

    /// Keeps only the records for which `keep` (given each record's ticket and its size in
    /// bytes: key, value and headers) returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Ticket, usize) -> bool) {
        let headers = &self.headers;
        self.entries.retain(|e| {
            let hs = headers.get(e.headers.clone()).unwrap_or_default();
            let header_bytes: usize =
                hs.iter().map(|h| h.name.len() + h.value.as_ref().map_or(0, Range::len)).sum();
            let size = e.value.len() + e.key.as_ref().map_or(0, Range::len) + header_bytes;
            keep(e.ticket(), size)
        });
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    /// (partition, generation, offset) of every record, in read order.
    pub fn tickets(&self) -> impl Iterator<Item = Ticket> + '_ {
        self.entries.iter().map(Entry::ticket)
    }

    fn slice(&self, r: &Range<usize>) -> &[u8] {
        self.arena.get(r.clone()).unwrap_or_default()
    }

    fn header(&self, e: &Entry, name: &str) -> Option<&[u8]> {
        let hs = self.headers.get(e.headers.clone()).unwrap_or_default();
        hs.iter()
            .find(|h| self.slice(&h.name) == name.as_bytes())
            .and_then(|h| h.value.as_ref())
            .map(|v| self.slice(v))
    }

    /// An owned copy of record `i` as read (for the rejects topic).
    fn inbound(&self, e: &Entry, topic: &str) -> InboundRecord {
        let hs = self.headers.get(e.headers.clone()).unwrap_or_default();
        InboundRecord {
            origin: Origin { topic: topic.to_string(), partition: e.partition, offset: e.offset },
            key: e.key.as_ref().map(|k| self.slice(k).to_vec()),
            value: self.slice(&e.value).to_vec(),
            headers: hs
                .iter()
                .map(|h| {
                    (
                        String::from_utf8_lossy(self.slice(&h.name)).into_owned(),
                        h.value.as_ref().map(|v| self.slice(v).to_vec()),
                    )
                })
                .collect(),
        }
    }
}

/// What became of a chunk's records.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Valid records, encoded for the sink, with where they came from.
    pub accepted: Encoded,
    /// Invalid records, owned, with the reason and where they came from.
    pub rejected: Vec<(InboundRecord, Reject, Ticket)>,
    /// Records dropped unvalidated because their partition's assignment ended while they
    /// waited for an unavailable schema source (the new owner reads them again).
    pub dropped: usize,
}

/// Validates every record of `chunk`, encoding each accepted line for the sink. A schema source
/// that is unavailable is waited out (with backoff, on this thread): such a record is neither
/// accepted nor rejected until it answers, unless `still_ours` says its partition's assignment
/// ended meanwhile — then it is dropped.
pub fn validate_chunk(
    chunk: &Chunk,
    topic: &str,
    ctx: &Context,
    schemas: &dyn SchemaSource,
    encoding: Encoding,
    still_ours: &dyn Fn(Ticket) -> bool,
) -> Outcome {
    let accepted = Encoded {
        buf: Vec::with_capacity(chunk.bytes() * 3 / 2 + chunk.len() * 128),
        entries: Vec::with_capacity(chunk.len()),
    };
    let mut out = Outcome { accepted, rejected: Vec::new(), dropped: 0 };
    // The NDJSON encoding is the line itself: it is written in place. Others encode from here.
    let in_place = encoding == Encoding::Ndjson;
    let mut line = Vec::with_capacity(4096);
    for e in &chunk.entries {
        let value = chunk.slice(&e.value);
        let received_at = chunk
            .header(e, HEADER_RECEIVED_AT)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(time::parse_rfc3339);
        let prov = Provenance { topic, partition: e.partition, offset: e.offset, received_at };
        let mut attempt = 0;
        let ticket = e.ticket();
        let start = out.accepted.buf.len();
        line.clear();
        let target = if in_place { &mut out.accepted.buf } else { &mut line };
        let verdict = loop {
            match validate_into(value, &prov, ctx, schemas, target) {
                Ok(v) => break Some(v),
                Err(_) if !still_ours(ticket) => break None,
                Err(err) => {
                    attempt += 1;
                    tracing::warn!(error = %err, attempt, "schema lookup failed; retrying");
                    std::thread::sleep(backoff(attempt, Duration::from_millis(200), Duration::from_secs(10)));
                }
            }
        };
        match verdict {
            Some(Ok(())) if in_place => {
                let line_len = out.accepted.buf.len() - start;
                out.accepted.written_since(start, line_len, ticket);
            }
            Some(Ok(())) => out.accepted.push(encoding, &line, ticket),
            Some(Err(reject)) => out.rejected.push((chunk.inbound(e, topic), reject, ticket)),
            None => out.dropped += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::corpus::{Mix, corpus};
    use crate::validate::{Catalog, LocalSchemas, RejectCode, validate};
    use std::sync::Arc;

    fn source() -> LocalSchemas {
        LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap_or_else(|e| panic!("schemas: {e}"))
    }

    #[test]
    fn every_record_comes_out_once_with_the_same_verdict_as_validate() {
        let src = source();
        let ts = "2026-11-22T10:00:00Z";
        let ctx = Context::at(time::parse_rfc3339(ts).unwrap_or_default() + 1_000_000);
        let records = corpus(300, 7, Mix::default(), ts, &src);
        let mut chunk = Chunk::default();
        for (i, r) in records.iter().enumerate() {
            let at = b"2026-11-22T10:00:00.5Z".as_slice();
            chunk.push(1, 9, i as i64, Some(r.key.as_bytes()), &r.value, [("ingest.received_at", Some(at))]);
        }
        let out = validate_chunk(&chunk, "raw", &ctx, &src, Encoding::Ndjson, &|_| true);
        assert_eq!(out.accepted.len() + out.rejected.len(), records.len());
        // The Firehose encoding of the same chunk holds the same lines, base64-encoded.
        let fh = validate_chunk(&chunk, "raw", &ctx, &src, Encoding::Firehose, &|_| true);
        assert_eq!(fh.accepted.len(), out.accepted.len());
        for (a, b) in fh.accepted.entries.iter().zip(&out.accepted.entries) {
            let mut want = Vec::new();
            Encoding::Firehose.append(out.accepted.bytes(b), &mut want);
            assert_eq!((fh.accepted.bytes(a), a.ticket, a.line_len), (&want[..], b.ticket, b.line_len));
        }
        assert!(!out.rejected.is_empty(), "the default mix has invalid records");
        let received_at = time::parse_rfc3339("2026-11-22T10:00:00.5Z");
        for e in &out.accepted.entries {
            let (line, t) = (out.accepted.bytes(e).to_vec(), e.ticket);
            assert_eq!(e.line_len, line.len());
            let r = &records[t.offset as usize];
            let prov = Provenance { topic: "raw", partition: 1, offset: t.offset, received_at };
            let want = validate(&r.value, &prov, &ctx, &src).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(crate::validate::Verdict::Accepted(line.clone()), want);
        }
        for (rec, reject, t) in &out.rejected {
            assert_eq!((t.partition, t.generation, t.offset), (1, 9, rec.origin.offset));
            let r = &records[rec.origin.offset as usize];
            assert_eq!(rec.value, r.value, "original bytes kept");
            assert_eq!(rec.key.as_deref(), Some(r.key.as_bytes()));
            assert_eq!(rec.header("ingest.received_at"), Some(&b"2026-11-22T10:00:00.5Z"[..]));
            assert_eq!((rec.origin.topic.as_str(), rec.origin.partition), ("raw", 1));
            assert_ne!(reject.code.code(), "");
        }
        let mut offsets: Vec<i64> = out
            .accepted
            .entries
            .iter()
            .map(|e| e.ticket.offset)
            .chain(out.rejected.iter().map(|(r, _, _)| r.origin.offset))
            .collect();
        offsets.sort_unstable();
        assert_eq!(offsets, (0..records.len() as i64).collect::<Vec<_>>());
    }

    #[test]
    fn null_headers_keys_and_empty_values_survive_the_arena() {
        let src = source();
        let mut chunk = Chunk::default();
        chunk.push(0, 1, 5, None, b"", [("a", None), ("b", Some(&b""[..])), ("c", Some(&b"x"[..]))]);
        chunk.push(0, 1, 6, Some(b""), b"not json", []);
        assert_eq!((chunk.len(), chunk.tickets().map(|t| t.offset).collect::<Vec<_>>()), (2, vec![5, 6]));
        let out = validate_chunk(&chunk, "raw", &Context::now(), &src, Encoding::Ndjson, &|_| true);
        assert!(out.accepted.is_empty());
        let (first, reject, _) = &out.rejected[0];
        assert_eq!(reject.code, RejectCode::InvalidJson);
        assert_eq!(first.key, None);
        assert_eq!(first.value, b"");
        assert_eq!(
            first.headers,
            vec![
                ("a".to_string(), None),
                ("b".to_string(), Some(vec![])),
                ("c".to_string(), Some(b"x".to_vec()))
            ]
        );
        assert_eq!(out.rejected[1].0.key, Some(vec![]));
        assert_eq!(out.rejected[1].0.value, b"not json");
    }

    #[test]
    fn retain_sees_sizes_and_drops_records() {
        let mut chunk = Chunk::default();
        chunk.push(0, 1, 5, Some(b"k"), b"12345", [("h", Some(&b"vv"[..]))]);
        chunk.push(2, 7, 6, None, b"abc", []);
        let mut seen = Vec::new();
        chunk.retain(|t, size| {
            seen.push((t.partition, t.generation, t.offset, size));
            t.partition == 2
        });
        assert_eq!(seen, vec![(0, 1, 5, 1 + 5 + 1 + 2), (2, 7, 6, 3)]);
        assert_eq!(chunk.tickets().map(|t| t.offset).collect::<Vec<_>>(), vec![6]);
    }

    /// A record waiting for an unavailable schema source is dropped once its partition's
    /// assignment ends, instead of holding the validation thread for ever.
    #[test]
    fn a_record_of_a_revoked_partition_is_dropped_while_the_registry_is_down() {
        #[derive(Debug)]
        struct Down(Catalog);
        impl SchemaSource for Down {
            fn catalog(&self) -> &Catalog {
                &self.0
            }
            fn writer(
                &self,
                _: u32,
            ) -> Result<Arc<crate::validate::source::WriterSchema>, crate::validate::LookupError>
            {
                Err(crate::validate::LookupError::Unavailable("down".into()))
            }
        }
        let mut chunk = Chunk::default();
        chunk.push(0, 1, 5, None, &[0, 0, 0, 0, 1, 2], []);
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let out = validate_chunk(
            &chunk,
            "raw",
            &Context::now(),
            &Down(Catalog::embedded()),
            Encoding::Ndjson,
            &|_| asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 2,
        );
        assert_eq!((out.accepted.len(), out.rejected.len(), out.dropped), (0, 0, 1));
    }
}
