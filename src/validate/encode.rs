//! Encoding: a validated event becomes exactly one NDJSON line in the Firehose record format of
//! design.md — schema fields in schema order under their canonical names (absent optionals
//! omitted), money as a decimal string at its currency's scale, timestamps as RFC 3339 UTC with
//! `Z`, unknown client fields under `_extra` verbatim, then `_meta`. The output is always valid
//! JSON and always ends in a single `\n`.

use std::io::Write;

use super::Validated;
use super::convert::FieldValue;
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
    validated_at: &[u8],
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
        out.extend_from_slice(&spec.json_key);
        match value {
            FieldValue::Absent => {}
            FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            FieldValue::Long(v) => push_int(out, *v),
            FieldValue::Str(s) => push_str(out, s),
            FieldValue::Enum(i) => out.extend_from_slice(spec.json_symbols.get(*i).map_or(b"\"\"", |s| s)),
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
            out.extend_from_slice(raw.as_bytes());
        }
        out.push(b'}');
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"_meta\":{\"validated_at\":\"");
    out.extend_from_slice(validated_at);
    out.push(b'"');
    if let Some(received) = prov.received_at {
        out.extend_from_slice(b",\"received_at\":\"");
        format_rfc3339(received, out);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"source\":{\"topic\":");
    push_str(out, prov.topic);
    // push_int, not write!: the formatting machinery costs more than the rest of this tail.
    out.extend_from_slice(b",\"partition\":");
    push_int(out, i64::from(prov.partition));
    out.extend_from_slice(b",\"offset\":");
    push_int(out, prov.offset);
    out.extend_from_slice(b"},\"schema\":{\"name\":");
    push_str(out, &event.schema.name);
    out.extend_from_slice(b",\"version\":");
    push_int(out, i64::from(event.schema.version));
    out.extend_from_slice(b"}}}\n");
}

/// Appends `s` as a JSON string literal.
#[allow(clippy::indexing_slicing)] // nibble indices into a 16-entry table
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut rest = s.as_bytes();
    loop {
        let i = super::json::first_special(rest);
        if i == rest.len() {
            break;
        }
        let (clean, tail) = rest.split_at(i);
        out.extend_from_slice(clean);
        let Some((&b, after)) = tail.split_first() else { break };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = after;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Appends an integer in decimal.
#[allow(clippy::indexing_slicing)] // i stays within the 20 bytes an i64 needs
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        for v in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

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
