//! The `kafka` feature: [`KafkaEmitter`], for upstream services that write events straight to
//! Kafka instead of through the ingest service. Each event is written as Confluent-framed Avro
//! (magic byte 0, the schema's 4-byte big-endian registry id, the Avro binary body) with the
//! project's schema for its type, registered once with a Schema Registry, and produced keyed by
//! its `user_id`, so one player's events stay in order on one partition. Invariant: **`emit`
//! returns `Ok` only once Kafka acknowledged the record with `acks=all`** (idempotent producer:
//! librdkafka's own retries never duplicate or reorder it); every failure is an [`EmitError`]
//! saying whether emitting the event again can help.
//!
//! ```no_run
//! use playstream_sdk::event::{EventContext, LevelStart, Platform};
//! use playstream_sdk::kafka::KafkaEmitter;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emitter = KafkaEmitter::builder("kafka-1:9092", "game-events.raw", "http://registry:8081")
//!     .option("security.protocol", "SASL_SSL")
//!     .build()?;
//! emitter.register_schemas().await?; // optional start-up check: every type's id now
//! let player = EventContext::new("player-42", "space-miner", Platform::Web, "server-1.4").session("s-9");
//! let delivered = emitter.emit(&player.event(LevelStart::new(3)).build()?).await?;
//! println!("partition {} offset {}", delivered.partition, delivered.offset);
//! emitter.flush(std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

mod avro;
mod config;
mod error;
mod producer;
mod registry;
mod schemas;

use std::fmt;
use std::time::Duration;

use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio::sync::OnceCell;

use crate::event::Event;
use avro::RecordWriter;
use producer::Supervised;
use registry::Registry;

pub use config::KafkaConfig;
pub use error::EmitError;
pub use schemas::schema_text;

/// How the registry subject of an event's schema is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// `<topic>-value` (Confluent's default, TopicNameStrategy). All eight record types share
    /// the one subject, so on a real registry set that subject's compatibility to `NONE`;
    /// otherwise registering the second type is refused as incompatible (HTTP 409).
    #[default]
    TopicName,
    /// The record's full name, `playstream.events.Purchase` (RecordNameStrategy).
    RecordName,
    /// `<topic>-<record full name>` (TopicRecordNameStrategy).
    TopicRecordName,
}

impl SubjectStrategy {
    /// The subject for `record` (a full name) on `topic`.
    pub fn subject(self, topic: &str, record: &str) -> String {
        match self {
            SubjectStrategy::TopicName => format!("{topic}-value"),
            SubjectStrategy::RecordName => record.to_string(),
            SubjectStrategy::TopicRecordName => format!("{topic}-{record}"),
        }
    }
}

/// Where Kafka stored an emitted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The partition (chosen from the key, `user_id`).
    pub partition: i32,
    /// The record's offset in that partition.
    pub offset: i64,
    /// The registry id the frame names.
    pub schema_id: u32,
}

/// Writes typed events to Kafka as Confluent-framed Avro. Cheap to share behind an `Arc`;
/// `emit` may be called from many tasks at once.
pub struct KafkaEmitter {
    producer: Supervised,
    topic: String,
    registry: Registry,
    strategy: SubjectStrategy,
    /// One per event type, in the order of [`EVENT_TYPES`](crate::event::EVENT_TYPES).
    writers: Vec<RecordWriter>,
    /// The registry id of each writer's schema, once known.
    ids: Vec<OnceCell<u32>>,
    queue_timeout: Duration,
}

impl fmt::Debug for KafkaEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaEmitter")
            .field("topic", &self.topic)
            .field("registry", &self.registry.url())
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

impl KafkaEmitter {
    /// Settings for an emitter writing to `topic` on `brokers` through the Schema Registry at
    /// `registry_url`; finish with [`KafkaConfig::build`].
    pub fn builder(
        brokers: impl Into<String>,
        topic: impl Into<String>,
        registry_url: impl Into<String>,
    ) -> KafkaConfig {
        KafkaConfig::new(brokers, topic, registry_url)
    }

