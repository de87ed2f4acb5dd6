//! The `playstream` binary: parses the command line, starts telemetry and dispatches.

mod cli;
mod schemas_cmd;

use clap::Parser;

use cli::{Cli, Commands};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, with the whole source chain, in the chosen log format.
            tracing::error!(error = format!("{e:#}"), "playstream stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Commands::Schemas(cmd) => schemas_cmd::run(cmd),
        Commands::Ingest(args) => on_runtime(ingest(args)),
        Commands::Validate(args) => on_runtime(validate(args)),
    }
}

/// Runs a service to completion; threads still blocked on a dead dependency at that point do
/// not hold the exit (their work is uncommitted and will be read again).
fn on_runtime(service: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let rt = runtime()?;
    let result = rt.block_on(service);
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Logs to stderr, one line per event: text (ANSI colours only on a terminal) or JSON.
fn init_logs(format: cli::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Json => builder.json().flatten_event(true).init(),
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // At least 4 workers: a rebalance callback may block one while it drains in-flight work.
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().max(4));
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown signal received");
}

async fn ingest(args: cli::IngestArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let config = playstream::ingest::IngestConfig {
        brokers: args.kafka.brokers,
        topic: args.kafka.raw_topic,
        api_keys_file: args.api_keys_file,
        no_auth: args.no_auth,
        kafka_options: args.kafka.kafka_options,
        produce_timeout: std::time::Duration::from_millis(args.produce_timeout_ms),
        limit: playstream::ingest::auth::Limit { rate: args.rate_limit, burst: args.rate_burst },
        cors_origins: args.cors_origins,
        max_concurrent_requests: args.max_concurrent_requests,
        idle_timeout: std::time::Duration::from_millis(args.idle_timeout_ms),
        max_event_bytes: args.max_event_bytes,
        producer_stall: std::time::Duration::from_millis(args.producer_stall_ms.max(100)),
        shutdown_timeout: std::time::Duration::from_millis(args.shutdown_timeout_ms),
    };
    playstream::ingest::serve(config, listener, shutdown_signal()).await?;
    Ok(())
}

async fn validate(args: cli::ValidateArgs) -> anyhow::Result<()> {
    use std::time::Duration;
    let schemas = schemas_cmd::load_source(&args.schemas)?;
    let sink = args.sink.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let config = playstream::pipeline::ValidatorConfig {
        brokers: args.kafka.brokers,
        group: args.group,
        raw_topic: args.kafka.raw_topic,
        rejects_topic: args.rejects_topic,
        kafka_options: args.kafka.kafka_options,
        sink,
        max_future: Duration::from_secs(u64::from(args.schemas.max_future_hours) * 3600),
        linger: Duration::from_millis(args.linger_ms),
        max_in_flight_records: args.max_in_flight_records.max(1),
        max_in_flight_bytes: args.max_in_flight_bytes.max(1),
        concurrent_batches: args.concurrent_batches.max(1),
        commit_interval: Duration::from_millis(args.commit_interval_ms.max(10)),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        unhealthy_after: Duration::from_millis(args.unhealthy_after_ms),
        firehose_timeouts: playstream::pipeline::FirehoseTimeouts {
            attempt: Duration::from_millis(args.firehose_attempt_timeout_ms.max(1)),
            operation: Duration::from_millis(args.firehose_operation_timeout_ms.max(1)),
        },
    };
    let validator = playstream::pipeline::Validator::new(config, schemas)?;
    let listener = tokio::net::TcpListener::bind(&args.metrics_listen).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let telemetry = tokio::spawn(playstream::telemetry::serve(
        listener,
        validator.registry(),
        validator.readiness(),
        async {
            let _ = stop_rx.await;
        },
    ));
    validator.run(shutdown_signal()).await?;
    let _ = stop_tx.send(());
    let _ = telemetry.await;
    Ok(())
}
