//! Schema sources: where the writer schema of a Confluent-framed Avro record comes from. The
//! local source answers from `schemas/index.json`; the registry source asks a Schema Registry
//! (`GET /schemas/ids/{id}`) once per id and caches the answer for the life of the process
//! (registry ids are immutable). Refusals are cached too, so a producer sending a bad id cannot
//! turn every record into a registry call: an unusable schema (including one that does not
//! resolve to ours by Avro's rules, checked when the id is first seen) for good, "no such id" for
//! [`NOT_FOUND_TTL`] (a registry replica may lag behind a fresh registration); an unreachable
//! registry is never cached. Either way the reader schema is always a local one, so the
//! validated shape never depends on what a producer registered.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use apache_avro::Schema;

use super::Context;
use super::avro_resolve::Plan;
use super::convert::FieldValue;
use super::reject::{Reject, RejectCode};
use super::schema::{Catalog, EventSchema};

/// A writer schema resolved to the local reader schema its records are validated against.
pub struct WriterSchema {
    /// The schema id from the frame.
    pub id: u32,
    /// The local schema the data is resolved to and validated against.
    pub reader: Arc<EventSchema>,
    plan: Plan,
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
            Ok(plan) => Ok(WriterSchema { id, reader, plan }),
            Err(why) => Err(LookupError::Unusable {
                id,
                code: RejectCode::IncompatibleSchema,
                reason: format!("it does not resolve to {}: {why}", reader.label),
            }),
        }
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

/// How long the registry source remembers that an id does not exist before asking again.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(30);

/// What the registry source remembers about one id.
#[derive(Debug, Clone)]
enum Known {
    Found(Arc<WriterSchema>),
    /// A refusal, until the given time (`None`: for good).
    Refused(LookupError, Option<Instant>),
}

/// Writer schemas fetched from a Confluent-compatible Schema Registry, cached by id.
#[derive(Debug)]
pub struct RegistrySchemas {
    base_url: String,
    catalog: Arc<Catalog>,
    agent: ureq::Agent,
    cache: RwLock<HashMap<u32, Known>>,
    not_found_ttl: Duration,
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
            not_found_ttl: NOT_FOUND_TTL,
        }
    }

    /// The same source remembering "no such id" for `ttl` instead of [`NOT_FOUND_TTL`].
    pub fn with_not_found_ttl(mut self, ttl: Duration) -> RegistrySchemas {
        self.not_found_ttl = ttl;
        self
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
        WriterSchema::new(id, writer, reader)
    }
}

impl SchemaSource for RegistrySchemas {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        let now = Instant::now();
        match self.cache.read().ok().and_then(|c| c.get(&id).cloned()) {
            Some(Known::Found(writer)) => return Ok(writer),
            Some(Known::Refused(error, until)) if until.is_none_or(|u| now < u) => return Err(error),
            _ => {}
        }
        let (result, known) = match self.fetch(id) {
            Ok(writer) => {
                let writer = Arc::new(writer);
                (Ok(writer.clone()), Some(Known::Found(writer)))
            }
            Err(e @ LookupError::NotFound(_)) => {
                (Err(e.clone()), Some(Known::Refused(e, Some(now + self.not_found_ttl))))
            }
            Err(e @ LookupError::Unusable { .. }) => (Err(e.clone()), Some(Known::Refused(e, None))),
            Err(e @ LookupError::Unavailable(_)) => (Err(e), None),
        };
        if let (Some(known), Ok(mut cache)) = (known, self.cache.write()) {
            cache.insert(id, known);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    //! The registry source against a fake Schema Registry (a few lines of HTTP on a local
    //! socket): no real registry can run on these machines.
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// Serves `GET /schemas/ids/{id}` from `answers` (status, body); counts requests per id.
    fn fake_registry(answers: HashMap<u32, (u16, String)>) -> (String, Arc<Mutex<HashMap<u32, usize>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let url = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}")));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                // Skip the rest of the request head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let id = line.split('/').nth(3).and_then(|s| s.split(' ').next()?.parse::<u32>().ok());
                let (status, body) = match id {
                    Some(id) => {
                        *counted.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_insert(0) += 1;
                        answers.get(&id).cloned().unwrap_or((404, r#"{"error_code":40403}"#.into()))
                    }
                    None => (400, "{}".into()),
                };
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, hits)
    }

    fn catalog() -> Arc<Catalog> {
        Arc::new(Catalog::embedded())
    }

    fn hits(h: &Arc<Mutex<HashMap<u32, usize>>>, id: u32) -> usize {
        h.lock().unwrap_or_else(|e| e.into_inner()).get(&id).copied().unwrap_or(0)
    }

    #[test]
    fn registry_answers_are_cached_and_refusals_too() {
        let cat = catalog();
        let install = cat.latest("install").unwrap_or_else(|| panic!("install schema"));
        let text = serde_json::to_string(&install.avro).unwrap_or_default();
        let mut answers = HashMap::new();
        answers.insert(7, (200, serde_json::json!({ "schema": text }).to_string()));
        answers.insert(
            8,
            (
                200,
                serde_json::json!({"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";"}).to_string(),
            ),
        );
        let stranger = r#"{"type":"record","name":"Stranger","fields":[{"name":"x","type":"long"}]}"#;
        answers.insert(9, (200, serde_json::json!({ "schema": stranger }).to_string()));
        answers.insert(10, (500, "{}".into()));
        let mut no_price: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/purchase.v1.avsc")).unwrap_or_default();
        if let Some(fields) = no_price["fields"].as_array_mut() {
            fields.retain(|f| f["name"] != "price");
        }
        answers.insert(12, (200, serde_json::json!({ "schema": no_price.to_string() }).to_string()));
        let (url, h) = fake_registry(answers);
        let source = RegistrySchemas::new(&url, cat).with_not_found_ttl(Duration::from_millis(300));

        for _ in 0..5 {
            let w = source.writer(7).unwrap_or_else(|e| panic!("id 7: {e}"));
            assert_eq!((w.id, w.reader.event_type.as_str()), (7, "install"));
        }
        assert_eq!(hits(&h, 7), 1, "a found schema is fetched once");

        for _ in 0..5 {
            assert!(matches!(
                source.writer(8),
                Err(LookupError::Unusable { code: RejectCode::InvalidAvro, .. })
            ));
            assert!(matches!(
                source.writer(9),
                Err(LookupError::Unusable { code: RejectCode::UnknownEventType, .. })
            ));
        }
        for _ in 0..5 {
            assert!(matches!(
                source.writer(12),
                Err(LookupError::Unusable { code: RejectCode::IncompatibleSchema, ref reason, .. })
                    if reason.contains("no field price")
            ));
        }
        assert_eq!((hits(&h, 8), hits(&h, 9)), (1, 1), "unusable schemas are remembered for good");
        assert_eq!(hits(&h, 12), 1, "so is the verdict that a writer does not resolve to ours");

        for _ in 0..5 {
            assert_eq!(source.writer(11).err(), Some(LookupError::NotFound(11)));
        }
        assert_eq!(hits(&h, 11), 1, "a missing id is remembered for the TTL");
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(source.writer(11).err(), Some(LookupError::NotFound(11)));
        assert_eq!(hits(&h, 11), 2, "and asked again after it");

        for _ in 0..3 {
            let e = source.writer(10).err().unwrap_or_else(|| panic!("id 10 must fail"));
            assert!(e.is_retryable(), "{e}");
        }
        assert_eq!(hits(&h, 10), 3, "an unavailable registry is asked again every time");
    }
}
