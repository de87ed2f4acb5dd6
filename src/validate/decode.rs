//! Decoding: raw record bytes to either a JSON object (its members borrowed from the input, each
//! value kept as its exact raw JSON text, so no number is ever rounded) or a Confluent-framed
//! Avro body with its writer schema. Decoding never panics and never allocates in proportion to
//! anything but the input: malformed, truncated, deeply nested or non-UTF-8 input yields a
//! reject, and only a registry that cannot be reached yields a (retryable) error.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

pub(crate) use super::json::{MAX_DEPTH, Members, raw_string};
use super::json::{ScanError, scan_object};
use super::reject::{Reject, RejectCode};
use super::source::{LookupError, SchemaSource, WriterSchema};

/// A decoded record.
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    /// A JSON object.
    Json(Members<'a>),
    /// A Confluent frame: writer schema and the Avro body after the 5-byte header.
    Avro(Arc<WriterSchema>, &'a [u8]),
}

/// Decodes one record value. `Err` only when the schema source is unavailable.
pub(crate) fn decode<'a>(
    value: &'a [u8],
    source: &dyn SchemaSource,
) -> Result<Result<Decoded<'a>, Reject>, LookupError> {
    match value.first() {
        None => Ok(Err(Reject::record(RejectCode::InvalidJson, "the record value is empty"))),
        Some(0) => decode_frame(value, source),
        Some(_) => Ok(decode_json(value).map(Decoded::Json)),
    }
}

fn decode_frame<'a>(
    value: &'a [u8],
    source: &dyn SchemaSource,
) -> Result<Result<Decoded<'a>, Reject>, LookupError> {
    let (Some(id_bytes), Some(body)) = (value.get(1..5), value.get(5..)) else {
        return Ok(Err(Reject::record(
            RejectCode::InvalidAvro,
            format!("a Confluent frame needs at least 5 bytes, this value has {}", value.len()),
        )));
    };
    let mut id = [0u8; 4];
    id.copy_from_slice(id_bytes);
    let id = u32::from_be_bytes(id);
    match source.writer(id) {
        Ok(writer) => Ok(Ok(Decoded::Avro(writer, body))),
        Err(LookupError::NotFound(_)) => {
            Ok(Err(Reject::record(RejectCode::UnknownSchemaId, format!("schema id {id} is not registered"))))
        }
        Err(LookupError::Unusable { code, reason, .. }) => {
            Ok(Err(Reject::record(code, format!("schema id {id} cannot be used: {reason}"))))
        }
        Err(e @ LookupError::Unavailable(_)) => Err(e),
    }
}

/// Parses a JSON object; anything else is `invalid_json` or `not_an_object`.
pub(crate) fn decode_json(value: &[u8]) -> Result<Members<'_>, Reject> {
    let text = std::str::from_utf8(value)
        .map_err(|e| Reject::record(RejectCode::InvalidJson, format!("the value is not UTF-8 ({e})")))?;
    if text.trim_start().starts_with('{') {
        return scan_object(text).map_err(|e| match e {
            ScanError::Syntax { at, what } => Reject::record(
                RejectCode::InvalidJson,
                format!("the value is not valid JSON: {what} at byte {at}"),
            ),
            ScanError::TooDeep { key } => Reject::field(
                RejectCode::InvalidJson,
                &key,
                format!("{key} is nested deeper than {MAX_DEPTH} levels"),
            ),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_any(TopVisitor).and_then(|kind| de.end().map(|()| kind)) {
        Ok(kind) => {
            Err(Reject::record(RejectCode::NotAnObject, format!("the value is JSON {kind}, not an object")))
        }
        Err(e) => Err(Reject::record(RejectCode::InvalidJson, format!("the value is not valid JSON: {e}"))),
    }
}

/// Classifies a JSON value that is not an object (arrays are skipped, never materialized).
struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<&'static str, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok("object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<&'static str, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok("array")
    }

    fn visit_unit<E>(self) -> Result<&'static str, E> {
        Ok("null")
    }

    fn visit_bool<E>(self, _: bool) -> Result<&'static str, E> {
        Ok("boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<&'static str, E> {
        Ok("number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<&'static str, E> {
        Ok("number")
    }

    fn visit_f64<E>(self, _: f64) -> Result<&'static str, E> {
        Ok("number")
    }

    fn visit_str<E>(self, _: &str) -> Result<&'static str, E> {
        Ok("string")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::schema::Catalog;
    use crate::validate::source::LocalSchemas;

    fn code(value: &[u8]) -> RejectCode {
        decode_json(value).unwrap_err().code
    }

    #[test]
    fn objects_keep_raw_member_text() {
        let m = decode_json(br#" {"a": 4.990, "b": "x\"y", "c": [1, {"d": null}]} "#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, "a");
        assert_eq!(m[0].1, "4.990");
        assert_eq!(raw_string(m[1].1).unwrap(), "x\"y");
        assert_eq!(m[2].1, r#"[1, {"d": null}]"#);
    }

    #[test]
    fn non_objects_and_garbage() {
        assert_eq!(code(b"null"), RejectCode::NotAnObject);
        assert_eq!(code(b"[1,2]"), RejectCode::NotAnObject);
        assert_eq!(code(b"\"s\""), RejectCode::NotAnObject);
        assert_eq!(code(b"12"), RejectCode::NotAnObject);
        assert_eq!(code(b"true"), RejectCode::NotAnObject);
        assert_eq!(code(b"{"), RejectCode::InvalidJson);
        assert_eq!(code(b"[1,"), RejectCode::InvalidJson);
        assert_eq!(code(b"{} {}"), RejectCode::InvalidJson);
        assert_eq!(code(b"\xff\xfe{}"), RejectCode::InvalidJson);
        assert_eq!(code(b"{\"a\":\"\xc3\x28\"}"), RejectCode::InvalidJson);
        assert_eq!(code(b"   "), RejectCode::InvalidJson);
        assert_eq!(code(b"1e400"), RejectCode::InvalidJson, "serde_json refuses out-of-range numbers");
    }

    #[test]
    fn deep_nesting_is_a_reject_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let r = decode_json(deep.as_bytes()).unwrap_err();
        assert_eq!((r.code, r.field.as_str()), (RejectCode::InvalidJson, "$.a"));
        let deep_top = "[".repeat(100_000);
        assert_eq!(code(deep_top.as_bytes()), RejectCode::InvalidJson);
    }

    #[test]
    fn frames() {
        let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
        let reject = |v: &[u8]| decode(v, &source).unwrap().unwrap_err().code;
        assert_eq!(reject(b""), RejectCode::InvalidJson);
        assert_eq!(reject(&[0, 0, 1]), RejectCode::InvalidAvro);
        assert_eq!(reject(&[0, 0, 0, 0, 9, 1]), RejectCode::UnknownSchemaId);
        let id = 1002u32.to_be_bytes();
        assert!(matches!(decode(&[0, id[0], id[1], id[2], id[3]], &source), Ok(Ok(Decoded::Avro(..)))));
    }
}
