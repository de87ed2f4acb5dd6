//! The `playstream` binary: parses the command line, starts telemetry and dispatches.

mod cli;
mod schemas_cmd;

use clap::Parser;

use cli::{Cli, Commands};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Commands::Schemas(cmd) => schemas_cmd::run(cmd),
        Commands::Ingest(args) => runtime()?.block_on(ingest(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
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
    };
    playstream::ingest::serve(config, listener, shutdown_signal()).await?;
    Ok(())
}
