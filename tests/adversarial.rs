//! The validator binary under adversarial conditions, against a real broker (tansu) and the
//! fault-injecting Firehose endpoint (`support/fake_firehose.rs`; moto cannot fail or go down
//! on demand, so this is a fake and says so):
//! - a record whose reject the rejects producer can never take as it is (over the producer's
//!   `message.max.bytes`) must not wedge its partition: the reject goes out truncated and
//!   flagged, and the committed offsets reach the end of the topic with no duplicate delivery;
//! - Firehose down for longer than `max.poll.interval.ms` must not get the member evicted: the
//!   loop keeps polling with every partition paused, memory stays bounded, and everything is
//!   delivered exactly once after recovery.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;
#[path = "support/fake_firehose.rs"]
mod fake_firehose;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Broker, committed, header, partition_ends, produce_all_with, read_topic, sigterm, start_validator,
};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas};

fn no_faults() -> fake_firehose::Faults {
    fake_firehose::Faults {
        entry_fail_pct: 0,
        throttle_every: 0,
        error_every: 0,
        max_delay_ms: 0,
        keep_bodies: true,
    }
}

fn recent_timestamp() -> String {
    playstream::validate::time::to_rfc3339(playstream::validate::Context::now().now_micros() - 60_000_000)
}

/// Valid corpus records as `(key, value)`.
fn valid_records(n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    corpus(n, seed, Mix { invalid_pct: 0, ..Mix::default() }, &recent_timestamp(), &source)
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect()
}

