//! The client SDK's throughput and its own CPU cost: one `playstream_sdk::Client` pushes typed
//! events through a real `playstream ingest` process (its own process, so the CPU measured here
//! is the client's alone: building, serializing, batching, gzip, HTTP) to a tansu broker.
//! Prints events/s and client CPU per event. Run: `cargo bench --bench sdk`
//! (`PLAYSTREAM_BENCH_EVENTS` sets the count, default 200,000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use playstream_sdk::event::{EventContext, LevelComplete, LevelStart, Platform, SessionStart};
use playstream_sdk::{Client, ClientConfig, FullPolicy};

const KEY: &str = "bench-key-0123456789abcdef";

fn main() {
    let n: u64 =
        std::env::var("PLAYSTREAM_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let broker = common::Broker::start();
    broker.create_topic("sdk-bench", 4);
    let dir = std::env::temp_dir().join(format!("playstream-sdk-bench-{}", common::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keys"), format!("bench:{KEY}\n")).unwrap();
    let port = common::free_port();
    let mut ingest = std::process::Command::new(env!("CARGO_BIN_EXE_playstream"))
        .args(["ingest", "--brokers", &broker.bootstrap(), "--raw-topic", "sdk-bench"])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit", "0"])
        .arg("--api-keys-file")
        .arg(dir.join("keys"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let config = ClientConfig {
            flush_interval: Duration::from_millis(50),
            max_queue_events: 50_000,
            full_policy: FullPolicy::Block,
            ..ClientConfig::new(format!("http://127.0.0.1:{port}"), KEY)
        };
        let client = Client::start(config).unwrap();
        let player = EventContext::new("player-1", "space-miner", Platform::Ios, "1.5.0").session("s-1");
        let cpu0 = common::cpu_seconds("self");
        let t0 = Instant::now();
        for i in 0..n {
            let event = match i % 3 {
                0 => player.event(SessionStart).build().unwrap(),
                1 => player.event(LevelStart::new(i as u32 % 50)).build().unwrap(),
                _ => player.event(LevelComplete::new(i as u32 % 50, 60_000, true)).build().unwrap(),
            };
            client.track(&event).await.unwrap();
        }
        let report = client.flush().await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = common::cpu_seconds("self") - cpu0;
        assert!(report.all_acknowledged(), "{report:?}");
        println!(
            "sdk: {n} events acknowledged in {wall:.2} s = {:.0} events/s; client CPU {:.2} µs per event ({:.0} % of one core)",
            n as f64 / wall,
            cpu * 1e6 / n as f64,
            cpu * 100.0 / wall
        );
        client.shutdown(Duration::from_secs(5)).await;
    });
    let _ = ingest.kill();
    let _ = ingest.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
