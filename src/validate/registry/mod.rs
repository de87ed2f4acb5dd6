//! The Schema Registry source: writer schemas fetched from a Confluent-compatible registry
//! (`GET /schemas/ids/{id}`, over http or https, with optional basic auth), once per id, and
//! cached for the life of the process (registry ids are immutable). Refusals are cached too, so
//! a producer sending a bad id cannot turn every record into a registry call: an unusable
//! schema (including one that does not resolve to ours by Avro's rules) for good, "no such id"
//! for [`NOT_FOUND_TTL`] (a registry replica may lag behind a fresh registration). Invariant: a
//! registry we cannot use — unreachable, a TLS failure, refused credentials — is never cached
//! and never a reject: it is [`LookupError::Unavailable`], retried, because the record is not
//! at fault for our configuration. Credentials never appear in a message or a `Debug` output.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use apache_avro::Schema;
use base64::Engine as _;

use super::reject::RejectCode;
use super::schema::Catalog;
use super::source::{LookupError, Probe, SchemaSource, WriterSchema};

/// How long the registry source remembers that an id does not exist before asking again.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(30);

/// Basic-auth credentials as Confluent's `basic.auth.user.info`: `user:password`. Parsed from a
/// flag or an environment variable; its `Debug` shows the user only.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    user: String,
    password: String,
}

impl BasicAuth {
    /// Credentials from a user and a password.
    pub fn new(user: &str, password: &str) -> BasicAuth {
        BasicAuth { user: user.to_string(), password: password.to_string() }
    }

    fn header(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth").field("user", &self.user).field("password", &"<hidden>").finish()
    }
}

impl FromStr for BasicAuth {
    type Err = RegistryConfigError;

    /// `user:password` (the password may contain `:`).
    fn from_str(s: &str) -> Result<BasicAuth, RegistryConfigError> {
        match s.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(BasicAuth::new(user, password)),
            _ => Err(RegistryConfigError::BadCredentials),
        }
    }
}

/// How to reach a registry besides its URL.
#[derive(Debug, Clone, Default)]
pub struct RegistryAccess {
    /// Basic-auth credentials; when unset, `https://user:password@host` in the URL is used.
    pub basic_auth: Option<BasicAuth>,
    /// A PEM file of CA certificates to trust besides the system's and the web PKI's roots (a
    /// private CA, or a self-signed registry certificate).
    pub ca_file: Option<PathBuf>,
}

/// Why a registry source cannot be set up: a configuration error, a retry cannot help.
#[derive(Debug, thiserror::Error)]
pub enum RegistryConfigError {
    /// The CA file cannot be read.
    #[error(
        "cannot read the Schema Registry CA file {path}: {error} (a configuration error; a retry cannot help)"
    )]
    CaFile {
        /// The file.
        path: String,
        /// The I/O error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// The CA file holds no certificate rustls accepts.
    #[error(
        "the Schema Registry CA file {path} holds no usable PEM certificate{detail} (a retry cannot help)"
    )]
    NoCertificate {
        /// The file.
        path: String,
        /// What was wrong with it, if known.
        detail: String,
    },
    /// Credentials not of the form `user:password`.
    #[error("Schema Registry credentials must be user:password (a retry cannot help)")]
    BadCredentials,
    /// TLS could not be configured.
    #[error("cannot set up TLS for the Schema Registry: {0} (a retry cannot help)")]
    Tls(String),
}

/// What the registry source remembers about one id.
#[derive(Debug, Clone)]
enum Known {
    Found(Arc<WriterSchema>),
    /// A refusal, until the given time (`None`: for good).
    Refused(LookupError, Option<Instant>),
}

/// Writer schemas fetched from a Confluent-compatible Schema Registry, cached by id.
pub struct RegistrySchemas {
    /// Without credentials: safe to show.
    base_url: String,
    auth_header: Option<String>,
    catalog: Arc<Catalog>,
    agent: ureq::Agent,
    cache: RwLock<HashMap<u32, Known>>,
    not_found_ttl: Duration,
    /// Lookups by outcome, in the order of [`LOOKUP_OUTCOMES`].
    counts: [AtomicU64; 5],
}

/// The outcomes lookups are counted by: answered from the cache, or fetched with this result.
pub const LOOKUP_OUTCOMES: [&str; 5] = ["cached", "found", "not_found", "unusable", "unavailable"];

impl fmt::Debug for RegistrySchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySchemas")
            .field("base_url", &self.base_url)
            .field("basic_auth", &self.auth_header.is_some())
            .finish_non_exhaustive()
    }
}

