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
    }
}