    /// The emitter for `config`: checks the settings, compiles the schemas and creates the
    /// producer. Nothing is sent and nothing registered until the first emit (or
    /// [`register_schemas`](KafkaEmitter::register_schemas)).
    pub fn new(config: KafkaConfig) -> Result<KafkaEmitter, EmitError> {
        let producer_config = config.producer_config()?;
        let registry =
            Registry::new(&config.registry_url, config.registry_auth.as_ref(), config.registry_timeout)?;
        let writers = schemas::EMBEDDED
            .iter()
            .map(|(_, file, text)| {
                RecordWriter::compile(text).map_err(|e| EmitError::Config(format!("schema {file}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let producer = Supervised::new(producer_config, config.delivery_timeout)
            .map_err(|e| EmitError::Config(e.to_string()))?;
        Ok(KafkaEmitter {
            producer,
            topic: config.topic,
            registry,
            strategy: config.subject_strategy,
            ids: writers.iter().map(|_| OnceCell::new()).collect(),
            writers,
            queue_timeout: config.delivery_timeout,
        })
    }

    /// Registers the schema of every event type now (each is otherwise registered on the first
    /// emit of its type) and returns `(event_type, id)` pairs: a start-up check that the
    /// registry is reachable and takes the schemas.
    pub async fn register_schemas(&self) -> Result<Vec<(&'static str, u32)>, EmitError> {
        let mut ids = Vec::with_capacity(self.writers.len());
        for (i, (event_type, _, _)) in schemas::EMBEDDED.iter().enumerate() {
            ids.push((*event_type, self.schema_id(i).await?));
        }
        Ok(ids)
    }

    /// Writes `event` to the topic and resolves once Kafka acknowledged it (`acks=all`), with
    /// where it was stored. Fails without sending when the event does not fit its schema
    /// (fields added with [`EventBuilder::extra`](crate::EventBuilder::extra) have no place in
    /// Avro) or the registry gives no id; fails after `delivery_timeout` when Kafka does not
    /// acknowledge it. Retrying a retryable failure may duplicate the event on the topic; the
    /// pipeline deduplicates by `event_id`.
    pub async fn emit(&self, event: &Event) -> Result<Delivered, EmitError> {
        let event_type = event.payload().event_type();
        let (i, writer) = schemas::index_of(event_type)
            .and_then(|i| Some((i, self.writers.get(i)?)))
            .ok_or_else(|| EmitError::Config(format!("no schema for event type {event_type}")))?;
        let encode_error =
            |reason: String| EmitError::Encode { event_type, schema: writer.full_name.clone(), reason };
        if let Some(name) = event.extra().keys().next() {
            return Err(encode_error(format!(
                "extra field {name:?} has no place in the Avro schema \
                 (add it to the schema first, or send through the HTTP client)"
            )));
        }
        let mut frame = vec![0_u8; 5];
        writer.write(&event.fields(), &mut frame).map_err(encode_error)?;
        let id = self.schema_id(i).await?;
        if let Some(header) = frame.get_mut(1..5) {
            header.copy_from_slice(&id.to_be_bytes());
        }
        let record = FutureRecord::to(&self.topic).key(event.user_id()).payload(&frame);
        let producer = self.producer.get();
        match producer.send(record, Timeout::After(self.queue_timeout)).await {
            Ok(d) => {
                self.producer.acknowledged();
                Ok(Delivered { partition: d.partition, offset: d.offset, schema_id: id })
            }
            Err((e, _)) => {
                let replaced = self.producer.after_failure(&producer, &e, &self.topic).await;
                Err(EmitError::kafka(e, replaced))
            }
        }
    }

    /// Waits up to `timeout` for every record handed to the producer to be acknowledged or
    /// failed — those of emits whose futures were dropped too. Call it before dropping the
    /// emitter; a timeout is a retryable error.
    pub async fn flush(&self, timeout: Duration) -> Result<(), EmitError> {
        let producer = self.producer.get();
        tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout)))
            .await
            .map_err(|e| EmitError::Config(format!("the flush task did not run: {e}")))?
            .map_err(|e| EmitError::kafka(e, false))
    }

    /// Records handed to the producer and not yet acknowledged or failed.
    pub fn in_flight(&self) -> usize {
        usize::try_from(self.producer.get().in_flight_count()).unwrap_or(0)
    }

    /// The registry id of `event_type`'s schema, if it has been registered.
    pub fn schema_id_of(&self, event_type: &str) -> Option<u32> {
        schemas::index_of(event_type).and_then(|i| self.ids.get(i)?.get().copied())
    }

    /// The registry id of writer `i`'s schema, registering it on first use. Only a success is
    /// kept, so a failed registration is tried again on the next emit.
    async fn schema_id(&self, i: usize) -> Result<u32, EmitError> {
        let (Some(cell), Some(writer), Some((_, _, text))) =
            (self.ids.get(i), self.writers.get(i), schemas::EMBEDDED.get(i))
        else {
            return Err(EmitError::Config(format!("no schema number {i}")));
        };
        let subject = self.strategy.subject(&self.topic, &writer.full_name);
        let id = cell.get_or_try_init(|| self.registry.register(&subject, text)).await;
        id.copied().map_err(|e| match e {
            EmitError::RegistryRefused { url, subject, status: status @ 409, error_code, message }
                if self.strategy == SubjectStrategy::TopicName =>
            {
                let message = format!(
                    "{message} — every event type shares subject {subject} under \
                     SubjectStrategy::TopicName: set its compatibility to NONE, or use \
                     SubjectStrategy::TopicRecordName"
                );
                EmitError::RegistryRefused { url, subject, status, error_code, message }
            }
            other => other,
        })
    }
}
