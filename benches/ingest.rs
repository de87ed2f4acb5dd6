//! Ingest load benchmark on this machine, broker included (tansu from .venv):
//!
//! 1. ceiling: a bare rdkafka ThreadedProducer (acks=all, idempotent, lz4 — the service's settings)
//!    pushing the same events to the same broker; then the same producer attaching the three
//!    headers the service puts on every record (for reference);
//! 2. 500-event batches over HTTP from 8 concurrent hyper clients: events/s, and the ratios;
//! 3. single-event requests at a fixed (open-loop) rate of 10,000 req/s from a lean HTTP/1.1
//!    client on its own thread (`support/open_loop.rs`): achieved rate and p50/p99 latency
//!    (measured from the scheduled send time, so queueing counts).
//!
//! Run: `cargo bench --bench ingest` after `scripts/test.sh` has built .venv.
//! Knobs: `PLAYSTREAM_BENCH_BATCH_EVENTS` (500000), `PLAYSTREAM_BENCH_RATE` (10000),
//! `PLAYSTREAM_BENCH_SECONDS` (5), `PLAYSTREAM_BENCH_CONNECTIONS` (128, for 3),
//! `PLAYSTREAM_BENCH_LINGER_MS` (the service's 2 ms). Before (3) it also measures the latency
//! floor: the bare producer sending one message at a time at the same rate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/open_loop.rs"]
mod open_loop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use playstream::ingest::auth::Limit;
use playstream::ingest::{IngestConfig, serve};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, FutureProducer, FutureRecord, Producer, ProducerContext, ThreadedProducer,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts delivery reports; nothing else (the ceiling's callback).
#[derive(Default)]
struct CountAcks {
    acked: AtomicUsize,
    failed: AtomicUsize,
}

impl rdkafka::ClientContext for CountAcks {}

impl ProducerContext for CountAcks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() { &self.acked } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

const KEY: &str = "bench-key-0123456789abcdef";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Events/s a bare ThreadedProducer with the service's settings pushes to `ingest-ceiling`,
/// counted until every one is acknowledged; `headers` adds the service's three headers.
async fn bare_producer_rate(
    bootstrap: &str,
    events: &[(String, Vec<u8>)],
    total: usize,
    headers: bool,
) -> f64 {
    let producer: ThreadedProducer<CountAcks> = playstream::event::reliable_producer_config(bootstrap)
        .set("linger.ms", "2")
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(CountAcks::default())
        .unwrap();
    let received_at =
        playstream::validate::time::to_rfc3339(playstream::validate::Context::now().now_micros());
    let started = Instant::now();
    for i in 0..total {
        let (k, v) = &events[i % events.len()];
        let mut record = BaseRecord::to("ingest-ceiling").key(k.as_str()).payload(v.as_slice());
        if headers {
            record = record.headers(playstream::event::ingest_headers(&received_at, "bench"));
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    while producer.context().acked.load(Ordering::Relaxed) < total {
        assert_eq!(producer.context().failed.load(Ordering::Relaxed), 0, "ceiling deliveries failed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total = env_u64("PLAYSTREAM_BENCH_BATCH_EVENTS", 500_000) as usize;
    let rate = env_u64("PLAYSTREAM_BENCH_RATE", 10_000);
    let secs = env_u64("PLAYSTREAM_BENCH_SECONDS", 5);
    let broker = common::Broker::start();
    broker.create_topic("ingest-ceiling", 4);
    broker.create_topic("ingest-bench", 4);
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    let ts = playstream::validate::time::to_rfc3339(playstream::validate::Context::now().now_micros());
    let events: Vec<(String, Vec<u8>)> =
        corpus(20_000, 5, Mix { avro_pct: 0, invalid_pct: 0, users: 5000 }, &ts, &source)
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        // 1. Ceiling: the leanest bare producer — a ThreadedProducer whose delivery callback only
        //    counts acknowledgements — with the service's settings (acks=all, idempotent, lz4).
        let ceiling = bare_producer_rate(&broker.bootstrap(), &events, total, false).await;
        println!("ceiling (bare rdkafka producer, acks=all, idempotent): {ceiling:.0} events/s");
        // For reference: the same bare producer also attaching the three headers the service
        // puts on every record (librdkafka allocates each header per message).
        let with_headers = bare_producer_rate(&broker.bootstrap(), &events, total, true).await;
        println!("  (the same bare producer with the service's three headers per record: {with_headers:.0} events/s)");

        // 1b. The latency floor: the same bare producer settings (and the service's linger), one
        //     message at a time at the single-event rate, timed from the scheduled send to the ack.
        let linger = std::env::var("PLAYSTREAM_BENCH_LINGER_MS").unwrap_or_else(|_| "2".into());
        let bare: FutureProducer = playstream::event::reliable_producer_config(&broker.bootstrap())
            .set("linger.ms", &linger)
            .create()
            .unwrap();
        // Warm up (metadata, producer id) so start-up is not counted.
        bare.send(FutureRecord::to("ingest-ceiling").key("warm").payload("{}"), Duration::from_secs(10))
            .await
            .unwrap();
        let (interval, count) = (Duration::from_nanos(1_000_000_000 / rate.max(1)), (rate * secs) as usize);
        let start = Instant::now() + Duration::from_millis(50);
        let mut waits = Vec::with_capacity(count);
        for i in 0..count {
            let scheduled = start + interval * i as u32;
            tokio::time::sleep_until(scheduled.into()).await;
            let (k, v) = &events[i % events.len()];
            let f = bare
                .send_result(FutureRecord::to("ingest-ceiling").key(k.as_str()).payload(v.as_slice()))
                .map_err(|(e, _)| e);
            waits.push(tokio::spawn(async move {
                let ok = match f {
                    Ok(f) => matches!(f.await, Ok(Ok(_))),
                    Err(_) => false,
                };
                (ok, scheduled.elapsed())
            }));
        }
        let mut floor = Vec::with_capacity(count);
        for w in waits {
            let (ok, l) = w.await.unwrap();
            assert!(ok, "bare producer delivery failed");
            floor.push(l);
        }
        floor.sort();
        println!(
            "latency floor (bare producer, one message at a time at {rate} msg/s, linger.ms={linger}): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&floor, 0.5).as_secs_f64() * 1e3,
            percentile(&floor, 0.99).as_secs_f64() * 1e3,
        );
        drop(bare);

        // The service, in-process.
        let dir = std::env::temp_dir().join(format!("playstream-ingest-bench-{}", common::free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keys"), format!("bench:{KEY}\n")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = IngestConfig {
            api_keys_file: Some(dir.join("keys")),
            kafka_options: match std::env::var("PLAYSTREAM_BENCH_LINGER_MS") {
                Ok(ms) => vec![("linger.ms".into(), ms)],
                Err(_) => vec![],
            },
            produce_timeout: Duration::from_secs(10),
            limit: Limit { rate: 0.0, burst: 0.0 },
            ..IngestConfig::new(&broker.bootstrap(), "ingest-bench")
        };
        tokio::spawn(serve(config, listener, std::future::pending()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let url: hyper::Uri = format!("http://{addr}/v1/events").parse().unwrap();
        let post = move |body: Bytes| {
            let req = hyper::Request::post(url.clone())
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {KEY}"))
                .body(Full::new(body))
                .unwrap();
            let client = client.clone();
            async move {
                // A connection error counts as status 0 (reported, never a panic mid-run).
                match client.request(req).await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let _ = resp.into_body().collect().await;
                        status
                    }
                    Err(_) => 0,
                }
            }
        };

        // 2. 500-event batches from 8 concurrent clients.
        let batches: Vec<Bytes> = events
            .chunks(500)
            .map(|c| {
                let mut b = b"[".to_vec();
                for (i, (_, v)) in c.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    b.extend_from_slice(v);
                }
                b.push(b']');
                Bytes::from(b)
            })
            .collect();
        let n_batches = total / 500;
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..8 {
            let next = next.clone();
            let batches = batches.clone();
            let post = post.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n_batches {
                        break;
                    }
                    assert_eq!(post(batches[i % batches.len()].clone()).await, 202);
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let batch_rate = (n_batches * 500) as f64 / started.elapsed().as_secs_f64();
        println!(
            "500-event batches over HTTP: {batch_rate:.0} events/s = {:.0} % of the ceiling ({:.0} % of the producer with headers)",
            100.0 * batch_rate / ceiling,
            100.0 * batch_rate / with_headers
        );

        // 3. Single events at a fixed rate, from the lean open-loop client on its own thread
        //    (as a separate load generator would be), so the service keeps its runtime.
        let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
        let count = (rate * secs) as usize;
        let connections = env_u64("PLAYSTREAM_BENCH_CONNECTIONS", 128) as usize;
        let auth = format!("Bearer {KEY}");
        let requests: Arc<Vec<Vec<u8>>> = Arc::new(
            events
                .iter()
                .map(|(_, v)| {
                    open_loop::request("/v1/events", &[("Content-Type", "application/json"), ("Authorization", &auth)], v)
                })
                .collect(),
        );
        let broker_pid = broker.pid().unwrap().to_string();
        let cpu_before = (common::cpu_seconds("self"), common::cpu_seconds(&broker_pid));
        let start = Instant::now() + Duration::from_millis(50);
        let results = std::thread::spawn(move || {
            let client = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            client.block_on(open_loop::run(addr, requests, start, count, interval, connections))
        })
        .join()
        .unwrap();
        let ok = results.iter().filter(|(status, _)| *status == 202).count();
        let mut latencies: Vec<Duration> = results.iter().map(|(_, l)| *l).collect();
        let wall = start.elapsed().as_secs_f64();
        let achieved = count as f64 / wall;
        println!(
            "  (CPU while sending single events: this process (client + service) {:.0} %, broker {:.0} %, of 200 %)",
            100.0 * (common::cpu_seconds("self") - cpu_before.0) / wall,
            100.0 * (common::cpu_seconds(&broker_pid) - cpu_before.1) / wall,
        );
        latencies.sort();
        println!(
            "single events at {rate} req/s for {secs} s: {ok}/{count} accepted, achieved {achieved:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    });
}
