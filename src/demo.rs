//! `playstream demo`: the whole pipeline in one process, on an embedded broker (librdkafka's
//! mock cluster), with nothing to install — the ingest service on a free local port, N validator
//! replicas in one consumer group writing to the file sink, and the load generator posting
//! through HTTP. Invariant of its verdict: the run is reconciled only when every distinct valid
//! event id the generator sent landed in the sink and the rejects on the rejects topic equal,
//! code by code, what the generator's manifest expects (`unaccounted` = 0).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::loadgen::targets::{Progress, Target};
use crate::loadgen::{Manifest, Workload, generate};
use crate::pipeline::sink::SinkSpec;
use crate::pipeline::{Validator, ValidatorConfig};
use crate::report::rejects::RejectRow;
use crate::validate::SchemaSource;

/// Settings of a demo run.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The workload.
    pub workload: Workload,
    /// End of the simulated window, µs since the epoch.
    pub window_end: i64,
    /// Validator replicas.
    pub replicas: usize,
    /// Output folder.
    pub out: PathBuf,
    /// Keep everything running after the reconciliation (until Ctrl-C).
    pub keep_running: bool,
    /// FX rates for the report; None: illustrative fixed rates, written to `OUT/fx.csv`.
    pub fx: Option<PathBuf>,
}

