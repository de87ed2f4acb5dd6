//! The command line: one `Commands` enum, one flag struct per subcommand. Every flag has an
//! environment variable and a documented default; the `///` lines are the user docs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// playstream: validate game events from Kafka and deliver them to Firehose.
#[derive(Debug, Parser)]
#[command(name = "playstream", version, about)]
pub(crate) struct Cli {
    /// Log lines as `text` (ANSI colours only on a terminal) or `json` (one object per line).
    #[arg(long, global = true, env = "PLAYSTREAM_LOG_FORMAT", default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines; colours only when stderr is a terminal.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Commands {
    /// Inspect the event schemas and check events against them offline.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Run the HTTP service game clients post events to (each event becomes one Kafka record).
    Ingest(IngestArgs),
    /// Run one replica of the consumer group: raw topic → validate → Firehose / rejects topic.
    Validate(ValidateArgs),
    /// Generate a realistic game workload and send it to the ingest API, Kafka or a file.
    Loadgen(LoadgenArgs),
    /// Run the whole pipeline in one process on an embedded broker, fed by the load generator,
    /// and reconcile what landed against what was sent.
    Demo(DemoArgs),
    /// Inspect, summarize, export and replay the rejects topic.
    #[command(subcommand)]
    Rejects(RejectsCommand),
    /// Compute the game dashboard (DAU, revenue, ARPU, retention, funnel, rejects) from landed
    /// NDJSON, by the rules of the sql/ views, into a self-contained HTML page.
    Report(ReportArgs),
}

/// `playstream report`
#[derive(Debug, Args, Clone)]
pub(crate) struct ReportArgs {
    /// Landed events: `file://DIR` (the file sink's layout) or `s3://BUCKET/PREFIX` (AWS standard chain).
    #[arg(long, env = "PLAYSTREAM_REPORT_FROM")]
    pub(crate) from: String,
    /// The HTML page to write.
    #[arg(long, env = "PLAYSTREAM_REPORT_OUT", default_value = "report.html")]
    pub(crate) out: PathBuf,
    /// FX rates CSV (`rate_date,currency,usd_per_unit`); without it only USD revenue is priced.
    #[arg(long, env = "PLAYSTREAM_REPORT_FX")]
    pub(crate) fx: Option<PathBuf>,
    /// Rejects: a `rejects export` file, or the rejects topic as `kafka://BROKERS/TOPIC`.
    #[arg(long, env = "PLAYSTREAM_REPORT_REJECTS")]
    pub(crate) rejects: Option<String>,
    /// Extra consumer settings for reading the rejects topic (repeatable `key=value`).
    #[arg(long = "kafka-option", env = "PLAYSTREAM_KAFKA_OPTIONS", value_delimiter = ';', value_parser = parse_key_value)]
    pub(crate) kafka_options: Vec<(String, String)>,
    /// Print the report's figures as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `playstream rejects …`
#[derive(Debug, Subcommand)]
pub(crate) enum RejectsCommand {
    /// Count rejects by reason, event type, field, schema or app version.
    Summary {
        /// Which rejects.
        #[command(flatten)]
        common: RejectsArgs,
        /// Dimensions to group by, comma-separated: reason, event_type, field, schema, app_version.
        #[arg(long, value_delimiter = ',', default_value = "reason")]
        by: Vec<String>,
    },
    /// Print rejects: coordinates, headers and the payload.
    Tail {
        /// Which rejects.
        #[command(flatten)]
        common: RejectsArgs,
        /// Keep waiting for new rejects.
        #[arg(long)]
        follow: bool,
        /// Start at the beginning of every partition (default: the last 10 of each).
        #[arg(long)]
        from_beginning: bool,
        /// Schemas (or a registry) to decode Confluent-framed Avro payloads with.
        #[command(flatten)]
        schemas: SchemaArgs,
    },
    /// Write the selected rejects to a file, one JSON object per line.
    Export {
        /// Which rejects.
        #[command(flatten)]
        common: RejectsArgs,
        /// The output file.
        #[arg(long)]
        output: PathBuf,
        /// `rejected_events` (rows for sql/'s table) or `payload` (the original values as NDJSON).
        #[arg(long, default_value = "rejected_events")]
        format: String,
    },
    /// Send selected rejects back to the raw topic (once per reject unless --force).
    Replay {
        /// Which rejects.
        #[command(flatten)]
        common: RejectsArgs,
        /// The topic replayed records go to.
        #[arg(long, env = "PLAYSTREAM_RAW_TOPIC", default_value = "game-events.raw")]
        raw_topic: String,
        /// Replay only what the current schemas accept (the rest is reported by reason).
        #[arg(long)]
        revalidate: bool,
        /// Print what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Records per second (0: unpaced).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Skip records already replayed this many times (the loop guard).
        #[arg(long, default_value_t = 3)]
        max_replays: u64,
        /// Replay again what this group already replayed.
        #[arg(long)]
        force: bool,
        /// Replay group: each reject is replayed at most once per group.
        #[arg(long, env = "PLAYSTREAM_REPLAY_GROUP", default_value = "playstream-replay")]
        group: String,
        /// Schemas for --revalidate.
        #[command(flatten)]
        schemas: SchemaArgs,
    },
}

/// Flags shared by every `rejects` command.
#[derive(Debug, Args, Clone)]
pub(crate) struct RejectsArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
    pub(crate) brokers: String,
    /// The rejects topic.
    #[arg(long, env = "PLAYSTREAM_REJECTS_TOPIC", default_value = "game-events.rejects")]
    pub(crate) rejects_topic: String,
    /// Only rejects at or after this time: a duration back from now (`2h`) or RFC 3339.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only rejects before this time: a duration back from now or RFC 3339.
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Only this reason code (repeatable).
    #[arg(long = "reason")]
    pub(crate) reasons: Vec<String>,
    /// Only rejects whose payload has this event type.
    #[arg(long)]
    pub(crate) event_type: Option<String>,
    /// Only rejects of this field (`price` or `$.price`).
    #[arg(long)]
    pub(crate) field: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
    /// Extra librdkafka setting `key=value` (repeatable; env: `;`-separated).
    #[arg(long = "kafka-option", env = "PLAYSTREAM_KAFKA_OPTIONS", value_delimiter = ';', value_parser = parse_key_value)]
    pub(crate) kafka_options: Vec<(String, String)>,
}

