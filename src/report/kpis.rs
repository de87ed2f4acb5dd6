//! Daily and monthly figures of one game, computed by the rules of sql/060_analytics.sql. The
//! invariant: every figure equals its view's on the same events — `v_dau`, `v_daily_installs`,
//! `v_daily_revenue`, `v_arpdau`, `v_monthly_arpu`, `v_fx_missing` — and a USD total that holds
//! a row without an FX rate is None (shown as unknown), never a partial sum and never 0; 0
//! means no revenue. Ratios are rounded half away from zero (money to 6 places, % to 2).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::events::{Day, Detail, Event, Fact, Names, format_day, month_of};
use super::fx::{FxTable, round6};
use super::json::{dec, opt_dec};

/// (day, user) pairs with any event: `v_user_activity` of one game.
pub type Activity = BTreeSet<(Day, u32)>;

/// The activity of a game's events.
pub fn activity(events: &[&Event]) -> Activity {
    events.iter().map(|e| (e.day, e.user)).collect()
}

/// A sum of USD values that is unknown while any of its rows is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsdSum {
    sum: Decimal,
    /// Rows without a USD value.
    pub unpriced: u64,
}

impl UsdSum {
    /// Adds a row's value (None: no rate).
    pub fn add(&mut self, v: Option<Decimal>) {
        match v {
            Some(v) => self.sum += v,
            None => self.unpriced += 1,
        }
    }

    /// The total, or None while a row is unpriced.
    pub fn total(&self) -> Option<Decimal> {
        (self.unpriced == 0).then_some(self.sum)
    }
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

/// Whether a revenue row is a purchase or an ad view with revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevenueKind {
    /// A purchase.
    Purchase,
    /// An ad view that reported revenue.
    Ad,
}

/// One row of `v_revenue_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueRow {
    /// Purchase or ad.
    pub kind: RevenueKind,
    /// The event.
    pub event: usize,
    /// Player.
    pub user: u32,
    /// UTC day.
    pub day: Day,
    /// Local currency.
    pub currency: Option<String>,
    /// Amount in it.
    pub amount_local: Decimal,
    /// USD value (None: no rate).
    pub usd: Option<Decimal>,
}

/// The revenue rows of a game's events (index = position in `events`).
pub fn revenue_rows(events: &[&Event], fx: &FxTable) -> Vec<RevenueRow> {
    let mut rows = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let (kind, amount, currency) = match &e.detail {
            Detail::Purchase { amount, currency } => {
                (RevenueKind::Purchase, *amount, Some(currency.as_str()))
            }
            Detail::Ad { revenue: Some((amount, currency)) } => {
                (RevenueKind::Ad, *amount, currency.as_deref())
            }
            _ => continue,
        };
        let priced = fx.price(amount, currency, e.day);
        rows.push(RevenueRow {
            kind,
            event: i,
            user: e.user,
            day: e.day,
            currency: currency.map(str::to_string),
            amount_local: amount,
            usd: priced.usd,
        });
    }
    rows
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

/// A row of `v_daily_revenue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRevenue {
    /// UTC day.
    pub date: String,
    /// Purchases.
    pub purchases: u64,
    /// Distinct purchasing players.
    pub payers: u64,
    /// Purchase revenue (None while a purchase is unpriced).
    #[serde(serialize_with = "opt_dec")]
    pub purchase_revenue_usd: Option<Decimal>,
    /// Ad revenue (None while an ad is unpriced).
    #[serde(serialize_with = "opt_dec")]
    pub ad_revenue_usd: Option<Decimal>,
    /// Both (None while any row is unpriced).
    #[serde(serialize_with = "opt_dec")]
    pub revenue_usd: Option<Decimal>,
    /// Rows waiting for a rate.
    pub unpriced_count: u64,
}

/// Ad views of a day (fact_ads): all, those with revenue, and their USD value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayAds {
    /// UTC day.
    pub date: String,
    /// Ad views.
    pub views: u64,
    /// Views that reported revenue.
    pub views_with_revenue: u64,
    /// Their USD value (0 when none reported any; None while one is unpriced).
    #[serde(serialize_with = "opt_dec")]
    pub ad_revenue_usd: Option<Decimal>,
}

/// A row of `v_monthly_arpu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthArpu {
    /// First day of the month.
    pub month: String,
    /// Monthly active players.
    pub mau: u64,
    /// Players who purchased that month.
    pub payers: u64,
    /// Purchase revenue.
    #[serde(serialize_with = "opt_dec")]
    pub purchase_revenue_usd: Option<Decimal>,
    /// Ad revenue.
    #[serde(serialize_with = "opt_dec")]
    pub ad_revenue_usd: Option<Decimal>,
    /// Both.
    #[serde(serialize_with = "opt_dec")]
    pub revenue_usd: Option<Decimal>,
    /// `ROUND(revenue / mau, 6)`.
    #[serde(serialize_with = "opt_dec")]
    pub arpu_usd: Option<Decimal>,
    /// `ROUND(purchase revenue / payers, 6)`; None without payers.
    #[serde(serialize_with = "opt_dec")]
    pub arppu_usd: Option<Decimal>,
}

