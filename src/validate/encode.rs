//! Encoding: a validated event becomes exactly one NDJSON line in the Firehose record format of
//! design.md — schema fields in schema order under their canonical names (absent optionals
//! omitted), money as a decimal string at its currency's scale, timestamps as RFC 3339 UTC with
//! `Z`, unknown client fields under `_extra` verbatim, then `_meta`. The output is always valid
//! JSON and always ends in a single `\n`.

use std::io::Write;

use super::Validated;
use super::convert::FieldValue;
use super::schema::Kind;
use super::time::format_rfc3339;

/// Where a record came from, for `_meta`.
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// When ingest received it (µs since the epoch), if known.
    pub received_at: Option<i64>,
}

/// Appends the NDJSON line for `event` to `out`.
pub(crate) fn encode_line(
    event: &Validated<'_>,
    prov: &Provenance<'_>,
    validated_at: i64,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    let mut first = true;
    for (spec, value) in event.schema.fields.iter().zip(&event.values) {
        if matches!(value, FieldValue::Absent) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_str(out, &spec.name);
        out.push(b':');
        match value {
            FieldValue::Absent => {}
            FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            FieldValue::Long(v) => {
                let _ = write!(out, "{v}");
            }
            FieldValue::Str(s) => push_str(out, s),
            FieldValue::Enum(i) => match &spec.kind {
                Kind::Enum(symbols) => push_str(out, symbols.get(*i).map_or("", String::as_str)),
                _ => push_str(out, ""),
            },
            FieldValue::Amount(_) => out.extend_from_slice(b"null"),
            FieldValue::Money(d) => {
                out.push(b'"');
                let _ = write!(out, "{d}");
                out.push(b'"');
            }
            FieldValue::Timestamp(t) => {
                out.push(b'"');
                format_rfc3339(*t, out);
                out.push(b'"');
            }
        }
    }
    if !event.extra.is_empty() {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"\"_extra\":{");
        for (i, (key, raw)) in event.extra.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, key);
            out.push(b':');
            out.extend_from_slice(raw.get().as_bytes());
        }
        out.push(b'}');
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"_meta\":{\"validated_at\":\"");
    format_rfc3339(validated_at, out);
    out.push(b'"');
    if let Some(received) = prov.received_at {
        out.extend_from_slice(b",\"received_at\":\"");
        format_rfc3339(received, out);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"source\":{\"topic\":");
    push_str(out, prov.topic);
    let _ =
        write!(out, ",\"partition\":{},\"offset\":{}}},\"schema\":{{\"name\":", prov.partition, prov.offset);
    push_str(out, &event.schema.name);
    let _ = writeln!(out, ",\"version\":{}}}}}}}", event.schema.version);
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_to_valid_json() {
        for s in ["plain", "quote\"back\\slash", "ctl\u{1}\u{1f}\n\t\r", "ünï©ødé 🎮", ""] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }
}