/// Why the demo could not run (not retryable: a local resource is missing).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded broker could not start.
    #[error("the embedded broker: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A file or socket.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A validator could not be set up.
    #[error("a validator: {0}")]
    Validator(#[from] crate::pipeline::ValidatorError),
    /// The report of what landed could not be made.
    #[error("the report of what landed")]
    Report(#[from] crate::report::ReportError),
}

/// The reconciliation (the `--json` object).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Records generated.
    pub generated: u64,
    /// Records the ingest acknowledged (202).
    pub sent: u64,
    /// Distinct valid event ids landed in the sink.
    pub accepted: u64,
    /// Distinct rejects on the rejects topic.
    pub rejected: u64,
    /// Rejects by reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// The manifest's expectation.
    pub expected_rejected_by_reason: BTreeMap<String, u64>,
    /// Distinct valid event ids landed.
    pub landed_distinct: u64,
    /// Landed lines beyond the first of their event id (sent twice, or read again).
    pub duplicates: u64,
    /// Valid events not landed, plus rejects missing against the manifest.
    pub unaccounted: u64,
    /// The output folder.
    pub out_dir: String,
    /// The HTML report of what landed (`playstream report`).
    pub report: String,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

impl Summary {
    /// True when nothing is unaccounted and the rejects match the manifest.
    pub fn reconciled(&self) -> bool {
        self.unaccounted == 0 && self.rejected_by_reason == self.expected_rejected_by_reason
    }

    /// The last line of the demo's output.
    pub fn line(&self) -> String {
        format!(
            "{}: generated={} sent={} accepted={} rejected={} duplicates={} unaccounted={}",
            if self.reconciled() { "reconciled" } else { "NOT reconciled" },
            self.generated,
            self.sent,
            self.accepted,
            self.rejected,
            self.duplicates,
            self.unaccounted
        )
    }
}

const RAW: &str = "game-events.raw";
const REJECTS: &str = "game-events.rejects";
/// Enough partitions that the mock broker's per-partition retention (about 5 MiB) never drops
/// a record the validators have not read yet.
const RAW_PARTITIONS: i32 = 64;

/// Runs the demo; `say` receives every line meant for the user (progress and results).
pub async fn run(
    config: DemoConfig,
    schemas: Arc<dyn SchemaSource>,
    mut say: impl FnMut(&str),
) -> Result<Summary, DemoError> {
    let started = Instant::now();
    let landed = config.out.join("landed");
    // A fresh landing folder: lines left by an earlier run (same seed, same event ids) would
    // otherwise count as landed by this one.
    if landed.exists() {
        std::fs::remove_dir_all(&landed)?;
    }
    std::fs::create_dir_all(&landed)?;
    let cluster = rdkafka::mocking::MockCluster::new(1)?;
    cluster.create_topic(RAW, RAW_PARTITIONS, 1)?;
    cluster.create_topic(REJECTS, 4, 1)?;
    let bootstrap = cluster.bootstrap_servers();
    let key = format!("demo-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let keys_file = config.out.join("api-keys");
    std::fs::write(&keys_file, format!("demo:{key}\n"))?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let ingest_config = crate::ingest::IngestConfig {
        api_keys_file: Some(keys_file),
        limit: crate::ingest::auth::Limit { rate: 0.0, burst: 0.0 },
        ..crate::ingest::IngestConfig::new(&bootstrap, RAW)
    };
    let ingest = tokio::spawn(crate::ingest::serve(ingest_config, listener, stopped(stop_rx.clone())));
    say(&format!("ingest listening on {base} (API key in {})", config.out.join("api-keys").display()));

    let mut registries = Vec::new();
    let mut replicas = Vec::new();
    for _ in 0..config.replicas.max(1) {
        let vc = ValidatorConfig {
            kafka_options: vec![
                ("session.timeout.ms".into(), "6000".into()),
                ("heartbeat.interval.ms".into(), "500".into()),
            ],
            linger: Duration::from_millis(50),
            commit_interval: Duration::from_millis(250),
            ..ValidatorConfig::new(
                &bootstrap,
                "playstream-demo",
                RAW,
                REJECTS,
                SinkSpec::File(landed.clone()),
            )
        };
        let v = Validator::new(vc, schemas.clone())?;
        registries.push(v.registry());
        replicas.push(tokio::spawn(v.run(stopped(stop_rx.clone()))));
    }
    say(&format!(
        "{} validator replicas in group playstream-demo, landing in {}",
        replicas.len(),
        landed.display()
    ));

    let (records, manifest) = generate(&config.workload, config.window_end);
    std::fs::write(
        config.out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )?;
    say(&format!(
        "load generator: {} players × {} days → {} records ({} meant to be rejected, {} sent twice)",
        manifest.players,
        manifest.days,
        manifest.generated,
        manifest.expected_rejects.values().sum::<u64>(),
        manifest.duplicates
    ));
    let expected_ids: HashSet<String> = records.iter().filter_map(|r| r.event_id.clone()).collect();
    let progress = Arc::new(Progress::default());
    let target = Target::Http(base.clone());
    let sender = {
        let (p, k) = (progress.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            crate::loadgen::targets::send(&records, &target, Some(&k), 0.0, &p)
        })
    };

    // Live view until every record sent has been delivered or rejected.
    let terminal = std::io::stdout().is_terminal();
    let mut last = (Instant::now(), 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = Totals::of(&registries);
        let sent = progress.sent.load(Ordering::Relaxed);
        let done = m.accepted + m.rejected;
        let secs = last.0.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "in {:>7.0}/s  out {:>7.0}/s  sent {sent}  landed {}  rejected {}  in flight {}  {}",
            (sent - last.1) as f64 / secs,
            (done - last.2) as f64 / secs,
            m.accepted,
            m.rejected,
            m.in_flight,
            m.reasons.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
        );
        if terminal {
            print!("\r\x1b[2K{line}");
            let _ = std::io::stdout().flush();
        } else {
            say(&line);
        }
        last = (Instant::now(), sent, done);
        if sender.is_finished() && done >= sent && m.in_flight == 0 {
            break;
        }
        if Instant::now() > deadline {
            say("gave up waiting after 15 minutes");
            break;
        }
    }
    if terminal {
        println!();
    }
    let _ = sender.await;
    let sent = progress.sent.load(Ordering::Relaxed);
    if !config.keep_running {
        let _ = stop_tx.send(true);
        for r in replicas {
            let _ = r.await;
        }
        let _ = ingest.await;
    }
    let (landed_ids, lines) = landed_event_ids(&landed)?;
    let b = bootstrap.clone();
    let rejects = tokio::task::spawn_blocking(move || read_rejects(&b)).await.unwrap_or_default();
    let mut summary =
        reconcile(&manifest, &expected_ids, &landed_ids, lines, &rejects, sent, &config.out, started);
    let fx = match &config.fx {
        Some(path) => path.clone(),
        None => {
            let path = config.out.join("fx.csv");
            let first_day =
                crate::report::events::day_of(config.window_end) - config.workload.model.days as i32 - 1;
            std::fs::write(&path, crate::report::demo_fx_csv(first_day))?;
            path
        }
    };
    let page = config.out.join("report.html");
    let rows: Vec<_> = rejects.into_values().collect();
    crate::report::write_for_dir(&landed, &fx, &rows, &page).await?;
    summary.report = page.display().to_string();
    if config.keep_running {
        say(&format!(
            "try: curl -s -X POST {base}/v1/events -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"event_type\":\"session_start\",\"event_id\":\"{}\",\"timestamp\":\"{}\",\"user_id\":\"me\",\"game_id\":\"g\",\"platform\":\"ios\",\"app_version\":\"1.0\",\"session_id\":\"s1\"}}'",
            crate::validate::corpus::Rng::new(fastrand::u64(..)).uuid(),
            crate::validate::time::to_rfc3339(crate::validate::Context::now().now_micros())
        ));
        say(&format!(
            "and a bad one: curl -s -X POST {base}/v1/events -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"event_type\":\"purchase\",\"user_id\":\"me\",\"price\":\"4.999\",\"currency\":\"USD\"}}'"
        ));
        say(&format!("landed events: {}; press Ctrl-C to stop", landed.display()));
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    }
    drop(cluster);
    Ok(summary)
}

