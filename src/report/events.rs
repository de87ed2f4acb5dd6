//! One landed NDJSON line → one typed [`Event`], or a reason why the line cannot be one. The
//! invariant: a line becomes an event exactly when sql/'s MERGEs would put it into a fact table
//! (known `event_type`, the columns those tables hold NOT NULL present, money parseable as an
//! exact decimal), and its fields are read the way the MERGEs cast them — the UTC day of
//! `timestamp`, money as `NUMBER(38,6)` (rounded half away from zero), `quantity` defaulting to
//! 1 as the schema's default does. Money never passes through `f64`.

use std::borrow::Cow;
use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// The UTC day of a time given in µs since the epoch.
pub fn day_of(micros: i64) -> Day {
    i32::try_from(micros.div_euclid(DAY_MICROS)).unwrap_or(i32::MAX)
}

/// `YYYY-MM-DD` of a day.
pub fn format_day(day: Day) -> String {
    let (y, m, d) = crate::validate::time::civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day a `YYYY-MM-DD` text names.
pub fn parse_day(text: &str) -> Option<Day> {
    let mut parts = text.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if y.abs() > 9999 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = crate::validate::time::days_from_civil(y, m, d);
    // Round-trip: 2026-02-30 is not a day.
    (crate::validate::time::civil_from_days(day) == (y, m, d)).then(|| i32::try_from(day).ok())?
}

/// The first day of the day's calendar month (`DATE_TRUNC('month', …)`).
pub fn month_of(day: Day) -> Day {
    let (y, m, _) = crate::validate::time::civil_from_days(i64::from(day));
    i32::try_from(crate::validate::time::days_from_civil(y, m, 1)).unwrap_or(day)
}

/// Which fact table an event type goes to; duplicates are removed per table and `event_id`,
/// exactly as each MERGE partitions by `event_id` over its own types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    /// `fact_installs`.
    Installs,
    /// `fact_purchases`.
    Purchases,
    /// `fact_sessions` (start and end).
    Sessions,
    /// `fact_levels` (start and complete).
    Levels,
    /// `fact_ads`.
    Ads,
    /// `fact_achievements`.
    Achievements,
}

/// What an event carries beyond the common columns, as far as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// An install: its source and country (either may be absent).
    Install {
        /// `source`.
        source: Option<String>,
        /// `country`.
        country: Option<String>,
    },
    /// A purchase: `price × quantity` in `currency`.
    Purchase {
        /// `amount` of fact_purchases.
        amount: Decimal,
        /// ISO 4217 code.
        currency: String,
    },
    /// `level_start` (`success` None) or `level_complete`.
    Level {
        /// The level.
        level: i64,
        /// `success` of a completion; None for a start.
        success: Option<bool>,
    },
    /// An ad view, with its revenue and currency when reported.
    Ad {
        /// `revenue` and `currency` (the currency may be missing; then no rate applies).
        revenue: Option<(Decimal, Option<String>)>,
    },
    /// Sessions and achievements: nothing more is needed.
    Plain,
}

/// One event, with game and player as interned numbers (see [`Names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The fact table it lands in.
    pub fact: Fact,
    /// `event_id`.
    pub event_id: String,
    /// `timestamp`, µs since the epoch (UTC).
    pub ts: i64,
    /// UTC day of `ts`.
    pub day: Day,
    /// Interned `game_id`.
    pub game: u32,
    /// Interned `user_id`.
    pub user: u32,
    /// The type's own fields.
    pub detail: Detail,
}

/// Interned strings (game and user ids), so a million events do not hold a million copies.
#[derive(Debug, Default)]
pub struct Names {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    /// The number of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.index.get(name) {
            return n;
        }
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), n);
        n
    }

    /// The name of a number.
    pub fn name(&self, n: u32) -> &str {
        self.names.get(n as usize).map_or("", String::as_str)
    }
}

/// The fields read from a line; everything else (`_meta`, `_extra`, lineage) is ignored.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    game_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    currency: Option<Cow<'a, str>>,
    #[serde(borrow)]
    price: Option<&'a RawValue>,
    #[serde(borrow)]
    revenue: Option<&'a RawValue>,
    #[serde(borrow)]
    quantity: Option<&'a RawValue>,
    #[serde(borrow)]
    level: Option<&'a RawValue>,
    success: Option<bool>,
}

/// A decimal from a JSON number or numeric string, as `NUMBER(38,6)` holds it; `null` is None.
fn money(raw: Option<&RawValue>) -> Result<Option<Decimal>, &'static str> {
    let Some(raw) = raw.map(RawValue::get).filter(|t| *t != "null") else { return Ok(None) };
    let text = raw.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(raw);
    let value = Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| "money is not a decimal")?;
    Ok(Some(value.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)))
}

/// An integer from a JSON number or numeric string; `null` is None.
fn integer(raw: Option<&RawValue>) -> Result<Option<i64>, &'static str> {
    let Some(raw) = raw.map(RawValue::get).filter(|t| *t != "null") else { return Ok(None) };
    let text = raw.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(raw);
    text.parse().map(Some).map_err(|_| "not an integer")
}

fn required<'a>(v: &'a Option<Cow<'a, str>>, what: &'static str) -> Result<&'a str, &'static str> {
    v.as_deref().ok_or(what)
}

