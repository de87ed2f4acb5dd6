//! Avro schema resolution end to end: Confluent frames written with writer schemas other than
//! ours (older, newer, differently ordered) go through the public [`validate`] with a local
//! catalog holding both, and come out as the values the writer meant — or as the reject the
//! design names (`invalid_amount`, `invalid_enum`, `incompatible_schema`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use serde_json::{Value as Json, json};

use super::source::WriterSchema;
use super::*;

fn ctx() -> Context {
    Context::at(time::parse_rfc3339("2026-11-22T12:00:00Z").unwrap())
}

fn ours(event_type: &str) -> Json {
    let text = match event_type {
        "purchase" => include_str!("../../schemas/purchase.v1.avsc"),
        "session_end" => include_str!("../../schemas/session_end.v1.avsc"),
        other => panic!("no schema text for {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// Our schema with `edit` applied to its field list.
fn variant(event_type: &str, edit: impl FnOnce(&mut Vec<Json>)) -> Json {
    let mut schema = ours(event_type);
    edit(schema["fields"].as_array_mut().unwrap());
    schema
}

fn field<'a>(fields: &'a mut [Json], name: &str) -> &'a mut Json {
    fields.iter_mut().find(|f| f["name"] == name).unwrap()
}

/// A local catalog in a fresh directory: our purchase and session_end as readers (with a
/// `default` symbol on the reader's Store enum), and `writers` as older versions under their ids.
fn catalog(writers: &[(u32, &str, Json)]) -> LocalSchemas {
    catalog_with(|_| {}, writers)
}

/// Like [`catalog`], with `edit` applied to the reader purchase's fields too.
fn catalog_with(edit: impl FnOnce(&mut Vec<Json>), writers: &[(u32, &str, Json)]) -> LocalSchemas {
    static DIRS: AtomicUsize = AtomicUsize::new(0);
    let n = DIRS.fetch_add(1, Ordering::Relaxed);
    let dir: PathBuf = std::env::temp_dir().join(format!("playstream-resolve-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let purchase = variant("purchase", |f| {
        field(f, "store")["type"]["default"] = json!("other");
        edit(f);
    });
    let mut entries = vec![
        json!({"id": 2002, "event_type": "purchase", "version": 100, "file": "purchase.avsc"}),
        json!({"id": 3002, "event_type": "session_end", "version": 100, "file": "session_end.avsc"}),
    ];
    std::fs::write(dir.join("purchase.avsc"), purchase.to_string()).unwrap();
    std::fs::write(dir.join("session_end.avsc"), ours("session_end").to_string()).unwrap();
    for (i, (id, event_type, schema)) in writers.iter().enumerate() {
        let file = format!("writer{id}.avsc");
        std::fs::write(dir.join(&file), schema.to_string()).unwrap();
        entries.push(json!({"id": id, "event_type": event_type, "version": i + 1, "file": file}));
    }
    std::fs::write(dir.join("index.json"), json!({ "schemas": entries }).to_string()).unwrap();
    let catalog = Catalog::load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    LocalSchemas::new(Arc::new(catalog)).unwrap()
}

/// The Avro value of a JSON value for one writer field type (test data is written as JSON).
fn avro_of(ty: &Json, v: &Json) -> Avro {
    if let Some(branches) = ty.as_array() {
        let null = branches.iter().position(|b| b == "null");
        let other = branches.iter().position(|b| b != "null").unwrap();
        let index = |i: usize| u32::try_from(i).unwrap();
        return match (v, null) {
            (Json::Null, Some(n)) => Avro::Union(index(n), Box::new(Avro::Null)),
            (v, _) => Avro::Union(index(other), Box::new(avro_of(&branches[other], v))),
        };
    }
    let logical = ty.get("logicalType").and_then(Json::as_str);
    match (ty.get("type").unwrap_or(ty).as_str().unwrap(), logical) {
        ("string", Some("uuid")) => Avro::Uuid(v.as_str().unwrap().parse().unwrap()),
        ("string", _) => Avro::String(v.as_str().unwrap().into()),
        ("long", Some("timestamp-micros")) => {
            Avro::TimestampMicros(time::parse_rfc3339(v.as_str().unwrap()).unwrap())
        }
        ("long", Some("timestamp-millis")) => {
            Avro::TimestampMillis(time::parse_rfc3339(v.as_str().unwrap()).unwrap() / 1000)
        }
        ("bytes", None) => Avro::Bytes(v.as_str().unwrap().as_bytes().to_vec()),
        ("long", _) => Avro::Long(v.as_i64().unwrap()),
        ("int", _) => Avro::Int(i32::try_from(v.as_i64().unwrap()).unwrap()),
        ("boolean", _) => Avro::Boolean(v.as_bool().unwrap()),
        ("enum", _) => {
            let symbols = ty["symbols"].as_array().unwrap();
            let i = symbols.iter().position(|s| s == v).unwrap();
            Avro::Enum(u32::try_from(i).unwrap(), v.as_str().unwrap().into())
        }
        ("bytes", Some("decimal")) => {
            let scale = u32::try_from(ty["scale"].as_u64().unwrap()).unwrap();
            let mut d: rust_decimal::Decimal = v.as_str().unwrap().parse().unwrap();
            d.rescale(scale);
            Avro::Decimal(apache_avro::Decimal::from(d.mantissa().to_be_bytes().to_vec()))
        }
        other => panic!("no test encoding for {other:?}"),
    }
}

/// A Confluent frame under `id` holding `values` (JSON, by field name) written with `writer`.
fn frame(id: u32, writer: &Json, values: &Json) -> Vec<u8> {
    frame_with(id, writer, values, Vec::new())
}

/// Like [`frame`], with the Avro values of some fields given as such.
fn frame_with(id: u32, writer: &Json, values: &Json, mut given: Vec<(&str, Avro)>) -> Vec<u8> {
    let schema = apache_avro::Schema::parse(writer).unwrap();
    let fields = writer["fields"].as_array().unwrap();
    let record = fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap();
            let value = match given.iter().position(|(n, _)| *n == name) {
                Some(i) => given.swap_remove(i).1,
                None => avro_of(&f["type"], values.get(name).unwrap_or(&Json::Null)),
            };
            (name.to_string(), value)
        })
        .collect();
    let body = GenericDatumWriter::builder(&schema).build().unwrap().write_value_to_vec(Avro::Record(record));
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&body.unwrap());
    v
}

