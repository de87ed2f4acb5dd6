//! Validator throughput on the local broker next to its ceiling, in the same run:
//!
//! 1. a do-nothing rdkafka consumer reads the topic (the ceiling: Kafka fetch on this machine);
//! 2. the real validator (in-process, same code as `playstream validate`) consumes the same
//!    topic, validates, batches and delivers to a local endpoint speaking the Firehose
//!    protocol with a configurable response delay (`PLAYSTREAM_BENCH_FIREHOSE_DELAY_MS`,
//!    default 20 ms), produces rejects to Kafka and commits offsets.
//!
//! Prints events/s for both and the ratio. `PLAYSTREAM_BENCH_SINK=file:///tmp/dir` uses the file
//! sink (fsync per batch) instead of the endpoint. Run: `bash scripts/bench-pipeline.sh` (needs .venv from `scripts/test.sh`
//! for the tansu broker). Record count: `PLAYSTREAM_BENCH_RECORDS` (1000000). Also prints the
//! CPU time this process and the broker used per record; `PLAYSTREAM_BENCH_TRACE=1` prints
//! consumed/delivered counts every 5 ms (how the fetch stall was found); `RUST_LOG` applies.
//! `PLAYSTREAM_BENCH_MAX_IN_FLIGHT` sets the validator's in-flight record budget (100000, the
//! command line's default). `PLAYSTREAM_BENCH_KAFKA_OPTIONS=k=v,k=v` adds librdkafka settings
//! (as `--kafka-option` does).
//! `PLAYSTREAM_BENCH_PERF_CTL=FIFO` writes `enable`/`disable` to a `perf record --control
//! fifo:FIFO -D -1` control fifo around the validator run, so a profile holds only that phase.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/fake_firehose.rs"]
mod fake_firehose;

use std::sync::Arc;
use std::time::{Duration, Instant};

use playstream::pipeline::sink::SinkSpec;
use playstream::pipeline::{Validator, ValidatorConfig};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas, SchemaSource};
use rdkafka::consumer::{BaseConsumer, Consumer};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn counter(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter().map(|m| m.get_counter().get_value()))
        .sum()
}

/// CPU seconds used so far by this process and by the broker.
fn cpu_now(broker_pid: &str) -> (f64, f64) {
    (common::cpu_seconds("self"), common::cpu_seconds(broker_pid))
}

/// CPU seconds this process and the broker used since `before` (from [`cpu_now`]).
fn cpu_since(before: (f64, f64), broker_pid: &str) -> (f64, f64) {
    let (own, brk) = cpu_now(broker_pid);
    (own - before.0, brk - before.1)
}