/// Parses one line. `Err` says why the line cannot be an event (the caller counts it).
pub fn parse_line(line: &str, names: &mut Names) -> Result<Event, &'static str> {
    let l: Line<'_> = serde_json::from_str(line).map_err(|_| "not a JSON object of the expected shape")?;
    let event_type = required(&l.event_type, "no event_type")?;
    let fact = match event_type {
        "install" => Fact::Installs,
        "purchase" => Fact::Purchases,
        "session_start" | "session_end" => Fact::Sessions,
        "level_start" | "level_complete" => Fact::Levels,
        "ad_watched" => Fact::Ads,
        "achievement_unlocked" => Fact::Achievements,
        _ => return Err("unknown event_type"),
    };
    let event_id = required(&l.event_id, "no event_id")?.to_string();
    let ts = crate::validate::time::parse_rfc3339(required(&l.timestamp, "no timestamp")?)
        .ok_or("timestamp is not RFC 3339")?;
    let user = names.intern(required(&l.user_id, "no user_id")?);
    let game = names.intern(required(&l.game_id, "no game_id")?);
    let detail = match fact {
        Fact::Installs => {
            Detail::Install { source: l.source.map(Cow::into_owned), country: l.country.map(Cow::into_owned) }
        }
        Fact::Purchases => {
            let price = money(l.price)?.ok_or("purchase without price")?;
            let quantity = integer(l.quantity)?.unwrap_or(1);
            let amount = price
                .checked_mul(Decimal::from(quantity))
                .ok_or("amount out of range")?
                .round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero);
            let currency = required(&l.currency, "purchase without currency")?.to_string();
            Detail::Purchase { amount, currency }
        }
        Fact::Levels => Detail::Level {
            level: integer(l.level)?.ok_or("level event without level")?,
            success: if event_type == "level_complete" { Some(l.success.unwrap_or(false)) } else { None },
        },
        Fact::Ads => Detail::Ad { revenue: money(l.revenue)?.map(|r| (r, l.currency.map(Cow::into_owned))) },
        Fact::Sessions | Fact::Achievements => Detail::Plain,
    };
    Ok(Event { fact, event_id, ts, day: day_of(ts), game, user, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_months_truncate() {
        let d = parse_day("2026-10-31").unwrap_or_default();
        assert_eq!(format_day(d), "2026-10-31");
        assert_eq!(format_day(month_of(d)), "2026-10-01");
        assert_eq!(format_day(d + 1), "2026-11-01");
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(parse_day("nonsense"), None);
        // one microsecond before midnight is still the earlier day
        let t = crate::validate::time::parse_rfc3339("2026-10-31T23:59:59.999999Z").unwrap_or_default();
        assert_eq!(day_of(t), d);
    }

    #[test]
    fn a_purchase_reads_exact_money_and_defaults_quantity() {
        let mut n = Names::default();
        let line = r#"{"event_id":"a","event_type":"purchase","timestamp":"2026-10-02T01:00:00+02:00","user_id":"u","game_id":"g","price":"9.99","currency":"EUR","quantity":2,"_meta":{"x":1}}"#;
        let e = parse_line(line, &mut n);
        let want = Detail::Purchase { amount: Decimal::new(1998, 2), currency: "EUR".into() };
        assert_eq!(e.as_ref().map(|e| (&e.detail, format_day(e.day))), Ok((&want, "2026-10-01".into())));
        let single = parse_line(&line.replace(",\"quantity\":2", ""), &mut n);
        assert_eq!(
            single.map(|e| e.detail),
            Ok(Detail::Purchase { amount: Decimal::new(999, 2), currency: "EUR".into() })
        );
        assert_eq!(n.name(0), "u");
        assert_eq!(n.name(1), "g");
    }

    #[test]
    fn bad_lines_say_why_and_never_panic() {
        let mut n = Names::default();
        for (line, why) in [
            ("", "not a JSON object of the expected shape"),
            ("[1,2]", "not a JSON object of the expected shape"),
            (r#"{"event_type":"nope"}"#, "unknown event_type"),
            (
                r#"{"event_type":"install","event_id":"a","timestamp":"yesterday","user_id":"u","game_id":"g"}"#,
                "timestamp is not RFC 3339",
            ),
            (
                r#"{"event_type":"purchase","event_id":"a","timestamp":"2026-10-01T00:00:00Z","user_id":"u","game_id":"g","price":"abc","currency":"USD"}"#,
                "money is not a decimal",
            ),
            (
                r#"{"event_type":"level_start","event_id":"a","timestamp":"2026-10-01T00:00:00Z","user_id":"u","game_id":"g"}"#,
                "level event without level",
            ),
        ] {
            assert_eq!(parse_line(line, &mut n).err(), Some(why), "{line}");
        }
    }

    #[test]
    fn an_ad_keeps_revenue_only_when_reported() {
        let mut n = Names::default();
        let base = r#"{"event_id":"a","event_type":"ad_watched","timestamp":"2026-10-01T00:00:00Z","user_id":"u","game_id":"g""#;
        let with = parse_line(&format!(r#"{base},"revenue":"0.04","currency":"EUR"}}"#), &mut n);
        assert_eq!(
            with.map(|e| e.detail),
            Ok(Detail::Ad { revenue: Some((Decimal::new(4, 2), Some("EUR".into()))) })
        );
        let without = parse_line(&format!("{base}}}"), &mut n);
        assert_eq!(without.map(|e| e.detail), Ok(Detail::Ad { revenue: None }));
    }
}
