//! The `playstream` binary: parses the command line, starts telemetry and dispatches.

mod cli;
mod report_cmd;
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
        Commands::Loadgen(args) => loadgen(args),
        Commands::Demo(args) => on_runtime(demo(args)),
        Commands::Rejects(cmd) => on_runtime(rejects(cmd)),
        Commands::Report(args) => on_runtime(report_cmd::run(args)),
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

fn workload(w: &cli::WorkloadArgs, for_http: bool) -> playstream::loadgen::Workload {
    playstream::loadgen::Workload {
        model: playstream::loadgen::model::ModelSettings {
            players: w.players,
            days: w.days.max(1),
            payer_pct: w.payer_pct,
            d1_pct: w.d1_pct,
            d7_pct: w.d7_pct,
            d30_pct: w.d30_pct,
        },
        seed: w.seed,
        invalid_permille: w.invalid_permille.min(1000),
        duplicate_permille: w.duplicate_permille.min(1000),
        for_http,
    }
}

/// The end of the simulated window: `--end`, else the last midnight UTC.
fn window_end(w: &cli::WorkloadArgs) -> anyhow::Result<i64> {
    match &w.end {
        Some(t) => playstream::validate::time::parse_rfc3339(t)
            .ok_or_else(|| anyhow::anyhow!("--end {t:?} is not an RFC 3339 time")),
        None => {
            let now = playstream::validate::Context::now().now_micros();
            Ok(now - now.rem_euclid(86_400_000_000))
        }
    }
}

fn loadgen(args: cli::LoadgenArgs) -> anyhow::Result<()> {
    use playstream::loadgen::targets::{Progress, Target};
    use std::sync::atomic::Ordering;
    let target: Target = args.to.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let w = workload(&args.workload, matches!(target, Target::Http(_)));
    let end = window_end(&args.workload)?;
    let (mut records, manifest) = playstream::loadgen::generate(&w, end);
    match (args.format.as_str(), &target) {
        ("json", _) => {}
        ("avro", Target::Kafka(..)) => {
            let source = schemas_cmd::load_source(&cli::SchemaArgs::local_default())?;
            playstream::loadgen::to_avro(&mut records, source.as_ref());
        }
        (f, _) => {
            anyhow::bail!("--format {f} is not available for this target (json; avro for kafka:// only)")
        }
    }
    if let Some(path) = &args.manifest {
        std::fs::write(path, serde_json::to_vec_pretty(&manifest)?)?;
    }
    let progress = std::sync::Arc::new(Progress::default());
    let total = records.len() as u64;
    let watcher = {
        let p = progress.clone();
        std::thread::spawn(move || {
            use std::io::{IsTerminal, Write};
            let terminal = std::io::stderr().is_terminal();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let (sent, refused) = (p.sent.load(Ordering::Relaxed), p.refused.load(Ordering::Relaxed));
                let line = format!(
                    "sent {sent}/{total} ({:.0} %), refused {refused}",
                    (sent + refused) as f64 * 100.0 / total.max(1) as f64
                );
                if terminal {
                    eprint!("\r\x1b[2K{line}");
                    let _ = std::io::stderr().flush();
                } else {
                    tracing::info!("{line}");
                }
                if sent + refused >= total {
                    if terminal {
                        eprintln!();
                    }
                    return;
                }
            }
        })
    };
    playstream::loadgen::targets::send(&records, &target, args.api_key.as_deref(), args.rate, &progress)?;
    let _ = watcher.join();
    println!("{}", serde_json::to_string(&manifest)?);
    Ok(())
}

