//! Event schemas: the Avro record schemas in `schemas/` compiled into field plans. A catalog is
//! immutable once loaded; every schema in it parsed both as Avro (so Avro data can be resolved
//! against it) and as a field plan (so JSON is converted by the same schema), and the two
//! always come from the same file. Rules a schema cannot express natively live in
//! `playstream.*` field attributes (`min`, `max`, `minExclusive`, `format`, `currency`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

/// Largest allocation the Avro decoder may make for one value (records are ≤ 1,000 KiB).
pub(crate) const AVRO_MAX_ALLOCATION: usize = 2 * 1024 * 1024;

/// Errors loading schemas: configuration errors, a retry cannot help.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file could not be read.
    #[error("cannot read schema file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a usable schema.
    #[error("schema {file} is invalid: {reason}")]
    Invalid {
        /// The file (or registry id) at fault.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// The type of one field, as the validator understands it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A UTF-8 string.
    String,
    /// A string holding a UUID (`logicalType: uuid`).
    Uuid,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A boolean.
    Bool,
    /// One of a closed set of symbols.
    Enum(Vec<String>),
    /// An instant, microseconds since the epoch (`timestamp-micros`/`timestamp-millis`).
    Timestamp,
    /// An exact decimal (`bytes` with `logicalType: decimal`).
    Decimal {
        /// Total digits.
        precision: u32,
        /// Fractional digits.
        scale: u32,
    },
}

/// Extra string checks named by `playstream.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No extra check.
    None,
    /// An active ISO 4217 currency code.
    Iso4217,
    /// An ISO 3166-1 alpha-2 country code.
    Iso3166,
}

/// A field's default when absent (Avro `default`).
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// A long or int default.
    Long(i64),
    /// A boolean default.
    Bool(bool),
    /// A string default.
    Str(String),
}

/// One field of an event schema, compiled for validation.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Field name (also the JSON key).
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// True when the Avro type is a union with null.
    pub optional: bool,
    /// Value used when the field is absent.
    pub default: Option<Default>,
    /// Lower bound: value for numbers, length in characters for strings.
    pub min: Option<i64>,
    /// Upper bound: value for numbers, length in characters for strings.
    pub max: Option<i64>,
    /// True when `min` itself is not allowed.
    pub min_exclusive: bool,
    /// Extra string format check.
    pub format: Format,
    /// For money: index of the field holding its currency.
    pub currency_field: Option<usize>,
    /// `"name":` as JSON, encoded once here rather than once per record.
    pub json_key: Box<[u8]>,
    /// For enums: each symbol as a JSON string, encoded once.
    pub json_symbols: Vec<Box<[u8]>>,
}

/// One event type's schema at one version.
#[derive(Debug)]
pub struct EventSchema {
    /// The event type (`purchase`).
    pub event_type: String,
    /// Avro full name (`playstream.events.Purchase`).
    pub name: String,
    /// Schema version.
    pub version: u32,
    /// Fields in schema order.
    pub fields: Vec<FieldSpec>,
    /// The same schema as Avro, for resolving Avro data.
    pub avro: apache_avro::Schema,
    /// `name vN`, used in the `reject.schema` header.
    pub label: String,
}

impl EventSchema {
    /// Compiles one `.avsc` text.
    pub fn compile(
        text: &str,
        event_type: &str,
        version: u32,
        file: &str,
    ) -> Result<EventSchema, SchemaError> {
        let invalid = |reason: String| SchemaError::Invalid { file: file.to_string(), reason };
        let json: Json = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let avro = apache_avro::Schema::parse(&json).map_err(|e| invalid(e.to_string()))?;
        let name = match &avro {
            apache_avro::Schema::Record(r) => r.name.fullname(None),
            _ => return Err(invalid("the top level must be a record".into())),
        };
        let raw_fields =
            json.get("fields").and_then(Json::as_array).ok_or_else(|| invalid("no fields".into()))?;
        let mut fields = Vec::with_capacity(raw_fields.len());
        for f in raw_fields {
            fields.push(compile_field(f).map_err(invalid)?);
        }
        let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        for (i, f) in raw_fields.iter().enumerate() {
            if let Some(cur) = f.get("playstream.currency").and_then(Json::as_str) {
                let idx =
                    names.iter().position(|n| n == cur).ok_or_else(|| invalid(format!("no field {cur}")))?;
                if let Some(spec) = fields.get_mut(i) {
                    spec.currency_field = Some(idx);
                }
            }
        }
        if fields.len() > super::convert::MAX_FIELDS {
            return Err(invalid(format!("more than {} fields", super::convert::MAX_FIELDS)));
        }
        for required in ["event_id", "event_type", "timestamp"] {
            if !names.iter().any(|n| n == required) {
                return Err(invalid(format!("missing common field {required}")));
            }
        }
        let label = format!("{name} v{version}");
        Ok(EventSchema { event_type: event_type.to_string(), name, version, fields, avro, label })
    }

