//! Avro's binary encoding, read in place from a borrowed frame: zig-zag varints, booleans,
//! length-prefixed bytes and strings, fixed runs, and skipping whole values of any writer type
//! whose data the reader does not keep (arrays and maps in blocks, unions, nested and recursive
//! records). Invariant: every read returns a value borrowed from the input or a [`Malformed`]
//! error — nothing reads past the end, no length or count in the data sizes an allocation or a
//! loop that does not consume input, and skipping recurses at most [`MAX_DEPTH`] levels.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{NamesRef, UuidSchema};

/// Deepest nesting of writer values that is skipped (deeper data is `invalid_avro`).
pub(crate) const MAX_DEPTH: usize = 32;

/// Why an Avro body does not decode: what, and at which byte of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Byte offset in the body.
    pub(crate) at: usize,
    /// What is wrong.
    pub(crate) what: &'static str,
}

/// A read position in an Avro body.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn fail<T>(&self, what: &'static str) -> Result<T, Malformed> {
        Err(Malformed { at: self.pos, what })
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => self.fail("the body ends inside a value"),
        }
    }

    /// A `long`: a zig-zag varint of at most 10 bytes.
    pub(crate) fn long(&mut self) -> Result<i64, Malformed> {
        let mut raw: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return self.fail("a varint overflows 64 bits");
            }
            raw |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                let magnitude = i64::try_from(raw >> 1).unwrap_or(i64::MAX);
                return Ok(if raw & 1 == 0 { magnitude } else { -magnitude - 1 });
            }
        }
        self.fail("a varint is longer than 10 bytes")
    }

    /// An `int`: a `long` that must fit 32 bits.
    pub(crate) fn int(&mut self) -> Result<i32, Malformed> {
        let at = self.pos;
        i32::try_from(self.long()?).map_err(|_| Malformed { at, what: "an int does not fit 32 bits" })
    }

    /// A `boolean`: one byte, 0 or 1.
    pub(crate) fn boolean(&mut self) -> Result<bool, Malformed> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.fail("a boolean byte is neither 0 nor 1"),
        }
    }

    /// `n` raw bytes (a `fixed`).
    pub(crate) fn fixed(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.bytes.len());
        match end.and_then(|end| self.bytes.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => self.fail("a length runs past the end of the body"),
        }
    }

    /// A length prefix: a non-negative `long`.
    fn len(&mut self) -> Result<usize, Malformed> {
        let at = self.pos;
        usize::try_from(self.long()?).map_err(|_| Malformed { at, what: "a length is negative" })
    }

    /// `bytes`: a length, then that many bytes.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.len()?;
        self.fixed(n)
    }

    /// `string`: `bytes` that must be UTF-8.
    pub(crate) fn string(&mut self) -> Result<&'a str, Malformed> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| Malformed { at, what: "a string is not UTF-8" })
    }

    /// A union branch index.
    pub(crate) fn branch(&mut self) -> Result<usize, Malformed> {
        let at = self.pos;
        usize::try_from(self.long()?).map_err(|_| Malformed { at, what: "a union branch is negative" })
    }

    /// Skips one value of the writer type `id` in `skips`.
    pub(crate) fn skip(&mut self, skips: &Skips, id: usize, depth: usize) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return self.fail("values are nested too deeply");
        }
        let Some(node) = skips.nodes.get(id) else { return self.fail("no such writer type") };
        match node {
            Skip::Nothing => Ok(()),
            Skip::Varint => self.long().map(drop),
            Skip::Fixed(n) => self.fixed(*n).map(drop),
            Skip::Bytes => self.bytes().map(drop),
            Skip::Array(item) => self.blocks(skips, *item, false, depth),
            Skip::Map(value) => self.blocks(skips, *value, true, depth),
            Skip::Union(branches) => {
                let at = self.pos;
                let branch = self.branch()?;
                let Some(&inner) = branches.get(branch) else {
                    return Err(Malformed { at, what: "a union branch is out of range" });
                };
                self.skip(skips, inner, depth + 1)
            }
            Skip::Record(fields) => fields.iter().try_for_each(|f| self.skip(skips, *f, depth + 1)),
        }
    }

    /// Array items or map entries (a string key, then the value), in blocks.
    fn blocks(&mut self, skips: &Skips, item: usize, map: bool, depth: usize) -> Result<(), Malformed> {
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                // A negative count is followed by the block's size in bytes: skip it whole.
                let size = self.len()?;
                self.fixed(size)?;
                continue;
            }
            if !map && skips.zero_width.get(item).copied().unwrap_or(false) {
                continue; // items that take no bytes: nothing to skip, however many
            }
            // Every item consumes at least one byte, so the body's end bounds this loop.
            for _ in 0..count {
                if map {
                    self.bytes()?;
                }
                self.skip(skips, item, depth + 1)?;
            }
        }
    }
}

