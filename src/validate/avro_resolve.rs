//! Avro schema resolution, compiled once per writer schema id: the writer schema a producer
//! registered and our reader schema become a [`Plan`] — per writer field, which reader field
//! it fills and how to read it (a promotion, an enum's writer index to our index, a decimal at
//! the writer's scale), or how to skip it — following the Avro specification's "Schema
//! Resolution": fields matched by name or reader alias, reader defaults for fields the writer
//! lacks, writer-only fields skipped, unions on either side. Each framed body is then decoded
//! straight from its bytes into the same [`FieldValue`]s the JSON path produces, borrowing
//! strings from the frame. Invariant: a plan compiles exactly when the writer can be resolved
//! to the reader (otherwise the id is `incompatible_schema`), and decoding with it is total —
//! every body yields one value per reader field or one reject, the body's bytes are all used,
//! and no value is ever changed: an enum symbol we do not know is our enum's default or
//! `invalid_enum`, a decimal that does not fit our scale is `invalid_amount`, never rounded.

use std::borrow::Cow;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, NamesRef, RecordField, ResolvedSchema, UuidSchema};

use super::Context;
use super::avro_binary::{Cursor, Malformed, SkipBuilder, Skips};
use super::convert::{FieldValue, MAX_FIELDS, absent, string_value};
use super::number::Exact;
use super::reject::{Reject, RejectCode};
use super::rules::{check_integer, check_timestamp};
use super::schema::{EventSchema, FieldSpec, Kind};

/// Writer × reader, compiled: how to decode one writer's records into one reader's fields.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// One step per writer field, in writer order.
    steps: Box<[Step]>,
    /// How to skip the writer fields the reader does not have.
    skips: Skips,
}

#[derive(Debug, Clone)]
enum Step {
    /// Read the writer field into reader field `slot`.
    Keep { slot: usize, read: Read },
    /// Skip the writer field (a type in the plan's skips).
    Skip(usize),
}

#[derive(Debug, Clone)]
enum Read {
    /// A writer value that is not a union.
    One(Op),
    /// A writer union: per branch, how to read it (`None`: the null branch).
    Union(Box<[Option<Op>]>),
}

/// How one writer value becomes reader data.
#[derive(Debug, Clone)]
enum Op {
    /// A writer `null` for an optional reader field.
    Null,
    Bool,
    /// An int (or a long), in milliseconds when `millis` (of a timestamp), else as is.
    Int {
        millis: bool,
    },
    Long {
        millis: bool,
    },
    /// A string, or bytes read as a string (UTF-8 required).
    Text,
    /// A writer enum index: per writer symbol, our index or the writer's unknown symbol.
    Enum(Box<[Symbol]>),
    /// A decimal at the writer's scale, in `bytes` or a `fixed` of the given size.
    Decimal {
        scale: u32,
        fixed: Option<usize>,
    },
}

#[derive(Debug, Clone)]
enum Symbol {
    Ours(usize),
    Unknown(Box<str>),
}

