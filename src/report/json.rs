//! The report as data: the one object `playstream report --json` prints, and the serializers
//! that write money and percentages. The invariant: every decimal leaves as a JSON string of
//! its exact value (`"22.3776"`, `"75.00"`), never as a float; an unknown value (no FX rate,
//! a retention day not reached yet) is `null`, never 0.

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use super::cohorts::{CohortConversion, CohortRetention};
use super::funnel::LevelStep;
use super::kpis::{DayActivity, DayInstalls, InstallsBySource};
use super::rejects::RejectsSummary;
use super::revenue::{DayAds, DayRevenue, FxMissing, MonthArpu, Revenue};

/// A decimal as a JSON string (serde `serialize_with`).
pub(crate) fn dec<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// An optional decimal as a JSON string or `null`.
pub(crate) fn opt_dec<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// What was read and how every line was accounted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    /// `file://…` or `s3://…`.
    pub source: String,
    /// Objects (files) read.
    pub objects: u64,
    /// Non-blank lines.
    pub lines: u64,
    /// Distinct events (per fact table and event_id).
    pub events: u64,
    /// Lines that repeated an event already read.
    pub duplicates: u64,
    /// Lines that are not an event.
    pub malformed_lines: u64,
    /// The first few of them, `object:line: reason`.
    pub malformed_examples: Vec<String>,
}

/// The FX table used and the revenue rows it could not price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fx {
    /// The `--fx` file (or what stood in for it), if any.
    pub table: Option<String>,
    /// Rates held.
    pub rates: usize,
    /// Rows of `v_fx_missing`: their USD value is unknown, so every total holding them is null.
    pub missing: Vec<FxMissing>,
}

/// The headline figures of a game (the KPI tiles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// First and last day with activity.
    pub first_date: String,
    /// Last day with activity.
    pub last_date: String,
    /// Players (anyone with an event).
    pub players: u64,
    /// Players' first installs.
    pub new_users: u64,
    /// Install events.
    pub installs: u64,
    /// Players who ever purchased.
    pub payers: u64,
    /// `ROUND(100 * payers / players, 2)`.
    #[serde(serialize_with = "opt_dec")]
    pub payer_pct: Option<Decimal>,
    /// Purchase, ad and total revenue over the window.
    #[serde(flatten)]
    pub revenue: Revenue,
    /// Revenue rows without an FX rate.
    pub unpriced_count: u64,
    /// `ROUND(revenue / players, 6)`: ARPU over the window.
    #[serde(serialize_with = "opt_dec")]
    pub arpu_usd: Option<Decimal>,
    /// `ROUND(revenue / Σ DAU, 6)`: ARPDAU over the window.
    #[serde(serialize_with = "opt_dec")]
    pub arpdau_usd: Option<Decimal>,
    /// Mean DAU, `ROUND(Σ DAU / active days, 2)`.
    #[serde(serialize_with = "opt_dec")]
    pub avg_dau: Option<Decimal>,
    /// D1 retention pooled over the cohorts whose day 1 is known.
    #[serde(serialize_with = "opt_dec")]
    pub d1_pct: Option<Decimal>,
    /// D7, pooled likewise.
    #[serde(serialize_with = "opt_dec")]
    pub d7_pct: Option<Decimal>,
    /// D30, pooled likewise.
    #[serde(serialize_with = "opt_dec")]
    pub d30_pct: Option<Decimal>,
}

/// Everything about one game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GameReport {
    /// `game_id`.
    pub game_id: String,
    /// KPI tiles.
    pub totals: Totals,
    /// DAU, revenue and ARPDAU per active day (`v_dau`, `v_arpdau`).
    pub days: Vec<DayActivity>,
    /// `v_daily_installs`.
    pub installs: Vec<DayInstalls>,
    /// Install events per day, source and country.
    pub installs_by_source_country: Vec<InstallsBySource>,
    /// `v_daily_revenue`.
    pub revenue: Vec<DayRevenue>,
    /// Ad views and ad revenue per day.
    pub ads: Vec<DayAds>,
    /// `v_monthly_arpu`.
    pub monthly_arpu: Vec<MonthArpu>,
    /// `v_payer_conversion`.
    pub payer_conversion: Vec<CohortConversion>,
    /// `v_retention` (the cohort triangle).
    pub retention: Vec<CohortRetention>,
    /// `v_level_funnel`.
    pub level_funnel: Vec<LevelStep>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The input's accounting.
    pub input: Input,
    /// FX.
    pub fx: Fx,
    /// Per game, by `game_id`.
    pub games: Vec<GameReport>,
    /// Rejects by reason per day, when a rejects source was given.
    pub rejects: Option<RejectsSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Money {
        #[serde(serialize_with = "dec")]
        a: Decimal,
        #[serde(serialize_with = "opt_dec")]
        b: Option<Decimal>,
        #[serde(serialize_with = "opt_dec")]
        c: Option<Decimal>,
    }

    #[test]
    fn decimals_are_strings_and_unknown_is_null() {
        let m = Money { a: Decimal::new(223_776, 4), b: Some(Decimal::new(7500, 2)), c: None };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":"22.3776","b":"75.00","c":null}"#);
    }
}
