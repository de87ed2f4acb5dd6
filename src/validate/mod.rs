//! The validation core: one raw record value in, exactly one verdict out — an NDJSON line ready
//! for Firehose, or a [`Reject`] with a stable code, the field's JSON path and a sentence. It is
//! pure (the clock is an input, I/O happens only through a [`SchemaSource`] whose transient
//! failures are returned as retryable errors, never as rejects), total (no input panics) and
//! exact (money is never rounded).

mod avro_binary;
pub mod avro_out;
mod avro_resolve;
pub mod codes;
mod convert;
pub mod corpus;
mod decode;
mod encode;
pub(crate) mod json;
pub mod number;
pub mod registry;
pub mod reject;
mod rules;
pub mod schema;
pub mod source;
pub mod time;

use std::sync::Arc;

pub use convert::{Extra, FieldValue};
pub use encode::Provenance;
pub use registry::{BasicAuth, RegistryAccess, RegistryConfigError, RegistrySchemas};
pub use reject::{Reject, RejectCode};
pub use schema::{Catalog, EventSchema, SchemaError};
pub use source::{LocalSchemas, LookupError, Probe, SchemaSource};

use decode::Decoded;

/// The event types of the contract, one schema each: the client SDK's list, so the service and
/// the SDK cannot drift.
pub const EVENT_TYPES: [&str; 8] = playstream_sdk::event::EVENT_TYPES;

/// Firehose's per-record limit: 1,000 KiB.
pub const FIREHOSE_MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// Inputs every decision depends on besides the record itself.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// "Now", µs since the epoch: the future-skew reference and `_meta.validated_at`.
    now_micros: i64,
    /// `now_micros` as RFC 3339, formatted once per context rather than once per record.
    stamp: [u8; 32],
    stamp_len: usize,
    /// How far in the future a timestamp may be, in µs (default 24 h).
    pub max_future_micros: i64,
    /// Largest record (input value or output line) accepted, in bytes.
    pub max_record_bytes: usize,
}

impl Context {
    /// A context at `now_micros` with the default bounds.
    pub fn at(now_micros: i64) -> Context {
        let mut text = Vec::with_capacity(32);
        time::format_rfc3339(now_micros, &mut text);
        let mut stamp = [0u8; 32];
        let stamp_len = text.len().min(32);
        stamp.iter_mut().zip(&text).for_each(|(d, s)| *d = *s);
        Context {
            now_micros,
            stamp,
            stamp_len,
            max_future_micros: 24 * 3600 * 1_000_000,
            max_record_bytes: FIREHOSE_MAX_RECORD_BYTES,
        }
    }

    /// "Now", µs since the epoch.
    pub fn now_micros(&self) -> i64 {
        self.now_micros
    }

    /// "Now" as RFC 3339 UTC (the `_meta.validated_at` value).
    pub fn stamp(&self) -> &[u8] {
        self.stamp.get(..self.stamp_len).unwrap_or_default()
    }

    /// A context at the current wall-clock time with the default bounds.
    pub fn now() -> Context {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Context::at(now)
    }
}

/// A record that passed every check: one typed value per schema field.
#[derive(Debug, Clone)]
pub struct Validated<'a> {
    /// The schema it conforms to.
    pub schema: Arc<EventSchema>,
    /// One value per schema field, in schema order.
    pub values: Vec<FieldValue<'a>>,
    /// JSON members the schema does not name, kept verbatim (emitted under `_extra`).
    pub extra: Extra<'a>,
}

impl Validated<'_> {
    /// The value of a field by name.
    pub fn get(&self, name: &str) -> Option<&FieldValue<'_>> {
        self.schema.field_index(name).and_then(|i| self.values.get(i))
    }
}

/// The outcome for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Valid: the NDJSON line (with trailing newline) to deliver.
    Accepted(Vec<u8>),
    /// Invalid: why.
    Rejected(Reject),
}

/// Decodes and validates one record value. `Err` only when a schema source is unavailable
/// (retry later; the record must be neither delivered nor rejected yet).
pub fn check<'a>(
    value: &'a [u8],
    ctx: &Context,
    source: &dyn SchemaSource,
) -> Result<Result<Validated<'a>, Reject>, LookupError> {
    if value.len() > ctx.max_record_bytes {
        return Ok(Err(too_large(value.len(), ctx)));
    }
    Ok(match decode::decode(value, source)? {
        Err(reject) => Err(reject),
        Ok(Decoded::Json(members)) => check_json(&members, ctx, source.catalog()),
        Ok(Decoded::Avro(writer, body)) => writer
            .decode(body, ctx)
            .and_then(|values| finish(writer.reader.clone(), values, Vec::new()))
            .map_err(|r| r.with_schema(format!("{} (writer id {})", writer.reader.label, writer.id))),
    })
}

