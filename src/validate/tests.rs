//! Table-driven tests of the whole validation core: an accepted and a rejected example for
//! every event type, an example for every reject code, Avro frames (including an older writer
//! schema resolved against ours), and the round trip of accepted events.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use serde_json::{Value as Json, json};

use super::source::WriterSchema;
use super::*;

const NOW: &str = "2026-11-22T12:00:00Z";

fn ctx() -> Context {
    Context::at(time::parse_rfc3339(NOW).unwrap())
}

fn source() -> LocalSchemas {
    LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap()
}

fn prov() -> Provenance<'static> {
    Provenance { topic: "game-events.raw", partition: 3, offset: 42, received_at: None }
}

fn base(event_type: &str) -> Json {
    let mut e = json!({
        "event_id": "0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10",
        "event_type": event_type,
        "timestamp": "2026-11-22T10:15:30.250+01:00",
        "user_id": "user-1",
        "game_id": "space-miner",
        "platform": "ios",
        "app_version": "1.4.2",
        "session_id": "s-1",
        "country": "DE",
    });
    let extra = match event_type {
        "install" => json!({"source": "organic", "device_model": "iPhone15,2"}),
        "purchase" => {
            json!({"product_id": "gems_100", "price": 4.99, "currency": "USD", "store": "app_store"})
        }
        "session_start" => json!({}),
        "session_end" => json!({"duration_ms": 61000}),
        "level_start" => json!({"level": 3}),
        "level_complete" => json!({"level": 3, "duration_ms": 42000, "success": true, "score": 1200}),
        "ad_watched" => {
            json!({"placement": "after_level", "ad_type": "rewarded", "revenue": "0.02", "currency": "USD"})
        }
        "achievement_unlocked" => json!({"achievement_id": "first_blood"}),
        _ => json!({}),
    };
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

const TYPES: [&str; 8] = EVENT_TYPES;

fn run(value: &[u8]) -> Verdict {
    validate(value, &prov(), &ctx(), &source()).unwrap()
}

fn accepted(e: &Json) -> Json {
    match run(e.to_string().as_bytes()) {
        Verdict::Accepted(line) => {
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
            serde_json::from_slice(&line).unwrap()
        }
        Verdict::Rejected(r) => panic!("rejected {e}: {r:?}"),
    }
}

fn rejected(value: &[u8]) -> Reject {
    match run(value) {
        Verdict::Rejected(r) => r,
        Verdict::Accepted(line) => panic!("accepted {}", String::from_utf8_lossy(&line)),
    }
}

fn with(event_type: &str, field: &str, value: Json) -> Vec<u8> {
    let mut e = base(event_type);
    e[field] = value;
    e.to_string().into_bytes()
}

fn without(event_type: &str, field: &str) -> Vec<u8> {
    let mut e = base(event_type);
    e.as_object_mut().unwrap().remove(field);
    e.to_string().into_bytes()
}

#[test]
fn every_event_type_accepts_a_valid_event() {
    for t in TYPES {
        let out = accepted(&base(t));
        assert_eq!(out["event_type"], t);
        assert_eq!(out["timestamp"], "2026-11-22T09:15:30.250Z", "normalized to UTC");
        assert_eq!(out["_meta"]["source"], json!({"topic": "game-events.raw", "partition": 3, "offset": 42}));
        assert_eq!(out["_meta"]["validated_at"], NOW);
        assert_eq!(out["_meta"]["schema"]["version"], 1);
        assert!(out["_meta"]["schema"]["name"].as_str().unwrap().starts_with("playstream.events."));
        assert!(out.get("_extra").is_none());
    }
}

#[test]
fn every_event_type_rejects_an_invalid_event() {
    let cases: [(&str, Vec<u8>, RejectCode, &str); 8] = [
        ("install", with("install", "platform", json!("amiga")), RejectCode::InvalidEnum, "$.platform"),
        ("purchase", with("purchase", "price", json!(4.999)), RejectCode::InvalidAmount, "$.price"),
        ("session_start", without("session_start", "session_id"), RejectCode::MissingField, "$.session_id"),
        (
            "session_end",
            with("session_end", "duration_ms", json!(-5)),
            RejectCode::OutOfRange,
            "$.duration_ms",
        ),
        ("level_start", with("level_start", "level", json!(-1)), RejectCode::OutOfRange, "$.level"),
        (
            "level_complete",
            with("level_complete", "success", json!("yes")),
            RejectCode::WrongType,
            "$.success",
        ),
        ("ad_watched", without("ad_watched", "currency"), RejectCode::MissingField, "$.currency"),
        (
            "achievement_unlocked",
            without("achievement_unlocked", "achievement_id"),
            RejectCode::MissingField,
            "$.achievement_id",
        ),
    ];
    for (t, value, code, field) in cases {
        let r = rejected(&value);
        assert_eq!((r.code, r.field.as_str()), (code, field), "{t}: {r:?}");
        assert!(r.schema.as_deref().unwrap().contains("playstream.events."), "{t}");
        assert!(!r.detail.is_empty());
    }
}

/// A valid install with an unknown member `extra_big` whose raw JSON text is `text`.
fn raw_extra(text: &str) -> Vec<u8> {
    String::from_utf8(with("install", "extra_big", json!("__N__")))
        .unwrap()
        .replace("\"__N__\"", text)
        .into_bytes()
}

/// A valid install with `key` given twice.
fn dup(key: &str) -> Vec<u8> {
    let text = base("install").to_string();
    format!("{{\"{key}\":\"a\",\"{key}\":\"b\",{}", &text[1..]).into_bytes()
}

#[test]
fn every_reject_code_has_an_example() {
    let future = "2026-11-23T12:00:01Z";
    let huge =
        format!("{{\"event_type\":\"install\",\"pad\":\"{}\"}}", "x".repeat(FIREHOSE_MAX_RECORD_BYTES));
    let cases: Vec<(Vec<u8>, RejectCode, &str)> = vec![
        (b"{not json".to_vec(), RejectCode::InvalidJson, ""),
        (dup("user_id"), RejectCode::InvalidJson, "$.user_id"),
        (dup("ab_bucket"), RejectCode::InvalidJson, "$.ab_bucket"),
        (raw_extra("[1, 2e400]"), RejectCode::InvalidJson, "$.extra_big"),
        (raw_extra("-1e999"), RejectCode::InvalidJson, "$.extra_big"),
        (b"".to_vec(), RejectCode::InvalidJson, ""),
        (b"[1,2,3]".to_vec(), RejectCode::NotAnObject, ""),
        (b"null".to_vec(), RejectCode::NotAnObject, ""),
        (vec![0, 0, 0, 0x03, 0xea, 0xff], RejectCode::InvalidAvro, ""),
        (vec![0, 0, 0, 0, 7, 2, 4], RejectCode::UnknownSchemaId, ""),
        (with("install", "event_type", json!("crash")), RejectCode::UnknownEventType, "$.event_type"),
        (without("purchase", "event_type"), RejectCode::MissingField, "$.event_type"),
        (without("purchase", "price"), RejectCode::MissingField, "$.price"),
        (with("purchase", "user_id", json!(null)), RejectCode::MissingField, "$.user_id"),
        (with("purchase", "event_type", json!(7)), RejectCode::WrongType, "$.event_type"),
        (with("level_start", "level", json!("3")), RejectCode::WrongType, "$.level"),
        (with("level_start", "level", json!(1.5)), RejectCode::WrongType, "$.level"),
        (with("purchase", "price", json!(true)), RejectCode::WrongType, "$.price"),
        (with("install", "user_id", json!({"id": 1})), RejectCode::WrongType, "$.user_id"),
        (with("purchase", "store", json!("itch")), RejectCode::InvalidEnum, "$.store"),
        (with("ad_watched", "ad_type", json!("video")), RejectCode::InvalidEnum, "$.ad_type"),
        (with("install", "event_id", json!("12345")), RejectCode::InvalidUuid, "$.event_id"),
        (with("install", "timestamp", json!("yesterday")), RejectCode::InvalidTimestamp, "$.timestamp"),
        (
            with("install", "timestamp", json!("2026-11-22T10:00:00")),
            RejectCode::InvalidTimestamp,
            "$.timestamp",
        ),
        (with("install", "timestamp", json!(1_700_000_000)), RejectCode::WrongType, "$.timestamp"),
        (with("install", "timestamp", json!(future)), RejectCode::TimestampInFuture, "$.timestamp"),
        (with("purchase", "currency", json!("ABC")), RejectCode::InvalidCurrency, "$.currency"),
        (with("purchase", "currency", json!("usd")), RejectCode::InvalidCurrency, "$.currency"),
        (with("purchase", "price", json!("NaN")), RejectCode::InvalidAmount, "$.price"),
        (with("purchase", "price", json!(0)), RejectCode::InvalidAmount, "$.price"),
        (with("install", "country", json!("XX")), RejectCode::InvalidCountry, "$.country"),
        (with("install", "user_id", json!("u".repeat(200))), RejectCode::OutOfRange, "$.user_id"),
        (with("purchase", "quantity", json!(0)), RejectCode::OutOfRange, "$.quantity"),
        (with("level_start", "level", json!(1e10)), RejectCode::OutOfRange, "$.level"),
        (huge.into_bytes(), RejectCode::TooLarge, ""),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (value, code, field) in cases {
        let r = rejected(&value);
        assert_eq!(
            (r.code, r.field.as_str()),
            (code, field),
            "{}: {r:?}",
            String::from_utf8_lossy(&value[..value.len().min(120)])
        );
        covered.insert(code);
    }
    // A writer schema that cannot be resolved to ours: its id is refused for every record.
    let no_price: Json = {
        let mut s: Json = serde_json::from_str(include_str!("../../schemas/purchase.v1.avsc")).unwrap();
        s["fields"].as_array_mut().unwrap().retain(|f| f["name"] != "price");
        s
    };
    let reader = Catalog::embedded().latest("purchase").unwrap().clone();
    let refused = WriterSchema::new(88, apache_avro::Schema::parse(&no_price).unwrap(), reader).unwrap_err();
    let src = Refusing { catalog: Arc::new(Catalog::embedded()), error: refused };
    let Verdict::Rejected(r) = validate(&frame(88, &[]), &prov(), &ctx(), &src).unwrap() else {
        panic!("accepted a frame of an incompatible writer");
    };
    assert_eq!((r.code, r.field.as_str()), (RejectCode::IncompatibleSchema, ""), "{r:?}");
    assert!(r.detail.contains("no field price"), "{}", r.detail);
    covered.insert(r.code);
    assert_eq!(covered.len(), RejectCode::ALL.len(), "every code exercised");
}

/// A source whose only writer id is refused with `error`.
#[derive(Debug)]
struct Refusing {
    catalog: Arc<Catalog>,
    error: LookupError,
}

impl SchemaSource for Refusing {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn writer(&self, _: u32) -> Result<Arc<WriterSchema>, LookupError> {
        Err(self.error.clone())
    }
}

#[test]
fn money_is_exact() {
    let price = |v: Json, cur: &str| {
        let mut e = base("purchase");
        e["price"] = v;
        e["currency"] = json!(cur);
        e.to_string()
    };
    let out = accepted(&serde_json::from_str(&price(json!(4.99), "USD")).unwrap());
    assert_eq!(out["price"], "4.99");
    assert_eq!(out["quantity"], 1, "default filled in");
    // serde_json's json! would round-trip through f64; write the raw text by hand.
    let raw = |text: &str, cur: &str| price(json!("__P__"), cur).replace("\"__P__\"", text);
    let ok = |text: &str, cur: &str, want: &str| match run(raw(text, cur).as_bytes()) {
        Verdict::Accepted(line) => {
            let out: Json = serde_json::from_slice(&line).unwrap();
            assert_eq!(out["price"], want, "{text} {cur}");
        }
        Verdict::Rejected(r) => panic!("{text} {cur}: {r:?}"),
    };
    ok("4.99", "USD", "4.99");
    ok("\"4.990\"", "USD", "4.99");
    ok("120.0", "JPY", "120");
    ok("1.5", "KWD", "1.500");
    ok("0.1", "USD", "0.10");
    ok("19.99000000000000000000000000000000000000000000", "EUR", "19.99");
    ok("999999999999.99", "USD", "999999999999.99");
    let bad = |text: &str, cur: &str| {
        let r = rejected(raw(text, cur).as_bytes());
        assert_eq!((r.code, r.field.as_str()), (RejectCode::InvalidAmount, "$.price"), "{text} {cur}");
    };
    bad("100.5", "JPY");
    bad("1e400", "USD");
    bad("-0", "USD");
    bad("-4.99", "USD");
    bad("12345678901234567890123456789012345678901234567890", "USD");
    bad("\"Infinity\"", "USD");
    bad("\"4,99\"", "EUR");
    bad("\"\"", "USD");
    bad("1000000000000", "USD");
}

#[test]
fn odd_inputs_never_panic() {
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let deep_in = format!("{{\"event_type\":\"install\",\"x\":{}}}", deep);
    for value in [
        deep.as_bytes(),
        deep_in.as_bytes(),
        b"\xff\xfe\xfd",
        b"{\"event_type\":\"install\",\"user_id\":\"\xc3\x28\"}",
        &[0, 0, 0],
        &[0],
        &[0, 0, 0, 0x03, 0xea],
        &[0, 0, 0, 0x03, 0xea, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        b"{\"event_type\":\"purchase\",\"price\":1e999999999999999999}",
    ] {
        assert!(matches!(run(value), Verdict::Rejected(_)));
    }
}

#[test]
fn unknown_fields_are_kept_under_extra() {
    let mut e = base("session_start");
    e["ab_bucket"] = json!("B");
    e["device"] = json!({"ram_gb": 4.0, "gpu": "A17"});
    let out = accepted(&e);
    assert_eq!(out["_extra"], json!({"ab_bucket": "B", "device": {"ram_gb": 4.0, "gpu": "A17"}}));
}

#[test]
fn optional_fields_and_nulls() {
    let mut e = base("install");
    e.as_object_mut().unwrap().remove("session_id");
    e["country"] = Json::Null;
    let out = accepted(&e);
    assert!(out.get("session_id").is_none());
    assert!(out.get("country").is_none());
    assert_eq!(out["source"], "organic");
    let mut ad = base("ad_watched");
    ad.as_object_mut().unwrap().remove("revenue");
    ad.as_object_mut().unwrap().remove("currency");
    assert!(accepted(&ad).get("revenue").is_none());
}

#[test]
fn received_at_and_uuid_case() {
    let mut e = base("install");
    e["event_id"] = json!("0B6A9F55-2F4E-4C1E-9A34-7D1F0C3E5A10");
    let p = Provenance { received_at: time::parse_rfc3339("2026-11-22T11:00:00+00:00"), ..prov() };
    let Verdict::Accepted(line) = validate(e.to_string().as_bytes(), &p, &ctx(), &source()).unwrap() else {
        panic!("rejected");
    };
    let out: Json = serde_json::from_slice(&line).unwrap();
    assert_eq!(out["event_id"], "0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10");
    assert_eq!(out["_meta"]["received_at"], "2026-11-22T11:00:00Z");
}

/// Encodes a purchase as Avro with `writer` (a subset of our fields in the writer's order).
fn purchase_avro(writer: &apache_avro::Schema, price_unscaled: i128, currency: &str) -> Vec<u8> {
    let bytes = price_unscaled.to_be_bytes().to_vec();
    let fields = vec![
        ("event_id".to_string(), Avro::Uuid("0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10".parse().unwrap())),
        ("event_type".to_string(), Avro::String("purchase".into())),
        (
            "timestamp".to_string(),
            Avro::TimestampMicros(time::parse_rfc3339("2026-11-22T10:00:00Z").unwrap()),
        ),
        ("user_id".to_string(), Avro::String("u-9".into())),
        ("game_id".to_string(), Avro::String("g".into())),
        ("platform".to_string(), Avro::Enum(1, "android".into())),
        ("app_version".to_string(), Avro::String("2.0".into())),
        ("session_id".to_string(), Avro::String("s".into())),
        ("country".to_string(), Avro::Union(1, Box::new(Avro::String("JP".into())))),
        ("product_id".to_string(), Avro::String("p".into())),
        ("product_name".to_string(), Avro::Union(0, Box::new(Avro::Null))),
        ("price".to_string(), Avro::Decimal(apache_avro::Decimal::from(bytes))),
        ("currency".to_string(), Avro::String(currency.into())),
        ("store".to_string(), Avro::Enum(1, "google_play".into())),
    ];
    let apache_avro::Schema::Record(r) = writer else { panic!("record") };
    let keep: Vec<(String, Avro)> =
        fields.into_iter().filter(|(n, _)| r.fields.iter().any(|f| &f.name == n)).collect();
    apache_avro::to_avro_datum(writer, Avro::Record(keep)).unwrap()
}

fn frame(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// An older Purchase: no `transaction_id`, no `quantity` (both have defaults in ours).
fn older_purchase_schema() -> apache_avro::Schema {
    let catalog = Catalog::embedded();
    let ours: Json = serde_json::from_str(include_str!("../../schemas/purchase.v1.avsc")).unwrap();
    let mut older = ours.clone();
    let fields = older["fields"].as_array_mut().unwrap();
    fields.retain(|f| f["name"] != "transaction_id" && f["name"] != "quantity");
    assert!(catalog.latest("purchase").is_some());
    apache_avro::Schema::parse(&older).unwrap()
}

#[derive(Debug)]
struct OneWriter {
    catalog: Arc<Catalog>,
    writer: Arc<WriterSchema>,
}

impl SchemaSource for OneWriter {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, LookupError> {
        if id == self.writer.id { Ok(self.writer.clone()) } else { Err(LookupError::NotFound(id)) }
    }
}

#[test]
fn avro_frames_decode_and_validate() {
    let src = source();
    let writer = src.writer(1002).unwrap();
    // Our v1 = the older schema + transaction_id (null) + quantity (int), both last: append them.
    let full = {
        let mut v = purchase_avro(&older_purchase_schema(), 1_200_000_000, "JPY"); // 1200 JPY at scale 6
        v.extend_from_slice(
            &apache_avro::to_avro_datum(
                &apache_avro::Schema::parse_str(r#"["null","string"]"#).unwrap(),
                Avro::Union(0, Box::new(Avro::Null)),
            )
            .unwrap(),
        );
        v.extend_from_slice(&apache_avro::to_avro_datum(&apache_avro::Schema::Int, Avro::Int(2)).unwrap());
        v
    };
    let Verdict::Accepted(line) = validate(&frame(1002, &full), &prov(), &ctx(), &src).unwrap() else {
        panic!("avro rejected: {:?}", validate(&frame(1002, &full), &prov(), &ctx(), &src));
    };
    let out: Json = serde_json::from_slice(&line).unwrap();
    assert_eq!(out["price"], "1200");
    assert_eq!(out["quantity"], 2);
    assert_eq!(out["platform"], "android");
    assert_eq!(out["country"], "JP");
    assert!(out.get("transaction_id").is_none());
    assert_eq!(writer.reader.label, "playstream.events.Purchase v1");
    // A fractional yen in Avro is as invalid as in JSON.
    let mut bad = purchase_avro(&older_purchase_schema(), 1_200_500_000, "JPY");
    bad.extend_from_slice(&[0, 4]);
    let r = match validate(&frame(1002, &bad), &prov(), &ctx(), &src).unwrap() {
        Verdict::Rejected(r) => r,
        Verdict::Accepted(_) => panic!("accepted"),
    };
    assert_eq!((r.code, r.field.as_str()), (RejectCode::InvalidAmount, "$.price"));
    assert!(r.schema.unwrap().contains("writer id 1002"));
    // Truncated body.
    let r = match validate(&frame(1002, &full[..full.len() - 3]), &prov(), &ctx(), &src).unwrap() {
        Verdict::Rejected(r) => r,
        Verdict::Accepted(_) => panic!("accepted"),
    };
    assert_eq!(r.code, RejectCode::InvalidAvro);
    // Trailing garbage.
    let mut long = full.clone();
    long.push(7);
    assert!(
        matches!(validate(&frame(1002, &long), &prov(), &ctx(), &src).unwrap(), Verdict::Rejected(r) if r.code == RejectCode::InvalidAvro)
    );
}

#[test]
fn older_writer_schema_resolves_to_ours() {
    let catalog = Arc::new(Catalog::embedded());
    let reader = catalog.latest("purchase").unwrap().clone();
    let older = older_purchase_schema();
    let src = OneWriter {
        catalog: catalog.clone(),
        writer: Arc::new(WriterSchema::new(77, older.clone(), reader).unwrap()),
    };
    let body = purchase_avro(&older, 4_990_000, "USD");
    let verdict = validate(&frame(77, &body), &prov(), &ctx(), &src).unwrap();
    let Verdict::Accepted(line) = verdict else { panic!("rejected: {verdict:?}") };
    let out: Json = serde_json::from_slice(&line).unwrap();
    assert_eq!(out["price"], "4.99");
    assert_eq!(out["quantity"], 1, "reader default fills the field the older writer lacks");
}

#[test]
fn accepted_lines_validate_again_to_the_same_values() {
    for t in TYPES {
        let e = base(t);
        let first_bytes = e.to_string();
        let first = check(first_bytes.as_bytes(), &ctx(), &source()).unwrap().unwrap();
        let Verdict::Accepted(line) = run(first_bytes.as_bytes()) else { panic!() };
        let second = check(&line, &ctx(), &source()).unwrap().unwrap();
        assert_eq!(first.values, second.values, "{t}");
    }
}
