//! The SDK's `kafka` feature against a real broker (tansu) and a **fake** Schema Registry
//! (`support/fake_registry.rs`: no real registry can be installed here). Every event type,
//! with its optional fields set and unset, is emitted through `KafkaEmitter`, read back from
//! the topic and validated by the service's own validation core through the same registry:
//! all accepted, with the same fields as the JSON path gives, keyed by `user_id`; the bodies
//! also decode with apache-avro against `schemas/` (a reader the SDK's writer shares nothing
//! with). Failures: an unreachable broker, a registry that is down or refuses, an event with a
//! field Avro has no place for, and a broker that comes back empty (the stuck idempotent
//! producer is replaced, so one retried emit goes through; without that, none ever did).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

mod common;
#[path = "support/fake_registry.rs"]
mod fake_registry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Broker, free_port, read_topic};
use fake_registry::{FakeRegistry, Mode};
use playstream::validate::{
    Catalog, Context, LocalSchemas, Provenance, RegistrySchemas, SchemaSource, Verdict, validate,
};
use playstream_sdk::event::*;
use playstream_sdk::{EmitError, KafkaEmitter};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Every type twice — all optional fields set, none set — each from its own player, with
/// money at each currency's scale (USD 2, JPY 0, KWD 3, EUR 2).
fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for (n, full) in [(0, true), (1, false)] {
        let player = |i: usize| {
            let ctx =
                EventContext::new(format!("user-{n}-{i}"), "mine-craft", Platform::Playstation, "9.0.0");
            let ctx = if full { ctx.country(Country::new("KW").unwrap()) } else { ctx };
            // An install may come without a session: the unset one does.
            if full || i > 0 { ctx.session(format!("sess-{n}-{i}")) } else { ctx }
        };
        let (price, currency) =
            if full { (Decimal::new(1250, 3), Currency::KWD) } else { (Decimal::from(120), Currency::JPY) };
        let payloads: Vec<Payload> = if full {
            vec![
                Install::new()
                    .source("ad-network")
                    .campaign("winter")
                    .device_model("PS5")
                    .os_version("24.02")
                    .into(),
                Purchase::new("pack_big", price, currency, Store::Other)
                    .product_name("Big pack")
                    .transaction_id("t-77")
                    .quantity(2)
                    .into(),
                SessionStart.into(),
                SessionEnd::new(0).into(),
                LevelStart::new(2_147_483_647).into(),
                LevelComplete::new(12, 1, true).score(i64::MIN).into(),
                AdWatched::new("shop", AdType::Interstitial)
                    .revenue(Decimal::new(15, 2), Currency::EUR)
                    .into(),
                AchievementUnlocked::new("collector").into(),
            ]
        } else {
            vec![
                Install::new().into(),
                Purchase::new("pack_small", price, currency, Store::Steam).into(),
                SessionStart.into(),
                SessionEnd::new(86_400_000).into(),
                LevelStart::new(0).into(),
                LevelComplete::new(0, 0, false).into(),
                AdWatched::new("menu", AdType::Banner).into(),
                AchievementUnlocked::new("a").into(),
            ]
        };
        for (i, p) in payloads.into_iter().enumerate() {
            out.push(player(i).event(p).build().unwrap());
        }
    }
    out
}

fn prov() -> Provenance<'static> {
    Provenance { topic: "t", partition: 0, offset: 0, received_at: None }
}

