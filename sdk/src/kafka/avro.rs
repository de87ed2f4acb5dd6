//! A schema-directed Avro binary writer for the event schemas: a schema is compiled once into
//! a field plan, then each event's typed fields ([`Fields`]) are written in the schema's field
//! order — strings, zig-zag longs and ints, booleans, enums by the schema's symbol index,
//! `["null", T]` unions by branch, `timestamp-micros` longs, and decimals as big-endian two's
//! complement bytes at the schema's scale. Invariant: a body is written only when every value
//! fits its schema exactly — a field the schema lacks, a symbol it does not list, an integer
//! outside `int`, or money that needs more decimals or digits than the decimal holds is an
//! error, never rounded, truncated or dropped; a schema using a construct this writer does not
//! support fails to compile instead of being written wrongly.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::event::{Datum, Fields};

/// What a field holds on the wire.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Str,
    Long,
    Int,
    Bool,
    TimestampMicros,
    Enum(Vec<String>),
    Decimal { precision: u32, scale: u32 },
}

/// How one schema field is written.
#[derive(Debug, Clone)]
struct FieldPlan {
    name: String,
    ty: Ty,
    /// For `["null", T]` (either order): the branch indices of null and of `T`.
    union: Option<(u8, u8)>,
    /// The encoded default written when the event does not set the field (non-union fields).
    default: Option<Vec<u8>>,
}

/// One record schema, compiled for writing.
#[derive(Debug, Clone)]
pub(crate) struct RecordWriter {
    /// The record's full name (`playstream.events.Purchase`).
    pub(crate) full_name: String,
    fields: Vec<FieldPlan>,
}

