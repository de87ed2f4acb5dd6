//! Decoding: raw record bytes to either a JSON object (its members borrowed from the input, each
//! value kept as its exact raw JSON text, so no number is ever rounded) or a Confluent-framed
//! Avro body with its writer schema. Decoding never panics and never allocates in proportion to
//! anything but the input: malformed, truncated, deeply nested or non-UTF-8 input yields a
//! reject, and only a registry that cannot be reached yields a (retryable) error.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::reject::{Reject, RejectCode};
use super::source::{LookupError, SchemaSource, WriterSchema};

/// The members of a JSON object in input order, values as raw JSON text.
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

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
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de.deserialize_any(TopVisitor).and_then(|top| de.end().map(|()| top));
    match top {
        Ok(Top::Object(members)) => {
            if let Some((key, _)) = members.iter().find(|(_, raw)| nesting_depth(raw.get()) > MAX_DEPTH) {
                return Err(Reject::field(
                    RejectCode::InvalidJson,
                    key,
                    format!("{key} is nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            Ok(members)
        }
        Ok(Top::Other(kind)) => {
            Err(Reject::record(RejectCode::NotAnObject, format!("the value is JSON {kind}, not an object")))
        }
        Err(e) => Err(Reject::record(RejectCode::InvalidJson, format!("the value is not valid JSON: {e}"))),
    }
}

/// Deepest nesting accepted inside a member value (kept verbatim under `_extra`).
pub(crate) const MAX_DEPTH: usize = 32;

/// Maximum nesting of arrays/objects in valid JSON text (brackets inside strings ignored).
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

enum Top<'a> {
    Object(Members<'a>),
    Other(&'static str),
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut members: Members<'de> = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        Ok(Top::Object(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other("array"))
    }

    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(Top::Other("null"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(Top::Other("boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top::Other("string"))
    }
}

struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// The string inside a raw JSON string value, borrowed when it has no escapes.
pub(crate) fn raw_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
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
        assert_eq!(m[0].1.get(), "4.990");
        assert_eq!(raw_string(m[1].1).unwrap(), "x\"y");
        assert_eq!(m[2].1.get(), r#"[1, {"d": null}]"#);
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
        assert_eq!(code(b"{\"a\":1,\"a\":2}"), RejectCode::InvalidJson);
        assert_eq!(code(b"\xff\xfe{}"), RejectCode::InvalidJson);
        assert_eq!(code(b"{\"a\":\"\xc3\x28\"}"), RejectCode::InvalidJson);
        assert_eq!(code(b"   "), RejectCode::InvalidJson);
    }

    #[test]
    fn deep_nesting_is_a_reject_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let r = decode_json(deep.as_bytes()).unwrap_err();
        assert_eq!((r.code, r.field.as_str()), (RejectCode::InvalidJson, "$.a"));
        let ok = format!("{{\"a\":{}\"[[[\\\"\"{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(decode_json(ok.as_bytes()).is_ok(), "{ok}");
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
