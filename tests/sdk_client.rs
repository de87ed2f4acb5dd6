//! The SDK's client against the real `playstream ingest` binary and a real Kafka-protocol
//! broker (tansu): batching by count and bytes with gzip on the wire; an outage of the broker
//! survived with every event delivered; 429 `Retry-After` honoured (the wait is measured); a
//! 400 event dropped and counted while the rest of its batch is delivered; `flush` semantics.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, clippy::expect_used)] // test code

mod common;
mod sdk_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Broker, read_topic};
use playstream_sdk::event::{Event, EventContext, LevelStart, Platform};
use playstream_sdk::{Client, ClientConfig, DropReason, Dropped, RawEvent, RetryPolicy};
use sdk_support::{Ingest, KEY, Proxy};

fn events(n: u32) -> Vec<Event> {
    let ctx = EventContext::new("player-7", "game-1", Platform::Ios, "1.0.0").session("s-1");
    (0..n).map(|i| ctx.event(LevelStart::new(i)).build().unwrap()).collect()
}

fn ids(events: &[Event]) -> BTreeSet<String> {
    events.iter().map(|e| e.event_id().to_string()).collect()
}

fn ids_on_topic(bootstrap: &str, topic: &str, want: usize) -> Vec<String> {
    read_topic(bootstrap, topic, 1, want, Duration::from_secs(30))
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
            v["event_id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn config(url: &str) -> ClientConfig {
    ClientConfig {
        flush_interval: Duration::from_millis(100),
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            max_attempts: None,
        },
        ..ClientConfig::new(url, KEY)
    }
}