/// A well-formed purchase padded with an unknown field to `size` bytes: judged `too_large`.
fn oversized_event(size: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event_id":"0b7e6f2a-5c1d-4e8f-9a3b-2c4d6e8f0a1b","event_type":"session_start","timestamp":"{}","user_id":"big","game_id":"g","platform":"ios","app_version":"1.0","session_id":"s","padding":""#,
        recent_timestamp()
    );
    let mut v = head.into_bytes();
    v.resize(size - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

/// Starts the validator binary on `raw-NAME` / `rejects-NAME`, group NAME, with its operations
/// endpoints on `metrics_port`. Settings newer than the first release are given as environment
/// variables, so the same test can run against an older binary to watch it fail.
fn spawn_validator(
    bootstrap: &str,
    endpoint: &str,
    name: &str,
    metrics_port: u16,
    args: &[&str],
    env: &[(&str, &str)],
    log: Option<std::fs::File>,
) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_playstream"));
    cmd.args(["validate", "--brokers", bootstrap, "--raw-topic", &format!("raw-{name}")])
        .args([
            "--rejects-topic",
            &format!("rejects-{name}"),
            "--group",
            name,
            "--sink",
            "firehose://game-events",
        ])
        .args([
            "--commit-interval-ms",
            "200",
            "--linger-ms",
            "20",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args(["--kafka-option", "session.timeout.ms=6000", "--kafka-option", "heartbeat.interval.ms=500"])
        .args(args)
        .envs(env.iter().copied())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("RUST_LOG", "warn,playstream=info")
        .stdout(std::process::Stdio::null());
    match log {
        Some(f) => cmd.stderr(f),
        None => cmd.stderr(std::process::Stdio::inherit()),
    };
    cmd.spawn().expect("start the playstream binary")
}

/// The HTTP status of `GET path` on the validator's operations port (0 if it does not answer).
fn http_status(port: u16, path: &str) -> u16 {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return 0 };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A metric's value from `/metrics` (the first series whose line starts with `series`).
fn metric(port: u16, series: &str) -> f64 {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return f64::NAN };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Polls `cond` every 200 ms until it holds or `timeout` passes; returns whether it held.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cond()
}

fn wait_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    parts: i32,
    ends: &std::collections::BTreeMap<i32, i64>,
    timeout: Duration,
) -> std::collections::BTreeMap<i32, i64> {
    let deadline = Instant::now() + timeout;
    loop {
        let c = committed(bootstrap, group, topic, parts);
        if &c == ends || Instant::now() >= deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_reject_the_producer_refuses_is_truncated_and_the_partition_moves_on() {
    let broker = Broker::start();
    broker.create_topic("raw-big", 2);
    let (endpoint, seen) = fake_firehose::start(no_faults());
    let mut records = valid_records(400, 5);
    let big = oversized_event(1_500_000);
    records.insert(150, ("big".into(), big.clone()));
    // The raw topic takes the 1.5 MB record (the producing client allows it); the validator's
    // rejects producer keeps librdkafka's default message.max.bytes (1,000,000).
    let produced = produce_all_with(
        &broker.bootstrap(),
        "raw-big",
        &records,
        &[("message.max.bytes", "2000000"), ("batch.size", "2000000")],
    );
    let ends = partition_ends(&produced);
    let mut validator = start_validator(
        &broker.bootstrap(),
        &endpoint,
        "raw-big",
        "rejects-big",
        "big",
        "firehose://game-events",
        &["--linger-ms", "20"],
    );
    let got = wait_committed(&broker.bootstrap(), "big", "raw-big", 2, &ends, Duration::from_secs(60));
    assert_eq!(
        got, ends,
        "committed offsets must reach the end of the topic (a reject wedged its partition)"
    );
    sigterm(&mut validator);

    let rejects = read_topic(&broker.bootstrap(), "rejects-big", 4, 1, Duration::from_secs(20));
    assert_eq!(rejects.len(), 1, "exactly the oversized record is rejected");
    let r = &rejects[0];
    assert_eq!(header(r, "reject.reason").as_deref(), Some("too_large"));
    assert_eq!(header(r, "reject.truncated").as_deref(), Some("true"));
    assert_eq!(header(r, "reject.original_size"), Some(big.len().to_string()));
    assert!(
        r.value.len() < 1_000_000 && !r.value.is_empty(),
        "value cut to what the topic takes: {}",
        r.value.len()
    );
    assert!(big.starts_with(&r.value), "the truncated value is a prefix of the original");
    assert_eq!(r.key.as_deref(), Some(&b"big"[..]));

    let s = seen.lock().unwrap();
    assert_eq!(s.accepted.len(), 400, "every valid event delivered");
    assert_eq!(s.accepted.values().filter(|(n, _, _)| *n > 1).count(), 0, "no duplicate deliveries");
}

#[test]
fn firehose_down_longer_than_the_poll_interval_evicts_nobody() {
    let broker = Broker::start();
    broker.create_topic("raw-down", 4);
    let (endpoint, seen) = fake_firehose::start(no_faults());
    seen.lock().unwrap().down = true;
    let records = valid_records(80_000, 17);
    let produced = produce_all_with(&broker.bootstrap(), "raw-down", &records, &[]);
    let ends = partition_ends(&produced);
    let log_path = std::env::temp_dir().join(format!("playstream-down-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut validator = spawn_validator(
        &broker.bootstrap(),
        &endpoint,
        "down",
        common::free_port(),
        &["--kafka-option", "max.poll.interval.ms=7000"],
        &[],
        Some(log),
    );
    // Down for more than three poll intervals, sampling memory.
    let mut max_rss = 0;
    let down_until = Instant::now() + Duration::from_secs(25);
    while Instant::now() < down_until {
        max_rss = max_rss.max(common::rss_bytes(validator.id()));
        assert!(validator.try_wait().unwrap().is_none(), "the validator exited during the outage");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(seen.lock().unwrap().down_calls > 0, "the validator tried Firehose while it was down");
    let during = committed(&broker.bootstrap(), "down", "raw-down", 4);
    assert!(during.values().all(|o| *o <= 0), "nothing committed while nothing is delivered: {during:?}");
    seen.lock().unwrap().down = false;
    let got = wait_committed(&broker.bootstrap(), "down", "raw-down", 4, &ends, Duration::from_secs(90));
    assert_eq!(got, ends, "everything delivered and committed after recovery");
    sigterm(&mut validator);

    let mut text = String::new();
    std::fs::File::open(&log_path).unwrap().read_to_string(&mut text).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        !text.contains("poll interval") && !text.contains("MAXPOLL"),
        "the member was evicted for not polling:\n{}",
        text.lines().filter(|l| l.contains("poll")).take(5).collect::<Vec<_>>().join("\n")
    );
    let s = seen.lock().unwrap();
    assert_eq!(s.accepted.len(), records.len(), "every valid event delivered");
    assert_eq!(
        s.accepted.values().filter(|(n, _, _)| *n > 1).count(),
        0,
        "no duplicates: nobody re-read what was in flight"
    );
    println!("max RSS during the outage: {} MiB", max_rss / (1024 * 1024));
    assert!(max_rss < 400 * 1024 * 1024, "memory bounded during the outage: {} MiB", max_rss / (1024 * 1024));
}

#[test]
fn a_firehose_call_that_never_answers_is_abandoned_and_retried() {
    let broker = Broker::start();
    broker.create_topic("raw-hang", 2);
    let (endpoint, seen) = fake_firehose::start(no_faults());
    seen.lock().unwrap().hang_calls = 2;
    let records = valid_records(300, 8);
    let ends = partition_ends(&produce_all_with(&broker.bootstrap(), "raw-hang", &records, &[]));
    let mut validator = spawn_validator(
        &broker.bootstrap(),
        &endpoint,
        "hang",
        common::free_port(),
        &[],
        &[("PLAYSTREAM_FIREHOSE_ATTEMPT_TIMEOUT_MS", "1500")],
        None,
    );
    let got = wait_committed(&broker.bootstrap(), "hang", "raw-hang", 2, &ends, Duration::from_secs(40));
    assert_eq!(got, ends, "a call that never answers held its records for ever");
    sigterm(&mut validator);
    let s = seen.lock().unwrap();
    assert_eq!(s.hung, 2, "two calls were left hanging by the endpoint");
    assert_eq!(s.accepted.len(), records.len());
}

#[test]
fn a_missing_stream_fails_fast_at_start_with_one_sentence() {
    let broker = Broker::start();
    let (endpoint, seen) = fake_firehose::start(no_faults());
    seen.lock().unwrap().missing = true;
    let log_path = std::env::temp_dir().join(format!("playstream-missing-{}.log", std::process::id()));
    let mut validator = spawn_validator(
        &broker.bootstrap(),
        &endpoint,
        "missing",
        common::free_port(),
        &[],
        &[],
        Some(std::fs::File::create(&log_path).unwrap()),
    );
    let exited = eventually(Duration::from_secs(30), || validator.try_wait().unwrap().is_some());
    if !exited {
        common::sigkill(&mut validator);
    }
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    assert!(exited, "the validator kept running against a delivery stream that does not exist");
    assert!(!validator.wait().unwrap().success());
    assert!(
        text.contains("game-events") && text.contains("ResourceNotFoundException"),
        "the error names the stream and what Firehose said:\n{text}"
    );
}

#[test]
fn readiness_follows_the_sink_whatever_way_it_fails() {
    let broker = Broker::start();
    broker.create_topic("raw-ready", 2);
    let (endpoint, seen) = fake_firehose::start(no_faults());
    let port = common::free_port();
    let mut validator = spawn_validator(
        &broker.bootstrap(),
        &endpoint,
        "ready",
        port,
        &[],
        &[("PLAYSTREAM_UNHEALTHY_AFTER_MS", "2000")],
        None,
    );
    assert!(eventually(Duration::from_secs(30), || http_status(port, "/readyz") == 200), "ready at first");
    // Every entry fails (the calls themselves succeed): no progress, so not ready.
    seen.lock().unwrap().fail_all_entries = true;
    let records = valid_records(200, 9);
    let mut ends = partition_ends(&produce_all_with(&broker.bootstrap(), "raw-ready", &records, &[]));
    assert!(
        eventually(Duration::from_secs(20), || http_status(port, "/readyz") == 503),
        "every entry failing must turn readiness false"
    );
    seen.lock().unwrap().fail_all_entries = false;
    assert!(eventually(Duration::from_secs(30), || http_status(port, "/readyz") == 200), "ready again");
    // The stream goes missing while running: fatal, unready at once, retried, delivered after.
    seen.lock().unwrap().missing = true;
    let more = valid_records(100, 10);
    ends = partition_ends(
        &[
            produce_all_with(&broker.bootstrap(), "raw-ready", &more, &[]),
            ends.into_iter().map(|(p, e)| (p, e - 1)).collect(),
        ]
        .concat(),
    );
    assert!(
        eventually(Duration::from_secs(10), || http_status(port, "/readyz") == 503),
        "a missing stream must turn readiness false"
    );
    assert!(metric(port, "playstream_delivery_failures_total{class=\"fatal\",dependency=\"sink\"}") > 0.0);
    seen.lock().unwrap().missing = false;
    let got = wait_committed(&broker.bootstrap(), "ready", "raw-ready", 2, &ends, Duration::from_secs(60));
    assert_eq!(got, ends);
    assert!(eventually(Duration::from_secs(10), || http_status(port, "/readyz") == 200));
    sigterm(&mut validator);
    let s = seen.lock().unwrap();
    assert_eq!(s.accepted.len(), records.len() + more.len());
    assert_eq!(s.accepted.values().filter(|(n, _, _)| *n > 1).count(), 0);
}
