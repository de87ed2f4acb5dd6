//! The HTTP/1.1 accept loop of the services (ingest, and the validator's operations endpoints).
//! Invariant: no connection outlives its idle time — a client that opens a connection, or keeps
//! one open after an answer, and does not send a complete request head within the idle timeout
//! is disconnected, so idle or trickling clients cannot hold file descriptors for ever; and on
//! shutdown the loop stops accepting, lets every request in progress finish and closes idle
//! keep-alive connections.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The idle timeout the services use unless told otherwise: above the 60 s idle timeout common
/// to load balancers, and above Prometheus' usual scrape interval.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 65_000;

/// Serves `app` on `listener` until `shutdown` resolves, then drains the open connections.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    idle_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's header read timeout runs from the moment a connection waits for a request head
    // (when it opens, and again after each answer), which is exactly an idle timeout.
    http.timer(TokioTimer::new()).header_read_timeout(idle_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Typically out of file descriptors: wait for some to close, do not spin.
                    tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
