//! The behaviour model of the load generator: a live mobile game's players over a number of
//! days. Invariants: the same settings and seed always give the same events in the same order
//! (no clock, no global randomness: the window's end is an input); every event it emits is
//! valid under the project's schemas (the invalid share is added later, on purpose, by
//! `spoil`); money is exact at its currency's minor unit (prices are store price points, written
//! as decimal strings).
//!
//! Players fall in five segments (casual, core, hardcore, whales, early churners) with their own
//! session counts, session lengths, ad appetite and spend; each installs once (source, campaign,
//! country, device), then returns on later days with a probability that decays from the D1, D7
//! and D30 targets (a power law through them); sessions follow a time-of-day cycle; levels form a
//! funnel with failures that grow harder; payers (whales concentrating the spend) buy at real
//! price points in their local currency; app versions roll out over the window.

use serde_json::{Map, Value as Json, json};

use crate::validate::corpus::Rng;

/// Settings of the model.
#[derive(Debug, Clone, Copy)]
pub struct ModelSettings {
    /// Players who install during the window.
    pub players: u64,
    /// Days in the window.
    pub days: u64,
    /// Share of players who ever pay, percent.
    pub payer_pct: u64,
    /// Share of players active again one day after installing, percent.
    pub d1_pct: u64,
    /// ... seven days after, percent.
    pub d7_pct: u64,
    /// ... thirty days after, percent.
    pub d30_pct: u64,
}

impl Default for ModelSettings {
    fn default() -> ModelSettings {
        ModelSettings { players: 5_000, days: 30, payer_pct: 8, d1_pct: 40, d7_pct: 20, d30_pct: 10 }
    }
}

/// The five behaviour segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// A few short sessions a day.
    Casual,
    /// Regular players.
    Core,
    /// Long, frequent sessions.
    Hardcore,
    /// Payers who spend big.
    Whale,
    /// Gone after the first day or two.
    Churner,
}

impl Segment {
    fn pick(rng: &mut Rng) -> Segment {
        match rng.below(100) {
            0..=44 => Segment::Casual,
            45..=69 => Segment::Core,
            70..=81 => Segment::Hardcore,
            82..=83 => Segment::Whale,
            _ => Segment::Churner,
        }
    }

    /// (sessions per active day at most, minutes per session at most, retention factor %).
    fn shape(self) -> (u64, u64, u64) {
        match self {
            Segment::Casual => (3, 10, 80),
            Segment::Core => (4, 20, 120),
            Segment::Hardcore => (6, 35, 160),
            Segment::Whale => (5, 30, 170),
            Segment::Churner => (2, 6, 10),
        }
    }
}

/// Country, currency and its store price points (exact at the currency's minor unit).
const MARKETS: [(&str, &str, [&str; 6]); 8] = [
    ("US", "USD", ["0.99", "1.99", "4.99", "9.99", "19.99", "99.99"]),
    ("DE", "EUR", ["0.99", "1.99", "4.99", "9.99", "19.99", "109.99"]),
    ("GB", "GBP", ["0.89", "1.79", "4.49", "8.99", "17.99", "89.99"]),
    ("JP", "JPY", ["160", "320", "800", "1600", "3200", "16000"]),
    ("KR", "KRW", ["1200", "2500", "6500", "12000", "25000", "129000"]),
    ("BR", "BRL", ["5.90", "11.90", "27.90", "54.90", "109.90", "549.90"]),
    ("KW", "KWD", ["0.300", "0.600", "1.500", "3.000", "6.000", "30.000"]),
    ("IN", "INR", ["99.00", "199.00", "449.00", "899.00", "1799.00", "8999.00"]),
];

const PLATFORMS: [(&str, &str); 4] =
    [("ios", "app_store"), ("android", "google_play"), ("android", "google_play"), ("windows", "steam")];
const SOURCES: [&str; 5] = ["organic", "organic", "facebook", "google_ads", "tiktok"];
const DEVICES: [&str; 4] = ["iPhone15,2", "Pixel 8", "SM-S918B", "Desktop"];
const PRODUCTS: [&str; 6] =
    ["gems_tiny", "gems_small", "gems_medium", "gems_large", "gems_huge", "gems_vault"];
const PLACEMENTS: [&str; 3] = ["level_end", "shop", "daily_bonus"];
const AD_TYPES: [&str; 3] = ["rewarded", "interstitial", "banner"];

/// One player's fixed traits.
#[derive(Debug, Clone)]
struct Player {
    id: String,
    segment: Segment,
    payer: bool,
    market: usize,
    platform: usize,
    install_micros: i64,
    level: u64,
}

/// A generated event: its time and its JSON object.
#[derive(Debug, Clone)]
pub struct Planned {
    /// µs since the epoch.
    pub at: i64,
    /// The event.
    pub event: Map<String, Json>,
}

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

