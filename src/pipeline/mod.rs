//! `playstream validate`: the consumer group between the raw topic and Firehose. Invariant:
//! every record read ends up on the sink (acknowledged) or on the rejects topic (acknowledged)
//! before an offset past it is committed.

pub mod batch;
pub mod chunk;
pub mod consumer;
pub mod firehose;
pub mod metrics;
pub mod offsets;
pub mod rejects;
pub mod sink;

pub use consumer::{Validator, ValidatorConfig, ValidatorError};