fn collect_drops(c: ClientConfig) -> (ClientConfig, Arc<Mutex<Vec<Dropped>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (c.on_error(move |d| s.lock().unwrap().push(d.clone())), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_by_count_and_bytes_gzip_on_the_wire_and_bytes_arrive_unchanged() {
    let broker = Broker::start();
    broker.create_topic("sdk-batch", 1);
    let ingest = Ingest::start(&broker.bootstrap(), "sdk-batch", &[]);
    let proxy = Proxy::start(ingest.port).await;
    // By count: 1,200 events with a 60 s flush interval go as 500 + 500 + 200 (the last by flush).
    let client =
        Client::start(ClientConfig { flush_interval: Duration::from_secs(60), ..config(&proxy.url) })
            .unwrap();
    let sent = events(1200);
    for e in &sent {
        client.track(e).await.unwrap();
    }
    let report = client.flush().await;
    assert!(report.all_acknowledged(), "{report:?}");
    // Full batches went before the flush; it counts what was still outstanding when it began.
    assert!((200..=1200).contains(&report.acknowledged), "{report:?}");
    let stats = client.stats();
    assert_eq!(
        (stats.requests, stats.sent, stats.acknowledged, stats.retried),
        (3, 1200, 1200, 0),
        "{stats:?}"
    );
    assert_eq!(ingest.requests(202), 3);
    let heads = proxy.wire.lock().unwrap().heads.clone();
    assert_eq!(heads.len(), 3);
    for h in &heads {
        assert!(h.contains("content-encoding: gzip"), "{h}");
        assert!(h.contains("content-type: application/json"), "{h}");
        assert!(h.contains(&format!("authorization: bearer {}", KEY.to_ascii_lowercase())), "{h}");
    }
    // Every event's bytes on the topic are exactly what the SDK serialized.
    let records = read_topic(&broker.bootstrap(), "sdk-batch", 1, 1200, Duration::from_secs(30));
    let want: BTreeSet<Vec<u8>> = sent.iter().map(Event::to_json).collect();
    let got: BTreeSet<Vec<u8>> = records.iter().map(|r| r.value.clone()).collect();
    assert_eq!(records.len(), 1200);
    assert_eq!(got, want);
    client.shutdown(Duration::from_secs(5)).await;

    // By bytes: each event is ~230 bytes, so a 4 KiB limit makes requests of at most 17.
    let client = Client::start(ClientConfig { max_batch_bytes: 4096, ..config(&proxy.url) }).unwrap();
    let small = events(100);
    for e in &small {
        client.track(e).await.unwrap();
    }
    assert!(client.flush().await.all_acknowledged());
    let per_event = small[0].to_json().len() + 1;
    let per_request = 4096 / per_event;
    let expected = 100usize.div_ceil(per_request) as u64;
    assert_eq!(client.stats().requests, expected, "{per_event} bytes per event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_nothing_every_event_is_delivered_once_the_service_recovers() {
    let port = common::free_port();
    let mut broker = Broker::start_on(port);
    broker.create_topic("sdk-outage", 1);
    let ingest = Ingest::start(&broker.bootstrap(), "sdk-outage", &["--producer-stall-ms", "3000"]);
    let client = Client::start(config(&ingest.url)).unwrap();
    let before = events(50);
    for e in &before {
        client.track(e).await.unwrap();
    }
    assert!(client.flush().await.all_acknowledged());
    broker.stop();
    let during = events(300);
    for e in &during {
        client.track(e).await.unwrap();
    }
    // Still down: the flush gives up waiting and says the events are pending, not failed.
    let report = client.flush_within(Duration::from_secs(5)).await;
    assert_eq!((report.pending, report.failed_total()), (300, 0), "{report:?}");
    assert!(client.stats().retried > 0, "{:?}", client.stats());
    let broker = Broker::start_on(port);
    broker.create_topic("sdk-outage", 1);
    let started = Instant::now();
    let report = client.flush_within(Duration::from_secs(90)).await;
    assert!(report.all_acknowledged(), "{report:?} after {:?}", started.elapsed());
    eprintln!("recovered {:?} after the broker came back; stats {:?}", started.elapsed(), client.stats());
    // The restarted broker is empty: all 300 must be on it (duplicates allowed, loss not).
    let got: BTreeSet<String> = ids_on_topic(&broker.bootstrap(), "sdk-outage", 300).into_iter().collect();
    let missing: Vec<_> = ids(&during).difference(&got).cloned().collect();
    assert!(missing.is_empty(), "{} of 300 lost", missing.len());
    assert_eq!(client.stats().dropped_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_is_honoured() {
    let broker = Broker::start();
    broker.create_topic("sdk-429", 1);
    // 50 events/s with a burst of 100: after 100 events the next 100 need 2 s of tokens.
    let ingest =
        Ingest::start(&broker.bootstrap(), "sdk-429", &["--rate-limit", "50", "--rate-burst", "100"]);
    let client = Client::start(config(&ingest.url)).unwrap();
    let first = events(100);
    for e in &first {
        client.track(e).await.unwrap();
    }
    assert!(client.flush().await.all_acknowledged());
    let second = events(100);
    let started = Instant::now();
    for e in &second {
        client.track(e).await.unwrap();
    }
    let report = client.flush().await;
    let waited = started.elapsed();
    assert!(report.all_acknowledged(), "{report:?}");
    assert_eq!(ingest.requests(429), 1, "one 429, then the retry after Retry-After succeeds");
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}, before Retry-After: 2");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retried, stats.acknowledged), (3, 100, 200), "{stats:?}");
    eprintln!("429 Retry-After: 2 → acknowledged {waited:?} after the flush began");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_is_dropped_and_counted_and_the_rest_of_its_batch_delivered() {
    let broker = Broker::start();
    broker.create_topic("sdk-400", 1);
    let ingest = Ingest::start(&broker.bootstrap(), "sdk-400", &[]);
    let (cfg, drops) =
        collect_drops(ClientConfig { flush_interval: Duration::from_secs(60), ..config(&ingest.url) });
    let client = Client::start(cfg).unwrap();
    let good = events(9);
    for (i, e) in good.iter().enumerate() {
        if i == 4 {
            let mut raw = serde_json::Map::new();
            raw.insert("event_id".into(), "not-typed-0001".into());
            raw.insert("user_id".into(), "player-7".into()); // no event_type: the service answers 400
            client.track_raw(RawEvent(raw)).await.unwrap();
        }
        client.track(e).await.unwrap();
    }
    let report = client.flush().await;
    assert_eq!(report.acknowledged, 9, "{report:?}");
    assert_eq!(report.failed.get(&DropReason::BadEvent), Some(&1));
    assert_eq!(report.failed_event_ids, vec!["not-typed-0001".to_string()]);
    let stats = client.stats();
    assert_eq!(stats.dropped(DropReason::BadEvent), 1);
    assert_eq!((stats.requests, stats.dropped_total()), (2, 1), "{stats:?}");
    let d = drops.lock().unwrap().clone();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].reason, d[0].status, d[0].event_ids.clone()),
        (DropReason::BadEvent, Some(400), vec!["not-typed-0001".into()])
    );
    assert!(d[0].message.contains("event_type"), "{}", d[0].message);
    let got: BTreeSet<String> = ids_on_topic(&broker.bootstrap(), "sdk-400", 9).into_iter().collect();
    assert_eq!(got, ids(&good));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_exactly_the_events_before_it_and_says_which_failed() {
    let broker = Broker::start();
    broker.create_topic("sdk-flush", 1);
    let ingest = Ingest::start(&broker.bootstrap(), "sdk-flush", &[]);
    // Nothing queued: answers at once, empty.
    let client =
        Client::start(ClientConfig { flush_interval: Duration::from_secs(3600), ..config(&ingest.url) })
            .unwrap();
    let empty = client.flush().await;
    assert_eq!((empty.acknowledged, empty.pending, empty.failed_total()), (0, 0, 0));
    // With an hour's flush interval only the flush sends; when it returns, the events are on
    // the topic (a 202 means Kafka has them).
    let sent = events(120);
    for e in &sent {
        client.track(e).await.unwrap();
    }
    let started = Instant::now();
    let report = client.flush().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(report.acknowledged, 120);
    let on_topic = read_topic(&broker.bootstrap(), "sdk-flush", 1, 120, Duration::from_secs(10));
    assert_eq!(on_topic.len(), 120);
    // Two concurrent flushes each count their own events.
    let a = events(10);
    for e in &a {
        client.track(e).await.unwrap();
    }
    let c2 = client.clone();
    let first = tokio::spawn(async move { c2.flush().await });
    let b = events(5);
    for e in &b {
        client.track(e).await.unwrap();
    }
    let second = client.flush().await;
    let first = first.await.unwrap();
    // The spawned flush covers at least the 10 tracked before it; the second covers all 15,
    // less any already acknowledged when it began.
    assert!(first.all_acknowledged() && (10..=15).contains(&first.acknowledged), "{first:?}");
    assert!(second.all_acknowledged() && (5..=15).contains(&second.acknowledged), "{second:?}");
    assert_eq!(client.stats().acknowledged, 135);
    client.shutdown(Duration::from_secs(5)).await;
    assert!(client.track(&a[0]).await.is_err(), "no track after shutdown");

    // A wrong key: never retried, every event failed with its reason, and the flush says so.
    let (cfg, drops) = collect_drops(ClientConfig { api_key: "wrong".into(), ..config(&ingest.url) });
    let client = Client::start(cfg).unwrap();
    let denied = events(7);
    for e in &denied {
        client.track(e).await.unwrap();
    }
    let report = client.flush().await;
    assert_eq!(report.failed.get(&DropReason::Unauthorized), Some(&7), "{report:?}");
    assert_eq!(report.failed_event_ids.iter().cloned().collect::<BTreeSet<_>>(), ids(&denied));
    assert_eq!((client.stats().requests, client.stats().retried), (1, 0));
    assert_eq!(drops.lock().unwrap().iter().map(|d| d.event_ids.len()).sum::<usize>(), 7);
}
