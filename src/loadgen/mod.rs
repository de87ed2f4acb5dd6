//! `playstream loadgen`: a realistic, deterministic workload and its expected outcome. The
//! invariant that makes any run reconcilable: the manifest is computed from exactly the records
//! sent — per event type, the rejects expected per code, the duplicates re-sent, the distinct
//! valid event ids, and the revenue per currency as exact decimals — so a pipeline fed with the
//! records must land every distinct valid id once (plus the duplicates) and reject exactly the
//! expected counts.

pub mod model;
pub mod spoil;
pub mod targets;

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde_json::Value as Json;

use model::{ModelSettings, simulate};
use spoil::Defect;

/// Settings of one workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The behaviour model.
    pub model: ModelSettings,
    /// The seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Share of events made invalid, per mille.
    pub invalid_permille: u64,
    /// Share of valid events sent twice, per mille.
    pub duplicate_permille: u64,
    /// Only defects the HTTP ingest lets through (for an `http://` target).
    pub for_http: bool,
}

/// One record to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The value (JSON text).
    pub value: Vec<u8>,
    /// The Kafka key: the user id, when the event has one.
    pub key: Option<String>,
    /// The reject code expected, or `None` for a valid event.
    pub expected: Option<&'static str>,
    /// The event id of a valid event.
    pub event_id: Option<String>,
}

/// The expected outcome of a workload (the `--manifest` file).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The seed.
    pub seed: u64,
    /// Players.
    pub players: u64,
    /// Days.
    pub days: u64,
    /// Records generated (sent), duplicates included.
    pub generated: u64,
    /// Valid events per type (distinct).
    pub by_type: BTreeMap<String, u64>,
    /// Rejects expected per code.
    pub expected_rejects: BTreeMap<String, u64>,
    /// Valid events sent a second time.
    pub duplicates: u64,
    /// Distinct valid event ids.
    pub distinct_valid_event_ids: u64,
    /// Distinct players with at least one valid event.
    pub distinct_players: u64,
    /// Purchase revenue per currency (valid, distinct purchases; price × quantity).
    pub revenue: BTreeMap<String, String>,
}

/// The workload's records in sending order, and their manifest. `end_micros` is the end of the
/// simulated window (now, for a live run).
pub fn generate(w: &Workload, end_micros: i64) -> (Vec<Outgoing>, Manifest) {
    let events = simulate(&w.model, w.seed, end_micros);
    let mut rng = crate::validate::corpus::Rng::new(w.seed ^ 0xbad_5eed);
    let kinds: &[Defect] = if w.for_http { Defect::over_http() } else { &Defect::ALL };
    let mut m =
        Manifest { seed: w.seed, players: w.model.players, days: w.model.days, ..Manifest::default() };
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut players = HashSet::new();
    let mut out = Vec::with_capacity(events.len() + events.len() / 50);
    for e in events {
        let text = |k: &str| e.event.get(k).and_then(Json::as_str).map(str::to_string);
        if rng.below(1000) < w.invalid_permille {
            let defect = Defect::pick(&mut rng, kinds);
            let value = defect.apply(&e.event, end_micros);
            let key = if defect == Defect::MissingUser || defect == Defect::LongUser {
                None
            } else {
                text("user_id")
            };
            *m.expected_rejects.entry(defect.code().code().to_string()).or_default() += 1;
            out.push(Outgoing { value, key, expected: Some(defect.code().code()), event_id: None });
            continue;
        }
        let event_type = text("event_type").unwrap_or_default();
        *m.by_type.entry(event_type.clone()).or_default() += 1;
        if event_type == "purchase" {
            let price: Decimal = text("price").and_then(|p| p.parse().ok()).unwrap_or_default();
            let qty = Decimal::from(e.event.get("quantity").and_then(Json::as_u64).unwrap_or(1));
            *revenue.entry(text("currency").unwrap_or_default()).or_default() += price * qty;
        }
        if let Some(u) = text("user_id") {
            players.insert(u);
        }
        m.distinct_valid_event_ids += 1;
        let record = Outgoing {
            value: serde_json::Value::Object(e.event.clone()).to_string().into_bytes(),
            key: text("user_id"),
            expected: None,
            event_id: text("event_id"),
        };
        if rng.below(1000) < w.duplicate_permille {
            m.duplicates += 1;
            out.push(record.clone());
        }
        out.push(record);
    }
    m.generated = out.len() as u64;
    m.distinct_players = players.len() as u64;
    m.revenue = revenue.into_iter().map(|(c, v)| (c, v.normalize().to_string())).collect();
    (out, m)
}

