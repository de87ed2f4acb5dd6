//! A deterministic, realistic corpus of raw records for benchmarks, the load generator and
//! tests: the event mix of a live mobile game (≈ 70 % session/level, 20 % install, 10 %
//! purchase), a share of Confluent-framed Avro, and a share of invalid records of every common
//! kind. The same seed always gives the same records.

use serde_json::{Value as Json, json};

use super::avro_out::to_confluent_frame;
use super::{Context, SchemaSource, check};

/// A tiny deterministic generator (SplitMix64), so corpora need no RNG dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A random UUID v4 in canonical form.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or("")
    }
}

/// One generated record.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The raw record value (JSON text or a Confluent frame).
    pub value: Vec<u8>,
    /// The Kafka key (the user id).
    pub key: String,
    /// The event id, when the record carries one.
    pub event_id: Option<String>,
    /// True when the record was made invalid on purpose.
    pub invalid: bool,
}

/// The shape of a corpus.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Share of records made invalid, in percent.
    pub invalid_pct: u64,
    /// Share of valid records sent as Confluent-framed Avro, in percent.
    pub avro_pct: u64,
    /// Number of distinct players.
    pub users: u64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix { invalid_pct: 5, avro_pct: 20, users: 5_000 }
    }
}

/// A valid JSON event of a random type at `timestamp` (RFC 3339).
pub fn event(rng: &mut Rng, timestamp: &str, users: u64) -> Json {
    let roll = rng.below(100);
    let event_type = match roll {
        0..=19 => "install",
        20..=29 => "purchase",
        30..=44 => "session_start",
        45..=59 => "session_end",
        60..=79 => "level_start",
        _ => "level_complete",
    };
    let user = rng.below(users.max(1));
    let mut e = json!({
        "event_id": rng.uuid(),
        "event_type": event_type,
        "timestamp": timestamp,
        "user_id": format!("user-{user:06}"),
        "game_id": "space-miner",
        "platform": rng.pick(&["ios", "android", "android", "web", "switch"]),
        "app_version": rng.pick(&["1.4.2", "1.5.0", "1.5.1"]),
        "session_id": format!("s-{user}-{}", rng.below(50)),
        "country": rng.pick(&["US", "DE", "JP", "BR", "KR", "GB", "IN"]),
    });
    let level = rng.below(60);
    let extra = match event_type {
        "install" => json!({"source": rng.pick(&["organic", "facebook", "google_ads"]), "campaign": "winter",
                            "device_model": rng.pick(&["iPhone15,2", "Pixel 8", "SM-S918B"]), "os_version": "17.1"}),
        "purchase" => {
            let (price, currency) = match rng.below(4) {
                0 => (json!(4.99), "USD"),
                1 => (json!("9.99"), "EUR"),
                2 => (json!(1200), "JPY"),
                _ => (json!(19.99), "USD"),
            };
            json!({"product_id": rng.pick(&["gems_100", "gems_500", "starter_pack"]), "product_name": "Gems",
                   "price": price, "currency": currency, "store": rng.pick(&["app_store", "google_play"]),
                   "transaction_id": rng.uuid(), "quantity": 1 + rng.below(2)})
        }
        "session_end" => json!({"duration_ms": rng.below(3_600_000)}),
        "level_start" => json!({"level": level}),
        "level_complete" => json!({"level": level, "duration_ms": rng.below(600_000),
                                   "success": rng.below(3) > 0, "score": rng.below(100_000)}),
        _ => json!({}),
    };
    if let (Some(target), Some(more)) = (e.as_object_mut(), extra.as_object()) {
        target.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    e
}

/// Breaks a valid event in one of the common ways real clients do.
pub fn spoil(rng: &mut Rng, e: &mut Json) -> Option<Vec<u8>> {
    let obj = e.as_object_mut()?;
    match rng.below(8) {
        0 => return Some(b"{\"event_type\": \"purchase\", \"price\": ".to_vec()),
        1 => return Some(b"[]".to_vec()),
        2 => {
            obj.remove("user_id");
        }
        3 => {
            obj.insert("event_type".into(), json!("crash_report"));
        }
        4 => {
            obj.insert("timestamp".into(), json!("22/11/2026 10:00"));
        }
        5 => {
            obj.insert("platform".into(), json!("amiga"));
        }
        6 => {
            obj.insert("country".into(), json!("XX"));
        }
        _ => {
            obj.insert("event_id".into(), json!("not-a-uuid"));
        }
    }
    None
}

/// `n` records with the given mix; Avro frames use the ids of `source`'s local catalog.
pub fn corpus(n: usize, seed: u64, mix: Mix, timestamp: &str, source: &dyn SchemaSource) -> Vec<Generated> {
    let mut rng = Rng::new(seed);
    let ctx = Context::now();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut e = event(&mut rng, timestamp, mix.users);
        let key = e.get("user_id").and_then(Json::as_str).unwrap_or_default().to_string();
        let event_id = e.get("event_id").and_then(Json::as_str).map(str::to_string);
        if rng.below(100) < mix.invalid_pct {
            let value = spoil(&mut rng, &mut e).unwrap_or_else(|| e.to_string().into_bytes());
            out.push(Generated { value, key, event_id: None, invalid: true });
            continue;
        }
        let json = e.to_string().into_bytes();
        let value = if rng.below(100) < mix.avro_pct {
            avro_frame(&json, &ctx, source).unwrap_or(json)
        } else {
            json
        };
        out.push(Generated { value, key, event_id, invalid: false });
    }
    out
}

fn avro_frame(json: &[u8], ctx: &Context, source: &dyn SchemaSource) -> Option<Vec<u8>> {
    let event = check(json, ctx, source).ok()?.ok()?;
    let (id, _) = source.catalog().all().into_iter().find(|(_, s)| s.label == event.schema.label)?;
    to_confluent_frame(&event, id).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::validate::{Catalog, LocalSchemas, Provenance, Verdict, validate};

    #[test]
    fn corpus_has_the_promised_mix_and_verdicts_match() {
        let source = LocalSchemas::new(Arc::new(Catalog::embedded())).unwrap();
        let ts = "2026-11-22T10:00:00Z";
        let records = corpus(2000, 7, Mix::default(), ts, &source);
        let ctx = Context::at(crate::validate::time::parse_rfc3339(ts).unwrap());
        let prov = Provenance { topic: "t", partition: 0, offset: 0, received_at: None };
        let (mut avro, mut invalid) = (0, 0);
        for r in &records {
            avro += usize::from(r.value.first() == Some(&0));
            invalid += usize::from(r.invalid);
            let accepted = matches!(validate(&r.value, &prov, &ctx, &source).unwrap(), Verdict::Accepted(_));
            assert_eq!(accepted, !r.invalid, "{}", String::from_utf8_lossy(&r.value));
        }
        assert!((50..150).contains(&invalid), "{invalid} invalid of 2000");
        assert!((300..460).contains(&avro), "{avro} avro of 2000");
        let again = corpus(2000, 7, Mix::default(), ts, &source);
        assert!(records.iter().zip(&again).all(|(a, b)| a.value == b.value), "deterministic");
    }

    #[test]
    fn uuids_are_valid() {
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            assert!(crate::validate::rules::is_uuid(&rng.uuid()));
        }
    }
}