impl RegistrySchemas {
    /// A registry at `base_url` (`http://localhost:8081`, `https://user:password@host`),
    /// trusting the system's and the web PKI's roots.
    pub fn new(base_url: &str, catalog: Arc<Catalog>) -> RegistrySchemas {
        RegistrySchemas::with_access(base_url, catalog.clone(), RegistryAccess::default()).unwrap_or_else(
            |_| {
                // Without a CA file only the TLS setup can fail: fall back to ureq's own (web PKI).
                let (url, from_url) = split_userinfo(base_url);
                RegistrySchemas::assemble(url, from_url, catalog, ureq::AgentBuilder::new())
            },
        )
    }

    /// A registry at `base_url` reached with `access` (credentials, extra trusted CAs).
    /// Credentials given in `access` win over any in the URL.
    pub fn with_access(
        base_url: &str,
        catalog: Arc<Catalog>,
        access: RegistryAccess,
    ) -> Result<RegistrySchemas, RegistryConfigError> {
        let (url, from_url) = split_userinfo(base_url);
        let tls = tls_config(access.ca_file.as_deref())?;
        let builder = ureq::AgentBuilder::new().tls_config(tls);
        Ok(RegistrySchemas::assemble(url, access.basic_auth.or(from_url), catalog, builder))
    }

    fn assemble(
        base_url: String,
        auth: Option<BasicAuth>,
        catalog: Arc<Catalog>,
        agent: ureq::AgentBuilder,
    ) -> RegistrySchemas {
        RegistrySchemas {
            base_url: base_url.trim_end_matches('/').to_string(),
            auth_header: auth.map(|a| a.header()),
            catalog,
            agent: agent.timeout(Duration::from_secs(5)).build(),
            cache: RwLock::new(HashMap::new()),
            not_found_ttl: NOT_FOUND_TTL,
            counts: Default::default(),
        }
    }

    /// The same source remembering "no such id" for `ttl` instead of [`NOT_FOUND_TTL`].
    pub fn with_not_found_ttl(mut self, ttl: Duration) -> RegistrySchemas {
        self.not_found_ttl = ttl;
        self
    }

    fn count(&self, outcome: usize) {
        if let Some(c) = self.counts.get(outcome) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Checks that the registry is reachable and lets us in (`GET /subjects`), for a startup
    /// check: `Ok` when it answers 200; else [`LookupError::Unavailable`] saying in one
    /// sentence what is wrong (a bad URL, a TLS failure, refused credentials, another answer).
    pub fn probe(&self) -> Result<(), LookupError> {
        self.get("/subjects").map(drop).map_err(|e| self.unavailable(e, "GET /subjects"))
    }

    fn get(&self, path: &str) -> Result<ureq::Response, Box<ureq::Error>> {
        let request = self.agent.get(&format!("{}{path}", self.base_url));
        match &self.auth_header {
            Some(header) => request.set("Authorization", header).call(),
            None => request.call(),
        }
        .map_err(Box::new)
    }

    /// One sentence for a failure to use the registry. HTTP 401 and 403 are our configuration
    /// (credentials), not the record's fault: unavailable, like an unreachable registry.
    fn unavailable(&self, e: Box<ureq::Error>, what: &str) -> LookupError {
        LookupError::Unavailable(self.describe(&e, what).1)
    }

    /// Whether a failure is our configuration (refused credentials, a URL that cannot work),
    /// and one sentence saying what it is.
    fn describe(&self, e: &ureq::Error, what: &str) -> (bool, String) {
        let at = &self.base_url;
        match e {
            ureq::Error::Status(code @ (401 | 403), _) => {
                let whose = if self.auth_header.is_some() {
                    "our credentials"
                } else {
                    "a request without credentials"
                };
                (
                    true,
                    format!(
                        "the Schema Registry at {at} refused {whose} (HTTP {code}); check --schema-registry-auth"
                    ),
                )
            }
            ureq::Error::Status(code, _) => {
                (false, format!("the Schema Registry at {at} answered HTTP {code} to {what}"))
            }
            ureq::Error::Transport(t) => match t.kind() {
                ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                    (true, format!("the Schema Registry URL {at} is not a valid http(s) URL ({t})"))
                }
                _ => (false, format!("cannot reach the Schema Registry at {at}: {t}")),
            },
        }
    }