    /// Index of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.field_index_from(name, 0)
    }

    /// Index of a field by name, searching from field `hint` on first (then from the start):
    /// members mostly come in schema order, with optional fields skipped.
    pub fn field_index_from(&self, name: &str, hint: usize) -> Option<usize> {
        let hint = hint.min(self.fields.len());
        let (after, before) =
            (self.fields.get(hint..).unwrap_or_default(), self.fields.get(..hint).unwrap_or_default());
        let is = |f: &FieldSpec| {
            f.name.len() == name.len()
                && f.name.as_bytes().first() == name.as_bytes().first()
                && f.name == name
        };
        after.iter().position(is).map(|i| i + hint).or_else(|| before.iter().position(is))
    }
}

fn compile_field(f: &Json) -> Result<FieldSpec, String> {
    let name = f.get("name").and_then(Json::as_str).ok_or("a field has no name")?.to_string();
    let ty = f.get("type").ok_or_else(|| format!("field {name} has no type"))?;
    let (optional, inner) = match ty.as_array() {
        Some(branches) => {
            let non_null: Vec<&Json> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
            match non_null.as_slice() {
                [one] if branches.len() == 2 => (true, *one),
                _ => return Err(format!("field {name}: only [null, T] unions are supported")),
            }
        }
        None => (false, ty),
    };
    let kind = compile_kind(inner).ok_or_else(|| format!("field {name}: unsupported type {inner}"))?;
    let default = match f.get("default") {
        Some(Json::Bool(b)) => Some(Default::Bool(*b)),
        Some(Json::Number(n)) => {
            Some(Default::Long(n.as_i64().ok_or_else(|| format!("field {name}: bad default"))?))
        }
        Some(Json::String(s)) => Some(Default::Str(s.clone())),
        _ => None,
    };
    let format = match f.get("playstream.format").and_then(Json::as_str) {
        None => Format::None,
        Some("iso4217") => Format::Iso4217,
        Some("iso3166") => Format::Iso3166,
        Some(other) => return Err(format!("field {name}: unknown format {other}")),
    };
    let (min, min_exclusive) = match (f.get("playstream.min"), f.get("playstream.minExclusive")) {
        (Some(m), None) => (m.as_i64(), false),
        (None, Some(m)) => (m.as_i64(), true),
        (None, None) => (None, false),
        _ => return Err(format!("field {name}: both min and minExclusive")),
    };
    let max = f.get("playstream.max").and_then(Json::as_i64);
    let json = |text: &str| {
        let mut out = Vec::with_capacity(text.len() + 3);
        super::encode::push_str(&mut out, text);
        out
    };
    let mut json_key = json(&name);
    json_key.push(b':');
    let json_symbols = match &kind {
        Kind::Enum(symbols) => symbols.iter().map(|s| json(s).into_boxed_slice()).collect(),
        _ => Vec::new(),
    };
    Ok(FieldSpec {
        name,
        kind,
        optional,
        default,
        min,
        max,
        min_exclusive,
        format,
        currency_field: None,
        json_key: json_key.into_boxed_slice(),
        json_symbols,
    })
}

