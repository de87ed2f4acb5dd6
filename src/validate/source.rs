//! Schema sources: where the writer schema of a Confluent-framed Avro record comes from. The
//! local source answers from `schemas/index.json`; the registry source asks a Schema Registry
//! (`GET /schemas/ids/{id}`) once per id and caches the answer for the life of the process
//! (registry ids are immutable). Either way the reader schema is always a local one, so the
//! validated shape never depends on what a producer registered.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;

use super::reject::RejectCode;
use super::schema::{Catalog, EventSchema};

/// A writer schema ready to decode data, paired with the local reader schema it resolves to.
pub struct WriterSchema {
    /// The schema id from the frame.
    pub id: u32,
    /// The local schema the data is resolved to and validated against.
    pub reader: Arc<EventSchema>,
    decoder: GenericDatumReader<'static>,
}

impl fmt::Debug for WriterSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterSchema").field("id", &self.id).field("reader", &self.reader.label).finish()
    }
}

impl WriterSchema {
    /// Builds a decoder for a writer schema whose records are checked against a local reader
    /// schema. Resolution (matching fields by name, defaults for fields the writer lacks,
    /// promotions, enum symbols by name) is done by the conversion stage from the writer's
    /// values, not by apache-avro, whose resolver refuses bytes-backed decimals shorter than
    /// the declared precision (which Java and Python writers produce). Writer schemas live for
    /// the whole process (one per id ever seen), so they are leaked to give the decoder a
    /// `'static` borrow.
    pub fn new(id: u32, writer: Schema, reader: Arc<EventSchema>) -> Result<WriterSchema, String> {
        let writer: &'static Schema = Box::leak(Box::new(writer));
        let decoder = GenericDatumReader::builder(writer).build().map_err(|e| e.to_string())?;
        Ok(WriterSchema { id, reader, decoder })
    }

    /// Decodes one Avro datum; the whole body must be consumed.
    pub fn decode(&self, body: &[u8]) -> Result<apache_avro::types::Value, String> {
        let mut cursor = body;
        let value = self.decoder.read_value(&mut cursor).map_err(|e| e.to_string())?;
        if !cursor.is_empty() {
            return Err(format!("{} trailing bytes after the Avro datum", cursor.len()));
        }
        Ok(value)
    }
}

/// Why a writer schema could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No such id: the record is rejected `unknown_schema_id`.
    #[error("schema id {0} is not known")]
    NotFound(u32),
    /// The id exists but cannot be used; the record is rejected with this code.
    #[error("schema id {id} cannot be used: {reason}")]
    Unusable {
        /// The id.
        id: u32,
        /// The reject code to use.
        code: RejectCode,
        /// What is wrong.
        reason: String,
    },
    /// The registry could not be asked; retrying later can help, the record must not be
    /// rejected for it.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

impl LookupError {
    /// True when a later retry can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, LookupError::Unavailable(_))
    }
}

/// Where writer schemas and reader schemas come from.
pub trait SchemaSource: Send + Sync + fmt::Debug {
    /// The local catalog (reader schemas for JSON and Avro).
    fn catalog(&self) -> &Catalog;
    /// The writer schema registered under `id`.
    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError>;
}

/// Writer schemas from the local `schemas/` directory, by the ids in its `index.json`.
#[derive(Debug)]
pub struct LocalSchemas {
    catalog: Arc<Catalog>,
    writers: HashMap<u32, Arc<WriterSchema>>,
}

impl LocalSchemas {
    /// Prepares a decoder for every local schema (each resolves to its type's latest version).
    pub fn new(catalog: Arc<Catalog>) -> Result<LocalSchemas, super::schema::SchemaError> {
        let mut writers = HashMap::new();
        for (id, schema) in catalog.all() {
            let reader = catalog.latest(&schema.event_type).unwrap_or(schema).clone();
            let writer = WriterSchema::new(id, schema.avro.clone(), reader).map_err(|reason| {
                super::schema::SchemaError::Invalid { file: schema.label.clone(), reason }
            })?;
            writers.insert(id, Arc::new(writer));
        }
        Ok(LocalSchemas { catalog, writers })
    }
}

impl SchemaSource for LocalSchemas {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        self.writers.get(&id).cloned().ok_or(LookupError::NotFound(id))
    }
}

/// Writer schemas fetched from a Confluent-compatible Schema Registry, cached by id.
#[derive(Debug)]
pub struct RegistrySchemas {
    base_url: String,
    catalog: Arc<Catalog>,
    agent: ureq::Agent,
    cache: RwLock<HashMap<u32, Arc<WriterSchema>>>,
}

impl RegistrySchemas {
    /// A registry at `base_url` (e.g. `http://localhost:8081`).
    pub fn new(base_url: &str, catalog: Arc<Catalog>) -> RegistrySchemas {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
        RegistrySchemas {
            base_url: base_url.trim_end_matches('/').to_string(),
            catalog,
            agent,
            cache: RwLock::new(HashMap::new()),
        }
    }

    fn fetch(&self, id: u32) -> Result<WriterSchema, LookupError> {
        let url = format!("{}/schemas/ids/{id}", self.base_url);
        let body = match self.agent.get(&url).call() {
            Ok(resp) => resp.into_string().map_err(|e| LookupError::Unavailable(e.to_string()))?,
            Err(ureq::Error::Status(404, _)) => return Err(LookupError::NotFound(id)),
            Err(ureq::Error::Status(code, _)) => {
                return Err(LookupError::Unavailable(format!("registry answered HTTP {code}")));
            }
            Err(e) => return Err(LookupError::Unavailable(e.to_string())),
        };
        let unusable = |code, reason: String| LookupError::Unusable { id, code, reason };
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| LookupError::Unavailable(format!("registry answered non-JSON: {e}")))?;
        if let Some(kind) = json.get("schemaType").and_then(|t| t.as_str()).filter(|t| *t != "AVRO") {
            return Err(unusable(RejectCode::InvalidAvro, format!("schema type is {kind}, not AVRO")));
        }
        let text = json
            .get("schema")
            .and_then(|s| s.as_str())
            .ok_or_else(|| LookupError::Unavailable("registry answer has no schema".into()))?;
        let writer = Schema::parse_str(text).map_err(|e| unusable(RejectCode::InvalidAvro, e.to_string()))?;
        let name = match &writer {
            Schema::Record(r) => r.name.fullname(None),
            _ => return Err(unusable(RejectCode::InvalidAvro, "writer schema is not a record".into())),
        };
        let reader = self
            .catalog
            .by_name(&name)
            .ok_or_else(|| unusable(RejectCode::UnknownEventType, format!("no local schema named {name}")))?
            .clone();
        WriterSchema::new(id, writer, reader).map_err(|reason| unusable(RejectCode::InvalidAvro, reason))
    }
}

impl SchemaSource for RegistrySchemas {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        if let Some(found) = self.cache.read().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(found);
        }
        let fetched = Arc::new(self.fetch(id)?);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(id, fetched.clone());
        }
        Ok(fetched)
    }
}
