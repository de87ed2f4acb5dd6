//! HTTP routes of the ingest service: `POST /v1/events`, health, readiness, metrics and the
//! OpenAPI document. Every error answer is JSON `{"error": code, "message": sentence}` (plus
//! `index` for a bad event), so a client always learns why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use rdkafka::producer::{BaseRecord, Producer};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::State;
use super::body::{self, BodyError, MAX_BODY_BYTES};
use super::delivery::Acks;

pub(crate) fn router(state: Arc<State>) -> Router {
    let mut app = Router::new()
        .route("/v1/events", post(post_events))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(state.clone());
    let origins = &state.config.cors_origins;
    if !origins.is_empty() {
        let allow = if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::CONTENT_ENCODING,
                    header::HeaderName::from_static("x-api-key"),
                ])
                .max_age(Duration::from_secs(3600)),
        );
    }
    app
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": code, "message": message.into()}))).into_response()
}

fn retry_after(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn presented_key(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get("x-api-key") {
        return Some(v.as_bytes());
    }
    let auth = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = auth.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
}

async fn post_events(AxState(state): AxState<Arc<State>>, headers: HeaderMap, raw: Body) -> Response {
    // Shed load instead of queueing without bound: a full house answers at once, and nothing
    // of the request has been produced, so the client retries all of it.
    let response = match state.admission.try_acquire() {
        Ok(_permit) => handle(&state, &headers, raw).await,
        Err(_) => retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the service is handling its maximum number of requests; nothing was produced, retry the whole request",
            ),
            Duration::from_secs(1),
        ),
    };
    state.metrics.requests.with_label_values(&[response.status().as_str()]).inc();
    response
}

async fn handle(state: &State, headers: &HeaderMap, raw: Body) -> Response {
    let key_id = if state.config.no_auth && state.config.api_keys_file.is_none() {
        "anonymous".to_string()
    } else {
        let keys = state.keys.read().map(|k| k.clone()).unwrap_or_default();
        match presented_key(headers).and_then(|k| keys.identify(k)) {
            Some(id) => id.to_string(),
            None => {
                let mut r = error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
                );
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
        }
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        );
    }
    // Only now, with the client authenticated and a request slot held, is the body read: at
    // most MAX_BODY_BYTES, and within the idle timeout so a stalled upload cannot hold the slot.
    let limited = http_body_util::Limited::new(raw, MAX_BODY_BYTES);
    let raw: Bytes = match tokio::time::timeout(state.config.idle_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return body_error(&BodyError::body_too_large());
        }
        Ok(Err(_)) => {
            return error(StatusCode::BAD_REQUEST, "bad_request", "the request body could not be read");
        }
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive within the idle timeout",
            );
        }
    };
    let raw = &raw;
    let decoded;
    let body: &[u8] = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim)
    {
        None | Some("") | Some("identity") => raw,
        Some(e) if e.eq_ignore_ascii_case("gzip") => match body::gunzip(raw) {
            Ok(d) => {
                decoded = d;
                &decoded
            }
            Err(e) => return body_error(&e),
        },
        Some(_) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                "Content-Encoding must be gzip or identity",
            );
        }
    };
    let events = match body::split(body) {
        Ok(events) => events,
        Err(e) => return body_error(&e),
    };
    // One maximum event size, the producer's: a larger event could never be produced, so it is
    // 413 (never retried), not a 503 the client would retry for ever.
    if let Some(index) = events.iter().position(|e| e.bytes.len() > state.max_event_bytes) {
        let size = events.get(index).map_or(0, |e| e.bytes.len());
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({
                "error": "too_large",
                "index": index,
                "message": format!("event {index} is {size} bytes; the largest event accepted is {} bytes", state.max_event_bytes),
            })),
        )
            .into_response();
    }
    let limit = state.config.limit;
    if limit.rate > 0.0 && events.len() as f64 > limit.burst {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "this request has {} events, more than this key's burst of {}; send it in smaller requests",
                events.len(),
                limit.burst
            ),
        );
    }
    let now = state.epoch.elapsed();
    let limited = match state.limiter.lock() {
        Ok(mut l) => l.take(&key_id, events.len(), state.config.limit, now),
        Err(_) => Ok(()),
    };
    if let Err(wait) = limited {
        return retry_after(
            error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "this API key is over its event rate"),
            wait,
        );
    }
    produce(state, &key_id, &events).await
}

fn body_error(e: &BodyError) -> Response {
    match e {
        BodyError::TooLarge(m) => error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone()),
        BodyError::BadEvent { index, reason } => (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": "bad_event", "index": index, "message": format!("event {index} {reason}")}),
            ),
        )
            .into_response(),
        other => error(StatusCode::BAD_REQUEST, "bad_request", other.to_string()),
    }
}

/// Produces every event and waits for all acknowledgements (or the timeout).
async fn produce(state: &State, key_id: &str, events: &[body::EventSlice<'_>]) -> Response {
    let started = Instant::now();
    let received_at = crate::validate::time::to_rfc3339(crate::validate::Context::now().now_micros());
    let acks = Acks::new(events.len());
    let producer = state.producer.get();
    for (i, e) in events.iter().enumerate() {
        let headers = crate::event::ingest_headers(&received_at, key_id);
        let mut record =
            BaseRecord::with_opaque_to(&state.config.topic, acks.slot(i)).payload(e.bytes).headers(headers);
        if let Some(k) = &e.key {
            record = record.key(k.as_str());
        }
        if let Err((err, _unsent)) = producer.send(record) {
            tracing::warn!(error = %err, "produce refused");
            acks.refused(&err.to_string());
        }
    }
    let complete = acks.wait(state.config.produce_timeout).await;
    let failed = acks.not_accepted();
    let acked = events.len() - failed.len();
    let mut cause = acks.cause();
    if !complete {
        // Whatever has no acknowledgement yet is reported as not accepted.
        cause.get_or_insert_with(|| "no acknowledgement within the produce timeout".into());
    }
    state.metrics.produce_seconds.observe(started.elapsed().as_secs_f64());
    state.metrics.events.inc_by(acked as u64);
    if failed.is_empty() {
        return (StatusCode::ACCEPTED, axum::Json(json!({"accepted": events.len()}))).into_response();
    }
    let body = json!({
        "error": "kafka_unavailable",
        "message": "Kafka did not acknowledge every event; retry the ones listed in not_accepted (duplicates are removed downstream by event_id)",
        "accepted": acked,
        "not_accepted": failed,
        "cause": cause,
    });
    retry_after((StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response(), Duration::from_secs(1))
}

async fn readyz(AxState(state): AxState<Arc<State>>) -> Response {
    let producer = state.producer.get();
    let topic = state.config.topic.clone();
    // A fatal producer error (e.g. a lost idempotence state) is not ready until the supervisor
    // has replaced the producer (within a second).
    let ok = tokio::task::spawn_blocking(move || {
        if let Some((code, reason)) = producer.client().fatal_error() {
            tracing::error!(?code, %reason, "the Kafka producer hit a fatal error");
            return false;
        }
        producer.client().fetch_metadata(Some(&topic), Duration::from_secs(2)).is_ok()
    })
    .await
    .unwrap_or(false);
    if ok {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "kafka_unreachable",
                "Kafka metadata could not be fetched",
            ),
            Duration::from_secs(1),
        )
    }
}

async fn metrics(AxState(state): AxState<Arc<State>>) -> Response {
    state.metrics.queue_depth.set(i64::from(state.producer.get().in_flight_count()));
    crate::telemetry::metrics_text(&state.metrics.registry)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}
