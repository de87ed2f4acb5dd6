//! # playstream-sdk
//!
//! The client side of playstream: typed game events ([`event`]) and an async HTTP [`Client`]
//! for the ingest service's `POST /v1/events`. Its promise: **an event accepted by
//! [`Client::track`] is either acknowledged by the service (which answers 202 only once Kafka
//! has it) or counted in [`Stats::dropped`] with a reason and handed to the error callback —
//! never lost silently.** With the `disk-queue` feature the promise survives a crash: events
//! are fsync'd to a local log before `track` returns and re-sent after a restart
//! (at-least-once; the pipeline deduplicates by `event_id`).
//!
//! No librdkafka and no AWS SDK: the default features depend on tokio, hyper and rustls only.
//! Feature `kafka` adds `kafka::KafkaEmitter` for upstream services, which writes events
//! straight to Kafka as Confluent-framed Avro through a Schema Registry (it is the only feature
//! that pulls in rdkafka).
//!
//! ```no_run
//! use playstream_sdk::{Client, ClientConfig};
//! use playstream_sdk::event::{Currency, EventContext, Platform, Purchase, Store};
//! use rust_decimal::Decimal;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::start(ClientConfig::new("https://ingest.example.com", "my-api-key"))?;
//! let player = EventContext::new("player-42", "space-miner", Platform::Android, "2.3.1").session("s-1");
//! let price = Decimal::new(499, 2); // 4.99, exact
//! client.track(&player.event(Purchase::new("gems_100", price, Currency::USD, Store::GooglePlay)).build()?).await?;
//! let report = client.flush().await; // every event tracked so far: acknowledged or failed
//! assert!(report.all_acknowledged());
//! client.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

pub mod client;
pub mod event;
#[cfg(feature = "kafka")]
pub mod kafka;

pub use client::{
    Client, ClientConfig, ClientError, DropReason, Dropped, FlushReport, FullPolicy, RawEvent, RetryPolicy,
    Stats, TrackError,
};
pub use event::{Event, EventBuilder, EventContext, EventError};
#[cfg(feature = "kafka")]
pub use kafka::{Delivered, EmitError, KafkaConfig, KafkaEmitter};