/// Rewrites every valid record as a Confluent-framed Avro record (the source's local ids), as an
/// upstream service would produce it; rejects stay JSON.
pub fn to_avro(records: &mut [Outgoing], source: &dyn crate::validate::SchemaSource) {
    let ctx = crate::validate::Context::now();
    for r in records.iter_mut().filter(|r| r.expected.is_none()) {
        let frame =
            crate::validate::check(&r.value, &ctx, source).ok().and_then(Result::ok).and_then(|event| {
                let (id, _) =
                    source.catalog().all().into_iter().find(|(_, s)| s.label == event.schema.label)?;
                crate::validate::avro_out::to_confluent_frame(&event, id).ok()
            });
        if let Some(f) = frame {
            r.value = f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(players: u64, days: u64, seed: u64) -> Workload {
        Workload {
            model: ModelSettings { players, days, ..ModelSettings::default() },
            seed,
            invalid_permille: 20,
            duplicate_permille: 10,
            for_http: true,
        }
    }

    const END: i64 = 1_764_676_800_000_000; // 2025-12-02T12:00:00Z

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let (a, ma) = generate(&workload(200, 5, 7), END);
        let (b, mb) = generate(&workload(200, 5, 7), END);
        assert_eq!(ma, mb);
        assert!(a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.value == y.value));
        let (c, _) = generate(&workload(200, 5, 8), END);
        assert!(a.iter().zip(&c).any(|(x, y)| x.value != y.value), "another seed, other events");
    }

    /// On a large run the model's shares land near their settings: payers, D1 retention and
    /// the invalid share (tolerances stated in each assertion).
    #[test]
    fn shares_match_the_settings_on_a_large_run() {
        let w = workload(4000, 10, 3);
        let (out, m) = generate(&w, END);
        let invalid: u64 = m.expected_rejects.values().sum();
        let share = invalid as f64 * 1000.0 / m.generated as f64;
        assert!((15.0..25.0).contains(&share), "invalid share {share:.1}‰ for a setting of 20‰");
        // Payers: players with a purchase, among players who played at least 3 days (a payer
        // buys in a quarter of their sessions, so most of them show up by then).
        let events: Vec<Json> = out.iter().filter_map(|o| serde_json::from_slice(&o.value).ok()).collect();
        let mut days_of: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        let mut buyers = HashSet::new();
        let mut installs = BTreeMap::new();
        for e in &events {
            let (Some(u), Some(t), Some(ty)) =
                (e["user_id"].as_str(), e["timestamp"].as_str(), e["event_type"].as_str())
            else {
                continue;
            };
            days_of.entry(u.to_string()).or_default().insert(t.get(..10).unwrap_or_default().to_string());
            if ty == "purchase" {
                buyers.insert(u.to_string());
            }
            if ty == "install" {
                installs.insert(u.to_string(), t.get(..10).unwrap_or_default().to_string());
            }
        }
        let regulars: Vec<&String> = days_of.iter().filter(|(_, d)| d.len() >= 3).map(|(u, _)| u).collect();
        let payer_share =
            regulars.iter().filter(|u| buyers.contains(**u)).count() as f64 * 100.0 / regulars.len() as f64;
        assert!(
            (5.0..25.0).contains(&payer_share),
            "payers among regulars {payer_share:.1} % (setting 8 % of all players; regulars are richer)"
        );
        // D1: installs before the last day that came back the next day.
        let mut eligible = 0;
        let mut back = 0;
        for (u, day) in &installs {
            let Some(d) = crate::validate::time::parse_rfc3339(&format!("{day}T00:00:00Z")) else { continue };
            if d + 2 * 86_400_000_000 > END {
                continue;
            }
            eligible += 1;
            let next = crate::validate::time::to_rfc3339(d + 86_400_000_000);
            back +=
                usize::from(days_of.get(u).is_some_and(|ds| ds.contains(next.get(..10).unwrap_or_default())));
        }
        let d1 = back as f64 * 100.0 / eligible as f64;
        assert!((25.0..55.0).contains(&d1), "D1 {d1:.1} % for a setting of 40 % (segments scale it)");
    }

    #[test]
    fn prices_are_exact_at_their_currencys_minor_unit_and_revenue_adds_up() {
        let (out, m) = generate(&workload(1500, 10, 11), END);
        let mut sum: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut seen = HashSet::new();
        for o in out.iter().filter(|o| o.expected.is_none()) {
            let e: Json = serde_json::from_slice(&o.value).unwrap_or_default();
            if e["event_type"] != "purchase"
                || !seen.insert(e["event_id"].as_str().unwrap_or_default().to_string())
            {
                continue;
            }
            let price = e["price"].as_str().unwrap_or_default();
            let currency = e["currency"].as_str().unwrap_or_default();
            let decimals = price.split('.').nth(1).map_or(0, str::len);
            let minor = match currency {
                "JPY" | "KRW" => 0,
                "KWD" => 3,
                _ => 2,
            };
            assert_eq!(decimals, minor, "{price} {currency}");
            let qty = Decimal::from(e["quantity"].as_u64().unwrap_or(1));
            *sum.entry(currency.to_string()).or_default() +=
                price.parse::<Decimal>().unwrap_or_default() * qty;
        }
        assert!(sum.len() >= 6, "purchases in many currencies: {sum:?}");
        let want: BTreeMap<String, String> =
            sum.into_iter().map(|(c, v)| (c, v.normalize().to_string())).collect();
        assert_eq!(m.revenue, want);
    }
}
