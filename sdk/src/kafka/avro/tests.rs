#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

use super::*;
use crate::event::{AdType, AdWatched, Currency, EventContext, Platform, Purchase, Store, Timestamp};
use crate::kafka::schemas::EMBEDDED;

fn long(v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    write_long(v, &mut out);
    out
}

#[test]
fn longs_are_zig_zag_varints() {
    assert_eq!(long(0), [0x00]);
    assert_eq!(long(-1), [0x01]);
    assert_eq!(long(1), [0x02]);
    assert_eq!(long(-64), [0x7f]);
    assert_eq!(long(64), [0x80, 0x01]);
    assert_eq!(long(i64::MAX), [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(long(i64::MIN), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
}

#[test]
fn decimals_are_exact_twos_complement_at_the_schemas_scale() {
    let d = |m, s| decimal_bytes(Decimal::new(m, s), 18, 6);
    assert_eq!(d(499, 2).unwrap(), [0x4c, 0x24, 0x30]); // 4.99 → 4_990_000
    assert_eq!(d(0, 0).unwrap(), [0x00]);
    assert_eq!(d(-1, 6).unwrap(), [0xff]);
    assert_eq!(d(128, 6).unwrap(), [0x00, 0x80]);
    assert_eq!(d(-129, 6).unwrap(), [0xff, 0x7f]);
    assert_eq!(d(4_990_000, 6).unwrap(), d(499, 2).unwrap(), "4.990000 is 4.99");
    assert_eq!(d(49_900_000, 7).unwrap(), d(499, 2).unwrap(), "trailing zeros past the scale are fine");
    assert!(d(49_999_991, 7).unwrap_err().contains("more than 6 decimals"), "never rounded");
    assert!(d(999_999_999_999_999_999, 6).is_ok());
    assert!(d(1_000_000_000_000, 0).unwrap_err().contains("more digits"));
}

fn schema(event_type: &str) -> RecordWriter {
    let (_, _, text) = EMBEDDED.iter().find(|(t, _, _)| *t == event_type).unwrap();
    RecordWriter::compile(text).unwrap()
}

#[test]
fn every_embedded_schema_compiles() {
    for (t, file, text) in EMBEDDED {
        let w = RecordWriter::compile(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(w.full_name.starts_with("playstream.events."), "{t}: {}", w.full_name);
    }
}

fn ctx() -> EventContext {
    EventContext::new("p-1", "g-1", Platform::Android, "1.0").session("s-1")
}

#[test]
fn a_purchase_body_is_written_field_by_field() {
    let e = ctx()
        .event(Purchase::new("gems", Decimal::new(499, 2), Currency::USD, Store::GooglePlay))
        .timestamp(Timestamp::from_unix_micros(1).unwrap())
        .build()
        .unwrap();
    let mut body = Vec::new();
    schema("purchase").write(&e.fields(), &mut body).unwrap();
    let id = e.event_id().hyphenated().to_string();
    let mut want = Vec::new();
    for s in [id.as_str(), "purchase"] {
        write_bytes(s.as_bytes(), &mut want);
    }
    want.extend(long(1)); // timestamp-micros
    for s in ["p-1", "g-1"] {
        write_bytes(s.as_bytes(), &mut want);
    }
    want.extend(long(1)); // platform: android is symbol 1
    for s in ["1.0", "s-1"] {
        write_bytes(s.as_bytes(), &mut want);
    }
    want.extend(long(0)); // country: null branch
    write_bytes(b"gems", &mut want);
    want.extend(long(0)); // product_name: null
    write_bytes(&[0x4c, 0x24, 0x30], &mut want); // price 4.99 at scale 6
    write_bytes(b"USD", &mut want);
    want.extend(long(1)); // store: google_play is symbol 1
    want.extend(long(0)); // transaction_id: null
    want.extend(long(1)); // quantity: the schema's default 1
    assert_eq!(body, want);
}

#[test]
fn an_optional_value_takes_the_union_branch_of_its_type() {
    let e =
        ctx().event(AdWatched::new("end", AdType::Banner).revenue(Decimal::new(2, 2), Currency::EUR)).build();
    let mut with = Vec::new();
    schema("ad_watched").write(&e.unwrap().fields(), &mut with).unwrap();
    let tail_with: Vec<u8> = [long(1), vec![0x04, 0x4e, 0x20], long(1), vec![0x06], b"EUR".to_vec()].concat();
    assert!(with.ends_with(&tail_with), "revenue 0.02 → 20000 (0x4e20), currency EUR: {with:?}");
    let mut without = Vec::new();
    schema("ad_watched")
        .write(&ctx().event(AdWatched::new("end", AdType::Banner)).build().unwrap().fields(), &mut without)
        .unwrap();
    assert!(without.ends_with(&[0x04, 0x00, 0x00]), "banner (2), revenue null, currency null: {without:?}");
}

#[test]
fn values_that_do_not_fit_the_schema_are_errors_and_leave_the_buffer_alone() {
    let w = schema("session_start");
    let e = ctx().event(crate::event::SessionStart).build().unwrap();
    let mut out = vec![9];
    let mut fields = e.fields();
    fields.push(("level", Datum::Int(3)));
    assert!(
        w.write(&fields, &mut out)
            .unwrap_err()
            .contains("level is not in schema playstream.events.SessionStart")
    );
    let mut fields = e.fields();
    fields.retain(|(n, _)| *n != "user_id");
    assert!(w.write(&fields, &mut out).unwrap_err().contains("user_id: required"));
    let mut fields = e.fields();
    for f in &mut fields {
        if f.0 == "platform" {
            f.1 = Datum::Symbol("dreamcast");
        }
    }
    assert!(w.write(&fields, &mut out).unwrap_err().contains("\"dreamcast\" is not a symbol"));
    let level = schema("level_start");
    let started = ctx().event(crate::event::LevelStart::new(1)).build().unwrap();
    let mut fields = started.fields();
    for f in &mut fields {
        if f.0 == "level" {
            f.1 = Datum::Int(i64::from(i32::MAX) + 1);
        }
    }
    assert!(level.write(&fields, &mut out).unwrap_err().contains("does not fit an Avro int"));
    assert_eq!(out, [9], "nothing written on error");
}

#[test]
fn constructs_the_writer_does_not_support_fail_to_compile() {
    let record = |field: &str| format!(r#"{{"type":"record","name":"R","fields":[{field}]}}"#);
    for (field, why) in [
        (r#"{"name":"a","type":"double"}"#, "double is not supported"),
        (r#"{"name":"a","type":["null","string","long"]}"#, "only [\"null\", T] unions"),
        (r#"{"name":"a","type":{"type":"long","logicalType":"timestamp-millis"}}"#, "not supported"),
        (
            r#"{"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":2}}"#,
            "decimal(40, 2)",
        ),
        (r#"{"name":"a","type":"int","default":"x"}"#, "default"),
    ] {
        let err = RecordWriter::compile(&record(field)).unwrap_err();
        assert!(err.contains(why), "{field}: {err}");
    }
    assert!(RecordWriter::compile(r#"{"type":"enum","name":"E","symbols":[]}"#).is_err());
}