/// Tells a waiting `perf record --control fifo:…` to start or stop sampling.
fn perf_ctl(cmd: &str) {
    if let Ok(path) = std::env::var("PLAYSTREAM_BENCH_PERF_CTL") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(path).expect("perf control fifo");
        f.write_all(format!("{cmd}\n").as_bytes()).expect("perf control");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let n = env_u64("PLAYSTREAM_BENCH_RECORDS", 1_000_000) as usize;
    let delay = env_u64("PLAYSTREAM_BENCH_FIREHOSE_DELAY_MS", 20);
    let partitions = 4;
    let broker = common::Broker::start();
    broker.create_topic("bench-raw", partitions);
    broker.create_topic("bench-rejects", 1);
    let catalog = Arc::new(Catalog::embedded());
    let source: Arc<dyn SchemaSource> = Arc::new(LocalSchemas::new(catalog).unwrap());
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 60_000_000,
    );
    let records = corpus(n, 99, Mix::default(), &ts, source.as_ref());
    let payload: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key.clone(), r.value.clone())).collect();
    let bytes: usize = payload.iter().map(|(_, v)| v.len()).sum();
    println!("producing {n} records ({} MB) to a {partitions}-partition topic ...", bytes / 1_000_000);
    common::produce_all(&broker.bootstrap(), "bench-raw", &payload);

    // 1. Ceiling: a do-nothing consumer, partitions assigned directly (no group join).
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "bench-ceiling")
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", playstream::pipeline::consumer::FETCH_QUEUE_BACKOFF_MS)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset("bench-raw", p, rdkafka::Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let broker_pid = broker.pid().unwrap().to_string();
    let ceiling_cpu = cpu_now(&broker_pid);
    let mut got = 0usize;
    let mut started = None;
    while got < n {
        if let Some(Ok(_)) = c.poll(Duration::from_millis(500)) {
            started.get_or_insert_with(Instant::now);
            got += 1;
        }
    }
    let ceiling = n as f64 / started.unwrap().elapsed().as_secs_f64();
    let (own, brk) = cpu_since(ceiling_cpu, &broker_pid);
    drop(c);
    println!(
        "  (CPU during the ceiling run: this process {:.1} µs/record, broker {:.1} µs/record)",
        own * 1e6 / n as f64,
        brk * 1e6 / n as f64
    );
    println!("ceiling (do-nothing consumer): {ceiling:.0} events/s");

    // 2. The validator against a fast Firehose-protocol endpoint.
    // The AWS SDK takes the endpoint from AWS_ENDPOINT_URL (scripts/bench-pipeline.sh sets it).
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").expect("run via scripts/bench-pipeline.sh (sets AWS_ENDPOINT_URL)");
    let addr = endpoint.trim_start_matches("http://").to_string();
    let (_url, _seen) = fake_firehose::start_on(
        &addr,
        fake_firehose::Faults {
            entry_fail_pct: 0,
            throttle_every: 0,
            error_every: 0,
            max_delay_ms: delay,
            keep_bodies: false,
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let sink = match std::env::var("PLAYSTREAM_BENCH_SINK") {
        Ok(dir) if dir.starts_with("file://") => dir.parse().unwrap(),
        _ => SinkSpec::Firehose("bench".into()),
    };
    // The command line's defaults, but for a 50 ms linger: a finite run's last, partial batch
    // would otherwise wait the default 200 ms, which the ceiling never pays.
    let defaults =
        ValidatorConfig::new(&broker.bootstrap(), "bench-validator", "bench-raw", "bench-rejects", sink);
    let concurrency = env_u64("PLAYSTREAM_BENCH_CONCURRENCY", defaults.concurrent_batches as u64) as usize;
    let config = ValidatorConfig {
        kafka_options: std::iter::once(("session.timeout.ms".to_string(), "6000".to_string()))
            .chain(std::env::var("PLAYSTREAM_BENCH_KAFKA_OPTIONS").unwrap_or_default().split(',').filter_map(
                |kv| kv.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())),
            ))
            .collect(),
        linger: Duration::from_millis(50),
        concurrent_batches: concurrency,
        max_in_flight_records: env_u64(
            "PLAYSTREAM_BENCH_MAX_IN_FLIGHT",
            defaults.max_in_flight_records as u64,
        ) as usize,
        ..defaults.clone()
    };
    let validator = Validator::new(config, source).unwrap();
    let registry = validator.registry();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    perf_ctl("enable");
    let cpu_before = cpu_now(&broker_pid);
    let elapsed = rt.block_on(async move {
        let run = tokio::spawn(validator.run(async {
            let _ = stopped.await;
        }));
        let mut first: Option<Instant> = None;
        let mut all_read: Option<Duration> = None;
        loop {
            let consumed = counter(&registry, "playstream_records_consumed_total");
            if consumed > 0.0 {
                first.get_or_insert_with(Instant::now);
            }
            if consumed as usize >= n && all_read.is_none() {
                all_read = first.map(|f| f.elapsed());
            }
            let done = counter(&registry, "playstream_records_accepted_total")
                + counter(&registry, "playstream_records_rejected_total");
            if done as usize >= n {
                break;
            }
            if std::env::var_os("PLAYSTREAM_BENCH_TRACE").is_some() {
                eprintln!("{:?} consumed {consumed} done {done}", first.map(|f| f.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = first.unwrap().elapsed();
        if let Some(read) = all_read {
            println!("  (all records read after {read:.2?}; all delivered after {elapsed:.2?})");
        }
        stop.send(()).unwrap();
        run.await.unwrap().unwrap();
        elapsed
    });
    perf_ctl("disable");
    let validator_rate = n as f64 / elapsed.as_secs_f64();
    let (own, brk) = cpu_since(cpu_before, &broker_pid);
    println!(
        "  (CPU during the validator run: this process {own:.2} s = {:.1} µs/record incl. the fake endpoint, {:.2} cores busy of {} (CPU/wall); broker {brk:.2} s = {:.1} µs/record)",
        own * 1e6 / n as f64,
        own / elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        brk * 1e6 / n as f64
    );
    println!(
        "validator (fake Firehose endpoint, {delay} ms per call, {concurrency} calls in flight): {validator_rate:.0} events/s"
    );
    println!("ratio: {:.0} % of the ceiling (target >= 50 %)", 100.0 * validator_rate / ceiling);
}
