//! playstream: a Kafka-based stream processor for mobile-game events. The validation core
//! ([`validate`]) is pure; the services around it live in the binary's subcommands.

pub mod demo;
pub mod event;
pub mod http_server;
pub mod ingest;
pub mod loadgen;
pub mod pipeline;
pub mod rejects_cli;
pub mod report;
pub mod telemetry;
pub mod validate;
