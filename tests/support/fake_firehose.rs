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
    /// PutRecordBatch calls whose SigV4 signature, computed again here over the body received
    /// with the tests' credentials (`test`/`test`), matched, and calls where it did not (only
    /// counted when bodies are kept).
    pub signature_ok: u64,
    pub signature_bad: u64,
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
    // Tests (which keep bodies) check every signature; a benchmark leaves the CPU to the validator.
    if state.faults.keep_bodies {
        let signed = signature_matches(&headers, &body);
        let mut seen = state.seen.lock().unwrap();
        if signed { seen.signature_ok += 1 } else { seen.signature_bad += 1 }
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

/// Whether the request's SigV4 `Authorization` signature is the one the tests' credentials
/// (`test`/`test`) give for the headers it names and the body as received: a body swapped in
/// after the SDK signed would not match.
fn signature_matches(headers: &HeaderMap, body: &[u8]) -> bool {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = text("authorization") else { return false };
    let field =
        |key: &str| auth.split([' ', ',']).find_map(|part| part.strip_prefix(key)).map(str::to_string);
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (field("Credential="), field("SignedHeaders="), field("Signature="))
    else {
        return false;
    };
    // Credential=AKID/DATE/REGION/SERVICE/aws4_request
    let scope: Vec<&str> = credential.split('/').collect();
    let (Some(region), Some(service)) = (scope.get(2), scope.get(3)) else { return false };
    let Some(time) = text("x-amz-date").and_then(amz_date) else { return false };
    let names: Vec<&str> = signed_headers.split(';').collect();
    let pairs: Vec<(&str, &str)> =
        names.iter().filter(|n| **n != "x-amz-date").filter_map(|n| text(n).map(|v| (*n, v))).collect();
    let host = text("host").unwrap_or("localhost");
    let identity = aws_credential_types::Credentials::new("test", "test", None, None, "fake").into();
    let Ok(params) = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
    else {
        return false;
    };
    let Ok(request) =
        SignableRequest::new("POST", format!("http://{host}/"), pairs.into_iter(), SignableBody::Bytes(body))
    else {
        return false;
    };
    sign(request, &params.into()).is_ok_and(|out| out.signature() == signature)
}

/// `20261203T101500Z` as a time.
fn amz_date(text: &str) -> Option<std::time::SystemTime> {
    if text.len() != 16 || !text.is_ascii() {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    let micros = playstream::validate::time::parse_rfc3339(&rfc)?;
    Some(std::time::UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).ok()?))
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