/// Chance (per mille) a player is active `k` days after installing: a power law through the
/// D1/D7/D30 targets, scaled by the segment.
pub fn return_chance(s: &ModelSettings, k: u64, factor_pct: u64) -> u64 {
    if k == 0 {
        return 1000;
    }
    let (d1, d7, d30) = (s.d1_pct.max(1) as f64, s.d7_pct.max(1) as f64, s.d30_pct.max(1) as f64);
    let k = k as f64;
    let pct = if k <= 7.0 {
        d1 * (d7 / d1).powf(k.ln() / 7f64.ln())
    } else {
        d7 * (d30 / d7).powf((k / 7.0).ln() / (30f64 / 7.0).ln())
    };
    ((pct * 10.0 * factor_pct as f64 / 100.0).round() as u64).min(1000)
}

/// The app version a player runs at `day` of the window: 1.4.2, then 1.5.0 rolling out from a
/// third of the window, then 1.5.1 from two thirds.
fn app_version(rng: &mut Rng, day: u64, days: u64) -> &'static str {
    let third = (days / 3).max(1);
    let ramp = |start: u64| if day < start { 0 } else { ((day - start) * 100 / third).min(100) };
    if rng.below(100) < ramp(2 * third) {
        "1.5.1"
    } else if rng.below(100) < ramp(third) {
        "1.5.0"
    } else {
        "1.4.2"
    }
}

/// An hour of the day, weighted towards the evening.
fn hour(rng: &mut Rng) -> i64 {
    const WEIGHTS: [u64; 24] = [2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 5, 5, 5, 6, 7, 9, 10, 10, 9, 6, 4];
    let total: u64 = WEIGHTS.iter().sum();
    let mut roll = rng.below(total);
    for (h, w) in WEIGHTS.iter().enumerate() {
        if roll < *w {
            return h as i64;
        }
        roll -= w;
    }
    20
}

fn base(p: &Player, event_type: &str, at: i64, version: &str, rng: &mut Rng) -> Map<String, Json> {
    let (country, _, _) = MARKETS.get(p.market).copied().unwrap_or(MARKETS[0]);
    let (platform, _) = PLATFORMS.get(p.platform).copied().unwrap_or(PLATFORMS[0]);
    let mut m = Map::new();
    m.insert("event_id".into(), json!(rng.uuid()));
    m.insert("event_type".into(), json!(event_type));
    m.insert("timestamp".into(), json!(crate::validate::time::to_rfc3339(at)));
    m.insert("user_id".into(), json!(p.id));
    m.insert("game_id".into(), json!("space-miner"));
    m.insert("platform".into(), json!(platform));
    m.insert("app_version".into(), json!(version));
    m.insert("country".into(), json!(country));
    m
}