fn compile_kind(t: &Json) -> Option<Kind> {
    if let Some(prim) = t.as_str() {
        return match prim {
            "string" => Some(Kind::String),
            "int" => Some(Kind::Int),
            "long" => Some(Kind::Long),
            "boolean" => Some(Kind::Bool),
            _ => None,
        };
    }
    let base = t.get("type")?.as_str()?;
    let logical = t.get("logicalType").and_then(Json::as_str);
    match (base, logical) {
        ("string", Some("uuid")) => Some(Kind::Uuid),
        ("long", Some("timestamp-micros" | "timestamp-millis")) => Some(Kind::Timestamp),
        ("bytes", Some("decimal")) => {
            let precision = u32::try_from(t.get("precision")?.as_u64()?).ok()?;
            let scale = u32::try_from(t.get("scale").and_then(Json::as_u64).unwrap_or(0)).ok()?;
            (precision <= 28 && scale <= precision).then_some(Kind::Decimal { precision, scale })
        }
        ("enum", _) => {
            let symbols: Option<Vec<String>> =
                t.get("symbols")?.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect();
            symbols.map(Kind::Enum)
        }
        (other, None) => compile_kind(&Json::String(other.to_string())),
        _ => None,
    }
}

/// Every local schema: the latest version per event type, and every version by registry id.
#[derive(Debug, Default)]
pub struct Catalog {
    latest: HashMap<String, Arc<EventSchema>>,
    by_id: HashMap<u32, Arc<EventSchema>>,
    by_name: HashMap<String, Arc<EventSchema>>,
}

/// The schemas shipped in the binary (same files as `schemas/`).
const EMBEDDED: [(&str, &str); 9] = [
    ("index.json", include_str!("../../schemas/index.json")),
    ("install.v1.avsc", include_str!("../../schemas/install.v1.avsc")),
    ("purchase.v1.avsc", include_str!("../../schemas/purchase.v1.avsc")),
    ("session_start.v1.avsc", include_str!("../../schemas/session_start.v1.avsc")),
    ("session_end.v1.avsc", include_str!("../../schemas/session_end.v1.avsc")),
    ("level_start.v1.avsc", include_str!("../../schemas/level_start.v1.avsc")),
    ("level_complete.v1.avsc", include_str!("../../schemas/level_complete.v1.avsc")),
    ("ad_watched.v1.avsc", include_str!("../../schemas/ad_watched.v1.avsc")),
    ("achievement_unlocked.v1.avsc", include_str!("../../schemas/achievement_unlocked.v1.avsc")),
];

#[derive(serde::Deserialize)]
struct Index {
    schemas: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
struct IndexEntry {
    id: u32,
    event_type: String,
    version: u32,
    file: String,
}

impl Catalog {
    /// The schemas compiled into the binary.
    pub fn embedded() -> Catalog {
        // The embedded files are checked by the tests below; an error here is a build defect.
        Catalog::from_files(|file| {
            EMBEDDED.iter().find(|(name, _)| *name == file).map(|(_, text)| (*text).to_string()).ok_or_else(
                || SchemaError::Io { path: file.to_string(), source: std::io::ErrorKind::NotFound.into() },
            )
        })
        .unwrap_or_default()
    }

    /// Loads `index.json` and the schema files it lists from a directory.
    pub fn load_dir(dir: &Path) -> Result<Catalog, SchemaError> {
        Catalog::from_files(|file| {
            let path = dir.join(file);
            std::fs::read_to_string(&path)
                .map_err(|source| SchemaError::Io { path: path.display().to_string(), source })
        })
    }

    fn from_files(read: impl Fn(&str) -> Result<String, SchemaError>) -> Result<Catalog, SchemaError> {
        apache_avro::util::max_allocation_bytes(AVRO_MAX_ALLOCATION);
        let index: Index = serde_json::from_str(&read("index.json")?)
            .map_err(|e| SchemaError::Invalid { file: "index.json".into(), reason: e.to_string() })?;
        let mut catalog = Catalog::default();
        for entry in index.schemas {
            let text = read(&entry.file)?;
            let schema =
                Arc::new(EventSchema::compile(&text, &entry.event_type, entry.version, &entry.file)?);
            if catalog.by_id.insert(entry.id, schema.clone()).is_some() {
                return Err(SchemaError::Invalid {
                    file: entry.file,
                    reason: format!("duplicate id {}", entry.id),
                });
            }
            let newer = |old: &Arc<EventSchema>| old.version < schema.version;
            if catalog.latest.get(&entry.event_type).is_none_or(newer) {
                catalog.latest.insert(entry.event_type.clone(), schema.clone());
            }
            if catalog.by_name.get(&schema.name).is_none_or(newer) {
                catalog.by_name.insert(schema.name.clone(), schema.clone());
            }
        }
        Ok(catalog)
    }

