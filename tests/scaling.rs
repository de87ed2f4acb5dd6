//! Scaling by replicas, as processes in one consumer group against a tansu broker, delivering
//! to the fake Firehose endpoint (no faults; it counts every acceptance, so duplicates are
//! exact). (1) Three replicas under load; one is killed with SIGKILL mid-stream and a new one
//! started later: nothing is lost, and duplicates stay within the killed replica's uncommitted
//! window. (2) A replica stopped with SIGTERM under load hands its partitions over cleanly:
//! zero duplicates.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;
#[path = "support/fake_firehose.rs"]
mod fake_firehose;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Broker, produce_all, sigkill, sigterm, start_validator};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas};

const PARTITIONS: u32 = 6;

/// Produces `n` valid records in slices over about `secs` seconds, from a background thread.
fn trickle(bootstrap: String, topic: &'static str, n: usize, secs: u64, seed: u64) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
        let ts = playstream::validate::time::to_rfc3339(
            playstream::validate::Context::now().now_micros() - 60_000_000,
        );
        let records: Vec<(String, Vec<u8>)> =
            corpus(n, seed, Mix { invalid_pct: 0, ..Mix::default() }, &ts, &source)
                .into_iter()
                .map(|r| (r.key, r.value))
                .collect();
        let slices = (secs * 5).max(1) as usize;
        for chunk in records.chunks(n.div_ceil(slices)) {
            produce_all(&bootstrap, topic, chunk);
            std::thread::sleep(Duration::from_millis(200));
        }
        records.len()
    })
}

fn wait_for_all(seen: &Arc<Mutex<fake_firehose::Seen>>, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while seen.lock().unwrap().accepted.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} delivered", seen.lock().unwrap().accepted.len());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigkill_loses_nothing_and_sigterm_duplicates_nothing() {
    let broker = Broker::start();
    let (endpoint, seen) = fake_firehose::start(fake_firehose::Faults {
        entry_fail_pct: 0,
        throttle_every: 0,
        error_every: 0,
        max_delay_ms: 30,
        keep_bodies: true,
    });
    let start = |topic: &str, group: &str| {
        start_validator(
            &broker.bootstrap(),
            &endpoint,
            topic,
            "rejects-scale",
            group,
            "firehose://game-events",
            &["--linger-ms", "50", "--max-in-flight-records", "4000"],
        )
    };

    // (1) kill -9 one of three replicas mid-stream, start another later.
    broker.create_topic("raw-kill", PARTITIONS);
    let producer = trickle(broker.bootstrap(), "raw-kill", 12_000, 12, 31);
    let mut a = start("raw-kill", "kill");
    let mut b = start("raw-kill", "kill");
    let mut c = start("raw-kill", "kill");
    std::thread::sleep(Duration::from_secs(6));
    sigkill(&mut b);
    std::thread::sleep(Duration::from_secs(3));
    let mut d = start("raw-kill", "kill");
    let n = producer.join().unwrap();
    wait_for_all(&seen, n, Duration::from_secs(120));
    for v in [&mut a, &mut c, &mut d] {
        sigterm(v);
    }
    let (dups_kill, total_kill) = {
        let s = seen.lock().unwrap();
        (s.accepted.values().map(|(c, _, _)| (*c - 1) as usize).sum::<usize>(), s.accepted.len())
    };
    assert_eq!(total_kill, n, "nothing lost");
    // The killed replica had at most its in-flight budget (4,000 records, overshot by at most
    // one 512-record chunk) uncommitted, plus up to one commit interval of delivered records.
    assert!(dups_kill <= 4000 + 512 + 2000, "{dups_kill} duplicates after SIGKILL");
    seen.lock().unwrap().accepted.clear();

    // (2) SIGTERM one of two replicas under load: a clean handover, zero duplicates.
    broker.create_topic("raw-term", PARTITIONS);
    let producer = trickle(broker.bootstrap(), "raw-term", 8_000, 10, 37);
    let mut e = start("raw-term", "term");
    let mut f = start("raw-term", "term");
    std::thread::sleep(Duration::from_secs(6));
    sigterm(&mut e);
    let n = producer.join().unwrap();
    wait_for_all(&seen, n, Duration::from_secs(120));
    sigterm(&mut f);
    let s = seen.lock().unwrap();
    let dups_term: usize = s.accepted.values().map(|(c, _, _)| (*c - 1) as usize).sum();
    assert_eq!(s.accepted.len(), n, "nothing lost");
    assert_eq!(dups_term, 0, "a SIGTERM handover must not duplicate");
    println!(
        "SIGKILL run: {total_kill} events, {dups_kill} duplicates; SIGTERM run: {n} events, 0 duplicates"
    );
}
