//! Activity and installs of one game by the rules of sql/060_analytics.sql, and the two ratios
//! every view uses. The invariant: every figure equals its view's on the same events — `v_dau`,
//! `v_arpdau`, `v_daily_installs` — with ARPDAU unknown (None) while the day's revenue is, and
//! ratios rounded half away from zero (money to 6 places, percentages to 2, as `ROUND` does).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::events::{Day, Detail, Event, Fact, format_day};
use super::fx::round6;
use super::json::opt_dec;
use super::revenue::DayRevenue;

/// (day, user) pairs with any event: `v_user_activity` of one game.
pub type Activity = BTreeSet<(Day, u32)>;

/// The activity of a game's events.
pub fn activity(events: &[&Event]) -> Activity {
    events.iter().map(|e| (e.day, e.user)).collect()
}

/// `ROUND(a / b, 6)`; None when either is unknown or `b` is 0.
pub fn ratio6(a: Option<Decimal>, b: u64) -> Option<Decimal> {
    a?.checked_div(Decimal::from(b)).map(round6)
}

/// `ROUND(100 * a / b, 2)` at scale 2; None when `b` is 0.
pub fn pct(a: u64, b: u64) -> Option<Decimal> {
    let mut p = (Decimal::from(a) * Decimal::ONE_HUNDRED)
        .checked_div(Decimal::from(b))?
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    p.rescale(2);
    Some(p)
}

/// A row of `v_dau` joined with `v_arpdau`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayActivity {
    /// UTC day.
    pub date: String,
    /// Players with any event.
    pub dau: u64,
    /// Revenue of the day (0 on a day without revenue rows; None: unpriced rows).
    #[serde(serialize_with = "opt_dec")]
    pub revenue_usd: Option<Decimal>,
    /// `ROUND(revenue / dau, 6)`.
    #[serde(serialize_with = "opt_dec")]
    pub arpdau_usd: Option<Decimal>,
}

/// A row of `v_daily_installs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayInstalls {
    /// UTC day.
    pub date: String,
    /// Install events.
    pub installs: u64,
    /// Players' first installs.
    pub new_users: u64,
    /// Later installs.
    pub reinstalls: u64,
}

/// Install events of a day with one source and country (absent ones are null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallsBySource {
    /// UTC day.
    pub date: String,
    /// `source`.
    pub source: Option<String>,
    /// `country`.
    pub country: Option<String>,
    /// Install events.
    pub installs: u64,
}

/// DAU and ARPDAU per active day.
pub fn days(activity: &Activity, revenue: &[DayRevenue]) -> Vec<DayActivity> {
    let mut dau: BTreeMap<Day, u64> = BTreeMap::new();
    for (day, _) in activity {
        *dau.entry(*day).or_default() += 1;
    }
    let by_date: BTreeMap<&str, Option<Decimal>> =
        revenue.iter().map(|r| (r.date.as_str(), r.usd.revenue_usd)).collect();
    dau.into_iter()
        .map(|(day, n)| {
            let date = format_day(day);
            let revenue_usd = by_date.get(date.as_str()).copied().unwrap_or(Some(Decimal::ZERO));
            DayActivity { dau: n, revenue_usd, arpdau_usd: ratio6(revenue_usd, n), date }
        })
        .collect()
}

/// Installs per day, and per day, source and country. A player's first install is the one with
/// the lowest (timestamp, event_id), as in `v_daily_installs` and `dim_users`.
pub fn installs(events: &[&Event]) -> (Vec<DayInstalls>, Vec<InstallsBySource>) {
    let mut ordered: Vec<&&Event> = events.iter().filter(|e| e.fact == Fact::Installs).collect();
    ordered.sort_by(|a, b| (a.ts, &a.event_id).cmp(&(b.ts, &b.event_id)));
    let mut seen = BTreeSet::new();
    let mut per_day: BTreeMap<Day, (u64, u64)> = BTreeMap::new();
    let mut by_source: BTreeMap<(Day, Option<&str>, Option<&str>), u64> = BTreeMap::new();
    for e in ordered {
        let first = seen.insert(e.user);
        let slot = per_day.entry(e.day).or_default();
        slot.0 += 1;
        slot.1 += u64::from(first);
        if let Detail::Install { source, country } = &e.detail {
            *by_source.entry((e.day, source.as_deref(), country.as_deref())).or_default() += 1;
        }
    }
    let daily = per_day
        .into_iter()
        .map(|(day, (all, new))| DayInstalls {
            date: format_day(day),
            installs: all,
            new_users: new,
            reinstalls: all - new,
        })
        .collect();
    let sources = by_source
        .into_iter()
        .map(|((day, source, country), n)| InstallsBySource {
            date: format_day(day),
            source: source.map(str::to_string),
            country: country.map(str::to_string),
            installs: n,
        })
        .collect();
    (daily, sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::revenue::Revenue;

    fn install(id: &str, user: u32, day: Day, hour: i64, source: Option<&str>) -> Event {
        Event {
            fact: Fact::Installs,
            event_id: id.into(),
            ts: i64::from(day) * 86_400_000_000 + hour * 3_600_000_000,
            day,
            game: 0,
            user,
            detail: Detail::Install { source: source.map(str::to_string), country: None },
        }
    }

    #[test]
    fn first_installs_reinstalls_and_sources() {
        // user 1 installs on day 0 and again on day 1; user 2 on day 1 (sent with an earlier id)
        let evs = [
            install("b", 1, 0, 8, Some("organic")),
            install("a", 1, 1, 1, None),
            install("c", 2, 1, 9, Some("organic")),
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let (daily, by_source) = installs(&refs);
        let got: Vec<_> = daily.iter().map(|d| (d.installs, d.new_users, d.reinstalls)).collect();
        assert_eq!(got, [(1, 1, 0), (2, 1, 1)]);
        let got: Vec<_> =
            by_source.iter().map(|s| (s.date.as_str(), s.source.as_deref(), s.installs)).collect();
        assert_eq!(
            got,
            [("1970-01-01", Some("organic"), 1), ("1970-01-02", None, 1), ("1970-01-02", Some("organic"), 1)]
        );
    }

    #[test]
    fn arpdau_is_zero_without_revenue_and_unknown_with_unpriced_revenue() {
        let act: Activity = [(0, 1), (0, 2), (1, 1), (2, 1), (2, 2), (2, 3)].into_iter().collect();
        let usd = |r: Option<Decimal>| Revenue {
            purchase_revenue_usd: r,
            ad_revenue_usd: Some(Decimal::ZERO),
            revenue_usd: r,
        };
        let revenue = [
            DayRevenue {
                date: "1970-01-01".into(),
                purchases: 1,
                payers: 1,
                usd: usd(None),
                unpriced_count: 1,
            },
            DayRevenue {
                date: "1970-01-03".into(),
                purchases: 1,
                payers: 1,
                usd: usd(Some(Decimal::new(1, 0))),
                unpriced_count: 0,
            },
        ];
        let d = days(&act, &revenue);
        let got: Vec<_> = d.iter().map(|d| (d.dau, d.arpdau_usd.map(|a| a.to_string()))).collect();
        // 1 / 3 rounded to 6 places
        assert_eq!(got, [(2, None), (1, Some("0".into())), (3, Some("0.333333".into()))]);
        assert_eq!(pct(2, 3).map(|p| p.to_string()), Some("66.67".into()));
        assert_eq!(pct(1, 0), None);
    }
}
