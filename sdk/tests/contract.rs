//! The SDK and the service must not drift: every event type the SDK can build — with every
//! optional field set, and with none — is accepted by the service's own validation core, and
//! the SDK can set every field of every schema in `schemas/` (a schema that gains a field the
//! SDK cannot set fails here). `sdk/schemas/`, the copy the `kafka` feature writes Avro with, is
//! byte-equal to `schemas/`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use playstream::validate::{Catalog, Context, LocalSchemas, Provenance, Verdict, validate};
use playstream_sdk::event::*;
use rust_decimal::Decimal;
use serde_json::Value;

fn every_event(all_optional: bool) -> Vec<Event> {
    let mut ctx = EventContext::new("player-1", "game-1", Platform::Switch, "3.0.1").session("s-1");
    if all_optional {
        ctx = ctx.country(Country::new("JP").unwrap());
    }
    let install = if all_optional {
        Install::new().source("ads").campaign("spring").device_model("Pixel 9").os_version("15")
    } else {
        Install::new()
    };
    let mut purchase = Purchase::new("gems_100", Decimal::new(499, 2), Currency::USD, Store::AppStore);
    let mut level = LevelComplete::new(4, 61_000, false);
    let mut ad = AdWatched::new("level_end", AdType::Rewarded);
    if all_optional {
        purchase = purchase.product_name("100 gems").transaction_id("tx-1").quantity(3);
        level = level.score(-5);
        ad = ad.revenue(Decimal::new(2, 2), Currency::EUR);
    }
    let payloads: Vec<Payload> = vec![
        install.into(),
        purchase.into(),
        SessionStart.into(),
        SessionEnd::new(3_600_000).into(),
        LevelStart::new(0).into(),
        level.into(),
        ad.into(),
        AchievementUnlocked::new("first_win").into(),
    ];
    payloads.into_iter().map(|p| ctx.event(p).build().unwrap()).collect()
}

fn verdict(event: &Event) -> Verdict {
    let schemas = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
    let prov = Provenance { topic: "game-events.raw", partition: 0, offset: 0, received_at: None };
    validate(&event.to_json(), &prov, &Context::now(), &schemas).unwrap()
}

#[test]
fn every_event_type_is_accepted_by_the_validation_core_with_and_without_optional_fields() {
    for all in [true, false] {
        let events = every_event(all);
        let types: BTreeSet<&str> = events.iter().map(|e| e.payload().event_type()).collect();
        assert_eq!(types.len(), 8, "all eight types");
        for e in &events {
            match verdict(e) {
                Verdict::Accepted(line) => {
                    let out: Value = serde_json::from_slice(&line).unwrap();
                    assert_eq!(out["event_id"], Value::from(e.event_id().to_string()));
                    assert!(out.get("_extra").is_none(), "no field the schema lacks: {out}");
                }
                Verdict::Rejected(r) => {
                    panic!("{} (all optional: {all}) rejected: {r:?}", e.payload().event_type())
                }
            }
        }
    }
    // Money survives exactly: the purchase's line carries "4.99".
    let purchase = &every_event(true)[1];
    let Verdict::Accepted(line) = verdict(purchase) else { panic!("purchase rejected") };
    let out: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(out["price"], Value::from("4.99"));
    assert_eq!(out["quantity"], Value::from(3));
}

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Field names of the latest schema of each event type, from `schemas/index.json`.
fn schema_fields() -> BTreeMap<String, (BTreeSet<String>, Vec<Value>)> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(schemas_dir().join("index.json")).unwrap()).unwrap();
    let mut latest: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for s in index["schemas"].as_array().unwrap() {
        let (t, v, f) =
            (s["event_type"].as_str().unwrap(), s["version"].as_u64().unwrap(), s["file"].as_str().unwrap());
        if latest.get(t).is_none_or(|(old, _)| *old < v) {
            latest.insert(t.to_string(), (v, f.to_string()));
        }
    }
    latest
        .into_iter()
        .map(|(t, (_, file))| {
            let avsc: Value =
                serde_json::from_slice(&std::fs::read(schemas_dir().join(file)).unwrap()).unwrap();
            let fields = avsc["fields"].as_array().unwrap().clone();
            let names = fields.iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
            (t, (names, fields))
        })
        .collect()
}

#[test]
fn the_sdk_sets_every_field_of_every_schema_and_no_other() {
    let schemas = schema_fields();
    let sdk_types: BTreeSet<String> = EVENT_TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        schemas.keys().cloned().collect::<BTreeSet<_>>(),
        sdk_types,
        "event types in schemas/ vs the SDK"
    );
    for e in every_event(true) {
        let t = e.payload().event_type();
        let written: BTreeSet<String> = e.to_value().as_object().unwrap().keys().cloned().collect();
        let (names, _) = &schemas[t];
        let missing: Vec<_> = names.difference(&written).collect();
        let unknown: Vec<_> = written.difference(names).collect();
        assert!(missing.is_empty(), "{t}: schema fields the SDK cannot set: {missing:?}");
        assert!(unknown.is_empty(), "{t}: SDK fields the schema lacks: {unknown:?}");
    }
}

#[test]
fn the_sdk_enums_have_exactly_the_schemas_symbols() {
    let schemas = schema_fields();
    let symbols = |t: &str, field: &str| -> Vec<String> {
        let (_, fields) = &schemas[t];
        let f = fields.iter().find(|f| f["name"] == field).unwrap();
        f["type"]["symbols"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    };
    let names = |all: Vec<&str>| all.into_iter().map(String::from).collect::<Vec<_>>();
    for t in EVENT_TYPES {
        assert_eq!(symbols(t, "platform"), names(Platform::ALL.iter().map(|p| p.as_str()).collect()), "{t}");
    }
    assert_eq!(symbols("purchase", "store"), names(Store::ALL.iter().map(|p| p.as_str()).collect()));
    assert_eq!(symbols("ad_watched", "ad_type"), names(AdType::ALL.iter().map(|p| p.as_str()).collect()));
}

#[test]
fn timestamps_are_what_the_service_parses_them_as() {
    for micros in [0, 1, 1_795_436_100_123_456, -86_400_000_001, 253_402_300_799_999_999] {
        let t = Timestamp::from_unix_micros(micros).unwrap();
        let text = t.to_string();
        assert!(text.ends_with('Z'), "{text}");
        assert_eq!(playstream::validate::time::parse_rfc3339(&text), Some(micros), "{text}");
    }
    let now = Timestamp::now().unix_micros();
    let ctx_now = Context::now().now_micros();
    assert!((ctx_now - now).abs() < 5_000_000);
}

/// The `.avsc` files of a directory, by name, with their bytes.
fn avsc_files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "avsc"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn the_sdks_copy_of_the_schemas_is_byte_equal_to_schemas() {
    let ours = avsc_files(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas"));
    let theirs = avsc_files(&schemas_dir());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "sdk/schemas/ must hold exactly the .avsc files of schemas/ (cp schemas/*.avsc sdk/schemas/)"
    );
    assert_eq!(theirs.len(), 8, "one file per event type at least");
    for (name, bytes) in &theirs {
        assert!(ours[name] == *bytes, "sdk/schemas/{name} differs from schemas/{name}: copy it again");
    }
}