/// The workload shared by `loadgen` and `demo`.
#[derive(Debug, Args, Clone)]
pub(crate) struct WorkloadArgs {
    /// Players who install during the window.
    #[arg(long, env = "PLAYSTREAM_PLAYERS", default_value_t = 5_000)]
    pub(crate) players: u64,
    /// Days simulated (ending now).
    #[arg(long, env = "PLAYSTREAM_DAYS", default_value_t = 30)]
    pub(crate) days: u64,
    /// Seed: the same seed gives the same events, byte for byte.
    #[arg(long, env = "PLAYSTREAM_SEED", default_value_t = 42)]
    pub(crate) seed: u64,
    /// Share of events made invalid on purpose, per mille (each with a known reject code).
    #[arg(long, env = "PLAYSTREAM_INVALID_PERMILLE", default_value_t = 20)]
    pub(crate) invalid_permille: u64,
    /// Share of valid events sent twice, per mille.
    #[arg(long, env = "PLAYSTREAM_DUPLICATE_PERMILLE", default_value_t = 10)]
    pub(crate) duplicate_permille: u64,
    /// Share of players who ever pay, percent.
    #[arg(long, env = "PLAYSTREAM_PAYER_PCT", default_value_t = 8)]
    pub(crate) payer_pct: u64,
    /// Day-1 retention target, percent (D7 and D30 follow as half and a quarter of it unless set).
    #[arg(long, env = "PLAYSTREAM_D1_PCT", default_value_t = 40)]
    pub(crate) d1_pct: u64,
    /// Day-7 retention target, percent.
    #[arg(long, env = "PLAYSTREAM_D7_PCT", default_value_t = 20)]
    pub(crate) d7_pct: u64,
    /// Day-30 retention target, percent.
    #[arg(long, env = "PLAYSTREAM_D30_PCT", default_value_t = 10)]
    pub(crate) d30_pct: u64,
    /// End of the simulated window (RFC 3339); default: the last midnight UTC, so a seed gives
    /// the same bytes all day.
    #[arg(long, env = "PLAYSTREAM_WINDOW_END")]
    pub(crate) end: Option<String>,
}

