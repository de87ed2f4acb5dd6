//! The consumer logic in-process against rdkafka's MockCluster (librdkafka's built-in mock
//! broker): fast, no external process. Valid records reach the file sink, invalid ones the
//! rejects topic, and after shutdown the committed offsets equal the end of every partition.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{committed, produce_all, read_topic};
use playstream::pipeline::sink::SinkSpec;
use playstream::pipeline::{Validator, ValidatorConfig};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas, SchemaSource};
use rdkafka::mocking::MockCluster;

fn lines_in(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ndjson") {
                out.extend(std::fs::read_to_string(&p).unwrap().lines().map(str::to_string));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validator_on_mock_cluster() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("raw", 3, 1).unwrap();
    cluster.create_topic("rejects", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();

    let catalog = Arc::new(Catalog::embedded());
    let source: Arc<dyn SchemaSource> = Arc::new(LocalSchemas::new(catalog).unwrap());
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 60_000_000,
    );
    let records = corpus(2000, 3, Mix::default(), &ts, source.as_ref());
    let payload: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key.clone(), r.value.clone())).collect();
    let b = bootstrap.clone();
    let produced = tokio::task::spawn_blocking(move || produce_all(&b, "raw", &payload)).await.unwrap();
    let ends = common::partition_ends(&produced);

    let dir = std::env::temp_dir().join(format!("playstream-mock-{}", common::free_port()));
    let config = ValidatorConfig {
        linger: Duration::from_millis(20),
        max_in_flight_records: 300,
        concurrent_batches: 2,
        commit_interval: Duration::from_millis(100),
        drain_timeout: Duration::from_secs(5),
        ..ValidatorConfig::new(&bootstrap, "mock", "raw", "rejects", SinkSpec::File(dir.clone()))
    };
    let validator = Validator::new(config, source).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(validator.run(async {
        let _ = stopped.await;
    }));

    let want: HashSet<String> = records.iter().filter_map(|r| r.event_id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: HashSet<String> = lines_in(&dir)
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "{} of {} delivered", got.len(), want.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let invalid = records.iter().filter(|r| r.invalid).count();
    let b = bootstrap.clone();
    let rejects =
        tokio::task::spawn_blocking(move || read_topic(&b, "rejects", 1, invalid, Duration::from_secs(30)))
            .await
            .unwrap();
    assert_eq!(rejects.len(), invalid);
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    let b = bootstrap.clone();
    let commits = tokio::task::spawn_blocking(move || committed(&b, "mock", "raw", 3)).await.unwrap();
    assert_eq!(commits, ends, "committed offsets equal the end of every partition");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Commits the broker refuses must be sent again: an async commit only counts once the broker
/// confirmed it. The topic is read to its end quickly, so the watermark stops moving while the
/// first commits are refused; the committed offsets must still reach the end while the
/// validator runs (not only through the final commit at shutdown). MockCluster injects the
/// errors (no real broker can be told to refuse commits).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_commit_is_sent_again() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("raw", 2, 1).unwrap();
    cluster.create_topic("rejects", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let source: Arc<dyn SchemaSource> = Arc::new(LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap());
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 60_000_000,
    );
    let records = corpus(500, 4, Mix { invalid_pct: 0, ..Mix::default() }, &ts, source.as_ref());
    let payload: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key.clone(), r.value.clone())).collect();
    let b = bootstrap.clone();
    let produced = tokio::task::spawn_blocking(move || produce_all(&b, "raw", &payload)).await.unwrap();
    let ends = common::partition_ends(&produced);
    // The first commits are refused.
    cluster.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE; 5],
    );
    let dir = std::env::temp_dir().join(format!("playstream-mock-commit-{}", common::free_port()));
    let config = ValidatorConfig {
        linger: Duration::from_millis(20),
        commit_interval: Duration::from_millis(100),
        ..ValidatorConfig::new(&bootstrap, "refused", "raw", "rejects", SinkSpec::File(dir.clone()))
    };
    let validator = Validator::new(config, source).unwrap();
    let registry = validator.registry();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(validator.run(async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut commits;
    loop {
        let b = bootstrap.clone();
        commits = tokio::task::spawn_blocking(move || committed(&b, "refused", "raw", 2)).await.unwrap();
        if commits == ends || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(commits, ends, "a refused commit was never sent again while the validator ran");
    let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
    let refused = text
        .lines()
        .find(|l| l.starts_with("playstream_commits_total{outcome=\"error\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(refused > 0.0, "refused commits are counted:\n{text}");
    for (p, end) in &ends {
        let gauge = format!("playstream_partition_committed_offset{{partition=\"{p}\"}} {end}");
        assert!(text.contains(&gauge), "the committed-offset gauge shows only confirmed commits: {gauge}");
    }
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
