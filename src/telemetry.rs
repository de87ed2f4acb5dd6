//! Operations endpoints shared by the services: `/healthz` (the process is alive), `/readyz`
//! (it can do its job right now), `/metrics` (Prometheus text format of one registry).

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Serves the endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: prometheus::Registry,
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready() {
                        (StatusCode::OK, "ready\n").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { metrics_text(&registry) }
            }),
        );
    let idle = std::time::Duration::from_millis(crate::http_server::DEFAULT_IDLE_TIMEOUT_MS);
    crate::http_server::run(listener, app, idle, shutdown).await;
    Ok(())
}

/// One registry in the Prometheus text format.
pub(crate) fn metrics_text(registry: &prometheus::Registry) -> Response {
    match prometheus::TextEncoder::new().encode_to_string(&registry.gather()) {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// An error and its sources as one line (`outer: inner: root`), each by its `Display` only, so a
/// log line never carries a multi-line `Debug` dump; repeated messages are written once.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(text.as_str())) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chains_are_one_line() {
        let e = Outer(std::io::Error::other("root\ncause"));
        assert_eq!(super::error_chain(&e), "outer: root cause");
    }
}