impl RecordWriter {
    /// Compiles an `.avsc` text; `Err` names what this writer cannot write.
    pub(crate) fn compile(avsc: &str) -> Result<RecordWriter, String> {
        let schema: Value = serde_json::from_str(avsc).map_err(|e| format!("not JSON: {e}"))?;
        if schema.get("type").and_then(Value::as_str) != Some("record") {
            return Err("the schema is not a record".into());
        }
        let name = schema.get("name").and_then(Value::as_str).ok_or("the record has no name")?;
        let full_name = match schema.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{ns}.{name}"),
            _ => name.to_string(),
        };
        let fields = schema.get("fields").and_then(Value::as_array).ok_or("the record has no fields")?;
        let fields = fields.iter().map(compile_field).collect::<Result<Vec<_>, _>>()?;
        Ok(RecordWriter { full_name, fields })
    }

    /// Appends the Avro binary body of `fields` to `out` (unchanged on error).
    pub(crate) fn write(&self, fields: &Fields<'_>, out: &mut Vec<u8>) -> Result<(), String> {
        if let Some((name, _)) = fields.iter().find(|(n, _)| !self.fields.iter().any(|f| f.name == *n)) {
            return Err(format!("field {name} is not in schema {}", self.full_name));
        }
        let start = out.len();
        let result = self.fields.iter().try_for_each(|plan| {
            let value = fields.iter().find(|(n, _)| *n == plan.name).map(|(_, v)| *v);
            write_field(plan, value, out).map_err(|e| format!("{}: {e}", plan.name))
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

fn compile_field(field: &Value) -> Result<FieldPlan, String> {
    let name = field.get("name").and_then(Value::as_str).ok_or("a field has no name")?.to_string();
    let declared = field.get("type").ok_or_else(|| format!("field {name} has no type"))?;
    let (ty, union) = match declared.as_array() {
        Some(branches) => {
            let null = |b: &Value| b.as_str() == Some("null");
            match branches.as_slice() {
                [a, b] if null(a) && !null(b) => (compile_type(b), Some((0, 1))),
                [a, b] if null(b) && !null(a) => (compile_type(a), Some((1, 0))),
                _ => return Err(format!("field {name}: only [\"null\", T] unions are supported")),
            }
        }
        None => (compile_type(declared), None),
    };
    let ty = ty.map_err(|e| format!("field {name}: {e}"))?;
    let default = match (field.get("default"), union) {
        (Some(d), None) => Some(encode_default(&ty, d).map_err(|e| format!("field {name} default: {e}"))?),
        _ => None,
    };
    Ok(FieldPlan { name, ty, union, default })
}

fn compile_type(t: &Value) -> Result<Ty, String> {
    if let Some(name) = t.as_str() {
        return match name {
            "string" => Ok(Ty::Str),
            "long" => Ok(Ty::Long),
            "int" => Ok(Ty::Int),
            "boolean" => Ok(Ty::Bool),
            other => Err(format!("type {other} is not supported")),
        };
    }
    let base = t.get("type").and_then(Value::as_str).ok_or("a type without \"type\"")?;
    let logical = t.get("logicalType").and_then(Value::as_str);
    match (base, logical) {
        ("string", None | Some("uuid")) => Ok(Ty::Str),
        ("long", Some("timestamp-micros")) => Ok(Ty::TimestampMicros),
        ("long", None) => Ok(Ty::Long),
        ("int", None) => Ok(Ty::Int),
        ("boolean", None) => Ok(Ty::Bool),
        ("bytes", Some("decimal")) => {
            let num = |k: &str| t.get(k).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
            let precision = num("precision").ok_or("a decimal without a precision")?;
            let scale = num("scale").unwrap_or(0);
            // i128 holds 38 digits; Decimal holds 28 significant digits and scale ≤ 28.
            if precision == 0 || precision > 38 || scale > precision || scale > 28 {
                return Err(format!("decimal({precision}, {scale}) is not supported"));
            }
            Ok(Ty::Decimal { precision, scale })
        }
        ("enum", None) => {
            let symbols = t.get("symbols").and_then(Value::as_array).ok_or("an enum without symbols")?;
            let symbols =
                symbols.iter().map(|s| s.as_str().map(String::from).ok_or("a symbol that is not a string"));
            Ok(Ty::Enum(symbols.collect::<Result<_, _>>()?))
        }
        (base, logical) => Err(format!("type {base} with logicalType {logical:?} is not supported")),
    }
}

fn encode_default(ty: &Ty, d: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let datum = match (ty, d) {
        (Ty::Int | Ty::Long, Value::Number(n)) => Datum::Int(n.as_i64().ok_or("not an integer")?),
        (Ty::Bool, Value::Bool(b)) => Datum::Bool(*b),
        (Ty::Str | Ty::Enum(_), Value::String(s)) => Datum::Text(s),
        _ => return Err(format!("{d} is not a supported default for {ty:?}")),
    };
    write_value(ty, datum, &mut out)?;
    Ok(out)
}

fn write_field(plan: &FieldPlan, value: Option<Datum<'_>>, out: &mut Vec<u8>) -> Result<(), String> {
    match (plan.union, value) {
        (Some((null, _)), None) => {
            write_long(i64::from(null), out);
            Ok(())
        }
        (Some((_, branch)), Some(v)) => {
            write_long(i64::from(branch), out);
            write_value(&plan.ty, v, out)
        }
        (None, Some(v)) => write_value(&plan.ty, v, out),
        (None, None) => match &plan.default {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
            None => Err("required by the schema and not set".into()),
        },
    }
}

fn write_value(ty: &Ty, value: Datum<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    match (ty, value) {
        (Ty::Str, Datum::Text(s) | Datum::Symbol(s)) => write_bytes(s.as_bytes(), out),
        (Ty::Str, Datum::Uuid(u)) => write_bytes(u.hyphenated().to_string().as_bytes(), out),
        (Ty::Long, Datum::Int(i)) => write_long(i, out),
        (Ty::Int, Datum::Int(i)) => {
            let i = i32::try_from(i).map_err(|_| format!("{i} does not fit an Avro int"))?;
            write_long(i64::from(i), out);
        }
        (Ty::Bool, Datum::Bool(b)) => out.push(u8::from(b)),
        (Ty::TimestampMicros, Datum::Time(t)) => write_long(t.unix_micros(), out),
        (Ty::Enum(symbols), Datum::Symbol(s) | Datum::Text(s)) => {
            let index =
                symbols.iter().position(|x| x == s).ok_or_else(|| format!("{s:?} is not a symbol"))?;
            write_long(i64::try_from(index).map_err(|_| "too many symbols")?, out);
        }
        (Ty::Decimal { precision, scale }, Datum::Money(d)) => {
            write_bytes(&decimal_bytes(d, *precision, *scale)?, out);
        }
        (ty, value) => return Err(format!("{value:?} cannot be written as {ty:?}")),
    }
    Ok(())
}

/// Zig-zag varint, Avro's encoding of `int` and `long`.
fn write_long(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z & 0x7f) as u8 | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Length-prefixed bytes (also strings, as UTF-8).
fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    write_long(i64::try_from(b.len()).unwrap_or(i64::MAX), out);
    out.extend_from_slice(b);
}

/// The unscaled value of `d` at `scale`, as the shortest big-endian two's complement bytes;
/// `Err` when `d` needs more decimals than `scale` or more digits than `precision`.
fn decimal_bytes(d: Decimal, precision: u32, scale: u32) -> Result<Vec<u8>, String> {
    let d = if d.scale() > scale { d.normalize() } else { d };
    if d.scale() > scale {
        return Err(format!("{d} has more than {scale} decimals"));
    }
    let unscaled = 10_i128
        .checked_pow(scale - d.scale())
        .and_then(|f| d.mantissa().checked_mul(f))
        .ok_or_else(|| format!("{d} does not fit decimal({precision}, {scale})"))?;
    if unscaled.unsigned_abs() >= 10_u128.pow(precision) {
        return Err(format!("{d} has more digits than decimal({precision}, {scale}) holds"));
    }
    let bytes = unscaled.to_be_bytes();
    // Drop leading bytes that only repeat the sign of the next one.
    let redundant = bytes
        .windows(2)
        .take_while(|w| {
            matches!(w, [0x00, next] if next & 0x80 == 0) || matches!(w, [0xff, next] if next & 0x80 != 0)
        })
        .count();
    Ok(bytes.get(redundant..).unwrap_or(&bytes).to_vec())
}

#[cfg(test)]
mod tests;
