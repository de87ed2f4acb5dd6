//! API keys and per-key rate limits. Keys are held only as SHA-256 digests and compared in
//! constant time against every entry (so timing reveals neither which key matched nor how much
//! of it); a key itself is never stored in plain form, logged or put on a record — only its id.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Errors loading an API keys file; a retry cannot help until the file is fixed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("cannot read API keys file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is malformed (the key is never echoed).
    #[error("API keys file line {line}: {reason}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The accepted API keys: id and SHA-256 digest of each.
#[derive(Debug, Default, Clone)]
pub struct KeyStore {
    entries: Vec<(String, [u8; 32])>,
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

impl KeyStore {
    /// Parses a keys file: one `id:key` or `id:sha256:<64 hex digits>` per line; blank lines and
    /// lines starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<KeyStore, KeysError> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| KeysError::Parse { line: n + 1, reason: reason.to_string() };
            let (id, secret) = line.split_once(':').ok_or_else(|| err("expected id:key"))?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                return Err(err("the id must be non-empty letters, digits, '-', '_' or '.'"));
            }
            let hash = match secret.strip_prefix("sha256:") {
                Some(hex) => parse_hex32(hex).ok_or_else(|| err("sha256: needs 64 hex digits"))?,
                None if secret.len() < 16 => return Err(err("keys must be at least 16 characters")),
                None => digest(secret.as_bytes()),
            };
            if entries.iter().any(|(other, _)| other == id) {
                return Err(err("duplicate id"));
            }
            entries.push((id.to_string(), hash));
        }
        Ok(KeyStore { entries })
    }

    /// Loads a keys file.
    pub fn load(path: &std::path::Path) -> Result<KeyStore, KeysError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeysError::Io { path: path.display().to_string(), source })?;
        KeyStore::parse(&text)
    }

    /// The id of the entry matching `presented`, comparing against every entry in constant time.
    pub fn identify(&self, presented: &[u8]) -> Option<&str> {
        let hash = digest(presented);
        let mut found = None;
        for (id, stored) in &self.entries {
            if bool::from(stored.ct_eq(&hash)) {
                found = Some(id.as_str());
            }
        }
        found
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A token bucket: `rate` tokens per second, up to `burst`, refilled from elapsed time.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Duration,
}

/// Rate-limit settings.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Sustained events per second per key (0 = unlimited).
    pub rate: f64,
    /// Events a key may send at once.
    pub burst: f64,
}

impl TokenBucket {
    /// A full bucket at time `now` (time since any fixed origin).
    pub fn new(limit: Limit, now: Duration) -> TokenBucket {
        TokenBucket { tokens: limit.burst, last: now }
    }

    /// Takes `n` tokens at `now`, or says how long until they would be there.
    pub fn take(&mut self, n: f64, limit: Limit, now: Duration) -> Result<(), Duration> {
        if limit.rate <= 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.last = now;
        if self.tokens >= n {
            self.tokens -= n;
            return Ok(());
        }
        let wait = (n.min(limit.burst) - self.tokens) / limit.rate;
        Err(Duration::from_secs_f64(wait.max(0.001)))
    }
}

/// Buckets per key id.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, TokenBucket>,
}

impl RateLimiter {
    /// Charges `n` events to `key_id`.
    pub fn take(&mut self, key_id: &str, n: usize, limit: Limit, now: Duration) -> Result<(), Duration> {
        let bucket = self.buckets.entry(key_id.to_string()).or_insert_with(|| TokenBucket::new(limit, now));
        bucket.take(n as f64, limit, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_plain_and_hashed() {
        let hashed: String = digest(b"another-long-secret-key").iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("# comment\n\nmobile:a-long-secret-key-1\nweb:sha256:{hashed}\n");
        let store = KeyStore::parse(&text).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.identify(b"a-long-secret-key-1"), Some("mobile"));
        assert_eq!(store.identify(b"another-long-secret-key"), Some("web"));
        assert_eq!(store.identify(b"a-long-secret-key-2"), None);
        assert_eq!(store.identify(b""), None);
    }

    #[test]
    fn bad_files_never_echo_the_key() {
        for (text, needle) in [
            ("nokeyhere", "id:key"),
            ("a:short", "16"),
            ("a:sha256:zz", "64 hex"),
            ("a b:xxxxxxxxxxxxxxxxxxxx", "id must"),
            ("a:xxxxxxxxxxxxxxxxxxxx\na:yyyyyyyyyyyyyyyyyyyy", "duplicate"),
        ] {
            let err = KeyStore::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains("xxxxxxxx") && !err.contains("short"), "{err}");
        }
    }

    #[test]
    fn token_bucket() {
        let limit = Limit { rate: 10.0, burst: 20.0 };
        let t0 = Duration::from_secs(100);
        let mut b = TokenBucket::new(limit, t0);
        assert!(b.take(20.0, limit, t0).is_ok());
        let wait = b.take(5.0, limit, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.take(5.0, limit, t0 + Duration::from_millis(500)).is_ok());
        let unlimited = Limit { rate: 0.0, burst: 0.0 };
        assert!(b.take(1e9, unlimited, t0).is_ok());
        let mut rl = RateLimiter::default();
        assert!(rl.take("a", 20, limit, t0).is_ok());
        assert!(rl.take("a", 1, limit, t0).is_err());
        assert!(rl.take("b", 20, limit, t0).is_ok(), "buckets are per key");
    }
}
