//! Schema-directed conversion: the members of a JSON object become one typed [`FieldValue`] per
//! schema field, in schema order (Avro bodies get the same values and the same rules through
//! [`avro_resolve`](super::avro_resolve)). The schema decides
//! every type: money becomes an exact decimal parsed from its text (never through `f64`),
//! timestamps become microseconds, enums their symbol index, and each value is checked by
//! [`rules`](super::rules) on the way. The first failing field (in schema order) decides the
//! reject; a success always holds exactly one value per schema field.

use std::borrow::Cow;
use std::collections::HashSet;

use super::Context;
use super::decode::{Members, raw_string};
use super::number::{Exact, NumberError};
use super::reject::{Reject, RejectCode};
use super::rules::{check_integer, check_string, check_timestamp};
use super::schema::{Default, EventSchema, FieldSpec, Kind};
use super::time::parse_rfc3339;

/// JSON members a schema does not name, verbatim.
pub type Extra<'a> = Vec<(Cow<'a, str>, &'a str)>;

/// One converted field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// An optional field that is absent or null.
    Absent,
    /// A boolean.
    Bool(bool),
    /// An int or long.
    Long(i64),
    /// A string (UUIDs lower-cased).
    Str(Cow<'a, str>),
    /// An enum symbol, as its index in the schema's symbol list.
    Enum(usize),
    /// A decimal not yet checked against its currency (only between conversion and rules).
    Amount(Exact),
    /// Money at its currency's scale.
    Money(rust_decimal::Decimal),
    /// Microseconds since the epoch.
    Timestamp(i64),
}

fn short(text: &str) -> String {
    let mut end = text.len().min(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text.get(..end).unwrap_or_default();
    if end < text.len() { format!("{head}…") } else { head.to_string() }
}

/// The value of a field that is absent (`null`: given as null): its default, `Absent` when
/// optional, else `missing_field`.
pub(crate) fn absent<'a>(spec: &FieldSpec, null: bool) -> Result<FieldValue<'a>, Reject> {
    match &spec.default {
        Some(Default::Long(v)) => return Ok(FieldValue::Long(*v)),
        Some(Default::Bool(b)) => return Ok(FieldValue::Bool(*b)),
        Some(Default::Str(s)) => return Ok(FieldValue::Str(Cow::Owned(s.clone()))),
        None => {}
    }
    if spec.optional {
        return Ok(FieldValue::Absent);
    }
    let why = if null { "is null" } else { "is missing" };
    Err(Reject::field(RejectCode::MissingField, &spec.name, format!("required field {} {why}", spec.name)))
}

fn wrong_type(spec: &FieldSpec, want: &str) -> Reject {
    Reject::field(RejectCode::WrongType, &spec.name, format!("{} must be {want}", spec.name))
}

fn want(kind: &Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Uuid | Kind::Enum(_) => "a string",
        Kind::Timestamp => "an RFC 3339 timestamp string",
        Kind::Int | Kind::Long => "an integer",
        Kind::Bool => "a boolean",
        Kind::Decimal { .. } => "a decimal number or a numeric string",
    }
}

/// Most fields a schema may have (keeps per-record bookkeeping on the stack).
pub(crate) const MAX_FIELDS: usize = 64;

/// Converts the JSON members for `schema`; also returns the members the schema does not name.
/// A key given twice is `invalid_json` (its meaning would be ambiguous).
pub(crate) fn from_json<'a>(
    schema: &EventSchema,
    members: &Members<'a>,
    ctx: &Context,
) -> Result<(Vec<FieldValue<'a>>, Extra<'a>), Reject> {
    // Index into `members` per schema field (u32::MAX: absent); small to keep setup cheap.
    let mut slots = [u32::MAX; MAX_FIELDS];
    let mut extra: Extra<'a> = Vec::new();
    let mut cursor = 0;
    let mut seen_extras = SeenKeys::default();
    for (m, (key, raw)) in members.iter().enumerate() {
        // Clients usually send fields in schema order: search from the next field on.
        let index = schema.field_index_from(key, cursor);
        let duplicate = match index.and_then(|i| slots.get_mut(i)) {
            Some(slot) => std::mem::replace(slot, u32::try_from(m).unwrap_or(u32::MAX - 1)) != u32::MAX,
            None => {
                check_extra(key, raw)?;
                let seen = !seen_extras.insert(key);
                extra.push((key.clone(), *raw));
                seen
            }
        };
        if duplicate {
            return Err(Reject::field(
                RejectCode::InvalidJson,
                key,
                format!("key {key:?} appears more than once"),
            ));
        }
        cursor = index.map_or(cursor, |i| i + 1);
    }
    let mut values = Vec::with_capacity(schema.fields.len());
    for (spec, slot) in schema.fields.iter().zip(slots) {
        let member = usize::try_from(slot).ok().and_then(|m| members.get(m));
        values.push(match member {
            None => absent(spec, false)?,
            Some((_, raw)) => json_value(spec, raw, ctx)?,
        });
    }
    Ok((values, extra))
}