fn purchase(edit: impl FnOnce(&mut Json)) -> Json {
    let mut v = json!({
        "event_id": "0b6a9f55-2f4e-4c1e-9a34-7d1f0c3e5a10", "event_type": "purchase",
        "timestamp": "2026-11-22T10:00:00Z", "user_id": "u-9", "game_id": "g", "platform": "android",
        "app_version": "2.0", "session_id": "s", "country": "JP", "product_id": "p",
        "price": "4.99", "currency": "USD", "store": "google_play", "quantity": 2,
    });
    edit(&mut v);
    v
}

fn verdict(source: &dyn SchemaSource, value: &[u8]) -> Result<Json, Reject> {
    let prov = Provenance { topic: "t", partition: 0, offset: 1, received_at: None };
    match validate(value, &prov, &ctx(), source).unwrap() {
        Verdict::Accepted(line) => Ok(serde_json::from_slice(&line).unwrap()),
        Verdict::Rejected(r) => Err(r),
    }
}

fn reason(r: Result<Json, Reject>) -> (RejectCode, String) {
    match r {
        Ok(line) => panic!("accepted: {line}"),
        Err(r) => (r.code, r.field),
    }
}

#[test]
fn decimals_are_read_at_the_writers_scale_and_never_rounded() {
    let wide = variant("purchase", |f| field(f, "price")["type"]["scale"] = json!(8));
    let source = catalog(&[(2101, "purchase", wide.clone())]);
    let out = verdict(&source, &frame(2101, &wide, &purchase(|_| {}))).unwrap();
    assert_eq!(out["price"], "4.99");
    let kwd = purchase(|v| (v["price"], v["currency"]) = (json!("1.25"), json!("KWD")));
    assert_eq!(verdict(&source, &frame(2101, &wide, &kwd)).unwrap()["price"], "1.250");
    // Eight decimals do not fit our scale of six: rejected, not rounded, whatever the currency.
    for currency in ["USD", "XAU"] {
        let fine = purchase(|v| (v["price"], v["currency"]) = (json!("4.99000001"), json!(currency)));
        let r = verdict(&source, &frame(2101, &wide, &fine));
        assert_eq!(reason(r), (RejectCode::InvalidAmount, "$.price".into()), "{currency}");
    }
}