async fn demo(args: cli::DemoArgs) -> anyhow::Result<()> {
    let schemas = schemas_cmd::load_source(&cli::SchemaArgs::local_default())?;
    let config = playstream::demo::DemoConfig {
        window_end: window_end(&args.workload)?,
        workload: workload(&args.workload, true),
        replicas: args.replicas,
        out: args.out,
        keep_running: args.keep_running,
        fx: args.fx,
    };
    let json = args.json;
    let summary = playstream::demo::run(config, schemas, |line| {
        if !json {
            println!("{line}");
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "landed: {}/landed (NDJSON, as Firehose writes to S3); manifest: {}/manifest.json",
            summary.out_dir, summary.out_dir
        );
        println!("report: {}", summary.report);
        println!("{}", summary.line());
    }
    if summary.reconciled() { Ok(()) } else { anyhow::bail!("the demo did not reconcile") }
}

/// Reads the rejects topic `c` names (see `rejects_cli::read::read`).
fn read_rejects(
    c: &cli::RejectsArgs,
    sel: &playstream::rejects_cli::read::Selection,
    start: playstream::rejects_cli::read::Start,
    follow: bool,
    each: impl FnMut(playstream::rejects_cli::read::RejectRecord),
) -> Result<u64, rdkafka::error::KafkaError> {
    playstream::rejects_cli::read::read(
        &c.brokers,
        &c.rejects_topic,
        &c.kafka_options,
        sel,
        start,
        follow,
        each,
    )
}

fn selection(c: &cli::RejectsArgs) -> anyhow::Result<playstream::rejects_cli::read::Selection> {
    use playstream::rejects_cli::read::parse_time;
    let now = playstream::validate::Context::now().now_micros() / 1000;
    let time =
        |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose().map_err(anyhow::Error::msg);
    Ok(playstream::rejects_cli::read::Selection {
        reasons: c.reasons.clone(),
        event_type: c.event_type.clone(),
        field: c.field.clone(),
        since_ms: time(&c.since)?,
        until_ms: time(&c.until)?,
    })
}

async fn rejects(cmd: cli::RejectsCommand) -> anyhow::Result<()> {
    use playstream::rejects_cli::read::Start;
    use playstream::rejects_cli::{DIMENSIONS, Summary, export_row, record_json_with, record_text_with};
    use std::io::Write;
    match cmd {
        cli::RejectsCommand::Summary { common, by } => {
            if let Some(bad) = by.iter().find(|b| !DIMENSIONS.contains(&b.as_str())) {
                anyhow::bail!("--by {bad}: choose from {}", DIMENSIONS.join(", "));
            }
            let sel = selection(&common)?;
            let summary = tokio::task::spawn_blocking(move || {
                let mut s = Summary::default();
                read_rejects(&common, &sel, Start::Beginning, false, |r| s.add(&r, &by))
                    .map(|_| (s, by, common.json))
            })
            .await??;
            let (s, by, json) = summary;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", s.to_json(&by))?;
            } else {
                s.write_table(&by, &mut out)?;
            }
        }
        cli::RejectsCommand::Tail { common, follow, from_beginning, schemas } => {
            let source = schemas_cmd::load_source(&schemas)?;
            let sel = selection(&common)?;
            let start = if from_beginning { Start::Beginning } else { Start::Last(10) };
            tokio::task::spawn_blocking(move || {
                let mut out = std::io::stdout().lock();
                read_rejects(&common, &sel, start, follow, |r| {
                    let _ = if common.json {
                        writeln!(out, "{}", record_json_with(&r, source.as_ref()))
                    } else {
                        writeln!(out, "{}", record_text_with(&r, source.as_ref()))
                    };
                })
            })
            .await??;
        }
        cli::RejectsCommand::Export { common, output, format } => {
            if format != "rejected_events" && format != "payload" {
                anyhow::bail!("--format {format}: choose rejected_events or payload");
            }
            let sel = selection(&common)?;
            let n = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&output)?);
                let mut failed = None;
                let n = read_rejects(&common, &sel, Start::Beginning, false, |r| {
                    let written = if format == "payload" {
                        f.write_all(&r.value).and_then(|()| f.write_all(b"\n"))
                    } else {
                        writeln!(f, "{}", export_row(&r))
                    };
                    if let Err(e) = written {
                        failed.get_or_insert(e);
                    }
                })?;
                if let Some(e) = failed {
                    return Err(e.into());
                }
                f.flush()?;
                Ok(n)
            })
            .await??;
            eprintln!("exported {n} rejects");
        }
        cli::RejectsCommand::Replay {
            common,
            raw_topic,
            revalidate,
            dry_run,
            rate,
            max_replays,
            force,
            group,
            schemas,
        } => {
            let source = schemas_cmd::load_source(&schemas)?;
            let settings = playstream::rejects_cli::replay::ReplaySettings {
                brokers: common.brokers.clone(),
                rejects_topic: common.rejects_topic.clone(),
                raw_topic,
                selection: selection(&common)?,
                revalidate,
                max_future_micros: i64::from(schemas.max_future_hours) * 3_600_000_000,
                dry_run,
                rate,
                max_replays,
                force,
                kafka_options: common.kafka_options.clone(),
                group,
            };
            let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let report = playstream::rejects_cli::replay::replay(&settings, source.as_ref(), |n| {
                if terminal && n % 50 == 0 {
                    eprint!("\r\x1b[2Kreplayed {n}");
                }
            })
            .await?;
            if terminal {
                eprintln!();
            }
            if common.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "selected {}  {} {}",
                    report.selected,
                    if dry_run { "would replay" } else { "replayed" },
                    report.replayed
                );
                println!(
                    "skipped: already replayed {}, max replays {}",
                    report.skipped_already_replayed, report.skipped_max_replays
                );
                for (code, n) in &report.skipped_still_invalid {
                    println!("  still invalid {code:<20} {n:>6} {}", "#".repeat((*n as usize).min(60)));
                }
            }
        }
    }
    Ok(())
}