    /// The newest schema for an event type.
    pub fn latest(&self, event_type: &str) -> Option<&Arc<EventSchema>> {
        self.latest.get(event_type)
    }

    /// A local schema by its id in `index.json`.
    pub fn by_id(&self, id: u32) -> Option<&Arc<EventSchema>> {
        self.by_id.get(&id)
    }

    /// The newest schema with an Avro full name (readers for registry writer schemas).
    pub fn by_name(&self, name: &str) -> Option<&Arc<EventSchema>> {
        self.by_name.get(name)
    }

    /// Known event types, sorted.
    pub fn event_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self.latest.keys().map(String::as_str).collect();
        types.sort_unstable();
        types
    }

    /// Every `(id, schema)`, sorted by id.
    pub fn all(&self) -> Vec<(u32, &Arc<EventSchema>)> {
        let mut all: Vec<(u32, &Arc<EventSchema>)> = self.by_id.iter().map(|(id, s)| (*id, s)).collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lookup_from_any_hint_agrees_with_a_plain_search() {
        let c = Catalog::embedded();
        for t in c.event_types() {
            let s = c.latest(t).unwrap_or_else(|| panic!("{t}"));
            for hint in 0..=s.fields.len() + 1 {
                for (i, f) in s.fields.iter().enumerate() {
                    assert_eq!(s.field_index_from(&f.name, hint), Some(i), "{t}.{} from {hint}", f.name);
                }
                assert_eq!(s.field_index_from("no_such_field", hint), None);
                assert_eq!(s.field_index_from("", hint), None);
            }
            for f in &s.fields {
                let key: serde_json::Value =
                    serde_json::from_slice(f.json_key.strip_suffix(b":").unwrap_or_default())
                        .unwrap_or_default();
                assert_eq!(key, serde_json::Value::String(f.name.clone()));
                if let Kind::Enum(symbols) = &f.kind {
                    assert_eq!(symbols.len(), f.json_symbols.len());
                    for (sym, json) in symbols.iter().zip(&f.json_symbols) {
                        assert_eq!(serde_json::from_slice::<String>(json).ok().as_ref(), Some(sym));
                    }
                }
            }
        }
    }

    #[test]
    fn embedded_catalog_has_all_eight_types() {
        let c = Catalog::embedded();
        assert_eq!(
            c.event_types(),
            [
                "achievement_unlocked",
                "ad_watched",
                "install",
                "level_complete",
                "level_start",
                "purchase",
                "session_end",
                "session_start"
            ]
        );
        let p = c.latest("purchase").unwrap();
        assert_eq!(p.name, "playstream.events.Purchase");
        assert_eq!(p.label, "playstream.events.Purchase v1");
        let price = &p.fields[p.field_index("price").unwrap()];
        assert_eq!(price.kind, Kind::Decimal { precision: 18, scale: 6 });
        assert!(price.min_exclusive);
        assert_eq!(price.currency_field, p.field_index("currency"));
        let qty = &p.fields[p.field_index("quantity").unwrap()];
        assert_eq!(qty.default, Some(Default::Long(1)));
        assert_eq!(c.by_id(1002).unwrap().name, p.name);
    }

    #[test]
    fn directory_matches_embedded() {
        let dir = Catalog::load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").as_path()).unwrap();
        assert_eq!(dir.all().len(), Catalog::embedded().all().len());
    }

    #[test]
    fn bad_schemas_are_refused_with_a_reason() {
        let err = EventSchema::compile("{\"type\":\"string\"}", "x", 1, "x.avsc").unwrap_err();
        assert!(err.to_string().contains("record"), "{err}");
        let err = EventSchema::compile("not json", "x", 1, "x.avsc").unwrap_err();
        assert!(matches!(err, SchemaError::Invalid { .. }));
        let no_id = r#"{"type":"record","name":"X","fields":[{"name":"a","type":"string"}]}"#;
        assert!(EventSchema::compile(no_id, "x", 1, "x.avsc").is_err());
    }
}
