//! The command line: one `Commands` enum, one flag struct per subcommand. Every flag has an
//! environment variable and a documented default; the `///` lines are the user docs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// playstream: validate game events from Kafka and deliver them to Firehose.
#[derive(Debug, Parser)]
#[command(name = "playstream", version, about)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Commands {
    /// Inspect the event schemas and check events against them offline.
    #[command(subcommand)]
    Schemas(SchemasCommand),
}

/// Where schemas come from (shared by every subcommand that validates).
#[derive(Debug, Args, Clone)]
pub(crate) struct SchemaArgs {
    /// Directory holding `index.json` and the `.avsc` files; the built-in schemas are used when
    /// it is left at the default and does not exist.
    #[arg(long, env = "PLAYSTREAM_SCHEMAS", default_value = "schemas")]
    pub(crate) schemas: PathBuf,
    /// Confluent-compatible Schema Registry for writer schemas of framed Avro (unset: local ids).
    #[arg(long, env = "SCHEMA_REGISTRY_URL")]
    pub(crate) schema_registry_url: Option<String>,
    /// How far in the future an event timestamp may be, in hours.
    #[arg(long, env = "PLAYSTREAM_MAX_FUTURE_HOURS", default_value_t = 24)]
    pub(crate) max_future_hours: u32,
}

/// `playstream schemas …`
#[derive(Debug, Subcommand)]
pub(crate) enum SchemasCommand {
    /// List every schema: id, event type, version, Avro name.
    List(SchemaArgs),
    /// Validate JSON events (one per line) from a file or stdin; print each verdict as JSON.
    Check {
        /// Schema location.
        #[command(flatten)]
        schemas: SchemaArgs,
        /// NDJSON file of events; `-` or absent reads stdin.
        file: Option<PathBuf>,
    },
}
