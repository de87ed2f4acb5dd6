//! Schema sources: where the writer schema of a Confluent-framed Avro record comes from. The
//! local source answers from `schemas/index.json`; the registry source
//! ([`RegistrySchemas`](super::registry::RegistrySchemas)) asks a Schema Registry. Every writer
//! schema is resolved to its local reader schema once, when its id is first seen, and the
//! verdict is kept with it: a writer that does not resolve by Avro's rules is refused for good
//! (`incompatible_schema`). Either way the reader schema is always a local one, so the
//! validated shape never depends on what a producer registered.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use apache_avro::Schema;

use super::Context;
use super::avro_resolve::Plan;
use super::convert::FieldValue;
use super::reject::{Reject, RejectCode};
use super::schema::{Catalog, EventSchema};

pub use super::registry::{NOT_FOUND_TTL, RegistrySchemas};

/// A writer schema resolved to the local reader schema its records are validated against.
pub struct WriterSchema {
    /// The schema id from the frame.
    pub id: u32,
    /// The local schema the data is resolved to and validated against.
    pub reader: Arc<EventSchema>,
    plan: Plan,
    /// The writer schema itself, for showing a record as written (`rejects tail`).
    writer: Schema,
}

impl fmt::Debug for WriterSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterSchema").field("id", &self.id).field("reader", &self.reader.label).finish()
    }
}

impl WriterSchema {
    /// Resolves a writer schema to a local reader schema by Avro's rules (fields by name or
    /// reader alias, reader defaults, promotions, enum symbols by name, decimals at the
    /// writer's scale), once. A writer that cannot be resolved is refused for good:
    /// [`LookupError::Unusable`] with `incompatible_schema`, which every record with this id
    /// then gets (a retry cannot help: registry ids are immutable).
    pub fn new(id: u32, writer: Schema, reader: Arc<EventSchema>) -> Result<WriterSchema, LookupError> {
        match Plan::compile(&writer, &reader) {
            Ok(plan) => Ok(WriterSchema { id, reader, plan, writer }),
            Err(why) => Err(LookupError::Unusable {
                id,
                code: RejectCode::IncompatibleSchema,
                reason: format!("it does not resolve to {}: {why}", reader.label),
            }),
        }
    }

    /// The record as its writer wrote it, as JSON, for people to read (no resolution, no
    /// validation); `None` when the body does not decode.
    pub fn to_json(&self, body: &[u8]) -> Option<serde_json::Value> {
        let reader = apache_avro::reader::datum::GenericDatumReader::builder(&self.writer).build().ok()?;
        let mut cursor = body;
        let value = reader.read_value(&mut cursor).ok()?;
        serde_json::Value::try_from(value).ok()
    }

    /// Decodes one Avro body into the reader's fields (strings borrowed from `body`); the whole
    /// body must be consumed. Rejects `invalid_avro` for a body that does not decode, else as
    /// the reader's rules say.
    pub(crate) fn decode<'a>(&self, body: &'a [u8], ctx: &Context) -> Result<Vec<FieldValue<'a>>, Reject> {
        self.plan.decode(&self.reader, body, ctx)
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
    /// A start-up check (blocking): can the source be used? Local schemas always can.
    fn check(&self) -> Probe {
        Probe::Ok
    }
    /// Lookups so far by outcome (fixed labels); none for a local source.
    fn lookup_counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// What a start-up check of a schema source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It answers.
    Ok,
    /// It does not answer now; a retry can help (start, but unready until it does).
    Down(String),
    /// It cannot work as configured (refused credentials, a bad URL): a retry cannot help.
    Misconfigured(String),
}

/// Writer schemas from the local `schemas/` directory, by the ids in its `index.json`.
#[derive(Debug)]
pub struct LocalSchemas {
    catalog: Arc<Catalog>,
    writers: HashMap<u32, Result<Arc<WriterSchema>, LookupError>>,
}

impl LocalSchemas {
    /// Resolves every local schema to its type's latest version, once. An older version that
    /// does not resolve is remembered as refused (`incompatible_schema` for its records).
    pub fn new(catalog: Arc<Catalog>) -> Result<LocalSchemas, super::schema::SchemaError> {
        let mut writers = HashMap::new();
        for (id, schema) in catalog.all() {
            let reader = catalog.latest(&schema.event_type).unwrap_or(schema).clone();
            writers.insert(id, WriterSchema::new(id, schema.avro.clone(), reader).map(Arc::new));
        }
        Ok(LocalSchemas { catalog, writers })
    }
}

impl SchemaSource for LocalSchemas {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        self.writers.get(&id).cloned().unwrap_or(Err(LookupError::NotFound(id)))
    }
}
