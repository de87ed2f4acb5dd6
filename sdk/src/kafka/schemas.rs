//! The Avro schemas the emitter writes with: the SDK's own copy (`sdk/schemas/`, byte-equal to
//! the repository's `schemas/` by test), embedded at compile time, one per event type — the
//! newest version of each, which is the service's reader schema. Invariant: the table has
//! exactly one entry per [`EVENT_TYPES`](crate::event::EVENT_TYPES) entry, in the same order.

/// `(event_type, file name, schema text)`, in the order of `EVENT_TYPES`.
pub(crate) const EMBEDDED: [(&str, &str, &str); 8] = [
    ("install", "install.v1.avsc", include_str!("../../schemas/install.v1.avsc")),
    ("purchase", "purchase.v1.avsc", include_str!("../../schemas/purchase.v1.avsc")),
    ("session_start", "session_start.v1.avsc", include_str!("../../schemas/session_start.v1.avsc")),
    ("session_end", "session_end.v1.avsc", include_str!("../../schemas/session_end.v1.avsc")),
    ("level_start", "level_start.v1.avsc", include_str!("../../schemas/level_start.v1.avsc")),
    ("level_complete", "level_complete.v1.avsc", include_str!("../../schemas/level_complete.v1.avsc")),
    ("ad_watched", "ad_watched.v1.avsc", include_str!("../../schemas/ad_watched.v1.avsc")),
    (
        "achievement_unlocked",
        "achievement_unlocked.v1.avsc",
        include_str!("../../schemas/achievement_unlocked.v1.avsc"),
    ),
];

/// The position of `event_type` in [`EMBEDDED`].
pub(crate) fn index_of(event_type: &str) -> Option<usize> {
    EMBEDDED.iter().position(|(t, _, _)| *t == event_type)
}

/// The Avro schema (as `.avsc` JSON text) events of `event_type` are written with, or `None`
/// for a type this SDK does not know.
pub fn schema_text(event_type: &str) -> Option<&'static str> {
    index_of(event_type).and_then(|i| EMBEDDED.get(i)).map(|(_, _, text)| *text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

    use std::collections::BTreeMap;

    use super::*;
    use crate::event::EVENT_TYPES;

    #[test]
    fn one_schema_per_event_type_and_the_newest_version_of_each() {
        let types: Vec<&str> = EMBEDDED.iter().map(|(t, _, _)| *t).collect();
        assert_eq!(types, EVENT_TYPES);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let mut newest: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
        for s in index["schemas"].as_array().unwrap() {
            let (t, v, f) = (
                s["event_type"].as_str().unwrap(),
                s["version"].as_u64().unwrap(),
                s["file"].as_str().unwrap(),
            );
            if newest.get(t).is_none_or(|(old, _)| *old < v) {
                newest.insert(t, (v, f));
            }
        }
        for (t, file, text) in EMBEDDED {
            assert_eq!(newest[t].1, file, "{t}: schemas/index.json's newest version is {}", newest[t].1);
            let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(parsed["fields"][1]["name"], "event_type", "{file}");
        }
        assert_eq!(schema_text("purchase"), Some(EMBEDDED[1].2));
        assert_eq!(schema_text("login"), None);
    }
}
