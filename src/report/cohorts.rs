//! Install cohorts of one game by the rules of sql/ (`dim_users`, `v_payer_conversion`,
//! `v_retention`). The invariant: a player's cohort is the UTC day of their first install (lowest
//! timestamp, then event_id; re-installs do not move it; no install, no cohort); a player is a
//! payer with any purchase in the game, priced or not; Dn retention counts cohort players active
//! exactly n days after the install day, and is None — not 0 — while day n is later than the
//! game's latest activity day.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::events::{Day, Event, Fact, format_day};
use super::kpis::{Activity, pct};

/// What the cohort views need of a player.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Player {
    /// Day of the first install, if any.
    pub install_day: Option<Day>,
    /// Ever purchased.
    pub payer: bool,
}

/// Every player of a game (anyone with an event), by user.
pub fn players(events: &[&Event]) -> BTreeMap<u32, Player> {
    let mut players: BTreeMap<u32, Player> = BTreeMap::new();
    let mut first: BTreeMap<u32, (i64, &str)> = BTreeMap::new();
    for e in events {
        let p = players.entry(e.user).or_default();
        match e.fact {
            Fact::Purchases => p.payer = true,
            Fact::Installs => {
                let key = (e.ts, e.event_id.as_str());
                if first.get(&e.user).is_none_or(|f| key < *f) {
                    first.insert(e.user, key);
                    p.install_day = Some(e.day);
                }
            }
            _ => {}
        }
    }
    players
}

/// A row of `v_payer_conversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortConversion {
    /// Install day.
    pub install_date: String,
    /// Players whose first install was that day.
    pub cohort_users: u64,
    /// Of them, payers.
    pub payers: u64,
    /// `ROUND(100 * payers / cohort_users, 2)`.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub payer_pct: Option<Decimal>,
}

/// A row of `v_retention`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortRetention {
    /// Install day.
    pub install_date: String,
    /// Players whose first install was that day.
    pub cohort_users: u64,
    /// Active on day +1 (None: not reached yet).
    pub d1_users: Option<u64>,
    /// Percentage of the cohort.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub d1_pct: Option<Decimal>,
    /// Active on day +7.
    pub d7_users: Option<u64>,
    /// Percentage of the cohort.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub d7_pct: Option<Decimal>,
    /// Active on day +30.
    pub d30_users: Option<u64>,
    /// Percentage of the cohort.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub d30_pct: Option<Decimal>,
}

/// The retention days shown (the columns of the cohort triangle).
pub const RETENTION_DAYS: [i32; 3] = [1, 7, 30];

/// Cohort day → its players.
fn cohorts(players: &BTreeMap<u32, Player>) -> BTreeMap<Day, Vec<(u32, Player)>> {
    let mut out: BTreeMap<Day, Vec<(u32, Player)>> = BTreeMap::new();
    for (user, p) in players {
        if let Some(day) = p.install_day {
            out.entry(day).or_default().push((*user, *p));
        }
    }
    out
}

/// Payer conversion per install cohort.
pub fn conversion(players: &BTreeMap<u32, Player>) -> Vec<CohortConversion> {
    cohorts(players)
        .into_iter()
        .map(|(day, members)| {
            let n = members.len() as u64;
            let payers = members.iter().filter(|(_, p)| p.payer).count() as u64;
            CohortConversion {
                install_date: format_day(day),
                cohort_users: n,
                payers,
                payer_pct: pct(payers, n),
            }
        })
        .collect()
}

/// D1/D7/D30 retention per install cohort.
pub fn retention(players: &BTreeMap<u32, Player>, activity: &Activity) -> Vec<CohortRetention> {
    let horizon = activity.iter().next_back().map(|(day, _)| *day);
    cohorts(players)
        .into_iter()
        .map(|(day, members)| {
            let n = members.len() as u64;
            let [d1, d7, d30] = RETENTION_DAYS.map(|k| {
                let target = day.saturating_add(k);
                horizon.filter(|h| target <= *h).map(|_| {
                    members.iter().filter(|(user, _)| activity.contains(&(target, *user))).count() as u64
                })
            });
            let share = |users: Option<u64>| users.and_then(|u| pct(u, n));
            CohortRetention {
                install_date: format_day(day),
                cohort_users: n,
                d1_users: d1,
                d1_pct: share(d1),
                d7_users: d7,
                d7_pct: share(d7),
                d30_users: d30,
                d30_pct: share(d30),
            }
        })
        .collect()
}

/// Dn retention pooled over every cohort whose day n is known: Σ active / Σ cohort players.
pub fn pooled(rows: &[CohortRetention], pick: impl Fn(&CohortRetention) -> Option<u64>) -> Option<Decimal> {
    let (active, cohort) = rows
        .iter()
        .filter_map(|r| pick(r).map(|a| (a, r.cohort_users)))
        .fold((0, 0), |(a, c), (x, y)| (a + x, c + y));
    pct(active, cohort)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::{Detail, parse_day};

    fn event(fact: Fact, id: &str, user: u32, day: &str, hour: i64) -> Event {
        let d = parse_day(day).unwrap();
        let ts = i64::from(d) * 86_400_000_000 + hour * 3_600_000_000;
        Event { fact, event_id: id.into(), ts, day: d, game: 0, user, detail: Detail::Plain }
    }

    #[test]
    fn cohorts_retention_and_conversion() {
        let evs = [
            event(Fact::Installs, "b", 1, "2026-10-01", 8),
            event(Fact::Installs, "a", 1, "2026-10-02", 1), // a re-install: the cohort stays 10-01
            event(Fact::Installs, "c", 2, "2026-10-01", 9),
            event(Fact::Sessions, "d", 1, "2026-10-02", 9),
            event(Fact::Sessions, "e", 2, "2026-10-08", 9),
            event(Fact::Purchases, "f", 2, "2026-10-08", 10),
            event(Fact::Sessions, "g", 3, "2026-10-08", 10), // no install: no cohort
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let ps = players(&refs);
        assert_eq!(ps.len(), 3);
        assert_eq!(ps.get(&1).and_then(|p| p.install_day), parse_day("2026-10-01"));
        let conv = conversion(&ps);
        assert_eq!(conv.len(), 1);
        assert_eq!((conv[0].cohort_users, conv[0].payers), (2, 1));
        assert_eq!(conv[0].payer_pct.map(|p| p.to_string()), Some("50.00".into()));
        let act: Activity = refs.iter().map(|e| (e.day, e.user)).collect();
        let ret = retention(&ps, &act);
        assert_eq!(ret[0].d1_users, Some(1));
        assert_eq!(ret[0].d7_users, Some(1));
        assert_eq!(ret[0].d7_pct.map(|p| p.to_string()), Some("50.00".into()));
        // day 30 is after the latest activity (10-08): unknown, not 0
        assert_eq!((ret[0].d30_users, ret[0].d30_pct), (None, None));
        assert_eq!(pooled(&ret, |r| r.d1_users).map(|p| p.to_string()), Some("50.00".into()));
        assert_eq!(pooled(&ret, |r| r.d30_users), None);
    }
}
