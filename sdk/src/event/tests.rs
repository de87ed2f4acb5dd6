#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

use super::*;
use serde_json::json;

fn ctx() -> EventContext {
    EventContext::new("player-1", "game-1", Platform::Ios, "1.2.3").session("s-1")
}

#[test]
fn a_purchase_is_written_per_the_contract() {
    let price = Decimal::new(499, 2);
    let e = ctx()
        .event(Purchase::new("gems_100", price, Currency::USD, Store::AppStore).quantity(2))
        .timestamp(Timestamp::from_unix_micros(1_795_436_100_000_000).unwrap())
        .build()
        .unwrap();
    let v = e.to_value();
    assert_eq!(v["price"], json!("4.99"));
    assert_eq!(v["currency"], json!("USD"));
    assert_eq!(v["store"], json!("app_store"));
    assert_eq!(v["quantity"], json!(2));
    assert_eq!(v["timestamp"], json!("2026-11-23T12:15:00.000000Z"));
    assert_eq!(v["event_type"], json!("purchase"));
    assert_eq!(v["event_id"], json!(e.event_id().to_string()));
    assert_eq!(e.event_id().get_version_num(), 7);
    assert!(v.get("product_name").is_none() && v.get("country").is_none());
}

#[test]
fn every_build_gets_a_new_id_and_clones_keep_it() {
    let b = ctx().event(SessionStart);
    let (a, c) = (b.clone().build().unwrap(), b.build().unwrap());
    assert_ne!(a.event_id(), c.event_id());
    assert_eq!(a.clone().to_json(), a.to_json());
}

#[test]
fn contract_violations_are_refused_at_build() {
    let no_session = EventContext::new("p", "g", Platform::Web, "1");
    assert_eq!(no_session.event(SessionStart).build().unwrap_err(), EventError::Missing("session_id"));
    assert!(no_session.event(Install::new()).build().is_ok(), "install needs no session");
    let long = EventContext::new("x".repeat(129), "g", Platform::Web, "1").session("s");
    assert!(matches!(long.event(SessionStart).build(), Err(EventError::Invalid { field: "user_id", .. })));
    let bad = |p: Payload| ctx().event(p).build().unwrap_err();
    let usd = Currency::USD;
    assert!(matches!(
        bad(Purchase::new("p", Decimal::ZERO, usd, Store::Web).into()),
        EventError::Invalid { field: "price", .. }
    ));
    assert!(matches!(
        bad(Purchase::new("p", Decimal::new(1, 7), usd, Store::Web).into()),
        EventError::Invalid { field: "price", .. }
    ));
    assert!(matches!(
        bad(Purchase::new("p", Decimal::ONE, usd, Store::Web).quantity(0).into()),
        EventError::Invalid { field: "quantity", .. }
    ));
    assert!(matches!(bad(LevelStart::new(u32::MAX).into()), EventError::Invalid { field: "level", .. }));
    assert!(matches!(
        bad(AdWatched::new("p", AdType::Banner).revenue(Decimal::NEGATIVE_ONE, usd).into()),
        EventError::Invalid { field: "revenue", .. }
    ));
    assert!(matches!(
        bad(AchievementUnlocked::new("").into()),
        EventError::Invalid { field: "achievement_id", .. }
    ));
    assert_eq!(
        ctx().event(SessionStart).extra("user_id", 1).build().unwrap_err(),
        EventError::ExtraShadowsField("user_id".into())
    );
    assert_eq!(
        ctx().event(SessionStart).extra("ab_group", "b").build().unwrap().to_value()["ab_group"],
        json!("b")
    );
    assert!(AdWatched::new("p", AdType::Banner).revenue(Decimal::ZERO, usd).revenue.is_some());
    assert!(ctx().event(AdWatched::new("p", AdType::Banner).revenue(Decimal::ZERO, usd)).build().is_ok());
}