#[cfg(test)]
thread_local! {
    /// Key probes made by the duplicate check on this thread (tests bound its growth).
    static KEY_PROBES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one probe of the duplicate check (a key comparison or a hash-set insert).
fn probe() {
    #[cfg(test)]
    KEY_PROBES.with(|c| c.set(c.get() + 1));
}

/// Unknown members scanned linearly up to this many, through a hash set beyond.
const SMALL_OBJECT: usize = 16;

/// The keys of the unknown members seen so far, so that a repeated one is found in O(1) per
/// member: the first few are compared one by one (cheaper than hashing), the rest go through a
/// hash set.
#[derive(Default)]
struct SeenKeys<'m> {
    few: [&'m str; SMALL_OBJECT],
    len: usize,
    many: HashSet<&'m str>,
}

impl<'m> SeenKeys<'m> {
    /// Records `key`; false when it was seen before.
    fn insert(&mut self, key: &'m str) -> bool {
        let few = self.few.get(..self.len).unwrap_or_default();
        if self.many.is_empty() {
            if few.iter().any(|k| {
                probe();
                *k == key
            }) {
                return false;
            }
            if let Some(slot) = self.few.get_mut(self.len) {
                *slot = key;
                self.len += 1;
                return true;
            }
            self.many.reserve(4 * SMALL_OBJECT);
            self.many.extend(self.few);
        }
        probe();
        self.many.insert(key)
    }
}

/// An unknown member travels verbatim, so it must be JSON every consumer can read: numbers in
/// it must fit a 64-bit float (`1e400` is valid JSON that most parsers refuse).
fn check_extra(key: &str, raw: &str) -> Result<(), Reject> {
    let first = raw.as_bytes().first().copied().unwrap_or(b'n');
    if matches!(first, b'"' | b't' | b'f' | b'n') {
        return Ok(());
    }
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(_) => Ok(()),
        Err(_) => Err(Reject::field(
            RejectCode::InvalidJson,
            key,
            format!("{key} holds a number outside the range JSON consumers accept"),
        )),
    }
}

fn json_value<'a>(spec: &FieldSpec, text: &'a str, ctx: &Context) -> Result<FieldValue<'a>, Reject> {
    let first = text.as_bytes().first().copied().unwrap_or(b'n');
    if first == b'n' {
        return absent(spec, true);
    }
    let name = spec.name.as_str();
    match &spec.kind {
        Kind::String | Kind::Uuid | Kind::Enum(_) | Kind::Timestamp => {
            let s = (first == b'"')
                .then(|| raw_string(text))
                .flatten()
                .ok_or_else(|| wrong_type(spec, want(&spec.kind)))?;
            string_value(spec, s, ctx)
        }
        Kind::Int | Kind::Long => {
            if first != b'-' && !first.is_ascii_digit() {
                return Err(wrong_type(spec, "an integer"));
            }
            let exact = Exact::parse(text).map_err(|_| {
                Reject::field(RejectCode::OutOfRange, name, format!("{name} has too many digits"))
            })?;
            integer_value(spec, exact)
        }
        Kind::Bool => match text {
            "true" => Ok(FieldValue::Bool(true)),
            "false" => Ok(FieldValue::Bool(false)),
            _ => Err(wrong_type(spec, "a boolean")),
        },
        Kind::Decimal { .. } => {
            let number: Cow<'a, str> = match first {
                b'"' => raw_string(text).ok_or_else(|| wrong_type(spec, want(&spec.kind)))?,
                b'-' | b'0'..=b'9' => Cow::Borrowed(text),
                _ => return Err(wrong_type(spec, want(&spec.kind))),
            };
            let exact = Exact::parse(&number).map_err(|e| {
                let why = match e {
                    NumberError::Syntax => format!("{name} {:?} is not a decimal number", short(&number)),
                    NumberError::TooManyDigits => format!("{name} has more digits than any amount allows"),
                };
                Reject::field(RejectCode::InvalidAmount, name, why)
            })?;
            Ok(FieldValue::Amount(exact))
        }
    }
}