#[test]
fn enums_are_resolved_by_symbol_name() {
    let reordered = variant("purchase", |f| {
        field(f, "platform")["type"]["symbols"] = json!([
            "amiga",
            "switch",
            "xbox",
            "playstation",
            "linux",
            "macos",
            "windows",
            "web",
            "android",
            "ios"
        ]);
        field(f, "store")["type"]["symbols"] =
            json!(["itch", "other", "web", "epic", "steam", "google_play", "app_store"]);
    });
    let source = catalog(&[(2102, "purchase", reordered.clone())]);
    let out = verdict(&source, &frame(2102, &reordered, &purchase(|_| {}))).unwrap();
    assert_eq!((&out["platform"], &out["store"]), (&json!("android"), &json!("google_play")));
    let ios = purchase(|v| (v["platform"], v["store"]) = (json!("ios"), json!("app_store")));
    let out = verdict(&source, &frame(2102, &reordered, &ios)).unwrap();
    assert_eq!((&out["platform"], &out["store"]), (&json!("ios"), &json!("app_store")));
    // A symbol we do not know: the reader enum's default if it has one (Store), else a reject.
    let itch = purchase(|v| v["store"] = json!("itch"));
    assert_eq!(verdict(&source, &frame(2102, &reordered, &itch)).unwrap()["store"], "other");
    let amiga = purchase(|v| v["platform"] = json!("amiga"));
    let r = verdict(&source, &frame(2102, &reordered, &amiga));
    assert_eq!(reason(r), (RejectCode::InvalidEnum, "$.platform".into()));
}

#[test]
fn allowed_promotions_are_applied() {
    let int_duration = variant("session_end", |f| field(f, "duration_ms")["type"] = json!("int"));
    let source = catalog(&[(3101, "session_end", int_duration.clone())]);
    let mut v = purchase(|_| {});
    v["event_type"] = json!("session_end");
    v["duration_ms"] = json!(61_000);
    let out = verdict(&source, &frame(3101, &int_duration, &v)).unwrap();
    assert_eq!(out["duration_ms"], 61_000);
}

#[test]
fn incompatible_writers_reject_every_record_with_their_id() {
    let no_price = variant("purchase", |f| f.retain(|x| x["name"] != "price"));
    let text_quantity = variant("purchase", |f| {
        let quantity = field(f, "quantity");
        (quantity["type"], quantity["default"]) = (json!("string"), json!("1"));
    });
    let source = catalog(&[(2103, "purchase", no_price.clone()), (2104, "purchase", text_quantity.clone())]);
    let r = verdict(&source, &frame(2103, &no_price, &purchase(|_| {})));
    assert_eq!(reason(r).0, RejectCode::IncompatibleSchema);
    let r = verdict(&source, &frame(2104, &text_quantity, &purchase(|v| v["quantity"] = json!("2"))));
    assert_eq!(reason(r).0, RejectCode::IncompatibleSchema);
}

/// A source holding one writer schema (any Avro record, not only what a local catalog can
/// hold), resolved to our embedded reader of its type.
#[derive(Debug)]
struct One {
    catalog: Arc<Catalog>,
    writer: Result<Arc<WriterSchema>, LookupError>,
}

fn one(id: u32, event_type: &str, writer: &Json) -> One {
    let catalog = Arc::new(Catalog::embedded());
    let reader = catalog.latest(event_type).unwrap().clone();
    let writer = WriterSchema::new(id, apache_avro::Schema::parse(writer).unwrap(), reader).map(Arc::new);
    One { catalog, writer }
}

impl SchemaSource for One {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn writer(&self, _: u32) -> Result<Arc<WriterSchema>, LookupError> {
        self.writer.clone()
    }
}

