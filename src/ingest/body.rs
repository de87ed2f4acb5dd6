//! Request bodies to events, without touching the events' bytes: the body is one event object,
//! a JSON array of them, or `{"events": [...]}`; each event comes out as the exact byte slice
//! the client sent for it (so the Kafka record is byte-identical), with its partition key. No
//! business validation happens here — only what is needed to split and key the batch.

use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Most events one request may carry.
pub const MAX_EVENTS: usize = 500;
/// Largest decoded body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One event of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSlice<'a> {
    /// The event exactly as sent.
    pub bytes: &'a [u8],
    /// Partition key: `user_id`, else `event_id`, else none.
    pub key: Option<String>,
}

/// Why a body cannot be accepted (each maps to an HTTP status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is not JSON (400).
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    /// An event is not acceptable (400), with its index in the batch.
    #[error("event {index}: {reason}")]
    BadEvent {
        /// Index of the event in the request (0 for a single object).
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The body holds no events (400).
    #[error("the body holds no events")]
    Empty,
    /// More than [`MAX_EVENTS`] events, or more than [`MAX_BODY_BYTES`] decoded (413).
    #[error("{0}")]
    TooLarge(String),
    /// A gzip body that does not decompress (400).
    #[error("the gzip body does not decompress: {0}")]
    BadGzip(String),
}

/// Inflates a gzip body, refusing to produce more than [`MAX_BODY_BYTES`].
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_BODY_BYTES));
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX) + 1;
    flate2::read::GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadGzip(e.to_string()))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(format!("the decoded body is over {MAX_BODY_BYTES} bytes")));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Keys<'a> {
    #[serde(borrow, default)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
}

fn string_of(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok()).filter(|s| !s.is_empty())
}

fn first_byte(raw: &RawValue) -> u8 {
    raw.get().bytes().next().unwrap_or(b' ')
}

fn event(index: usize, raw: &RawValue) -> Result<EventSlice<'_>, BodyError> {
    let bad = |reason: &str| BodyError::BadEvent { index, reason: reason.to_string() };
    if first_byte(raw) != b'{' {
        return Err(bad("is not a JSON object"));
    }
    let keys: Keys<'_> = serde_json::from_str(raw.get()).map_err(|e| bad(&e.to_string()))?;
    match keys.event_type {
        None => return Err(bad("has no event_type")),
        Some(t) if first_byte(t) != b'"' => return Err(bad("event_type is not a string")),
        Some(_) => {}
    }
    let key = string_of(keys.user_id).or_else(|| string_of(keys.event_id));
    Ok(EventSlice { bytes: raw.get().as_bytes(), key })
}

/// Splits a decoded body into its events.
pub fn split(body: &[u8]) -> Result<Vec<EventSlice<'_>>, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(format!("the body is over {MAX_BODY_BYTES} bytes")));
    }
    let top: &RawValue = serde_json::from_slice(body).map_err(|e| BodyError::NotJson(e.to_string()))?;
    let items: Vec<&RawValue> = match first_byte(top) {
        b'[' => serde_json::from_str(top.get()).map_err(|e| BodyError::NotJson(e.to_string()))?,
        b'{' => {
            let keys: Keys<'_> =
                serde_json::from_str(top.get()).map_err(|e| BodyError::NotJson(e.to_string()))?;
            match (keys.events, keys.event_type) {
                (Some(list), None) if first_byte(list) == b'[' => {
                    serde_json::from_str(list.get()).map_err(|e| BodyError::NotJson(e.to_string()))?
                }
                (Some(_), None) => {
                    return Err(BodyError::NotJson("\"events\" must be an array of event objects".into()));
                }
                _ => vec![top],
            }
        }
        _ => return Err(BodyError::BadEvent { index: 0, reason: "is not a JSON object".into() }),
    };
    if items.is_empty() {
        return Err(BodyError::Empty);
    }
    if items.len() > MAX_EVENTS {
        return Err(BodyError::TooLarge(format!(
            "{} events in one request, at most {MAX_EVENTS}",
            items.len()
        )));
    }
    items.into_iter().enumerate().map(|(i, raw)| event(i, raw)).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn three_shapes_keep_bytes_and_keys() {
        let one = br#"{"event_type":"install", "user_id":"u1" , "price": 4.990}"#;
        let got = split(one).unwrap();
        assert_eq!(got, vec![EventSlice { bytes: one, key: Some("u1".into()) }]);
        let arr = br#"[ {"event_type":"a","event_id":"e1"},{"event_type":"b", "user_id":"u\u00e9"} ]"#;
        let got = split(arr).unwrap();
        assert_eq!(got[0].bytes, br#"{"event_type":"a","event_id":"e1"}"#);
        assert_eq!(got[0].key.as_deref(), Some("e1"));
        assert_eq!(got[1].bytes, br#"{"event_type":"b", "user_id":"u\u00e9"}"#);
        assert_eq!(got[1].key.as_deref(), Some("ué"));
        let wrapped = br#"{"events": [{"event_type":"a"}]}"#;
        let got = split(wrapped).unwrap();
        assert_eq!(got, vec![EventSlice { bytes: br#"{"event_type":"a"}"#, key: None }]);
    }

    #[test]
    fn errors_name_the_event() {
        assert!(matches!(split(b"nope"), Err(BodyError::NotJson(_))));
        assert!(matches!(split(b""), Err(BodyError::NotJson(_))));
        assert_eq!(split(b"[]"), Err(BodyError::Empty));
        assert_eq!(split(b"7"), Err(BodyError::BadEvent { index: 0, reason: "is not a JSON object".into() }));
        let r = split(br#"[{"event_type":"a"}, 5]"#).unwrap_err();
        assert_eq!(r, BodyError::BadEvent { index: 1, reason: "is not a JSON object".into() });
        let r = split(br#"[{"event_type":"a"}, {"user_id":"u"}]"#).unwrap_err();
        assert_eq!(r, BodyError::BadEvent { index: 1, reason: "has no event_type".into() });
        let r = split(br#"{"event_type": 3}"#).unwrap_err();
        assert!(matches!(r, BodyError::BadEvent { index: 0, .. }));
        assert!(matches!(split(br#"{"events": 3}"#), Err(BodyError::NotJson(_))));
        let many = format!("[{}]", vec![r#"{"event_type":"x"}"#; MAX_EVENTS + 1].join(","));
        assert!(matches!(split(many.as_bytes()), Err(BodyError::TooLarge(_))));
        let ok = format!("[{}]", vec![r#"{"event_type":"x"}"#; MAX_EVENTS].join(","));
        assert_eq!(split(ok.as_bytes()).unwrap().len(), MAX_EVENTS);
    }

    #[test]
    fn gzip_is_bounded() {
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(gunzip(&gz(b"{\"a\":1}")).unwrap(), b"{\"a\":1}");
        let bomb = gz(&vec![b' '; MAX_BODY_BYTES + 10]);
        assert!(bomb.len() < 10_000);
        assert!(matches!(gunzip(&bomb), Err(BodyError::TooLarge(_))));
        assert!(matches!(gunzip(b"not gzip"), Err(BodyError::BadGzip(_))));
    }
}