fn integer_value<'a>(spec: &FieldSpec, exact: Exact) -> Result<FieldValue<'a>, Reject> {
    let name = spec.name.as_str();
    match exact.to_i64() {
        Ok(v) => check_integer(spec, v).map(FieldValue::Long),
        Err(super::number::FitError::Scale) => Err(wrong_type(spec, "an integer")),
        Err(super::number::FitError::Range) => {
            Err(Reject::field(RejectCode::OutOfRange, name, format!("{name} does not fit a 64-bit integer")))
        }
    }
}

/// A string for `spec`: an enum symbol, an RFC 3339 timestamp, or a checked string.
pub(crate) fn string_value<'a>(
    spec: &FieldSpec,
    s: Cow<'a, str>,
    ctx: &Context,
) -> Result<FieldValue<'a>, Reject> {
    let name = spec.name.as_str();
    match &spec.kind {
        Kind::Enum(symbols) => {
            symbols.iter().position(|sym| *sym == *s).map(FieldValue::Enum).ok_or_else(|| {
                Reject::field(
                    RejectCode::InvalidEnum,
                    name,
                    format!("{name} {:?} is not one of: {}", short(&s), symbols.join(", ")),
                )
            })
        }
        Kind::Timestamp => {
            let micros = parse_rfc3339(&s).ok_or_else(|| {
                Reject::field(
                    RejectCode::InvalidTimestamp,
                    name,
                    format!("{name} {:?} is not an RFC 3339 date-time with offset", short(&s)),
                )
            })?;
            check_timestamp(spec, micros, ctx).map(FieldValue::Timestamp)
        }
        _ => check_string(spec, s).map(FieldValue::Str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` distinct unknown members, then `tail` (raw JSON text after them, may be empty).
    fn many_extras(n: usize, tail: &str) -> String {
        let mut text = String::from(r#"{"event_type":"session_start""#);
        for i in 0..n {
            text.push_str(&format!(r#","k{i}":1"#));
        }
        text.push_str(tail);
        text.push('}');
        text
    }

    fn convert(text: &str) -> Result<usize, Reject> {
        let catalog = super::super::Catalog::embedded();
        let schema = catalog.latest("session_start").unwrap_or_else(|| panic!("schema"));
        let members = super::super::decode::decode_json(text.as_bytes())?;
        let ctx = Context::at(0);
        from_json(schema, &members, &ctx).map(|(_, extra)| extra.len())
    }

    #[test]
    fn duplicate_check_is_not_quadratic() {
        let n = 20_000;
        let text = many_extras(n, "");
        KEY_PROBES.with(|c| c.set(0));
        // The event misses required fields: the duplicate check runs over every member first.
        let _ = convert(&text);
        let probes = KEY_PROBES.with(std::cell::Cell::get);
        assert!(probes <= 2 * n, "{probes} key probes for {n} unknown members");
    }

    #[test]
    fn duplicates_are_found_among_many_keys_at_either_end() {
        let dup_at = |text: &str| convert(text).err().map(|r| (r.code, r.field));
        let want = |k: &str| Some((RejectCode::InvalidJson, format!("$.{k}")));
        for n in [0, 3, 15, 16, 17, 40, 90_000] {
            let first_twice = many_extras(n, "").replacen(
                r#""event_type":"session_start""#,
                r#""event_type":"session_start","k0":0"#,
                1,
            );
            if n > 0 {
                assert_eq!(dup_at(&first_twice), want("k0"), "{n}: first key repeated at once");
                let last = format!("k{}", n - 1);
                assert_eq!(dup_at(&many_extras(n, r#","k0":2"#)), want("k0"), "{n}: first key repeated last");
                assert_eq!(
                    dup_at(&many_extras(n, &format!(r#","{last}":2"#))),
                    want(&last),
                    "{n}: last key twice"
                );
            }
            assert_eq!(dup_at(&many_extras(n, r#","x\u0079":1,"xy":2"#)), want("xy"), "{n}: escaped key");
        }
    }

    #[test]
    fn short_truncates_on_char_boundaries() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(&"é".repeat(30)), format!("{}…", "é".repeat(20)));
    }
}