fn check_json<'a>(
    members: &decode::Members<'a>,
    ctx: &Context,
    catalog: &Catalog,
) -> Result<Validated<'a>, Reject> {
    let et = "event_type";
    let Some((_, raw)) = members.iter().find(|(k, _)| k == et) else {
        return Err(Reject::field(RejectCode::MissingField, et, "required field event_type is missing"));
    };
    if *raw == "null" {
        return Err(Reject::field(RejectCode::MissingField, et, "required field event_type is null"));
    }
    let name = decode::raw_string(raw)
        .ok_or_else(|| Reject::field(RejectCode::WrongType, et, "event_type must be a string"))?;
    let schema = catalog.latest(&name).ok_or_else(|| {
        Reject::field(
            RejectCode::UnknownEventType,
            et,
            format!("event_type {name:?} is not one of: {}", catalog.event_types().join(", ")),
        )
    })?;
    let (values, extra) =
        convert::from_json(schema, members, ctx).map_err(|r| r.with_schema(schema.label.clone()))?;
    finish(schema.clone(), values, extra).map_err(|r| r.with_schema(schema.label.clone()))
}

/// Cross-field rules: the event type matches the schema, and money is exact in its currency.
fn finish<'a>(
    schema: Arc<EventSchema>,
    mut values: Vec<FieldValue<'a>>,
    extra: Extra<'a>,
) -> Result<Validated<'a>, Reject> {
    if let Some(FieldValue::Str(et)) = schema.field_index("event_type").and_then(|i| values.get(i)) {
        if *et != schema.event_type {
            return Err(Reject::field(
                RejectCode::UnknownEventType,
                "event_type",
                format!("event_type {et:?} does not match schema {}", schema.name),
            ));
        }
    }
    for (i, spec) in schema.fields.iter().enumerate() {
        let (Some(cur_idx), Some(FieldValue::Amount(amount))) = (spec.currency_field, values.get(i)) else {
            continue;
        };
        let cur_name = schema.fields.get(cur_idx).map_or("currency", |f| f.name.as_str());
        let money = match values.get(cur_idx) {
            Some(FieldValue::Str(cur)) => rules::finish_money(spec, amount, cur)?,
            _ => {
                return Err(Reject::field(
                    RejectCode::MissingField,
                    cur_name,
                    format!("{cur_name} is required when {} is set", spec.name),
                ));
            }
        };
        if let Some(slot) = values.get_mut(i) {
            *slot = FieldValue::Money(money);
        }
    }
    Ok(Validated { schema, values, extra })
}

fn too_large(len: usize, ctx: &Context) -> Reject {
    Reject::record(
        RejectCode::TooLarge,
        format!(
            "the record is {len} bytes, more than the {} bytes a Firehose record may hold",
            ctx.max_record_bytes
        ),
    )
}

/// Validates one record value and, when valid, encodes its NDJSON line.
pub fn validate(
    value: &[u8],
    prov: &Provenance<'_>,
    ctx: &Context,
    source: &dyn SchemaSource,
) -> Result<Verdict, LookupError> {
    let mut line = Vec::with_capacity(value.len() + 256);
    validate_into(value, prov, ctx, source, &mut line).map(|r| match r {
        Ok(()) => Verdict::Accepted(line),
        Err(reject) => Verdict::Rejected(reject),
    })
}

/// Like [`validate`] but appends the line to `out` (which is left unchanged on a reject).
pub fn validate_into(
    value: &[u8],
    prov: &Provenance<'_>,
    ctx: &Context,
    source: &dyn SchemaSource,
    out: &mut Vec<u8>,
) -> Result<Result<(), Reject>, LookupError> {
    let event = match check(value, ctx, source)? {
        Ok(event) => event,
        Err(reject) => return Ok(Err(reject)),
    };
    let start = out.len();
    encode::encode_line(&event, prov, ctx.stamp(), out);
    let len = out.len() - start;
    if len > ctx.max_record_bytes {
        out.truncate(start);
        return Ok(Err(too_large(len, ctx).with_schema(event.schema.label.clone())));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod resolution_tests;
#[cfg(test)]
#[allow(deprecated)] // to_avro_datum is the simplest way to write test frames
mod tests;
