//! An event as one typed list of `(field name, value)` pairs, in the schema's field order, with
//! unset optional fields left out. Every encoding of an event (the JSON of the HTTP path, the
//! Avro of the `kafka` feature) is written from this one list, so the encodings cannot disagree
//! on which fields an event has or what they hold.

use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::values::Timestamp;

/// One field's value, typed as the contract types it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Datum<'a> {
    /// A free-form string (ids, names, versions) or a code (`USD`, `DE`).
    Text(&'a str),
    /// A symbol of a closed set (`platform`, `store`, `ad_type`).
    Symbol(&'static str),
    /// The event id.
    Uuid(Uuid),
    /// An integer (every integer field fits `i64`; the builder checks the bounds).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An exact amount of money.
    Money(Decimal),
    /// An instant.
    Time(Timestamp),
}

impl Datum<'_> {
    /// The value as the JSON contract spells it: money as a decimal string (`"4.99"`),
    /// instants as RFC 3339 UTC with `Z`, the id hyphenated.
    pub(crate) fn to_json(self) -> Value {
        match self {
            Datum::Text(s) => s.into(),
            Datum::Symbol(s) => s.into(),
            Datum::Uuid(u) => u.hyphenated().to_string().into(),
            Datum::Int(i) => i.into(),
            Datum::Bool(b) => b.into(),
            Datum::Money(d) => d.to_string().into(),
            Datum::Time(t) => t.to_string().into(),
        }
    }
}

/// A field list under construction.
pub(crate) type Fields<'a> = Vec<(&'static str, Datum<'a>)>;

/// Adds `name` when the optional text `v` is set.
pub(crate) fn opt_text<'a>(out: &mut Fields<'a>, name: &'static str, v: Option<&'a String>) {
    if let Some(v) = v {
        out.push((name, Datum::Text(v)));
    }
}

/// An unsigned count as an [`Datum::Int`]; the builder bounds every count to `i64`, so the
/// saturation never happens.
pub(crate) fn count(v: u64) -> Datum<'static> {
    Datum::Int(i64::try_from(v).unwrap_or(i64::MAX))
}