/// One writer value as read, before the reader's rules judge it.
#[derive(Debug, Clone, Copy)]
enum Raw<'a, 'p> {
    Missing,
    Null,
    Bool(bool),
    Long(i64),
    Millis(i64),
    Text(&'a str),
    Enum(usize),
    Unknown(&'p str),
    Decimal(&'a [u8], u32),
}

impl Plan {
    /// Compiles the resolution of `writer` to `reader`; `Err` says why they are incompatible.
    pub(crate) fn compile(writer: &Schema, reader: &EventSchema) -> Result<Plan, String> {
        let resolved = ResolvedSchema::try_from(writer).map_err(|e| e.to_string())?;
        let names = resolved.get_names();
        let (Schema::Record(w), Schema::Record(r)) = (writer, &reader.avro) else {
            return Err("the writer schema is not a record".into());
        };
        // Writer field position → reader slot: names first, then reader aliases.
        let mut taken: Vec<Option<usize>> = vec![None; w.fields.len()];
        let mut found = [false; MAX_FIELDS];
        for by_alias in [false, true] {
            for (slot, rf) in r.fields.iter().enumerate() {
                if found.get(slot).copied().unwrap_or(true) {
                    continue;
                }
                let matches = |wf: &RecordField| {
                    if by_alias { rf.aliases.contains(&wf.name) } else { wf.name == rf.name }
                };
                let free = w.fields.iter().zip(&taken).position(|(wf, t)| t.is_none() && matches(wf));
                if let (Some(p), Some(f)) = (free, found.get_mut(slot)) {
                    *f = true;
                    if let Some(t) = taken.get_mut(p) {
                        *t = Some(slot);
                    }
                }
            }
        }
        for ((rf, spec), found) in r.fields.iter().zip(&reader.fields).zip(found) {
            if !found && rf.default.is_none() && spec.default.is_none() {
                return Err(format!("the writer has no field {} and ours has no default", rf.name));
            }
        }
        let mut skips = SkipBuilder::new(names);
        let mut steps = Vec::with_capacity(w.fields.len());
        for (wf, slot) in w.fields.iter().zip(taken) {
            let step = match slot.and_then(|s| Some((s, reader.fields.get(s)?, r.fields.get(s)?))) {
                Some((slot, spec, rf)) => {
                    let read = read_for(&wf.schema, spec, &rf.schema, names)
                        .map_err(|why| format!("field {}: {why}", spec.name))?;
                    Step::Keep { slot, read }
                }
                None => Step::Skip(skips.add(&wf.schema).map_err(|why| format!("field {}: {why}", wf.name))?),
            };
            steps.push(step);
        }
        Ok(Plan { steps: steps.into_boxed_slice(), skips: skips.finish() })
    }

    /// Decodes one Avro body written with the plan's writer into `reader`'s fields (the reader
    /// the plan was compiled for). A body that does not decode, or has bytes left over, is
    /// `invalid_avro`; otherwise the first field (in reader order) that breaks a rule decides.
    pub(crate) fn decode<'a>(
        &self,
        reader: &EventSchema,
        body: &'a [u8],
        ctx: &Context,
    ) -> Result<Vec<FieldValue<'a>>, Reject> {
        let invalid = |m: Malformed| {
            Reject::record(
                RejectCode::InvalidAvro,
                format!("the Avro body does not decode: {} (byte {})", m.what, m.at),
            )
        };
        let mut raw = [Raw::Missing; MAX_FIELDS];
        let mut cursor = Cursor::new(body);
        for step in &self.steps {
            match step {
                Step::Skip(id) => cursor.skip(&self.skips, *id, 0).map_err(invalid)?,
                Step::Keep { slot, read } => {
                    let value = read_value(&mut cursor, read).map_err(invalid)?;
                    if let Some(r) = raw.get_mut(*slot) {
                        *r = value;
                    }
                }
            }
        }
        if cursor.remaining() > 0 {
            return Err(Reject::record(
                RejectCode::InvalidAvro,
                format!("{} trailing bytes after the Avro datum", cursor.remaining()),
            ));
        }
        reader.fields.iter().zip(raw).map(|(spec, raw)| judge(spec, raw, ctx)).collect()
    }
}

fn read_value<'a, 'p>(cursor: &mut Cursor<'a>, read: &'p Read) -> Result<Raw<'a, 'p>, Malformed> {
    match read {
        Read::One(op) => read_op(cursor, op),
        Read::Union(branches) => {
            let at = cursor.position();
            match branches.get(cursor.branch()?) {
                Some(Some(op)) => read_op(cursor, op),
                Some(None) => Ok(Raw::Null),
                None => Err(Malformed { at, what: "a union branch is out of range" }),
            }
        }
    }
}

fn read_op<'a, 'p>(cursor: &mut Cursor<'a>, op: &'p Op) -> Result<Raw<'a, 'p>, Malformed> {
    let time = |v: i64, millis: bool| if millis { Raw::Millis(v) } else { Raw::Long(v) };
    Ok(match op {
        Op::Null => Raw::Null,
        Op::Bool => Raw::Bool(cursor.boolean()?),
        Op::Int { millis } => time(i64::from(cursor.int()?), *millis),
        Op::Long { millis } => time(cursor.long()?, *millis),
        Op::Text => Raw::Text(cursor.string()?),
        Op::Enum(symbols) => {
            let at = cursor.position();
            let index = usize::try_from(cursor.int()?).ok();
            match index.and_then(|i| symbols.get(i)) {
                Some(Symbol::Ours(i)) => Raw::Enum(*i),
                Some(Symbol::Unknown(s)) => Raw::Unknown(s),
                None => return Err(Malformed { at, what: "an enum index is out of range" }),
            }
        }
        Op::Decimal { scale, fixed: None } => Raw::Decimal(cursor.bytes()?, *scale),
        Op::Decimal { scale, fixed: Some(n) } => Raw::Decimal(cursor.fixed(*n)?, *scale),
    })
}

/// The reader's rules on one value, exactly as for the same value in JSON.
fn judge<'a>(spec: &FieldSpec, raw: Raw<'a, '_>, ctx: &Context) -> Result<FieldValue<'a>, Reject> {
    let name = spec.name.as_str();
    match raw {
        Raw::Missing => absent(spec, false),
        Raw::Null => absent(spec, true),
        Raw::Bool(b) => Ok(FieldValue::Bool(b)),
        Raw::Long(v) if spec.kind == Kind::Timestamp => {
            check_timestamp(spec, v, ctx).map(FieldValue::Timestamp)
        }
        Raw::Long(v) => check_integer(spec, v).map(FieldValue::Long),
        Raw::Millis(v) => check_timestamp(spec, v.saturating_mul(1000), ctx).map(FieldValue::Timestamp),
        Raw::Text(s) => string_value(spec, Cow::Borrowed(s), ctx),
        Raw::Enum(i) => Ok(FieldValue::Enum(i)),
        Raw::Unknown(symbol) => {
            let ours = match &spec.kind {
                Kind::Enum(symbols) => symbols.join(", "),
                _ => String::new(),
            };
            Err(Reject::field(
                RejectCode::InvalidEnum,
                name,
                format!("{name} {symbol:?} is not one of: {ours}"),
            ))
        }
        Raw::Decimal(bytes, writer_scale) => {
            let bad = |why: String| Reject::field(RejectCode::InvalidAmount, name, why);
            let exact = unscaled(bytes)
                .map(|v| Exact::from_unscaled(v, writer_scale))
                .ok_or_else(|| bad(format!("{name} is too large")))?;
            let Kind::Decimal { scale, .. } = spec.kind else {
                return Err(bad(format!("{name} is not a decimal")));
            };
            if exact.scale_needed() > scale {
                let needed = exact.scale_needed();
                return Err(bad(format!(
                    "{name} has {needed} decimal places, more than the {scale} it may have"
                )));
            }
            Ok(FieldValue::Amount(exact))
        }
    }
}

/// A big-endian two's-complement integer of at most 16 bytes.
pub(crate) fn unscaled(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return (bytes.is_empty()).then_some(0);
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xffu8; 16] } else { [0u8; 16] };
    buf.get_mut(16 - bytes.len()..)?.copy_from_slice(bytes);
    Some(i128::from_be_bytes(buf))
}

