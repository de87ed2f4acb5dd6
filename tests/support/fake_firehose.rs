//! A fault-injecting Firehose endpoint speaking the real JSON protocol
//! (`X-Amz-Target: Firehose_20150804.PutRecordBatch`). moto never reports partial failures, so
//! this fake is the only way to exercise them here; it is a fake and says so. Per call it can
//! fail a share of entries, answer throttling or HTTP 500, and delay the answer. It records
//! how many times each record was accepted, so duplicates are counted exactly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// What to break.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Share of entries failed in an otherwise successful call, in percent.
    pub entry_fail_pct: u64,
    /// Every n-th call is throttled (0 = never).
    pub throttle_every: u64,
    /// Every n-th call answers HTTP 500 (0 = never).
    pub error_every: u64,
    /// Added latency per call, milliseconds (uniform 0..=this).
    pub max_delay_ms: u64,
    /// Keep every accepted body (tests); off, only counts are kept (benchmarks).
    pub keep_bodies: bool,
}

/// What the fake saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub calls: u64,
    pub throttled: u64,
    pub errors: u64,
    pub failed_entries: u64,
    /// Accepted event_id -> (times accepted, source partition, source offset of the last copy).
    /// Keyed by event_id, not by bytes: a record validated again after a crash carries a new
    /// `_meta.validated_at` but is the same event.
    pub accepted: HashMap<String, (u32, i32, i64)>,
    /// Records accepted (counted even when bodies are not kept).
    pub accepted_count: u64,
    /// Most records seen in one call, and most bytes.
    pub max_records: usize,
    pub max_bytes: usize,
    /// While true, every call is answered 503 ServiceUnavailableException (Firehose down).
    pub down: bool,
    /// Calls answered while down.
    pub down_calls: u64,
    /// While true, every call is answered ResourceNotFoundException (a stream that is missing).
    pub missing: bool,
    /// While true, every entry of every call fails (the call itself succeeds).
    pub fail_all_entries: bool,
    /// The next this many PutRecordBatch calls never get an answer (a half-open connection).
    pub hang_calls: u64,
    /// Calls left unanswered so far.
    pub hung: u64,
}

#[derive(Clone)]
struct State {
    faults: Faults,
    seen: Arc<Mutex<Seen>>,
}

/// Starts the fake on a free port in a background runtime; returns its URL and its log.
pub fn start(faults: Faults) -> (String, Arc<Mutex<Seen>>) {
    start_on("127.0.0.1:0", faults)
}

/// Like [`start`], on a given address.
pub fn start_on(addr: &str, faults: Faults) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = State { faults, seen: seen.clone() };
    let listener = std::net::TcpListener::bind(addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new()
                .fallback(move |headers: HeaderMap, body: Bytes| handle(state.clone(), headers, body));
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, seen)
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1"), ("x-amzn-errortype", kind)],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

async fn handle(state: State, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if state.seen.lock().unwrap().missing {
        return aws_error(StatusCode::BAD_REQUEST, "ResourceNotFoundException", "Stream not found");
    }
    if target == "Firehose_20150804.DescribeDeliveryStream" {
        let name = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["DeliveryStreamName"].as_str().map(str::to_string))
            .unwrap_or_default();
        let out = json!({"DeliveryStreamDescription": {
            "DeliveryStreamName": name,
            "DeliveryStreamARN": format!("arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"),
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamType": "DirectPut",
            "VersionId": "1",
            "Destinations": [],
            "HasMoreDestinations": false
        }});
        return ([("content-type", "application/x-amz-json-1.1")], out.to_string()).into_response();
    }
    if target != "Firehose_20150804.PutRecordBatch" {
        return aws_error(StatusCode::BAD_REQUEST, "UnknownOperationException", target);
    }
    let hang = {
        let mut seen = state.seen.lock().unwrap();
        let hang = seen.hang_calls > 0;
        if hang {
            seen.hang_calls -= 1;
            seen.hung += 1;
        }
        hang
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let f = state.faults;
    if f.max_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=f.max_delay_ms))).await;
    }
    // Borrowed parse: the base64 text is decoded only when bodies are kept, so a benchmark
    // spends its CPU on the validator rather than on this fake.
    let req: PutRecordBatch<'_> = serde_json::from_slice(&body).unwrap();
    let records = req.records;
    let mut seen = state.seen.lock().unwrap();
    seen.calls += 1;
    let n = seen.calls;
    seen.max_records = seen.max_records.max(records.len());
    seen.max_bytes = seen.max_bytes.max(records.iter().map(|r| decoded_len(&r.data)).sum());
    if seen.down {
        seen.down_calls += 1;
        return aws_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", "down");
    }
    if f.throttle_every > 0 && n % f.throttle_every == 0 {
        seen.throttled += 1;
        return aws_error(StatusCode::BAD_REQUEST, "ServiceUnavailableException", "Slow down.");
    }
    if f.error_every > 0 && n % f.error_every == 0 {
        seen.errors += 1;
        return aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "boom");
    }
    let mut responses = String::with_capacity(records.len() * 24);
    let mut failed = 0;
    let fail_all = seen.fail_all_entries;
    for (i, r) in records.iter().enumerate() {
        if !responses.is_empty() {
            responses.push(',');
        }
        if fail_all || fastrand::u64(0..100) < f.entry_fail_pct {
            failed += 1;
            responses
                .push_str(r#"{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"entry failed"}"#);
        } else {
            seen.accepted_count += 1;
            if f.keep_bodies {
                let line = base64::engine::general_purpose::STANDARD.decode(r.data.as_bytes()).unwrap();
                let v: Value = serde_json::from_slice(&line).expect("a JSON line");
                let id = v["event_id"].as_str().expect("event_id").to_string();
                let src = &v["_meta"]["source"];
                let (p, o) =
                    (src["partition"].as_i64().unwrap_or(-1) as i32, src["offset"].as_i64().unwrap_or(-1));
                let e = seen.accepted.entry(id).or_insert((0, p, o));
                e.0 += 1;
            }
            responses.push_str(&format!(r#"{{"RecordId":"{n}-{i}"}}"#));
        }
    }
    seen.failed_entries += failed;
    drop(seen);
    let out = format!(r#"{{"FailedPutCount":{failed},"Encrypted":false,"RequestResponses":[{responses}]}}"#);
    ([("content-type", "application/x-amz-json-1.1")], out).into_response()
}

/// The part of a PutRecordBatch request this fake reads.
#[derive(serde::Deserialize)]
struct PutRecordBatch<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Entry<'a>>,
}

#[derive(serde::Deserialize)]
struct Entry<'a> {
    #[serde(rename = "Data", borrow)]
    data: std::borrow::Cow<'a, str>,
}

/// Bytes a padded standard-base64 text decodes to.
fn decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}