fn set(object: &mut Json, key: &str, value: Json) {
    if let Some(o) = object.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

fn with(mut m: Map<String, Json>, fields: Json) -> Map<String, Json> {
    if let Json::Object(more) = fields {
        m.extend(more);
    }
    m
}

/// Every event of the window ending at `end_micros`, in time order.
pub fn simulate(s: &ModelSettings, seed: u64, end_micros: i64) -> Vec<Planned> {
    let mut rng = Rng::new(seed ^ 0x005e_ed0f_9a4e);
    let days = s.days.max(1);
    let start = end_micros - i64::try_from(days).unwrap_or(1) * DAY;
    let mut out = Vec::new();
    for n in 0..s.players {
        let segment = Segment::pick(&mut rng);
        let payer = segment == Segment::Whale || rng.below(100) < s.payer_pct.saturating_sub(2);
        let install_day = rng.below(days);
        let install_micros =
            start + i64::try_from(install_day).unwrap_or(0) * DAY + hour(&mut rng) * 60 * MINUTE;
        let mut p = Player {
            id: format!("player-{n:06}"),
            segment,
            payer,
            market: usize::try_from(rng.below(MARKETS.len() as u64)).unwrap_or(0),
            platform: usize::try_from(rng.below(PLATFORMS.len() as u64)).unwrap_or(0),
            install_micros,
            level: 0,
        };
        play(&mut rng, s, &mut p, install_day, days, end_micros, &mut out);
    }
    out.sort_by_key(|e| e.at);
    out
}

#[allow(clippy::too_many_arguments)]
fn play(
    rng: &mut Rng,
    s: &ModelSettings,
    p: &mut Player,
    install_day: u64,
    days: u64,
    end: i64,
    out: &mut Vec<Planned>,
) {
    let (max_sessions, max_minutes, factor) = p.segment.shape();
    for day in install_day..days {
        let k = day - install_day;
        if k > 0 && rng.below(1000) >= return_chance(s, k, factor) {
            continue;
        }
        let version = app_version(rng, day, days);
        let day_start =
            p.install_micros - (p.install_micros.rem_euclid(DAY)) + i64::try_from(k).unwrap_or(0) * DAY;
        let sessions = 1 + rng.below(max_sessions);
        for i in 0..sessions {
            let mut at = if k == 0 && i == 0 {
                p.install_micros
            } else {
                day_start + hour(rng) * 60 * MINUTE + i64::try_from(rng.below(60)).unwrap_or(0) * MINUTE
            };
            if at >= end {
                continue;
            }
            if k == 0 && i == 0 {
                let source = *SOURCES.get(usize::try_from(rng.below(5)).unwrap_or(0)).unwrap_or(&"organic");
                let device = *DEVICES.get(p.platform.min(3)).unwrap_or(&"Pixel 8");
                let mut fields = json!({"source": source, "device_model": device, "os_version": "17.1"});
                if source != "organic" {
                    set(&mut fields, "campaign", json!(format!("{source}-winter")));
                }
                out.push(Planned { at, event: with(base(p, "install", at, version, rng), fields) });
                at += 2_000_000;
            }
            let minutes = 1 + rng.below(max_minutes);
            session(rng, p, at, minutes, version, end, out);
        }
    }
}

fn session(
    rng: &mut Rng,
    p: &mut Player,
    start: i64,
    minutes: u64,
    version: &str,
    end: i64,
    out: &mut Vec<Planned>,
) {
    let sid = format!("{}-{}", p.id, rng.uuid().get(..8).unwrap_or("s"));
    let sess = |m: Map<String, Json>| with(m, json!({"session_id": sid}));
    let push = |out: &mut Vec<Planned>, at: i64, m: Map<String, Json>| {
        if at < end {
            out.push(Planned { at, event: m });
        }
    };
    push(out, start, sess(base(p, "session_start", start, version, rng)));
    let length = i64::try_from(minutes).unwrap_or(1) * MINUTE;
    let mut t = start + 5_000_000;
    let levels = 1 + minutes * 3 / 4;
    for _ in 0..levels {
        let level = p.level;
        push(out, t, with(sess(base(p, "level_start", t, version, rng)), json!({"level": level})));
        let dur = 30_000 + rng.below(150_000);
        t += i64::try_from(dur).unwrap_or(0) * 1000;
        // The funnel: harder with every level.
        let success = rng.below(100) >= (10 + level * 2).min(70);
        let mut fields = json!({"level": level, "duration_ms": dur, "success": success});
        if success {
            set(&mut fields, "score", json!(100 * (level + 1) + rng.below(500)));
            p.level += 1;
        }
        push(out, t, with(sess(base(p, "level_complete", t, version, rng)), fields));
        if success && p.level % 10 == 0 {
            let a = json!({"achievement_id": format!("reach_level_{}", p.level)});
            push(
                out,
                t + 1_000_000,
                with(sess(base(p, "achievement_unlocked", t + 1_000_000, version, rng)), a),
            );
        }
        if rng.below(100) < if p.segment == Segment::Whale { 5 } else { 25 } {
            let placement = *PLACEMENTS.get(usize::try_from(rng.below(3)).unwrap_or(0)).unwrap_or(&"shop");
            let ad_type = *AD_TYPES.get(usize::try_from(rng.below(3)).unwrap_or(0)).unwrap_or(&"banner");
            let mut ad = json!({"placement": placement, "ad_type": ad_type});
            if rng.below(2) == 0 {
                set(&mut ad, "revenue", json!(format!("0.0{}", 1 + rng.below(5))));
                set(&mut ad, "currency", json!("USD"));
            }
            push(out, t + 2_000_000, with(sess(base(p, "ad_watched", t + 2_000_000, version, rng)), ad));
        }
        t += 10_000_000;
    }
    if p.payer && rng.below(100) < 25 {
        let (_, currency, prices) = MARKETS.get(p.market).copied().unwrap_or(MARKETS[0]);
        // Whales buy the top tiers; other payers mostly the small ones.
        let tier =
            if p.segment == Segment::Whale { 3 + rng.below(3) } else { rng.below(4).min(rng.below(4)) };
        let tier = usize::try_from(tier).unwrap_or(0).min(5);
        let price = prices.get(tier).copied().unwrap_or("0.99");
        let product = PRODUCTS.get(tier).copied().unwrap_or("gems_tiny");
        let (_, store) = PLATFORMS.get(p.platform).copied().unwrap_or(PLATFORMS[0]);
        let mut fields = json!({"product_id": product, "price": price, "currency": currency, "store": store,
                                "transaction_id": rng.uuid()});
        if rng.below(10) == 0 {
            set(&mut fields, "quantity", json!(2));
        }
        push(out, t, with(sess(base(p, "purchase", t, version, rng)), fields));
    }
    let stop = (start + length).max(t + 1_000_000);
    let duration = u64::try_from((stop - start) / 1000).unwrap_or(0);
    push(out, stop, with(sess(base(p, "session_end", stop, version, rng)), json!({"duration_ms": duration})));
}