/// Follows a named reference to its definition.
fn deref<'s>(schema: &'s Schema, names: &'s NamesRef<'s>) -> Result<&'s Schema, String> {
    match schema {
        Schema::Ref { name } => {
            names.get(name).copied().ok_or_else(|| format!("unknown type {}", name.fullname(None)))
        }
        other => Ok(other),
    }
}

/// How to read a writer field of type `writer` into our field `spec` (Avro type `ours`).
fn read_for(writer: &Schema, spec: &FieldSpec, ours: &Schema, names: &NamesRef<'_>) -> Result<Read, String> {
    let ours = match ours {
        Schema::Union(u) => u.variants().iter().find(|b| !matches!(b, Schema::Null)).unwrap_or(ours),
        other => other,
    };
    match deref(writer, names)? {
        Schema::Union(u) => {
            let branches: Result<Vec<Option<Op>>, String> = u
                .variants()
                .iter()
                .map(|b| match deref(b, names)? {
                    Schema::Null => Ok(None),
                    b => op_for(b, spec, ours).map(Some),
                })
                .collect();
            Ok(Read::Union(branches?.into_boxed_slice()))
        }
        Schema::Null if spec.optional => Ok(Read::One(Op::Null)),
        w => op_for(w, spec, ours).map(Read::One),
    }
}

