//! Validated events as Avro: the inverse of conversion, used to produce Confluent-framed Avro
//! (load generator, demo, tests). A validated event always encodes against its own schema, and
//! decoding that frame validates back to the same values.

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;

use super::Validated;
use super::convert::FieldValue;
use super::schema::Kind;

/// Why an event could not be written as Avro (a defect: validated events always fit).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode as Avro: {0}")]
pub struct AvroEncodeError(String);

/// The Avro value of a validated event, shaped by its schema.
pub fn to_avro(event: &Validated<'_>) -> Result<Avro, AvroEncodeError> {
    let mut fields = Vec::with_capacity(event.values.len());
    for (spec, value) in event.schema.fields.iter().zip(&event.values) {
        let inner = match (value, &spec.kind) {
            (FieldValue::Absent, _) => None,
            (FieldValue::Bool(b), _) => Some(Avro::Boolean(*b)),
            (FieldValue::Long(v), Kind::Int) => {
                Some(Avro::Int(i32::try_from(*v).map_err(|e| AvroEncodeError(e.to_string()))?))
            }
            (FieldValue::Long(v), _) => Some(Avro::Long(*v)),
            (FieldValue::Str(s), Kind::Uuid) => {
                Some(Avro::Uuid(s.parse().map_err(|e: uuid::Error| AvroEncodeError(e.to_string()))?))
            }
            (FieldValue::Str(s), _) => Some(Avro::String(s.to_string())),
            (FieldValue::Enum(i), Kind::Enum(symbols)) => {
                let symbol = symbols.get(*i).ok_or_else(|| AvroEncodeError(format!("no symbol {i}")))?;
                Some(Avro::Enum(u32::try_from(*i).unwrap_or(u32::MAX), symbol.clone()))
            }
            (FieldValue::Money(d), Kind::Decimal { scale, .. }) => {
                let mut d = *d;
                d.rescale(*scale);
                Some(Avro::Decimal(apache_avro::Decimal::from(minimal_be_bytes(d.mantissa()))))
            }
            (FieldValue::Timestamp(t), _) => Some(Avro::TimestampMicros(*t)),
            (other, kind) => return Err(AvroEncodeError(format!("{other:?} does not fit {kind:?}"))),
        };
        let value = match (spec.optional, inner) {
            (true, None) => Avro::Union(0, Box::new(Avro::Null)),
            (true, Some(v)) => Avro::Union(1, Box::new(v)),
            (false, Some(v)) => v,
            (false, None) => return Err(AvroEncodeError(format!("{} is required", spec.name))),
        };
        fields.push((spec.name.clone(), value));
    }
    Ok(Avro::Record(fields))
}

/// The event as a Confluent frame: magic 0, the 4-byte big-endian schema id, Avro binary.
pub fn to_confluent_frame(event: &Validated<'_>, schema_id: u32) -> Result<Vec<u8>, AvroEncodeError> {
    let writer = GenericDatumWriter::builder(&event.schema.avro)
        .build()
        .map_err(|e| AvroEncodeError(e.to_string()))?;
    let body = writer.write_value_to_vec(to_avro(event)?).map_err(|e| AvroEncodeError(e.to_string()))?;
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&schema_id.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Shortest big-endian two's-complement bytes of `v`.
fn minimal_be_bytes(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (Some(&b), Some(&next)) = (bytes.get(start), bytes.get(start + 1)) else { break };
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes.get(start..).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::validate::{Catalog, Context, LocalSchemas, check, time};

    #[test]
    fn minimal_bytes() {
        assert_eq!(minimal_be_bytes(0), vec![0]);
        assert_eq!(minimal_be_bytes(127), vec![0x7f]);
        assert_eq!(minimal_be_bytes(128), vec![0x00, 0x80]);
        assert_eq!(minimal_be_bytes(-1), vec![0xff]);
        assert_eq!(minimal_be_bytes(-129), vec![0xff, 0x7f]);
    }

    #[test]
    fn json_to_avro_frame_validates_back_to_the_same_values() {
        let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
        let ctx = Context::at(time::parse_rfc3339("2026-11-22T12:00:00Z").unwrap());
        let json = br#"{"event_id":"0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10","event_type":"purchase",
            "timestamp":"2026-11-22T10:00:00.5+02:00","user_id":"u","game_id":"g","platform":"steam",
            "app_version":"3","session_id":"s","product_id":"p","price":"1.250","currency":"KWD",
            "store":"steam","quantity":3}"#;
        let json =
            String::from_utf8_lossy(json).replace("\"platform\":\"steam\"", "\"platform\":\"windows\"");
        let event = check(json.as_bytes(), &ctx, &source).unwrap().unwrap();
        let frame = to_confluent_frame(&event, 1002).unwrap();
        let back = check(&frame, &ctx, &source).unwrap().unwrap();
        assert_eq!(event.values, back.values);
    }
}