/// The validated NDJSON line of `value` without `_meta` (which names where it came from).
fn accepted_fields(value: &[u8], source: &dyn SchemaSource) -> Map<String, Value> {
    match validate(value, &prov(), &Context::now(), source).unwrap() {
        Verdict::Accepted(line) => {
            let mut out: Map<String, Value> = serde_json::from_slice(&line).unwrap();
            out.remove("_meta");
            out
        }
        Verdict::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

/// An apache-avro value in the JSON contract's spelling (money normalized, instants RFC 3339).
fn contract_json(v: apache_avro::types::Value) -> Value {
    use apache_avro::types::Value as A;
    match v {
        A::Null => Value::Null,
        A::Union(_, inner) => contract_json(*inner),
        A::String(s) | A::Enum(_, s) => s.into(),
        A::Uuid(u) => u.to_string().into(),
        A::Int(i) => i.into(),
        A::Long(i) => i.into(),
        A::Boolean(b) => b.into(),
        A::TimestampMicros(t) => Timestamp::from_unix_micros(t).unwrap().to_string().into(),
        A::Decimal(d) => {
            let bytes = Vec::<u8>::try_from(&d).unwrap();
            let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
            let mut wide = [fill; 16];
            wide[16 - bytes.len()..].copy_from_slice(&bytes);
            Decimal::from_i128_with_scale(i128::from_be_bytes(wide), 6).normalize().to_string().into()
        }
        other => panic!("a type the schemas do not use: {other:?}"),
    }
}

/// The event's JSON with money normalized, and the schema's default for an unset `quantity`.
fn expected_json(e: &Event) -> Map<String, Value> {
    let mut m = e.to_value().as_object().unwrap().clone();
    for money in ["price", "revenue"] {
        if let Some(Value::String(s)) = m.get(money) {
            let d: Decimal = s.parse().unwrap();
            m.insert(money.into(), d.normalize().to_string().into());
        }
    }
    if e.payload().event_type() == "purchase" {
        m.entry("quantity").or_insert(1.into());
    }
    m
}

fn avro_schema(event_type: &str) -> apache_avro::Schema {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    apache_avro::Schema::parse_str(
        &std::fs::read_to_string(dir.join(format!("{event_type}.v1.avsc"))).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_goes_through_kafka_and_is_accepted_by_the_validation_core_unchanged() {
    let broker = Broker::start();
    let topic = "sdk-kafka-roundtrip";
    broker.create_topic(topic, 3);
    let registry = FakeRegistry::start();
    let emitter = KafkaEmitter::builder(broker.bootstrap(), topic, &registry.url).build().unwrap();
    let events = events();
    let mut delivered = BTreeMap::new();
    for e in &events {
        let d = emitter.emit(e).await.unwrap_or_else(|err| panic!("{}: {err}", e.payload().event_type()));
        delivered.insert((d.partition, d.offset), (e, d.schema_id));
    }
    emitter.flush(Duration::from_secs(5)).await.unwrap();
    assert_eq!(delivered.len(), 16, "every emit has its own place on the topic");
    let subjects = registry.subjects();
    assert_eq!(subjects.keys().collect::<Vec<_>>(), [&format!("{topic}-value")], "TopicNameStrategy");
    assert_eq!(subjects[&format!("{topic}-value")].len(), 8, "one schema per event type");
    assert_eq!(registry.posts(), 8, "each id asked for once, then cached");

    let records = read_topic(&broker.bootstrap(), topic, 3, 16, Duration::from_secs(30));
    assert_eq!(records.len(), 16);
    let catalog = Arc::new(Catalog::embedded());
    let via_registry = RegistrySchemas::new(&registry.url, catalog.clone());
    let local = LocalSchemas::new(catalog).unwrap();
    for r in &records {
        let (e, id) = delivered[&(r.origin.partition, r.origin.offset)];
        let what = format!("{} {}", e.payload().event_type(), e.user_id());
        assert_eq!(r.key.as_deref(), Some(e.user_id().as_bytes()), "{what}: keyed by user_id");
        assert_eq!(r.value[0], 0, "{what}: magic byte");
        assert_eq!(u32::from_be_bytes(r.value[1..5].try_into().unwrap()), id, "{what}: schema id");
        assert_eq!(emitter.schema_id_of(e.payload().event_type()), Some(id));
        // The service, through the registry, accepts it with exactly the JSON path's fields.
        let from_avro = accepted_fields(&r.value, &via_registry);
        assert_eq!(from_avro, accepted_fields(&e.to_json(), &local), "{what}: Avro and JSON validate alike");
        assert_eq!(from_avro["event_id"], Value::from(e.event_id().to_string()));
        // apache-avro, knowing nothing of the SDK's writer, reads back the event's values.
        let schema = avro_schema(e.payload().event_type());
        let reader = apache_avro::reader::datum::GenericDatumReader::builder(&schema).build().unwrap();
        let mut body = &r.value[5..];
        let apache_avro::types::Value::Record(fields) = reader.read_value(&mut body).unwrap() else {
            panic!("{what}: not a record")
        };
        assert!(body.is_empty(), "{what}: the body is read to its end");
        let decoded: Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k, contract_json(v))).filter(|(_, v)| !v.is_null()).collect();
        assert_eq!(decoded, expected_json(e), "{what}");
    }
    // Money kept exactly, at the currency's scale: 1.250 KWD.
    let purchase = records.iter().find(|r| r.key.as_deref() == Some(b"user-0-1".as_slice())).unwrap();
    assert_eq!(accepted_fields(&purchase.value, &via_registry)["price"], Value::from("1.250"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_a_retryable_error_within_the_delivery_timeout() {
    let registry = FakeRegistry::start();
    let nobody = format!("127.0.0.1:{}", free_port());
    let emitter = KafkaEmitter::builder(nobody, "t", &registry.url)
        .delivery_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let event = events().remove(2);
    let started = Instant::now();
    let err = emitter.emit(&event).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.is_retryable(), "{err}");
    assert!(matches!(err, EmitError::Kafka { .. }) && err.to_string().contains("a retry may help"), "{err}");
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(6), "took {took:?}");
    emitter.flush(Duration::from_millis(100)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_down_is_a_clear_retryable_error_and_nothing_reaches_the_topic() {
    let broker = Broker::start();
    let topic = "sdk-kafka-registry";
    broker.create_topic(topic, 1);
    let event = events().remove(0);

    let closed = format!("http://127.0.0.1:{}", free_port());
    let emitter = KafkaEmitter::builder(broker.bootstrap(), topic, &closed).build().unwrap();
    let err = emitter.emit(&event).await.unwrap_err();
    assert!(matches!(err, EmitError::RegistryUnavailable { .. }) && err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&closed) && text.contains("cannot be used now") && text.contains("a retry may help"),
        "{text}"
    );

    let registry = FakeRegistry::start();
    registry.set_mode(Mode::Unavailable);
    let emitter = KafkaEmitter::builder(broker.bootstrap(), topic, &registry.url).build().unwrap();
    let err = emitter.emit(&event).await.unwrap_err();
    assert!(err.is_retryable() && err.to_string().contains("HTTP 503"), "{err}");
    registry.set_mode(Mode::Normal);
    let d = emitter.emit(&event).await.expect("a failed registration is not cached: the retry registers");
    assert_eq!((d.partition, registry.posts()), (0, 2));
    let records = read_topic(&broker.bootstrap(), topic, 1, 2, Duration::from_secs(5));
    assert_eq!(records.len(), 1, "only the emit that succeeded is on the topic");
    assert_eq!(records[0].origin.offset, d.offset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_schema_and_a_field_avro_has_no_place_for_are_errors_no_retry_fixes() {
    let registry = FakeRegistry::start();
    registry.set_mode(Mode::Incompatible);
    // No broker is needed: both fail before anything is produced.
    let emitter =
        KafkaEmitter::builder(format!("127.0.0.1:{}", free_port()), "raw", &registry.url).build().unwrap();
    let err = emitter.emit(&events().remove(3)).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let text = err.to_string();
    for part in [
        "refused the schema for subject raw-value",
        "HTTP 409",
        "compatibility to NONE",
        "a retry cannot help",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let with_extra = EventContext::new("u", "g", Platform::Web, "1")
        .session("s")
        .event(SessionStart)
        .extra("ab_group", "b")
        .build()
        .unwrap();
    let err = emitter.emit(&with_extra).await.unwrap_err();
    assert!(matches!(err, EmitError::Encode { .. }) && !err.is_retryable(), "{err}");
    assert!(err.to_string().contains("extra field \"ab_group\""), "{err}");
    assert_eq!(registry.posts(), 1, "the event with an extra field was refused before any registry call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_go_through_again_after_the_broker_comes_back_empty() {
    // tansu restarted with memory storage has lost the topic and the producer id: the
    // idempotent producer must recover (a rebuilt cluster at the same address).
    let mut broker = Broker::start();
    let topic = "sdk-kafka-restart";
    broker.create_topic(topic, 1);
    let registry = FakeRegistry::start();
    let emitter = KafkaEmitter::builder(broker.bootstrap(), topic, &registry.url)
        .delivery_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let events = events();
    for e in &events[..4] {
        emitter.emit(e).await.unwrap();
    }
    broker.stop();
    let port = broker.port;
    let broker = Broker::start_on(port);
    broker.create_topic(topic, 1);
    let mut retries = 0;
    for e in &events[4..12] {
        let mut attempt = 0;
        loop {
            match emitter.emit(e).await {
                Ok(_) => break,
                Err(err) if err.is_retryable() && attempt < 10 => {
                    attempt += 1;
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(err) => panic!("{}: {err}", e.payload().event_type()),
            }
        }
    }
    let records = read_topic(&broker.bootstrap(), topic, 1, 20, Duration::from_secs(5));
    let keys: std::collections::BTreeSet<&[u8]> = records.iter().filter_map(|r| r.key.as_deref()).collect();
    for e in &events[4..12] {
        assert!(
            keys.contains(e.user_id().as_bytes()),
            "{} is on the new broker ({retries} retries)",
            e.user_id()
        );
    }
    for e in &events[..4] {
        assert!(!keys.contains(e.user_id().as_bytes()), "the new broker started empty");
    }
    eprintln!("{retries} retried emits after the restart");
}
