//! Invalid events on purpose, each of one known kind with the reject code the validator must
//! give it. Invariant: a spoiled event carries exactly one defect, so its expected code is
//! certain (unit-tested against the validation core for every kind). Through the HTTP ingest
//! only defects the ingest lets pass can be sent (it answers 400 to what is not a JSON object
//! with a string `event_type`), so those kinds are left out for an `http://` target.

use serde_json::{Map, Value as Json, json};

use crate::validate::RejectCode;
use crate::validate::corpus::Rng;

/// One way to break an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// Cut-off JSON text.
    TruncatedJson,
    /// A JSON array instead of an object.
    NotAnObject,
    /// No `user_id`.
    MissingUser,
    /// An event type no schema knows.
    UnknownType,
    /// A timestamp that is not RFC 3339.
    BadTimestamp,
    /// A timestamp three days ahead.
    FutureTimestamp,
    /// A platform outside the list.
    BadPlatform,
    /// A country that is not ISO 3166-1.
    BadCountry,
    /// An event id that is not a UUID.
    BadUuid,
    /// A 200-character user id.
    LongUser,
    /// A number where a string belongs.
    NumericVersion,
}

impl Defect {
    /// The defects an `http://` target can carry: all but the first two, which the ingest
    /// refuses with 400.
    pub fn over_http() -> &'static [Defect] {
        Defect::ALL.get(2..).unwrap_or_default()
    }

    /// Every defect (Kafka and file targets); the first two cannot pass the HTTP ingest.
    pub const ALL: [Defect; 11] = [
        Defect::TruncatedJson,
        Defect::NotAnObject,
        Defect::MissingUser,
        Defect::UnknownType,
        Defect::BadTimestamp,
        Defect::FutureTimestamp,
        Defect::BadPlatform,
        Defect::BadCountry,
        Defect::BadUuid,
        Defect::LongUser,
        Defect::NumericVersion,
    ];

    /// The reject code the validator gives it.
    pub fn code(self) -> RejectCode {
        match self {
            Defect::TruncatedJson => RejectCode::InvalidJson,
            Defect::NotAnObject => RejectCode::NotAnObject,
            Defect::MissingUser => RejectCode::MissingField,
            Defect::UnknownType => RejectCode::UnknownEventType,
            Defect::BadTimestamp => RejectCode::InvalidTimestamp,
            Defect::FutureTimestamp => RejectCode::TimestampInFuture,
            Defect::BadPlatform => RejectCode::InvalidEnum,
            Defect::BadCountry => RejectCode::InvalidCountry,
            Defect::BadUuid => RejectCode::InvalidUuid,
            Defect::LongUser => RejectCode::OutOfRange,
            Defect::NumericVersion => RejectCode::WrongType,
        }
    }

    /// Picks one of `kinds`.
    pub fn pick(rng: &mut Rng, kinds: &[Defect]) -> Defect {
        let i = usize::try_from(rng.below(kinds.len() as u64)).unwrap_or(0);
        kinds.get(i).copied().unwrap_or(Defect::BadUuid)
    }

    /// The event's bytes with this defect; `now_micros` anchors the future timestamp.
    pub fn apply(self, event: &Map<String, Json>, now_micros: i64) -> Vec<u8> {
        let mut e = event.clone();
        match self {
            Defect::TruncatedJson => {
                let text = Json::Object(e).to_string();
                return text.as_bytes().get(..text.len() / 2).unwrap_or_default().to_vec();
            }
            Defect::NotAnObject => return b"[]".to_vec(),
            Defect::MissingUser => {
                e.remove("user_id");
            }
            Defect::UnknownType => {
                e.insert("event_type".into(), json!("crash_report"));
            }
            Defect::BadTimestamp => {
                e.insert("timestamp".into(), json!("22/11/2026 10:00"));
            }
            Defect::FutureTimestamp => {
                let ahead = crate::validate::time::to_rfc3339(now_micros + 3 * 86_400_000_000);
                e.insert("timestamp".into(), json!(ahead));
            }
            Defect::BadPlatform => {
                e.insert("platform".into(), json!("amiga"));
            }
            Defect::BadCountry => {
                e.insert("country".into(), json!("XX"));
            }
            Defect::BadUuid => {
                e.insert("event_id".into(), json!("not-a-uuid"));
            }
            Defect::LongUser => {
                e.insert("user_id".into(), json!("u".repeat(200)));
            }
            Defect::NumericVersion => {
                e.insert("app_version".into(), json!(42));
            }
        }
        Json::Object(e).to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::loadgen::model::{ModelSettings, simulate};
    use crate::validate::{Catalog, Context, LocalSchemas, check};

    /// Every defect, on every event type the model makes, gets exactly its expected code.
    #[test]
    fn each_defect_gets_its_code_on_every_event_type() {
        let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap_or_else(|e| panic!("{e}"));
        let now = crate::validate::time::parse_rfc3339("2026-12-02T12:00:00Z").unwrap_or_default();
        let ctx = Context::at(now);
        let events = simulate(&ModelSettings { players: 40, days: 3, ..ModelSettings::default() }, 1, now);
        let mut types = std::collections::BTreeSet::new();
        for e in &events {
            let t = e.event.get("event_type").and_then(Json::as_str).unwrap_or_default().to_string();
            if !types.insert(t) {
                continue;
            }
            for d in Defect::ALL {
                let bytes = d.apply(&e.event, now);
                let verdict = check(&bytes, &ctx, &source);
                let code = match verdict {
                    Ok(Err(r)) => Some(r.code),
                    _ => None,
                };
                assert_eq!(code, Some(d.code()), "{d:?} on {}", String::from_utf8_lossy(&bytes));
            }
        }
        assert!(types.len() >= 7, "the model makes every event type but none missing: {types:?}");
    }
}
