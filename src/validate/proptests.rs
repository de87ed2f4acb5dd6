//! Property tests of the validation core: arbitrary bytes never panic and always yield exactly
//! one verdict; every accepted event's line is one valid JSON object that validates again to
//! the same values, and so does its Confluent frame written with our own schema.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value as Json, json};

use super::*;

fn source() -> &'static LocalSchemas {
    static SOURCE: std::sync::OnceLock<LocalSchemas> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap())
}

fn ctx() -> Context {
    Context::at(time::parse_rfc3339("2026-11-22T12:00:00Z").unwrap())
}

const PROV: Provenance<'static> = Provenance { topic: "t", partition: 1, offset: 7, received_at: None };

/// Checks the verdict's shape; for accepted events also the round trip. Returns true if accepted.
fn check_verdict(value: &[u8]) -> bool {
    let verdict = validate(value, &PROV, &ctx(), source()).expect("local schemas never fail a lookup");
    match verdict {
        Verdict::Rejected(r) => {
            assert!(!r.detail.is_empty());
            assert!(r.field.is_empty() || r.field.starts_with("$."));
            false
        }
        Verdict::Accepted(line) => {
            assert_eq!(line.last(), Some(&b'\n'));
            let body = &line[..line.len() - 1];
            assert!(!body.contains(&b'\n'), "one line per event");
            let parsed: Json = serde_json::from_slice(body).expect("line is JSON");
            assert!(parsed.is_object());
            let first = check(value, &ctx(), source()).unwrap().unwrap();
            let again = check(body, &ctx(), source()).unwrap().unwrap();
            assert_eq!(first.values, again.values, "line validates to the same values");
            assert_eq!(first.schema.name, again.schema.name);
            // Written as Avro with our own schema, it decodes to the same values again.
            let id = source().catalog().all().into_iter().find(|(_, s)| Arc::ptr_eq(s, &first.schema));
            let frame = avro_out::to_confluent_frame(&first, id.expect("a local id").0).expect("encodes");
            let back = check(&frame, &ctx(), source()).unwrap().expect("own frame validates");
            assert_eq!(first.values, back.values, "Avro frame decodes to the same values");
            true
        }
    }
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn field_value(name: &'static str) -> BoxedStrategy<Json> {
    let good: Vec<Json> = match name {
        "event_id" => {
            vec![json!("0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10"), json!("AB6A9F55-2F4E-4C1E-9A34-7D1F0C3E5A10")]
        }
        "timestamp" => vec![
            json!("2026-11-22T10:00:00Z"),
            json!("2026-11-21T23:59:59.999999-05:00"),
            json!("2020-02-29T00:00:00.1+14:00"),
        ],
        "platform" => vec![json!("ios"), json!("android"), json!("switch")],
        "price" | "revenue" => {
            vec![json!(4.99), json!("0.5"), json!(120), json!("1200.000"), json!(1e2), json!(0.001)]
        }
        "currency" => vec![json!("USD"), json!("JPY"), json!("KWD"), json!("EUR")],
        "country" => vec![json!("US"), json!("JP"), Json::Null],
        "store" => vec![json!("steam"), json!("web")],
        "ad_type" => vec![json!("banner")],
        "level" | "duration_ms" | "quantity" | "score" => vec![json!(0), json!(1), json!(99999), json!(1.0)],
        "success" => vec![json!(true), json!(false)],
        _ => vec![json!("x"), json!("名前"), json!("a\"b\\c\n"), json!("e\u{301}")],
    };
    let bad = vec![
        Json::Null,
        json!(-1),
        json!(""),
        json!("zz"),
        json!(1.5),
        json!([1]),
        json!({"a": 1}),
        json!(true),
        json!("9".repeat(40)),
    ];
    prop_oneof![8 => pick(good), 1 => pick(bad)].boxed()
}

fn event() -> impl Strategy<Value = Vec<u8>> {
    let mut types = EVENT_TYPES.to_vec();
    types.push("bogus");
    let fields = [
        "event_id",
        "timestamp",
        "user_id",
        "game_id",
        "platform",
        "app_version",
        "session_id",
        "country",
        "source",
        "product_id",
        "price",
        "currency",
        "store",
        "quantity",
        "duration_ms",
        "level",
        "success",
        "score",
        "placement",
        "ad_type",
        "revenue",
        "achievement_id",
        "unknown_extra",
    ];
    let values: Vec<BoxedStrategy<Option<Json>>> =
        fields.iter().map(|f| proptest::option::weighted(0.85, field_value(f)).boxed()).collect();
    (pick(types), values).prop_map(move |(t, vals)| {
        let mut m = Map::new();
        m.insert("event_type".into(), json!(t));
        for (name, v) in fields.iter().zip(vals) {
            if let Some(v) = v {
                m.insert((*name).into(), v);
            }
        }
        Json::Object(m).to_string().into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_verdict(&bytes);
    }

    #[test]
    fn arbitrary_frames_never_panic(id in pick(vec![1001u32, 1002, 1005, 1006, 1007, 4242]), body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut v = vec![0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&body);
        check_verdict(&v);
    }

    #[test]
    fn generated_events_round_trip(value in event()) {
        check_verdict(&value);
    }
}

#[test]
fn generator_produces_both_verdicts() {
    // Guards the property above against a generator that only ever makes rejects.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = event();
    let mut accepted = 0;
    for _ in 0..3000 {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        if check_verdict(&value) {
            accepted += 1;
        }
    }
    assert!(accepted > 30, "only {accepted} of 3000 generated events were accepted");
}
