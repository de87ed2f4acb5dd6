//! `playstream validate`: the consumer group between the raw topic and Firehose. Invariant:
//! every record read ends up on the sink (acknowledged) or on the rejects topic (acknowledged)
//! before an offset past it is committed; no record can wedge its partition; a partition no
//! longer owned is never committed.

pub mod assignment;
pub mod batch;
pub mod chunk;
pub mod consumer;
pub mod deliver;
pub mod firehose;
mod flow;
pub mod health;
pub mod metrics;
pub mod offsets;
mod poll;
pub mod rejects;
pub mod retry;
pub mod sink;
pub mod wire;

pub use consumer::{Validator, ValidatorConfig, ValidatorError};
pub use firehose::FirehoseTimeouts;