/// `playstream loadgen`
#[derive(Debug, Args, Clone)]
pub(crate) struct LoadgenArgs {
    /// Where to send: `http://HOST:PORT` (ingest), `kafka://BROKERS/TOPIC` or `file://PATH`.
    #[arg(long, env = "PLAYSTREAM_LOADGEN_TO")]
    pub(crate) to: String,
    /// The workload.
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Records per second (0: as fast as the target takes them).
    #[arg(long, env = "PLAYSTREAM_RATE", default_value_t = 0.0)]
    pub(crate) rate: f64,
    /// `json`, or `avro` (Confluent-framed, local schema ids; Kafka targets only).
    #[arg(long, env = "PLAYSTREAM_FORMAT", default_value = "json")]
    pub(crate) format: String,
    /// API key for an `http://` target.
    #[arg(long, env = "PLAYSTREAM_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Write the expected outcome (the manifest) to this file as one JSON object.
    #[arg(long, env = "PLAYSTREAM_MANIFEST")]
    pub(crate) manifest: Option<PathBuf>,
}

/// `playstream demo`
#[derive(Debug, Args, Clone)]
pub(crate) struct DemoArgs {
    /// The workload.
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Validator replicas in the consumer group.
    #[arg(long, env = "PLAYSTREAM_REPLICAS", default_value_t = 3)]
    pub(crate) replicas: usize,
    /// Output folder (landed events, manifest, API key).
    #[arg(long, env = "PLAYSTREAM_DEMO_OUT", default_value = "playstream-demo")]
    pub(crate) out: PathBuf,
    /// Keep the services running after the reconciliation (Ctrl-C stops them).
    #[arg(long)]
    pub(crate) keep_running: bool,
    /// Print the reconciliation as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// FX rates CSV for the report (default: illustrative fixed rates, written to OUT/fx.csv).
    #[arg(long, env = "PLAYSTREAM_DEMO_FX")]
    pub(crate) fx: Option<PathBuf>,
}