/// A row of `v_fx_missing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FxMissing {
    /// `purchase` or `ad`.
    pub revenue_kind: RevenueKind,
    /// The event.
    pub event_id: String,
    /// Game.
    pub game_id: String,
    /// Player.
    pub user_id: String,
    /// UTC day.
    pub date: String,
    /// Currency lacking a rate.
    pub currency: Option<String>,
    /// Amount in it.
    #[serde(serialize_with = "dec")]
    pub amount_local: Decimal,
}

/// DAU and ARPDAU per active day.
pub fn days(activity: &Activity, revenue: &[DayRevenue]) -> Vec<DayActivity> {
    let mut dau: BTreeMap<Day, u64> = BTreeMap::new();
    for (day, _) in activity {
        *dau.entry(*day).or_default() += 1;
    }
    let by_date: BTreeMap<&str, Option<Decimal>> =
        revenue.iter().map(|r| (r.date.as_str(), r.revenue_usd)).collect();
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

/// Revenue per day with at least one revenue row.
pub fn daily_revenue(rows: &[RevenueRow]) -> Vec<DayRevenue> {
    #[derive(Default)]
    struct Acc {
        purchases: u64,
        payers: BTreeSet<u32>,
        purchase: UsdSum,
        ad: UsdSum,
    }
    let mut per_day: BTreeMap<Day, Acc> = BTreeMap::new();
    for r in rows {
        let acc = per_day.entry(r.day).or_default();
        match r.kind {
            RevenueKind::Purchase => {
                acc.purchases += 1;
                acc.payers.insert(r.user);
                acc.purchase.add(r.usd);
            }
            RevenueKind::Ad => acc.ad.add(r.usd),
        }
    }
    per_day
        .into_iter()
        .map(|(day, a)| {
            let unpriced = a.purchase.unpriced + a.ad.unpriced;
            let both = a.purchase.total().zip(a.ad.total()).map(|(p, d)| p + d);
            DayRevenue {
                date: format_day(day),
                purchases: a.purchases,
                payers: a.payers.len() as u64,
                purchase_revenue_usd: a.purchase.total(),
                ad_revenue_usd: a.ad.total(),
                revenue_usd: both,
                unpriced_count: unpriced,
            }
        })
        .collect()
}

/// Ad views per day with any.
pub fn daily_ads(events: &[&Event], rows: &[RevenueRow]) -> Vec<DayAds> {
    let mut per_day: BTreeMap<Day, (u64, u64, UsdSum)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.fact == Fact::Ads) {
        per_day.entry(e.day).or_default().0 += 1;
    }
    for r in rows.iter().filter(|r| r.kind == RevenueKind::Ad) {
        let slot = per_day.entry(r.day).or_default();
        slot.1 += 1;
        slot.2.add(r.usd);
    }
    per_day
        .into_iter()
        .map(|(day, (views, with, usd))| DayAds {
            date: format_day(day),
            views,
            views_with_revenue: with,
            ad_revenue_usd: usd.total(),
        })
        .collect()
}

/// ARPU and ARPPU per calendar month with activity.
pub fn monthly(activity: &Activity, rows: &[RevenueRow]) -> Vec<MonthArpu> {
    let mut mau: BTreeMap<Day, BTreeSet<u32>> = BTreeMap::new();
    for (day, user) in activity {
        mau.entry(month_of(*day)).or_default().insert(*user);
    }
    let mut revenue: BTreeMap<Day, (BTreeSet<u32>, UsdSum, UsdSum)> = BTreeMap::new();
    for r in rows {
        let slot = revenue.entry(month_of(r.day)).or_default();
        match r.kind {
            RevenueKind::Purchase => {
                slot.0.insert(r.user);
                slot.1.add(r.usd);
            }
            RevenueKind::Ad => slot.2.add(r.usd),
        }
    }
    mau.into_iter()
        .map(|(month, users)| {
            let (payers, purchase, ad) = match revenue.get(&month) {
                Some((p, s, a)) => (p.len() as u64, s.total(), a.total()),
                None => (0, Some(Decimal::ZERO), Some(Decimal::ZERO)),
            };
            let both = purchase.zip(ad).map(|(p, a)| p + a);
            let n = users.len() as u64;
            MonthArpu {
                month: format_day(month),
                mau: n,
                payers,
                purchase_revenue_usd: purchase,
                ad_revenue_usd: ad,
                revenue_usd: both,
                arpu_usd: ratio6(both, n),
                arppu_usd: if payers == 0 { None } else { ratio6(purchase, payers) },
            }
        })
        .collect()
}

/// The revenue rows without a USD value.
pub fn fx_missing(events: &[&Event], rows: &[RevenueRow], names: &Names) -> Vec<FxMissing> {
    rows.iter()
        .filter(|r| r.usd.is_none())
        .filter_map(|r| {
            let e = events.get(r.event)?;
            Some(FxMissing {
                revenue_kind: r.kind,
                event_id: e.event_id.clone(),
                game_id: names.name(e.game).to_string(),
                user_id: names.name(e.user).to_string(),
                date: format_day(r.day),
                currency: r.currency.clone(),
                amount_local: r.amount_local,
            })
        })
        .collect()
}