fn refusal(source: &One) -> String {
    match &source.writer {
        Err(LookupError::Unusable { code: RejectCode::IncompatibleSchema, reason, .. }) => reason.clone(),
        other => panic!("not refused as incompatible: {other:?}"),
    }
}

#[test]
fn writer_only_fields_of_every_kind_are_skipped() {
    let node = json!({"type": "record", "name": "Node", "fields": [
        {"name": "label", "type": "string"},
        {"name": "next", "type": ["null", "Node"]},
    ]});
    let extras = [
        json!({"name": "w_tree", "type": {"type": "array", "items": node}}),
        json!({"name": "w_map", "type": {"type": "map", "values": "double"}}),
        json!({"name": "w_fixed", "type": {"type": "fixed", "name": "Three", "size": 3}}),
        json!({"name": "w_union", "type": ["null", "string", "long", "Three"]}),
        json!({"name": "w_misc", "type": {"type": "record", "name": "Misc", "fields": [
            {"name": "f", "type": "float"}, {"name": "b", "type": "boolean"}, {"name": "y", "type": "bytes"},
            {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["red", "blue"]}},
            {"name": "nulls", "type": {"type": "array", "items": "null"}},
        ]}}),
    ];
    let mut writer = ours("purchase");
    let fields = writer["fields"].as_array_mut().unwrap();
    // Writer-only fields first, between ours, and last; our own fields in reverse order.
    fields.reverse();
    for (i, extra) in extras.iter().enumerate() {
        fields.insert((i * 4).min(fields.len()), extra.clone());
    }
    let chain = |labels: &[&str]| {
        labels.iter().rev().fold(Avro::Union(0, Box::new(Avro::Null)), |next, label| {
            let node =
                Avro::Record(vec![("label".into(), Avro::String((*label).into())), ("next".into(), next)]);
            Avro::Union(1, Box::new(node))
        })
    };
    let Avro::Union(_, head) = chain(&["a", "b", "c"]) else { unreachable!() };
    let given = vec![
        (
            "w_tree",
            Avro::Array(vec![
                *head,
                Avro::Record(vec![
                    ("label".into(), Avro::String("z".into())),
                    ("next".into(), Avro::Union(0, Box::new(Avro::Null))),
                ]),
            ]),
        ),
        ("w_map", Avro::Map([("k".to_string(), Avro::Double(1.5))].into_iter().collect())),
        ("w_fixed", Avro::Fixed(3, vec![1, 2, 3])),
        ("w_union", Avro::Union(3, Box::new(Avro::Fixed(3, vec![9, 9, 9])))),
        (
            "w_misc",
            Avro::Record(vec![
                ("f".into(), Avro::Float(0.5)),
                ("b".into(), Avro::Boolean(true)),
                ("y".into(), Avro::Bytes(vec![0xff; 40])),
                ("e".into(), Avro::Enum(1, "blue".into())),
                ("nulls".into(), Avro::Array(vec![Avro::Null; 1000])),
            ]),
        ),
    ];
    let source = one(4001, "purchase", &writer);
    let framed = frame_with(4001, &writer, &purchase(|_| {}), given);
    let out = verdict(&source, &framed).unwrap();
    let plain = verdict(
        &one(1002, "purchase", &ours("purchase")),
        &frame(1002, &ours("purchase"), &purchase(|_| {})),
    );
    assert_eq!(out, plain.unwrap(), "the same event, whatever the writer adds or reorders");
    assert_eq!((&out["price"], &out["quantity"], &out["country"]), (&json!("4.99"), &json!(2), &json!("JP")));
    // Every cut of the body is invalid Avro, never a panic nor an accepted event.
    for cut in 5..framed.len() {
        let r = verdict(&source, &framed[..cut]);
        assert_eq!(reason(r).0, RejectCode::InvalidAvro, "cut at {cut}");
    }
    let mut long = framed.clone();
    long.push(0);
    assert_eq!(reason(verdict(&source, &long)).0, RejectCode::InvalidAvro);
}