/// The one non-union writer type → reader kind resolution, with Avro's promotions.
fn op_for(writer: &Schema, spec: &FieldSpec, ours: &Schema) -> Result<Op, String> {
    let millis = matches!(ours, Schema::TimestampMillis);
    Ok(match (&spec.kind, writer) {
        (Kind::Bool, Schema::Boolean) => Op::Bool,
        (Kind::Int, Schema::Int) | (Kind::Long, Schema::Int) => Op::Int { millis: false },
        (Kind::Long, Schema::Long) => Op::Long { millis: false },
        (Kind::Timestamp, Schema::Int) => Op::Int { millis },
        (Kind::Timestamp, Schema::Long) => Op::Long { millis },
        (Kind::Timestamp, Schema::TimestampMicros) => Op::Long { millis: false },
        (Kind::Timestamp, Schema::TimestampMillis) => Op::Long { millis: true },
        (Kind::String | Kind::Uuid, Schema::String | Schema::Bytes | Schema::Uuid(UuidSchema::String)) => {
            Op::Text
        }
        (Kind::Enum(symbols), Schema::Enum(w)) => {
            let Schema::Enum(r) = ours else { return Err("our enum has no enum schema".into()) };
            let named = |n: &str| n == r.name.name() || r.aliases.iter().flatten().any(|a| a.name() == n);
            if !named(w.name.name()) {
                return Err(format!("the writer's enum {} is not our enum {}", w.name.name(), r.name.name()));
            }
            let default = r.default.as_ref().and_then(|d| symbols.iter().position(|s| s == d));
            let table = w.symbols.iter().map(|s| match symbols.iter().position(|o| o == s).or(default) {
                Some(i) => Symbol::Ours(i),
                None => Symbol::Unknown(s.as_str().into()),
            });
            Op::Enum(table.collect())
        }
        (Kind::Decimal { precision, scale }, Schema::Decimal(d)) => {
            let (wp, ws) =
                (u32::try_from(d.precision).unwrap_or(u32::MAX), u32::try_from(d.scale).unwrap_or(u32::MAX));
            // Fewer decimals are rescaled exactly, more are judged per value; but a writer
            // whose integer part can be longer than ours (or than 128 bits) cannot fit.
            if ws > wp || wp > 38 || wp - ws > precision - scale {
                return Err(format!(
                    "the writer's decimal({wp},{ws}) cannot fit our decimal({precision},{scale})"
                ));
            }
            let fixed = match &d.inner {
                InnerDecimalSchema::Bytes => None,
                InnerDecimalSchema::Fixed(f) => Some(f.size),
            };
            Op::Decimal { scale: ws, fixed }
        }
        (kind, w) => {
            return Err(format!("the writer's {} cannot be read as our {}", describe(w), kind_name(kind)));
        }
    })
}

fn describe(schema: &Schema) -> String {
    match schema {
        Schema::Decimal(d) => format!("decimal({},{})", d.precision, d.scale),
        Schema::Record(r) => format!("record {}", r.name.name()),
        Schema::Enum(e) => format!("enum {}", e.name.name()),
        Schema::Fixed(f) => format!("fixed({})", f.size),
        other => {
            let kind = format!("{:?}", apache_avro::schema::SchemaKind::from(other));
            kind.to_lowercase()
        }
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::String => "string".into(),
        Kind::Uuid => "uuid string".into(),
        Kind::Int => "int".into(),
        Kind::Long => "long".into(),
        Kind::Bool => "boolean".into(),
        Kind::Enum(_) => "enum".into(),
        Kind::Timestamp => "timestamp".into(),
        Kind::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
    }
}
