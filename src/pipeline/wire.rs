//! The bytes a sink sends, written once: a validation thread encodes each accepted line straight
//! into its sink's entry form — a `{"Data":"<base64>"}` element of a Firehose PutRecordBatch
//! body, or the NDJSON line itself for the file sink — and the batcher only copies whole entries.
//! Invariant: an entry decodes to exactly the line it was made from, and a request body holds
//! exactly the entries it is given, in order, as the JSON the Firehose API defines. Pure: no I/O.

use std::ops::Range;

use super::batch::Ticket;

/// How a sink wants its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One `{"Data":"<base64 of the line>"}` element of PutRecordBatch's `Records` array.
    Firehose,
    /// The NDJSON line as it is (it ends in `\n`).
    Ndjson,
}

impl Encoding {
    /// Appends `line` to `out` in this encoding.
    pub fn append(self, line: &[u8], out: &mut Vec<u8>) {
        match self {
            Encoding::Ndjson => out.extend_from_slice(line),
            Encoding::Firehose => {
                out.extend_from_slice(b"{\"Data\":\"");
                base64_simd::STANDARD.encode_append(line, out);
                out.extend_from_slice(b"\"}");
            }
        }
    }
}

/// One encoded record: where its bytes are, the size of its line, and its Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its bytes in the buffer it belongs to.
    pub range: Range<usize>,
    /// Size of the NDJSON line before encoding (what Firehose's size limits count).
    pub line_len: usize,
    /// The record it came from.
    pub ticket: Ticket,
}

/// Accepted records of one chunk, encoded for the sink, in read order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Every entry's bytes, back to back.
    pub buf: Vec<u8>,
    /// The entries.
    pub entries: Vec<Entry>,
}

impl Encoded {
    /// Encodes `line` (of the record `ticket`) at the end.
    pub fn push(&mut self, encoding: Encoding, line: &[u8], ticket: Ticket) {
        let start = self.buf.len();
        encoding.append(line, &mut self.buf);
        self.written_since(start, line.len(), ticket);
    }

    /// Records as one entry whatever was appended to `buf` since `start` (a line of `line_len`
    /// bytes, already encoded there, of the record `ticket`).
    pub fn written_since(&mut self, start: usize, line_len: usize, ticket: Ticket) {
        self.entries.push(Entry { range: start..self.buf.len(), line_len, ticket });
    }

    /// The bytes of one entry.
    pub fn bytes(&self, e: &Entry) -> &[u8] {
        self.buf.get(e.range.clone()).unwrap_or_default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How entries are put together into one request body: what opens it, what goes between two
/// entries and what closes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// Bytes before the first entry.
    pub open: Vec<u8>,
    /// Bytes between two entries.
    pub separator: &'static [u8],
    /// Bytes after the last entry.
    pub close: &'static [u8],
}

impl Frame {
    /// No framing: entries back to back (NDJSON lines make a file).
    pub fn none() -> Frame {
        Frame::default()
    }

    /// A PutRecordBatch request body for `stream`: `{"DeliveryStreamName":…,"Records":[…]}`.
    pub fn put_record_batch(stream: &str) -> Frame {
        let name = serde_json::to_string(stream).unwrap_or_else(|_| "\"\"".to_string());
        Frame {
            open: format!("{{\"DeliveryStreamName\":{name},\"Records\":[").into_bytes(),
            separator: b",",
            close: b"]}",
        }
    }

    /// A body holding the entries of `buf` at `ranges`, in order.
    pub fn body<'r>(&self, buf: &[u8], ranges: impl IntoIterator<Item = &'r Range<usize>>) -> Vec<u8> {
        let mut body = Vec::with_capacity(buf.len() + self.open.len() + self.close.len());
        body.extend_from_slice(&self.open);
        for (i, r) in ranges.into_iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(self.separator);
            }
            body.extend_from_slice(buf.get(r.clone()).unwrap_or_default());
        }
        body.extend_from_slice(self.close);
        body
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn t(o: i64) -> Ticket {
        Ticket { partition: 3, generation: 1, offset: o }
    }

    fn decode(entry: &serde_json::Value) -> Vec<u8> {
        let data = entry["Data"].as_str().unwrap_or_else(|| panic!("no Data in {entry}"));
        base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_body_is_the_apis_json_and_every_entry_decodes_to_its_line() {
        let lines: Vec<Vec<u8>> = vec![
            b"{\"a\":1}\n".to_vec(),
            b"\n".to_vec(),
            "{\"s\":\"\u{e9}\u{1f3ae} \\\"q\\\"\"}\n".as_bytes().to_vec(),
            (0..=255u8).collect(),
            vec![b'x'; 1001],
        ];
        let mut enc = Encoded::default();
        for (i, l) in lines.iter().enumerate() {
            enc.push(Encoding::Firehose, l, t(i as i64));
        }
        let ranges: Vec<_> = enc.entries.iter().map(|e| e.range.clone()).collect();
        let body = Frame::put_record_batch("s.tream-1").body(&enc.buf, &ranges);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["DeliveryStreamName"], "s.tream-1");
        let records = v["Records"].as_array().unwrap_or_else(|| panic!("Records"));
        assert_eq!(records.len(), lines.len());
        for (r, l) in records.iter().zip(&lines) {
            assert_eq!(&decode(r), l);
            assert_eq!(r.as_object().map(serde_json::Map::len), Some(1), "only Data");
        }
        let sizes: Vec<usize> = enc.entries.iter().map(|e| e.line_len).collect();
        assert_eq!(sizes, lines.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(enc.entries.iter().map(|e| e.ticket.offset).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_subset_of_entries_makes_a_body_of_just_those() {
        let mut enc = Encoded::default();
        for i in 0..5 {
            enc.push(Encoding::Firehose, format!("line {i}\n").as_bytes(), t(i));
        }
        let pick: Vec<_> = [4usize, 1].iter().map(|&i| enc.entries[i].range.clone()).collect();
        let v: serde_json::Value =
            serde_json::from_slice(&Frame::put_record_batch("s").body(&enc.buf, &pick)).unwrap_or_default();
        let got: Vec<Vec<u8>> = v["Records"].as_array().into_iter().flatten().map(decode).collect();
        assert_eq!(got, vec![b"line 4\n".to_vec(), b"line 1\n".to_vec()]);
        let empty: serde_json::Value =
            serde_json::from_slice(&Frame::put_record_batch("s\"x").body(&enc.buf, &[])).unwrap_or_default();
        assert_eq!(empty, serde_json::json!({"DeliveryStreamName": "s\"x", "Records": []}));
    }

    #[test]
    fn ndjson_entries_are_the_lines_back_to_back() {
        let mut enc = Encoded::default();
        enc.push(Encoding::Ndjson, b"{\"a\":1}\n", t(0));
        enc.push(Encoding::Ndjson, b"{\"b\":2}\n", t(1));
        assert_eq!(enc.buf, b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(enc.bytes(&enc.entries[1]), b"{\"b\":2}\n");
        let all: Vec<_> = enc.entries.iter().map(|e| e.range.clone()).collect();
        assert_eq!(Frame::none().body(&enc.buf, &all), enc.buf);
        assert_eq!((enc.len(), enc.is_empty()), (2, false));
    }
}
