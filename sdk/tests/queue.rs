//! The bounded queue's policies, against an endpoint that refuses every connection (so nothing
//! is ever acknowledged and the queue only fills): every refused or evicted event is counted by
//! reason and handed to the error callback, and `shutdown` accounts for what was left.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

use std::sync::{Arc, Mutex};
use std::time::Duration;

use playstream_sdk::event::{Event, EventContext, Platform, SessionStart};
use playstream_sdk::{Client, ClientConfig, DropReason, Dropped, FullPolicy, TrackError};

fn dead_endpoint() -> String {
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

fn events(n: usize) -> Vec<Event> {
    let ctx = EventContext::new("p", "g", Platform::Web, "1").session("s");
    (0..n).map(|_| ctx.event(SessionStart).build().unwrap()).collect()
}

fn client(policy: FullPolicy) -> (Client, Arc<Mutex<Vec<Dropped>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let config = ClientConfig {
        max_queue_events: 10,
        full_policy: policy,
        flush_interval: Duration::from_secs(3600),
        ..ClientConfig::new(dead_endpoint(), "k")
    }
    .on_error(move |d| s.lock().unwrap().push(d.clone()));
    (Client::start(config).unwrap(), seen)
}

#[tokio::test]
async fn drop_newest_refuses_and_counts() {
    let (c, seen) = client(FullPolicy::DropNewest);
    let evs = events(15);
    let mut refused = 0;
    for e in &evs {
        if c.track(e).await == Err(TrackError::QueueFull) {
            refused += 1;
        }
    }
    assert_eq!(refused, 5);
    let s = c.stats();
    assert_eq!((s.queued, s.in_queue, s.dropped(DropReason::QueueFull)), (10, 10, 5));
    let ids: Vec<String> = seen.lock().unwrap().iter().flat_map(|d| d.event_ids.clone()).collect();
    assert_eq!(ids, evs[10..].iter().map(|e| e.event_id().to_string()).collect::<Vec<_>>());
    let report = c.shutdown(Duration::from_millis(300)).await;
    assert_eq!(report.failed.get(&DropReason::Shutdown), Some(&10), "{report:?}");
    assert_eq!(c.stats().dropped_total(), 15);
}

#[tokio::test]
async fn drop_oldest_evicts_the_oldest_and_counts() {
    let (c, seen) = client(FullPolicy::DropOldest);
    let evs = events(15);
    for e in &evs {
        c.track(e).await.unwrap();
    }
    let s = c.stats();
    assert_eq!((s.queued, s.in_queue, s.dropped(DropReason::QueueFull)), (15, 10, 5));
    let ids: Vec<String> = seen.lock().unwrap().iter().flat_map(|d| d.event_ids.clone()).collect();
    assert_eq!(ids, evs[..5].iter().map(|e| e.event_id().to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn block_waits_for_room_and_shutdown_releases_it() {
    let (c, _) = client(FullPolicy::Block);
    let evs = events(11);
    for e in &evs[..10] {
        c.track(e).await.unwrap();
    }
    let c2 = c.clone();
    let last = evs[10].clone();
    let blocked = tokio::spawn(async move { c2.track(&last).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!blocked.is_finished(), "track waits while the queue is full");
    let report = c.shutdown(Duration::from_millis(300)).await;
    assert_eq!(blocked.await.unwrap(), Err(TrackError::Closed));
    assert_eq!(report.failed.get(&DropReason::Shutdown), Some(&10));
    assert_eq!(c.stats().dropped(DropReason::QueueFull), 0);
}

#[tokio::test]
async fn an_event_larger_than_a_request_is_refused_and_counted() {
    let (c, seen) = client(FullPolicy::DropNewest);
    let big = EventContext::new("p", "g", Platform::Web, "1")
        .session("s")
        .event(SessionStart)
        .extra("blob", "x".repeat(1024 * 1024))
        .build()
        .unwrap();
    assert!(matches!(c.track(&big).await, Err(TrackError::TooLarge(_))));
    assert_eq!(c.stats().dropped(DropReason::TooLarge), 1);
    assert_eq!(seen.lock().unwrap()[0].reason, DropReason::TooLarge);
}
