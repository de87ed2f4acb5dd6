//! The level funnel of one game by the rules of `v_level_funnel` (sql/060_analytics.sql). The
//! invariant: per level, players are counted once however often they tried (distinct starters,
//! distinct winners), events are counted as events (attempts, completions, failures), and
//! `reached_pct` compares a level's starters with those of the game's lowest level; a ratio
//! whose divisor is 0 is None.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;

use super::events::{Detail, Event};
use super::kpis::pct;

/// A row of `v_level_funnel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelStep {
    /// The level.
    pub level: i64,
    /// Distinct players who started it.
    pub players_started: u64,
    /// Distinct players who completed it successfully.
    pub players_completed: u64,
    /// `ROUND(100 * completed / started, 2)`.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub completion_pct: Option<Decimal>,
    /// `ROUND(100 * started / started of the lowest level, 2)`.
    #[serde(serialize_with = "super::json::opt_dec")]
    pub reached_pct: Option<Decimal>,
    /// `level_start` events.
    pub attempts: u64,
    /// Successful `level_complete` events.
    pub completions: u64,
    /// Unsuccessful `level_complete` events.
    pub failures: u64,
}

/// The funnel, lowest level first.
pub fn funnel(events: &[&Event]) -> Vec<LevelStep> {
    #[derive(Default)]
    struct Acc {
        started: BTreeSet<u32>,
        won: BTreeSet<u32>,
        attempts: u64,
        completions: u64,
        failures: u64,
    }
    let mut levels: BTreeMap<i64, Acc> = BTreeMap::new();
    for e in events {
        let Detail::Level { level, success } = &e.detail else { continue };
        let acc = levels.entry(*level).or_default();
        match success {
            None => {
                acc.started.insert(e.user);
                acc.attempts += 1;
            }
            Some(true) => {
                acc.won.insert(e.user);
                acc.completions += 1;
            }
            Some(false) => acc.failures += 1,
        }
    }
    let first = levels.values().next().map_or(0, |a| a.started.len() as u64);
    levels
        .into_iter()
        .map(|(level, a)| {
            let (started, won) = (a.started.len() as u64, a.won.len() as u64);
            LevelStep {
                level,
                players_started: started,
                players_completed: won,
                completion_pct: pct(won, started),
                reached_pct: pct(started, first),
                attempts: a.attempts,
                completions: a.completions,
                failures: a.failures,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::Fact;

    fn level(user: u32, level: i64, success: Option<bool>) -> Event {
        Event {
            fact: Fact::Levels,
            event_id: String::new(),
            ts: 0,
            day: 0,
            game: 0,
            user,
            detail: Detail::Level { level, success },
        }
    }

    #[test]
    fn players_once_events_each() {
        let evs = [
            level(1, 1, None),
            level(1, 1, Some(true)),
            level(2, 1, None),
            level(2, 1, Some(false)),
            level(1, 2, None),
            level(1, 2, Some(false)),
            level(1, 2, None),
            level(1, 2, Some(true)),
            level(3, 3, Some(true)), // won without a recorded start
        ];
        let refs: Vec<&Event> = evs.iter().collect();
        let f = funnel(&refs);
        let show = |p: Option<Decimal>| p.map(|p| p.to_string());
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].players_started, f[0].players_completed, f[0].failures), (2, 1, 1));
        assert_eq!(
            (show(f[0].completion_pct), show(f[0].reached_pct)),
            (Some("50.00".into()), Some("100.00".into()))
        );
        assert_eq!((f[1].players_started, f[1].attempts, f[1].completions, f[1].failures), (1, 2, 1, 1));
        assert_eq!(show(f[1].reached_pct), Some("50.00".into()));
        assert_eq!((f[2].players_started, f[2].completion_pct), (0, None));
    }
}