    fn fetch(&self, id: u32) -> Result<WriterSchema, LookupError> {
        let body = match self.get(&format!("/schemas/ids/{id}")) {
            Ok(resp) => resp.into_string().map_err(|e| LookupError::Unavailable(e.to_string()))?,
            Err(e) if matches!(*e, ureq::Error::Status(404, _)) => return Err(LookupError::NotFound(id)),
            Err(e) => return Err(self.unavailable(e, &format!("GET /schemas/ids/{id}"))),
        };
        let unusable = |code, reason: String| LookupError::Unusable { id, code, reason };
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| LookupError::Unavailable(format!("registry answered non-JSON: {e}")))?;
        if let Some(kind) = json.get("schemaType").and_then(|t| t.as_str()).filter(|t| *t != "AVRO") {
            return Err(unusable(RejectCode::InvalidAvro, format!("schema type is {kind}, not AVRO")));
        }
        let text = json
            .get("schema")
            .and_then(|s| s.as_str())
            .ok_or_else(|| LookupError::Unavailable("registry answer has no schema".into()))?;
        let writer = Schema::parse_str(text).map_err(|e| unusable(RejectCode::InvalidAvro, e.to_string()))?;
        let name = match &writer {
            Schema::Record(r) => r.name.fullname(None),
            _ => return Err(unusable(RejectCode::InvalidAvro, "writer schema is not a record".into())),
        };
        let reader = self
            .catalog
            .by_name(&name)
            .ok_or_else(|| unusable(RejectCode::UnknownEventType, format!("no local schema named {name}")))?
            .clone();
        WriterSchema::new(id, writer, reader)
    }
}

impl SchemaSource for RegistrySchemas {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn check(&self) -> Probe {
        match self.get("/subjects") {
            Ok(_) => Probe::Ok,
            Err(e) => match self.describe(&e, "GET /subjects") {
                (true, why) => Probe::Misconfigured(why),
                (false, why) => Probe::Down(why),
            },
        }
    }

    fn lookup_counts(&self) -> Vec<(&'static str, u64)> {
        LOOKUP_OUTCOMES.iter().zip(&self.counts).map(|(o, c)| (*o, c.load(Ordering::Relaxed))).collect()
    }

    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        let now = Instant::now();
        match self.cache.read().ok().and_then(|c| c.get(&id).cloned()) {
            Some(Known::Found(writer)) => {
                self.count(0);
                return Ok(writer);
            }
            Some(Known::Refused(error, until)) if until.is_none_or(|u| now < u) => {
                self.count(0);
                return Err(error);
            }
            _ => {}
        }
        let fetched = self.fetch(id);
        self.count(match &fetched {
            Ok(_) => 1,
            Err(LookupError::NotFound(_)) => 2,
            Err(LookupError::Unusable { .. }) => 3,
            Err(LookupError::Unavailable(_)) => 4,
        });
        let (result, known) = match fetched {
            Ok(writer) => {
                let writer = Arc::new(writer);
                (Ok(writer.clone()), Some(Known::Found(writer)))
            }
            Err(e @ LookupError::NotFound(_)) => {
                (Err(e.clone()), Some(Known::Refused(e, Some(now + self.not_found_ttl))))
            }
            Err(e @ LookupError::Unusable { .. }) => (Err(e.clone()), Some(Known::Refused(e, None))),
            Err(e @ LookupError::Unavailable(_)) => (Err(e), None),
        };
        if let (Some(known), Ok(mut cache)) = (known, self.cache.write()) {
            cache.insert(id, known);
        }
        result
    }
}

/// The URL without `user:password@`, and those credentials (percent-decoded) if present.
fn split_userinfo(url: &str) -> (String, Option<BasicAuth>) {
    let Some((scheme, rest)) = url.split_once("://") else { return (url.to_string(), None) };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return (url.to_string(), None) };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let auth = BasicAuth::new(&percent_decode(user), &percent_decode(password));
    (format!("{scheme}://{host}{path}"), Some(auth))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.filter(|_| b == b'%').and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// rustls client configuration: the web PKI's roots, the system's, and those in `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, RegistryConfigError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    // The system store is a bonus (missing on slim images): its errors are not ours to report.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let pem = std::fs::read(path)
            .map_err(|error| RegistryConfigError::CaFile { path: shown.clone(), error })?;
        let no_cert = |detail: String| RegistryConfigError::NoCertificate { path: shown.clone(), detail };
        let mut added = 0;
        for cert in
            <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(&pem)
        {
            let cert = cert.map_err(|e| no_cert(format!(" ({e})")))?;
            roots.add(cert).map_err(|e| no_cert(format!(" ({e})")))?;
            added += 1;
        }
        if added == 0 {
            return Err(no_cert(String::new()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryConfigError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