#[test]
fn unions_on_either_side_and_other_promotions() {
    let writer = variant("purchase", |f| {
        field(f, "user_id")["type"] = json!(["null", "string"]); // writer union, ours not
        let country = field(f, "country");
        country["type"] = json!("string"); // ours a union, the writer's not
        country.as_object_mut().unwrap().remove("default");
        field(f, "product_id")["type"] = json!("bytes"); // bytes → string
        let name = field(f, "product_name");
        (name["type"], name["default"]) = (json!(["string", "null"]), json!(""));
        field(f, "timestamp")["type"]["logicalType"] = json!("timestamp-millis");
    });
    let source = one(4002, "purchase", &writer);
    let values = purchase(|v| {
        (v["product_name"], v["timestamp"]) = (json!("Gems"), json!("2026-11-22T10:00:00.123Z"))
    });
    let out = verdict(&source, &frame(4002, &writer, &values)).unwrap();
    assert_eq!(
        (&out["user_id"], &out["country"], &out["product_id"]),
        (&json!("u-9"), &json!("JP"), &json!("p"))
    );
    assert_eq!(
        (&out["product_name"], &out["timestamp"]),
        (&json!("Gems"), &json!("2026-11-22T10:00:00.123Z"))
    );
    let r = verdict(&source, &frame(4002, &writer, &purchase(|v| v["user_id"] = Json::Null)));
    assert_eq!(reason(r), (RejectCode::MissingField, "$.user_id".into()), "a null branch is as in JSON");
    // A decimal held in one byte (shorter than its precision suggests) is fine.
    let mut tiny = frame(
        1002,
        &ours("purchase"),
        &purchase(|v| (v["price"], v["currency"]) = (json!("0.000001"), json!("XAU"))),
    );
    let plain = one(1002, "purchase", &ours("purchase"));
    assert_eq!(verdict(&plain, &tiny).unwrap()["price"], "0.000001");
    tiny.push(1);
    assert_eq!(reason(verdict(&plain, &tiny)).0, RejectCode::InvalidAvro);
}

#[test]
fn reader_aliases_match_writer_names() {
    let renamed = variant("purchase", |f| field(f, "price")["name"] = json!("amount"));
    let source = catalog_with(
        |f| field(f, "price")["aliases"] = json!(["amount"]),
        &[(2105, "purchase", renamed.clone())],
    );
    let mut values = purchase(|_| {});
    values["amount"] = json!("4.99");
    assert_eq!(verdict(&source, &frame(2105, &renamed, &values)).unwrap()["price"], "4.99");
}

/// A change to a schema's field list.
type Edit = fn(&mut Vec<Json>);

#[test]
fn writers_that_cannot_be_resolved_say_why() {
    let cases: [(&str, Edit, &str); 6] = [
        (
            "narrowing",
            |f| field(f, "quantity")["type"] = json!("long"),
            "writer's long cannot be read as our int",
        ),
        (
            "renamed enum",
            |f| field(f, "store")["type"]["name"] = json!("Shop"),
            "enum Shop is not our enum Store",
        ),
        (
            "wide decimal",
            |f| field(f, "price")["type"]["precision"] = json!(38),
            "decimal(38,6) cannot fit our decimal(18,6)",
        ),
        (
            "plain bytes",
            |f| field(f, "price")["type"] = json!("bytes"),
            "writer's bytes cannot be read as our decimal(18,6)",
        ),
        (
            "union branch",
            |f| field(f, "quantity")["type"] = json!(["int", "string"]),
            "string cannot be read as our int",
        ),
        ("null", |f| field(f, "product_id")["type"] = json!("null"), "null cannot be read as our string"),
    ];
    for (what, edit, why) in cases {
        let writer = variant("purchase", edit);
        let reason = refusal(&one(4003, "purchase", &writer));
        assert!(reason.contains(why), "{what}: {reason}");
        assert!(reason.contains("playstream.events.Purchase v1"), "{what}: {reason}");
    }
    // And a record of such a writer is rejected for it, whatever its body.
    let r = verdict(&one(4003, "purchase", &variant("purchase", cases[0].1)), &[0, 0, 0, 0x0f, 0xa3, 1]);
    assert_eq!(reason(r), (RejectCode::IncompatibleSchema, String::new()));
}
