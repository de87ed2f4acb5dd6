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

impl BodyError {
    /// A raw body over [`MAX_BODY_BYTES`].
    pub fn body_too_large() -> BodyError {
        BodyError::TooLarge(format!("the body is over {MAX_BODY_BYTES} bytes"))
    }
}

/// Inflates a gzip body (every member of a multi-member stream), refusing to produce more than
/// [`MAX_BODY_BYTES`].
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_BODY_BYTES));
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX) + 1;
    flate2::read::MultiGzDecoder::new(body)
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
        return Err(BodyError::body_too_large());
    }
    match fast::split(body) {
        Some(events) => Ok(events),
        // Anything unusual (errors included) takes the serde path, which words every answer.
        _ => split_with_serde(body),
    }
}

/// The serde_json path: three passes, but the reference for every error message.
fn split_with_serde(body: &[u8]) -> Result<Vec<EventSlice<'_>>, BodyError> {
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

/// The common case in one pass with the validator's scanner: well-formed events whose
/// `event_type` is a string and which name each of the keys read here at most once. `None`
/// sends the body to the serde path (which decides, and explains, everything else).
mod fast {
    use std::borrow::Cow;

    use super::EventSlice;
    use crate::validate::json::{raw_string, scan_array_of_objects, scan_object};

    #[derive(Default, Clone, Copy)]
    struct Seen<'a> {
        event_type: Option<&'a str>,
        user_id: Option<&'a str>,
        event_id: Option<&'a str>,
        events: Option<&'a str>,
        repeated: bool,
    }

    impl<'a> Seen<'a> {
        fn note(&mut self, key: &str, value: &'a str) {
            let slot = match key {
                "event_type" => &mut self.event_type,
                "user_id" => &mut self.user_id,
                "event_id" => &mut self.event_id,
                "events" => &mut self.events,
                _ => return,
            };
            self.repeated |= slot.replace(value).is_some();
        }

        fn event(&self, bytes: &'a str) -> Option<EventSlice<'a>> {
            if self.repeated || !self.event_type.is_some_and(|t| t.starts_with('"')) {
                return None;
            }
            let string =
                |raw: Option<&str>| raw.and_then(raw_string).filter(|s| !s.is_empty()).map(Cow::into_owned);
            let key = string(self.user_id).or_else(|| string(self.event_id));
            Some(EventSlice { bytes: bytes.as_bytes(), key })
        }
    }

    fn array(text: &str) -> Option<Vec<EventSlice<'_>>> {
        let mut seen: Vec<Seen<'_>> = Vec::with_capacity(64);
        let objects = scan_array_of_objects(text, |i, key: Cow<'_, str>, value| {
            if seen.len() <= i {
                seen.resize(i + 1, Seen::default());
            }
            if let Some(s) = seen.get_mut(i) {
                s.note(&key, value);
            }
        })
        .ok()?;
        seen.resize(objects.len(), Seen::default());
        objects.iter().zip(&seen).map(|(o, s)| s.event(o)).collect()
    }

    /// Between one and [`MAX_EVENTS`] events, or `None`.
    pub(super) fn split(body: &[u8]) -> Option<Vec<EventSlice<'_>>> {
        split_any(body).filter(|e| !e.is_empty() && e.len() <= super::MAX_EVENTS)
    }

    fn split_any(body: &[u8]) -> Option<Vec<EventSlice<'_>>> {
        let text = std::str::from_utf8(body).ok()?;
        match text.trim_start_matches([' ', '\n', '\r', '\t']).as_bytes().first()? {
            b'[' => array(text),
            b'{' => {
                let mut seen = Seen::default();
                for (key, value) in scan_object(text).ok()? {
                    seen.note(&key, value);
                }
                match (seen.events, seen.event_type) {
                    (Some(list), None) => array(list),
                    (Some(_), Some(_)) => None,
                    _ => seen.event(text.trim_matches([' ', '\n', '\r', '\t'])).map(|e| vec![e]),
                }
            }
            _ => None,
        }
    }
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
    fn the_one_pass_path_agrees_with_serde_wherever_it_answers() {
        let src =
            crate::validate::LocalSchemas::new(std::sync::Arc::new(crate::validate::Catalog::embedded()))
                .unwrap();
        let mix = crate::validate::corpus::Mix { avro_pct: 0, ..Default::default() };
        let events: Vec<Vec<u8>> = crate::validate::corpus::corpus(200, 3, mix, "2026-11-22T10:00:00Z", &src)
            .into_iter()
            .map(|r| r.value)
            .collect();
        let join = |evs: &[Vec<u8>]| {
            let mut b = b"[".to_vec();
            for (i, e) in evs.iter().enumerate() {
                if i > 0 {
                    b.extend_from_slice(b" ,\n");
                }
                b.extend_from_slice(e);
            }
            b.extend_from_slice(b"]");
            b
        };
        // The corpus holds some invalid events; arrays are built from the ones that pass alone.
        let good: Vec<Vec<u8>> = events.iter().filter(|e| fast::split(e).is_some()).cloned().collect();
        assert!(good.len() > 150, "most corpus events take the fast path alone");
        let mut bodies: Vec<Vec<u8>> = events.clone();
        bodies.push(join(&good));
        bodies.push([b"{\"events\":".as_slice(), &join(&good[..50]), b"}"].concat());
        for odd in [
            r#" {"event_type":"a","user_id":"u\u00e9","x":{"y":[1,2]}} "#,
            r#"[{"event_type":"a","user_id":"u","user_id":"v"}]"#,
            r#"[{"event_type":"a","user_id":7,"event_id":"e"}]"#,
            r#"[{"event_type":"a","user_id":"","event_id":""}]"#,
            r#"[{"event_type":null}]"#,
            r#"[{"event_type":"a"},]"#,
            r#"{"events":[{"event_type":"a"}],"event_type":"b"}"#,
            r#"{"events":{"event_type":"a"}}"#,
            r#"{"events":[]}"#,
            r#"[{"event_type":"a"}] x"#,
            "[{\"event_type\":\"a\",\"s\":\"\u{1}\"}]",
        ] {
            bodies.push(odd.as_bytes().to_vec());
        }
        bodies.push(
            format!("[{{\"event_type\":\"a\",\"deep\":{}{}}}]", "[".repeat(40), "]".repeat(40)).into_bytes(),
        );
        let mut answered = 0;
        for b in &bodies {
            if let Some(fast) = fast::split(b) {
                answered += 1;
                assert_eq!(Ok(fast), split_with_serde(b), "{}", String::from_utf8_lossy(b));
            }
            assert_eq!(split(b), split_with_serde(b), "{}", String::from_utf8_lossy(b));
        }
        assert!(answered >= good.len() + 4, "the fast path must take the common shapes ({answered})");
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
        // Concatenated members (as `gzip a; gzip b; cat` or a streaming client writes them).
        let two = [gz(b"[{\"a\":1},"), gz(b"{\"b\":2}]")].concat();
        assert_eq!(gunzip(&two).unwrap(), b"[{\"a\":1},{\"b\":2}]");
    }
}
