//! The Schema Registry side of the emitter: `POST /subjects/{subject}/versions` registers a
//! schema (or finds it already registered) and answers its global id. Ids are immutable, so
//! each event type's id is asked for once and kept for the emitter's life. Invariant: only a
//! success is cached — a registry that is down or refuses is asked again on the next emit of
//! that type, and every failure says whether a retry can help.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde_json::Value;

use super::error::EmitError;
use crate::client::http::{HttpsClient, exchange, https_client};

/// The registry's media type.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A Confluent-compatible Schema Registry.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Base URL without a trailing slash.
    url: String,
    auth: Option<HeaderValue>,
    client: HttpsClient,
    timeout: Duration,
}

impl Registry {
    /// A registry at `url` (http or https), with optional basic-auth credentials.
    pub(crate) fn new(
        url: &str,
        auth: Option<&(String, String)>,
        timeout: Duration,
    ) -> Result<Registry, EmitError> {
        let url = url.trim_end_matches('/').to_string();
        let uri: hyper::Uri =
            url.parse().map_err(|e| EmitError::Config(format!("registry URL {url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(EmitError::Config(format!("registry URL {url:?} must be http(s)://host[:port]")));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(EmitError::Config(
                "give registry credentials with registry_auth, not in the URL".into(),
            ));
        }
        let auth = match auth {
            None => None,
            Some((user, password)) => {
                let token = base64(format!("{user}:{password}").as_bytes());
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| EmitError::Config("registry credentials a header cannot carry".into()))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let client = https_client().map_err(EmitError::Config)?;
        Ok(Registry { url, auth, client, timeout })
    }

    /// The base URL (for messages).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Registers `schema` (`.avsc` JSON text) under `subject`; its global id.
    pub(crate) async fn register(&self, subject: &str, schema: &str) -> Result<u32, EmitError> {
        let unavailable = |reason: String| EmitError::RegistryUnavailable { url: self.url.clone(), reason };
        let path = format!("{}/subjects/{}/versions", self.url, percent_encode(subject));
        let body = serde_json::json!({ "schema": schema }).to_string();
        let mut req = hyper::Request::post(path)
            .header(CONTENT_TYPE, MEDIA_TYPE)
            .header(ACCEPT, format!("{MEDIA_TYPE}, application/json"))
            .header(USER_AGENT, concat!("playstream-sdk/", env!("CARGO_PKG_VERSION")));
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| EmitError::Config(e.to_string()))?;
        let reply = exchange(&self.client, req, self.timeout).await.map_err(unavailable)?;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        match reply.status {
            200 => answer.get("id").and_then(Value::as_u64).and_then(|id| u32::try_from(id).ok()).ok_or_else(
                || unavailable(format!("it answered 200 without an id: {}", snippet(&reply.body))),
            ),
            408 | 429 | 500..=599 => {
                Err(unavailable(format!("HTTP {}: {}", reply.status, message(&answer, &reply.body))))
            }
            status => Err(EmitError::RegistryRefused {
                url: self.url.clone(),
                subject: subject.to_string(),
                status,
                error_code: answer.get("error_code").and_then(Value::as_i64),
                message: message(&answer, &reply.body),
            }),
        }
    }
}

/// The registry's `message`, or the start of what it sent.
fn message(answer: &Value, body: &[u8]) -> String {
    answer.get("message").and_then(Value::as_str).map_or_else(|| snippet(body), String::from)
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() { "(no body)".into() } else { text.chars().take(200).collect() }
}

/// `s` with every byte outside RFC 3986's unreserved set percent-encoded (a subject is one
/// path segment).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET.get(sextet as usize).copied().unwrap_or(b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc4648_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:p\xffss"), "dXNlcjpw/3Nz");
    }

    #[test]
    fn subjects_are_one_path_segment() {
        assert_eq!(percent_encode("game-events.raw-value"), "game-events.raw-value");
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn urls_that_cannot_work_are_refused_up_front() {
        let t = Duration::from_secs(1);
        for bad in ["localhost:8081", "ftp://host", "http://user:pw@host:8081", "not a url"] {
            assert!(matches!(Registry::new(bad, None, t), Err(EmitError::Config(_))), "{bad}");
        }
        assert!(
            Registry::new("https://registry.example.com/", None, t)
                .is_ok_and(|r| r.url() == "https://registry.example.com")
        );
    }
}
