//! Fault injection: the validator binary against a fake Firehose endpoint (see
//! `support/fake_firehose.rs` — moto cannot fail entries) that fails 10 % of entries, throttles,
//! answers 500s and responds slowly. Every valid event must still be delivered; failed entries
//! are resent alone (no duplicates at all from partial failures); and at no moment is an offset
//! committed past a record the endpoint has not accepted.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;
#[path = "support/fake_firehose.rs"]
mod fake_firehose;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Broker, committed, produce_all, sigterm, start_validator};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, LocalSchemas};

#[test]
fn partial_failures_throttling_and_errors_lose_and_duplicate_nothing() {
    let broker = Broker::start();
    broker.create_topic("raw-faults", 4);
    let (endpoint, seen) = fake_firehose::start(fake_firehose::Faults {
        entry_fail_pct: 10,
        throttle_every: 7,
        error_every: 11,
        max_delay_ms: 40,
        keep_bodies: true,
    });
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    let ts = playstream::validate::time::to_rfc3339(
        playstream::validate::Context::now().now_micros() - 60_000_000,
    );
    let records = corpus(3000, 23, Mix { invalid_pct: 0, ..Mix::default() }, &ts, &source);
    let produced = produce_all(
        &broker.bootstrap(),
        "raw-faults",
        &records.iter().map(|r| (r.key.clone(), r.value.clone())).collect::<Vec<_>>(),
    );
    let ends = common::partition_ends(&produced);
    // Small batches so that many calls (and so many faults) happen.
    let mut validator = start_validator(
        &broker.bootstrap(),
        &endpoint,
        "raw-faults",
        "rejects-faults",
        "faults",
        "firehose://game-events",
        &["--linger-ms", "20", "--concurrent-batches", "4"],
    );

    let mut checks = 0;
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        // Snapshot commits first, then deliveries: anything committed must already be delivered.
        let commits = committed(&broker.bootstrap(), "faults", "raw-faults", 4);
        let delivered: HashSet<(i32, i64)> = {
            let s = seen.lock().unwrap();
            s.accepted.values().map(|(_, p, o)| (*p, *o)).collect()
        };
        for (p, o) in &produced {
            if commits.get(p).is_some_and(|c| o < c) {
                assert!(
                    delivered.contains(&(*p, *o)),
                    "offset {o} of partition {p} committed before delivery"
                );
            }
        }
        assert!(validator.try_wait().unwrap().is_none(), "the validator exited early");
        checks += 1;
        if delivered.len() == records.len() && commits == ends {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not everything delivered and committed in time: {} of {}",
            delivered.len(),
            records.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    sigterm(&mut validator);

    let s = seen.lock().unwrap();
    assert!(s.failed_entries > 0 && s.throttled > 0 && s.errors > 0, "faults happened: {s:?}");
    let duplicates: usize = s.accepted.values().filter(|(n, _, _)| *n > 1).count();
    assert_eq!(duplicates, 0, "a partial failure must resend only the failed entries");
    assert_eq!(s.accepted.len(), records.len());
    assert!(s.max_records <= 500 && s.max_bytes <= 4 * 1024 * 1024);
    // The request bodies are written by playstream and handed to the SDK before it signs: every
    // call, resends of failed entries included, carries a signature over the body as received.
    assert!(
        s.signature_ok > 0 && s.signature_bad == 0,
        "SigV4 over the received body: {} calls matched, {} did not",
        s.signature_ok,
        s.signature_bad
    );
    assert!(checks > 1, "the commit invariant was checked while work was in flight");
    println!(
        "calls {} throttled {} errors {} failed entries {} invariant checks {checks}",
        s.calls, s.throttled, s.errors, s.failed_entries
    );
}