/// `playstream validate`
#[derive(Debug, Args, Clone)]
pub(crate) struct ValidateArgs {
    /// Kafka connection.
    #[command(flatten)]
    pub(crate) kafka: KafkaArgs,
    /// Schema location.
    #[command(flatten)]
    pub(crate) schemas: SchemaArgs,
    /// Topic rejected records are produced to.
    #[arg(long, env = "PLAYSTREAM_REJECTS_TOPIC", default_value = "game-events.rejects")]
    pub(crate) rejects_topic: String,
    /// Consumer group id shared by all replicas.
    #[arg(long, env = "PLAYSTREAM_GROUP", default_value = "playstream-validator")]
    pub(crate) group: String,
    /// Where good events go: `firehose://STREAM` or `file://DIR`.
    #[arg(long, env = "PLAYSTREAM_SINK", default_value = "firehose://game-events")]
    pub(crate) sink: String,
    /// Address serving /healthz, /readyz and /metrics.
    #[arg(long, env = "PLAYSTREAM_METRICS_LISTEN", default_value = "0.0.0.0:9464")]
    pub(crate) metrics_listen: String,
    /// Milliseconds a validated event may wait for its Firehose batch to fill.
    #[arg(long, env = "PLAYSTREAM_LINGER_MS", default_value_t = 200)]
    pub(crate) linger_ms: u64,
    /// Records read but not yet delivered, for the whole process, before every partition is
    /// paused (resumed below half; polling goes on, so the member stays in the group).
    #[arg(long, env = "PLAYSTREAM_MAX_IN_FLIGHT_RECORDS", default_value_t = 100_000)]
    pub(crate) max_in_flight_records: usize,
    /// Bytes read but not yet delivered, for the whole process, before every partition is paused.
    #[arg(long, env = "PLAYSTREAM_MAX_IN_FLIGHT_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub(crate) max_in_flight_bytes: usize,
    /// Milliseconds without a success, while work is pending, before /readyz turns 503.
    #[arg(long, env = "PLAYSTREAM_UNHEALTHY_AFTER_MS", default_value_t = 30_000)]
    pub(crate) unhealthy_after_ms: u64,
    /// Milliseconds one Firehose HTTP attempt may take before it is abandoned and retried.
    #[arg(long, env = "PLAYSTREAM_FIREHOSE_ATTEMPT_TIMEOUT_MS", default_value_t = 10_000)]
    pub(crate) firehose_attempt_timeout_ms: u64,
    /// Milliseconds a whole Firehose call may take.
    #[arg(long, env = "PLAYSTREAM_FIREHOSE_OPERATION_TIMEOUT_MS", default_value_t = 30_000)]
    pub(crate) firehose_operation_timeout_ms: u64,
    /// PutRecordBatch calls in flight at once (each ≤ 500 records: at a 30 ms answer, 32 calls
    /// carry up to ~500k records/s, so the default is not what limits a replica).
    #[arg(long, env = "PLAYSTREAM_CONCURRENT_BATCHES", default_value_t = 32)]
    pub(crate) concurrent_batches: usize,
    /// Milliseconds between offset commits.
    #[arg(long, env = "PLAYSTREAM_COMMIT_INTERVAL_MS", default_value_t = 1000)]
    pub(crate) commit_interval_ms: u64,
    /// Milliseconds a revoke or shutdown waits for in-flight records (below the session timeout).
    #[arg(long, env = "PLAYSTREAM_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub(crate) drain_timeout_ms: u64,
}

/// Kafka connection flags shared by every subcommand that talks to Kafka.
#[derive(Debug, Args, Clone)]
pub(crate) struct KafkaArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
    pub(crate) brokers: String,
    /// Topic raw events are produced to and consumed from.
    #[arg(long, env = "PLAYSTREAM_RAW_TOPIC", default_value = "game-events.raw")]
    pub(crate) raw_topic: String,
    /// Extra librdkafka setting `key=value` (repeatable), e.g. `security.protocol=SASL_SSL`; the
    /// environment variable takes several separated by `;`, so secrets stay out of argv.
    #[arg(long = "kafka-option", env = "PLAYSTREAM_KAFKA_OPTIONS", value_delimiter = ';', value_parser = parse_key_value)]
    pub(crate) kafka_options: Vec<(String, String)>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

