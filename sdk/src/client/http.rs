//! The wire: one `POST /v1/events` of a JSON array, gzip'd, with the API key as a bearer token,
//! over HTTP/1.1 keep-alive connections (https through rustls with the web PKI's roots). It
//! only carries bytes and reports what came back; [`retry`](super::retry) decides. The HTTP
//! client and the bounded, timed exchange are shared with the `kafka` feature's registry calls.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::ClientError;
use super::retry::parse_retry_after;
use super::state::Entry;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// An answer: status, `Retry-After`, and the JSON body (`Null` if none or not JSON).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Value,
}

/// Answers larger than this are not read (the service's are a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An HTTP/1.1 client for http and https (rustls, web PKI roots) with keep-alive.
pub(crate) type HttpsClient = HyperClient<Connector, Full<Bytes>>;

/// A new [`HttpsClient`]; `Err` only when TLS cannot be set up.
pub(crate) fn https_client() -> Result<HttpsClient, String> {
    // The ring provider named explicitly: a process that also links aws-lc-rs (another
    // crate's choice) has no single default provider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(HyperClient::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector))
}

/// An answer's status, headers and body (at most [`MAX_ANSWER_BYTES`] of it).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
}

/// Sends `req` and reads the answer within `timeout`; `Err` is a transport failure
/// (connection, timeout), saying what happened.
pub(crate) async fn exchange(
    client: &HttpsClient,
    req: hyper::Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<Reply, String> {
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body =
            Limited::new(body, MAX_ANSWER_BYTES).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        Ok(Reply { status, headers: parts.headers, body })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// The HTTP side of a client.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: HttpsClient,
    uri: hyper::Uri,
    auth: hyper::header::HeaderValue,
    gzip: bool,
    timeout: Duration,
}

impl Transport {
    pub(crate) fn new(
        endpoint: &str,
        api_key: &str,
        gzip: bool,
        timeout: Duration,
    ) -> Result<Transport, ClientError> {
        let url = format!("{}/v1/events", endpoint.trim_end_matches('/'));
        let uri: hyper::Uri =
            url.parse().map_err(|e| ClientError::Config(format!("endpoint {endpoint:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(ClientError::Config(format!("endpoint {endpoint:?} must be http:// or https://")));
        }
        let auth = hyper::header::HeaderValue::from_str(&format!("Bearer {api_key}"))
            .map_err(|_| ClientError::Config("the API key has characters a header cannot carry".into()))?;
        let client = https_client().map_err(ClientError::Config)?;
        Ok(Transport { client, uri, auth, gzip, timeout })
    }

    /// The request body for `batch`: a JSON array, gzip'd when configured.
    pub(crate) fn body(&self, batch: &[Entry]) -> Bytes {
        let len = batch.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2;
        let mut json = Vec::with_capacity(len);
        json.push(b'[');
        for (i, e) in batch.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(&e.json);
        }
        json.push(b']');
        if !self.gzip {
            return Bytes::from(json);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(len / 4), flate2::Compression::fast());
        match gz.write_all(&json).and_then(|()| gz.finish()) {
            Ok(out) => Bytes::from(out),
            // Writing to a Vec cannot fail; should it, send the plain body (marked as such).
            Err(_) => Bytes::from(json),
        }
    }

    /// Sends one body; `Err` is a transport failure (connection, timeout) — always retryable.
    pub(crate) async fn post(&self, body: Bytes) -> Result<Answer, String> {
        let gzipped = self.gzip && body.starts_with(&[0x1f, 0x8b]);
        let mut req = hyper::Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, self.auth.clone())
            .header(USER_AGENT, concat!("playstream-sdk/", env!("CARGO_PKG_VERSION")));
        if gzipped {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let reply = exchange(&self.client, req, self.timeout).await?;
        let retry_after = parse_retry_after(reply.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()));
        let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        Ok(Answer { status: reply.status, retry_after, body })
    }
}