/// Counters summed over the replicas' metric registries.
#[derive(Debug, Default)]
struct Totals {
    accepted: u64,
    rejected: u64,
    in_flight: u64,
    reasons: BTreeMap<String, u64>,
}

impl Totals {
    fn of(registries: &[prometheus::Registry]) -> Totals {
        let mut t = Totals::default();
        for family in registries.iter().flat_map(prometheus::Registry::gather) {
            for m in family.get_metric() {
                let value = if family.name().ends_with("_total") {
                    m.get_counter().get_value()
                } else {
                    m.get_gauge().get_value()
                };
                let n = value.max(0.0) as u64;
                match family.name() {
                    "playstream_records_accepted_total" => t.accepted += n,
                    "playstream_in_flight_records" => t.in_flight += n,
                    "playstream_records_rejected_total" if n > 0 => {
                        t.rejected += n;
                        let reason = m
                            .get_label()
                            .iter()
                            .find(|l| l.name() == "reason")
                            .map(|l| l.value().to_string());
                        *t.reasons.entry(reason.unwrap_or_default()).or_default() += n;
                    }
                    _ => {}
                }
            }
        }
        t
    }
}

/// Event id → times landed, over every NDJSON object under `dir`; and the number of lines.
fn landed_event_ids(dir: &Path) -> std::io::Result<(HashMap<String, u64>, u64)> {
    let mut ids = HashMap::new();
    let mut lines = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "ndjson") {
                for line in std::fs::read_to_string(&path)?.lines() {
                    lines += 1;
                    let id = serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v.get("event_id").and_then(Json::as_str).map(str::to_string));
                    *ids.entry(id.unwrap_or_default()).or_default() += 1;
                }
            }
        }
    }
    Ok((ids, lines))
}

/// Distinct rejects on the rejects topic, by their source coordinates.
fn read_rejects(bootstrap: &str) -> HashMap<String, RejectRow> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut out = HashMap::new();
    let Ok(consumer) = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "playstream-demo-reconcile")
        .set("enable.auto.commit", "false")
        .create::<BaseConsumer>()
    else {
        return out;
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..4 {
        let _ = tpl.add_partition_offset(REJECTS, p, rdkafka::Offset::Beginning);
    }
    if consumer.assign(&tpl).is_err() {
        return out;
    }
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(3) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            idle = Instant::now();
            let r = crate::event::InboundRecord::from_message(&m);
            let h =
                |n: &str| r.header(n).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
            let coordinates = format!("{}/{}", h("reject.source.partition"), h("reject.source.offset"));
            let at = crate::report::rejects::parse_time(&h("reject.at"))
                .or_else(|| m.timestamp().to_millis().map(|ms| ms * 1000))
                .unwrap_or_default();
            let row = RejectRow { coordinates: coordinates.clone(), reason: h("reject.reason"), at };
            out.insert(coordinates, row);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn reconcile(
    manifest: &Manifest,
    expected_ids: &HashSet<String>,
    landed: &HashMap<String, u64>,
    lines: u64,
    rejects: &HashMap<String, RejectRow>,
    sent: u64,
    out: &Path,
    started: Instant,
) -> Summary {
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for r in rejects.values() {
        *by_reason.entry(r.reason.clone()).or_default() += 1;
    }
    let landed_expected = expected_ids.iter().filter(|id| landed.contains_key(*id)).count() as u64;
    let missing_valid = expected_ids.len() as u64 - landed_expected;
    let missing_rejects: u64 = manifest
        .expected_rejects
        .iter()
        .map(|(code, n)| n.saturating_sub(by_reason.get(code).copied().unwrap_or(0)))
        .sum();
    Summary {
        generated: manifest.generated,
        sent,
        accepted: landed_expected,
        rejected: rejects.len() as u64,
        rejected_by_reason: by_reason,
        expected_rejected_by_reason: manifest.expected_rejects.clone(),
        landed_distinct: landed.len() as u64,
        duplicates: lines - landed.len() as u64,
        unaccounted: missing_valid + missing_rejects,
        out_dir: out.display().to_string(),
        report: String::new(),
        elapsed_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }
}