/// `playstream ingest`
#[derive(Debug, Args, Clone)]
pub(crate) struct IngestArgs {
    /// Kafka connection.
    #[command(flatten)]
    pub(crate) kafka: KafkaArgs,
    /// Address the HTTP server listens on.
    #[arg(long, env = "PLAYSTREAM_LISTEN", default_value = "0.0.0.0:8080")]
    pub(crate) listen: String,
    /// API keys file: one `id:key` or `id:sha256:<64 hex>` per line; reloaded when it changes
    /// (also through a swapped symlink, as a Kubernetes Secret volume does) and on SIGHUP.
    #[arg(long, env = "PLAYSTREAM_API_KEYS_FILE")]
    pub(crate) api_keys_file: Option<PathBuf>,
    /// Accept requests without an API key. Development only; logs a warning at start.
    #[arg(long, env = "PLAYSTREAM_NO_AUTH")]
    pub(crate) no_auth: bool,
    /// Milliseconds a request waits for Kafka's acknowledgement before answering 503.
    #[arg(long, env = "PLAYSTREAM_PRODUCE_TIMEOUT_MS", default_value_t = 5000)]
    pub(crate) produce_timeout_ms: u64,
    /// Sustained events per second each API key may send (0 = unlimited).
    #[arg(long, env = "PLAYSTREAM_RATE_LIMIT", default_value_t = 10_000.0)]
    pub(crate) rate_limit: f64,
    /// Events an API key may send in a burst above the sustained rate.
    #[arg(long, env = "PLAYSTREAM_RATE_BURST", default_value_t = 20_000.0)]
    pub(crate) rate_burst: f64,
    /// Origin allowed to call the API from a browser (repeatable; `*` for any). None: no CORS.
    #[arg(long = "cors-origin", env = "PLAYSTREAM_CORS_ORIGINS", value_delimiter = ',')]
    pub(crate) cors_origins: Vec<String>,
    /// Requests handled at once; more are answered 503 `overloaded` with Retry-After at once.
    #[arg(long, env = "PLAYSTREAM_MAX_CONCURRENT_REQUESTS", default_value_t = 4096)]
    pub(crate) max_concurrent_requests: usize,
    /// Milliseconds a connection may wait for a complete request head before it is closed, and a
    /// request body may take to arrive before 408 (keep it above a load balancer's idle timeout).
    #[arg(long, env = "PLAYSTREAM_IDLE_TIMEOUT_MS", default_value_t = playstream::http_server::DEFAULT_IDLE_TIMEOUT_MS)]
    pub(crate) idle_timeout_ms: u64,
    /// Largest event accepted, bytes (larger: 413); default: the producer's `message.max.bytes`
    /// less 1 KiB for the key and headers.
    #[arg(long, env = "PLAYSTREAM_MAX_EVENT_BYTES")]
    pub(crate) max_event_bytes: Option<usize>,
    /// Milliseconds deliveries may keep failing, while the broker answers, before the Kafka
    /// producer is replaced by a new one.
    #[arg(long, env = "PLAYSTREAM_PRODUCER_STALL_MS", default_value_t = 10_000)]
    pub(crate) producer_stall_ms: u64,
    /// Milliseconds a shutdown may take (finish requests, flush); keep it under the pod's grace.
    #[arg(long, env = "PLAYSTREAM_SHUTDOWN_TIMEOUT_MS", default_value_t = 20_000)]
    pub(crate) shutdown_timeout_ms: u64,
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
    /// Schema Registry basic auth as `user:password` (Confluent's `basic.auth.user.info`); never logged.
    #[arg(long, env = "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", hide_env_values = true, value_parser = SecretAuth)]
    pub(crate) schema_registry_auth: Option<playstream::validate::BasicAuth>,
    /// PEM file of CA certificates to trust for an https Schema Registry, besides the system's.
    #[arg(long, env = "SCHEMA_REGISTRY_CA_FILE")]
    pub(crate) schema_registry_ca: Option<PathBuf>,
    /// How far in the future an event timestamp may be, in hours.
    #[arg(long, env = "PLAYSTREAM_MAX_FUTURE_HOURS", default_value_t = 24)]
    pub(crate) max_future_hours: u32,
}

impl SchemaArgs {
    /// The built-in (or `./schemas`) schemas, no registry: what `loadgen` and `demo` use.
    pub(crate) fn local_default() -> SchemaArgs {
        SchemaArgs {
            schemas: PathBuf::from("schemas"),
            schema_registry_url: None,
            schema_registry_auth: None,
            schema_registry_ca: None,
            max_future_hours: 24,
        }
    }
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

/// Parses `--schema-registry-auth` without echoing the value in a parse error (clap's own
/// "invalid value" message would print it).
#[derive(Debug, Clone, Copy)]
struct SecretAuth;

impl clap::builder::TypedValueParser for SecretAuth {
    type Value = playstream::validate::BasicAuth;

    fn parse_ref(
        &self,
        _: &clap::Command,
        _: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        value.to_str().and_then(|v| v.parse().ok()).ok_or_else(|| {
            let why = "--schema-registry-auth (SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO) must be user:password\n";
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, why)
        })
    }
}