/// How to skip one writer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Skip {
    /// `null`, or a record of zero-width fields.
    Nothing,
    /// Any varint: `int`, `long`, `enum` and their logical types.
    Varint,
    /// `n` bytes: `boolean`, `float`, `double`, `fixed`, `duration`.
    Fixed(usize),
    /// A length-prefixed run: `bytes`, `string`.
    Bytes,
    /// An array of the given item type.
    Array(usize),
    /// A map with values of the given type.
    Map(usize),
    /// A union of the given branch types.
    Union(Box<[usize]>),
    /// A record of the given field types.
    Record(Box<[usize]>),
}

/// Skip programs for the writer-only parts of a writer schema, one node per type, recursive
/// types by index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Skips {
    nodes: Vec<Skip>,
    /// Per node: true when its values never take a byte (so counts of them cost nothing).
    zero_width: Vec<bool>,
}

/// Builds [`Skips`] from writer schemas, resolving named references.
#[derive(Debug)]
pub(crate) struct SkipBuilder<'s> {
    names: &'s NamesRef<'s>,
    skips: Skips,
    records: HashMap<String, usize>,
}

impl<'s> SkipBuilder<'s> {
    /// A builder resolving references through `names` (the writer schema's named types).
    pub(crate) fn new(names: &'s NamesRef<'s>) -> SkipBuilder<'s> {
        SkipBuilder { names, skips: Skips::default(), records: HashMap::new() }
    }

    fn push(&mut self, node: Skip) -> usize {
        self.skips.nodes.push(node);
        self.skips.nodes.len() - 1
    }

    /// The node skipping values of `schema`.
    pub(crate) fn add(&mut self, schema: &'s Schema) -> Result<usize, String> {
        let node = match schema {
            Schema::Null => Skip::Nothing,
            Schema::Boolean => Skip::Fixed(1),
            Schema::Float => Skip::Fixed(4),
            Schema::Double => Skip::Fixed(8),
            Schema::Int
            | Schema::Long
            | Schema::Enum(_)
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Skip::Varint,
            Schema::Bytes | Schema::String | Schema::BigDecimal => Skip::Bytes,
            Schema::Uuid(UuidSchema::String | UuidSchema::Bytes) => Skip::Bytes,
            Schema::Uuid(UuidSchema::Fixed(f)) | Schema::Fixed(f) | Schema::Duration(f) => {
                Skip::Fixed(f.size)
            }
            Schema::Decimal(d) => match &d.inner {
                apache_avro::schema::InnerDecimalSchema::Bytes => Skip::Bytes,
                apache_avro::schema::InnerDecimalSchema::Fixed(f) => Skip::Fixed(f.size),
            },
            Schema::Array(a) => Skip::Array(self.add(&a.items)?),
            Schema::Map(m) => Skip::Map(self.add(&m.types)?),
            Schema::Union(u) => {
                let branches: Result<Vec<usize>, String> = u.variants().iter().map(|b| self.add(b)).collect();
                Skip::Union(branches?.into_boxed_slice())
            }
            Schema::Record(r) => {
                let name = r.name.fullname(None);
                if let Some(&id) = self.records.get(&name) {
                    return Ok(id);
                }
                // Reserve the index first: the record's fields may refer back to it.
                let id = self.push(Skip::Nothing);
                self.records.insert(name, id);
                let fields: Result<Vec<usize>, String> =
                    r.fields.iter().map(|f| self.add(&f.schema)).collect();
                if let Some(node) = self.skips.nodes.get_mut(id) {
                    *node = Skip::Record(fields?.into_boxed_slice());
                }
                return Ok(id);
            }
            Schema::Ref { name } => {
                if let Some(&id) = self.records.get(&name.fullname(None)) {
                    return Ok(id);
                }
                let named =
                    self.names.get(name).ok_or_else(|| format!("unknown type {}", name.fullname(None)))?;
                return self.add(named);
            }
        };
        Ok(self.push(node))
    }

    /// The finished programs.
    pub(crate) fn finish(mut self) -> Skips {
        let nodes = &self.skips.nodes;
        // Least fixed point: a record is zero-width when all its fields are; cycles are not.
        let mut zero: Vec<bool> = nodes.iter().map(|n| matches!(n, Skip::Nothing | Skip::Fixed(0))).collect();
        loop {
            let mut changed = false;
            for (i, node) in nodes.iter().enumerate() {
                let now = match node {
                    Skip::Record(fields) => fields.iter().all(|f| zero.get(*f).copied().unwrap_or(false)),
                    _ => continue,
                };
                if let Some(z) = zero.get_mut(i).filter(|z| **z != now) {
                    *z = now;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.skips.zero_width = zero;
        self.skips
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::schema::ResolvedSchema;

    fn zigzag(v: i64) -> Vec<u8> {
        let mut u = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (u & 0x7f) as u8;
            u >>= 7;
            if u == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn varints_round_trip_and_overflow_is_caught() {
        for v in [0, -1, 1, 63, -64, 64, i64::from(i32::MAX), i64::from(i32::MIN), i64::MAX, i64::MIN] {
            let bytes = zigzag(v);
            let mut c = Cursor::new(&bytes);
            assert_eq!(c.long(), Ok(v));
            assert_eq!(c.remaining(), 0);
        }
        let too_long = [0xff; 11];
        assert!(Cursor::new(&too_long).long().is_err());
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Cursor::new(&overflow).long().is_err());
        assert!(Cursor::new(&zigzag(i64::from(i32::MAX) + 1)).int().is_err());
        assert!(Cursor::new(&[0x80]).long().is_err(), "truncated");
        assert!(Cursor::new(&[2]).boolean().is_err());
        assert!(Cursor::new(&zigzag(-1)).bytes().is_err(), "negative length");
        assert!(Cursor::new(&[zigzag(5), b"ab".to_vec()].concat()).bytes().is_err(), "past the end");
        assert!(Cursor::new(&[4, 0xc3, 0x28]).string().is_err(), "not UTF-8");
        assert_eq!(Cursor::new(&[4, b'h', b'i']).string(), Ok("hi"));
    }

    fn skip(schema: &str, body: &[u8]) -> Result<usize, Malformed> {
        let schema = Schema::parse_str(schema).unwrap_or_else(|e| panic!("{e}"));
        let resolved = ResolvedSchema::try_from(&schema).unwrap_or_else(|e| panic!("{e}"));
        let mut builder = SkipBuilder::new(resolved.get_names());
        let id = builder.add(&schema).unwrap_or_else(|e| panic!("{e}"));
        let skips = builder.finish();
        let mut c = Cursor::new(body);
        c.skip(&skips, id, 0).map(|()| c.position())
    }

    const LIST: &str = r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#;

    #[test]
    fn skipping_recursive_types_is_bounded_in_depth() {
        // L(L(L(null))): branch 1, branch 1, branch 0.
        assert_eq!(skip(LIST, &[2, 2, 0]), Ok(3));
        let deep: Vec<u8> = std::iter::repeat_n(2, 10_000).chain([0]).collect();
        assert_eq!(skip(LIST, &deep).map_err(|m| m.what), Err("values are nested too deeply"));
        assert!(skip(LIST, &[4]).is_err(), "branch out of range");
    }

    #[test]
    fn blocks_huge_counts_and_sizes() {
        let nulls = r#"{"type":"array","items":"null"}"#;
        let huge = [zigzag(i64::MAX), vec![0]].concat();
        assert_eq!(skip(nulls, &huge), Ok(huge.len()), "zero-width items cost nothing");
        let longs = r#"{"type":"array","items":"long"}"#;
        assert!(skip(longs, &huge).is_err(), "a count the body cannot hold ends at the body's end");
        // A negative count with a byte size: two longs (1, 2) skipped as one 2-byte run.
        assert_eq!(skip(longs, &[3, 4, 2, 4, 0]), Ok(5));
        assert!(skip(longs, &[3, 40, 2, 4, 0]).is_err(), "size past the end");
        let map = r#"{"type":"map","values":"int"}"#;
        assert_eq!(skip(map, &[2, 2, b'k', 6, 0]), Ok(5));
        // The most negative count (no absolute value needed), a zero size, then the end.
        let min = [zigzag(i64::MIN), vec![0, 0]].concat();
        assert_eq!(skip(longs, &min), Ok(min.len()));
        let fixed = r#"{"type":"fixed","name":"F","size":4}"#;
        assert_eq!(skip(fixed, &[1, 2, 3, 4, 5]), Ok(4));
        assert!(skip(fixed, &[1, 2, 3]).is_err());
    }
}
