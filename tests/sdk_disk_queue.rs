//! The SDK's disk queue against a SIGKILL: a client process tracks events (each written and
//! fsync'd before `track` returns, and only then printed), is killed with `kill -9` mid-stream,
//! and is started again on the same directory; every event whose `track` returned must reach the
//! topic (counted by `event_id`; duplicates allowed, loss not). The client is this test binary
//! itself, re-executed with `PLAYSTREAM_SDK_CHILD` set (a harness-less test, so there is no empty
//! `#[test]` for the child).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;
mod sdk_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Broker, read_topic};
use playstream_sdk::event::{EventContext, LevelStart, Platform};
use playstream_sdk::{Client, ClientConfig};
use sdk_support::{Ingest, KEY, temp_dir};

const TOTAL: u32 = 3000;
const KILL_AFTER: usize = 600;

fn child(mode: &str) {
    let url = std::env::var("PLAYSTREAM_SDK_URL").unwrap();
    let dir = std::env::var("PLAYSTREAM_SDK_DIR").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let config = ClientConfig {
            flush_interval: Duration::from_millis(300),
            max_batch_events: 100,
            ..ClientConfig::new(url, KEY).disk_queue(dir)
        };
        let client = Client::start(config).unwrap();
        let mut out = std::io::stdout().lock();
        if mode == "send" {
            let ctx = EventContext::new("player-k", "game-1", Platform::Linux, "1.0").session("s");
            for i in 0..TOTAL {
                let e = ctx.event(LevelStart::new(i)).build().unwrap();
                client.track(&e).await.unwrap();
                writeln!(out, "{}", e.event_id()).unwrap();
                out.flush().unwrap();
            }
            let _ = client.flush().await;
        } else {
            let recovered = client.stats().recovered;
            let report = client.flush_within(Duration::from_secs(60)).await;
            writeln!(
                out,
                "recovered {recovered} acknowledged {} all {}",
                report.acknowledged,
                report.all_acknowledged()
            )
            .unwrap();
        }
    });
}

fn spawn(mode: &str, url: &str, dir: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env("PLAYSTREAM_SDK_CHILD", mode)
        .env("PLAYSTREAM_SDK_URL", url)
        .env("PLAYSTREAM_SDK_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn disk_queue_survives_kill_9() {
    let broker = Broker::start();
    broker.create_topic("sdk-kill", 1);
    let ingest = Ingest::start(&broker.bootstrap(), "sdk-kill", &[]);
    let dir = temp_dir("kill");
    let mut first = spawn("send", &ingest.url, &dir);
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let mut tracked = BTreeSet::new();
    let started = Instant::now();
    while tracked.len() < KILL_AFTER {
        tracked.insert(lines.next().expect("the child stopped early").unwrap());
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    // Whatever it printed before dying was tracked (written and fsync'd) too.
    tracked.extend(lines.map_while(Result::ok));
    let tracked_in = started.elapsed();
    assert!(tracked.len() < TOTAL as usize, "killed mid-stream ({} tracked)", tracked.len());

    let second = spawn("drain", &ingest.url, &dir);
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let recovered: u64 = summary.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(summary.ends_with("all true"), "{summary}");
    assert!(recovered > 0, "the kill left unacknowledged events on disk: {summary}");

    let mut on_topic = BTreeSet::new();
    let records = read_topic(&broker.bootstrap(), "sdk-kill", 1, usize::MAX, Duration::from_secs(8));
    for r in &records {
        let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
        on_topic.insert(v["event_id"].as_str().unwrap().to_string());
    }
    let lost: Vec<_> = tracked.difference(&on_topic).collect();
    assert!(lost.is_empty(), "{} of {} tracked events lost", lost.len(), tracked.len());
    println!(
        "kill -9 after {} tracked in {tracked_in:?}; restarted: {summary}; on the topic: {} records, {} distinct, {} duplicates",
        tracked.len(),
        records.len(),
        on_topic.len(),
        records.len() - on_topic.len()
    );
}

fn main() {
    if let Ok(mode) = std::env::var("PLAYSTREAM_SDK_CHILD") {
        child(&mode);
        return;
    }
    disk_queue_survives_kill_9();
    println!("test disk_queue_survives_kill_9 ... ok");
}
