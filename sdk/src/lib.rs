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
//!

pub mod event;

pub use event::{Event, EventBuilder, EventContext, EventError};
