//! Revenue of one game by the rules of sql/060_analytics.sql: the revenue rows
//! (`v_revenue_events`: every purchase, and the ad views that reported revenue) priced by the FX
//! rule, and their sums per day (`v_daily_revenue`), per month (`v_monthly_arpu`) and for ads
//! alone. The invariant: a USD sum that holds a row without a rate is None (unknown), never a
//! partial sum and never 0 — 0 means no revenue — and the unpriced rows are listed
//! (`v_fx_missing`); purchase, ad and total revenue always follow the same rule, in one place
//! ([`RevenueSum`]).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;

use super::events::{Day, Detail, Event, Fact, Names, format_day, month_of};
use super::fx::FxTable;
use super::json::{dec, opt_dec};
use super::kpis::{Activity, ratio6};

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

/// Purchase, ad and total revenue in USD of some rows; each None while one of its rows lacks a
/// rate (the total while either does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revenue {
    /// Purchases.
    #[serde(serialize_with = "opt_dec")]
    pub purchase_revenue_usd: Option<Decimal>,
    /// Ad views.
    #[serde(serialize_with = "opt_dec")]
    pub ad_revenue_usd: Option<Decimal>,
    /// Both.
    #[serde(serialize_with = "opt_dec")]
    pub revenue_usd: Option<Decimal>,
}

/// Sums revenue rows by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevenueSum {
    purchase: UsdSum,
    ad: UsdSum,
}

impl RevenueSum {
    /// Adds a row.
    pub fn add(&mut self, r: &RevenueRow) {
        match r.kind {
            RevenueKind::Purchase => self.purchase.add(r.usd),
            RevenueKind::Ad => self.ad.add(r.usd),
        }
    }

    /// The sums (all 0 when no row was added).
    pub fn revenue(&self) -> Revenue {
        let (p, a) = (self.purchase.total(), self.ad.total());
        Revenue { purchase_revenue_usd: p, ad_revenue_usd: a, revenue_usd: p.zip(a).map(|(p, a)| p + a) }
    }

    /// Rows without a rate.
    pub fn unpriced(&self) -> u64 {
        self.purchase.unpriced + self.ad.unpriced
    }
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
    /// Purchase, ad and total revenue.
    #[serde(flatten)]
    pub usd: Revenue,
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
    /// Purchase, ad and total revenue.
    #[serde(flatten)]
    pub usd: Revenue,
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

/// Purchases, payers and revenue of a set of rows (a day, a month).
#[derive(Debug, Default)]
struct Bucket {
    purchases: u64,
    payers: BTreeSet<u32>,
    sum: RevenueSum,
}

impl Bucket {
    fn add(&mut self, r: &RevenueRow) {
        if r.kind == RevenueKind::Purchase {
            self.purchases += 1;
            self.payers.insert(r.user);
        }
        self.sum.add(r);
    }
}

fn buckets(rows: &[RevenueRow], key: impl Fn(Day) -> Day) -> BTreeMap<Day, Bucket> {
    let mut out: BTreeMap<Day, Bucket> = BTreeMap::new();
    for r in rows {
        out.entry(key(r.day)).or_default().add(r);
    }
    out
}

/// Revenue per day with at least one revenue row.
pub fn daily_revenue(rows: &[RevenueRow]) -> Vec<DayRevenue> {
    buckets(rows, |d| d)
        .into_iter()
        .map(|(day, b)| DayRevenue {
            date: format_day(day),
            purchases: b.purchases,
            payers: b.payers.len() as u64,
            usd: b.sum.revenue(),
            unpriced_count: b.sum.unpriced(),
        })
        .collect()
}

/// Ad views per day with any.
pub fn daily_ads(events: &[&Event], rows: &[RevenueRow]) -> Vec<DayAds> {
    let mut per_day: BTreeMap<Day, (u64, u64, RevenueSum)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.fact == Fact::Ads) {
        per_day.entry(e.day).or_default().0 += 1;
    }
    for r in rows.iter().filter(|r| r.kind == RevenueKind::Ad) {
        let slot = per_day.entry(r.day).or_default();
        slot.1 += 1;
        slot.2.add(r);
    }
    per_day
        .into_iter()
        .map(|(day, (views, with, sum))| DayAds {
            date: format_day(day),
            views,
            views_with_revenue: with,
            ad_revenue_usd: sum.revenue().ad_revenue_usd,
        })
        .collect()
}

/// ARPU and ARPPU per calendar month with activity.
pub fn monthly(activity: &Activity, rows: &[RevenueRow]) -> Vec<MonthArpu> {
    let mut mau: BTreeMap<Day, BTreeSet<u32>> = BTreeMap::new();
    for (day, user) in activity {
        mau.entry(month_of(*day)).or_default().insert(*user);
    }
    let revenue = buckets(rows, month_of);
    mau.into_iter()
        .map(|(month, users)| {
            let (payers, usd) = revenue
                .get(&month)
                .map_or((0, RevenueSum::default().revenue()), |b| (b.payers.len() as u64, b.sum.revenue()));
            let n = users.len() as u64;
            MonthArpu {
                month: format_day(month),
                mau: n,
                payers,
                arpu_usd: ratio6(usd.revenue_usd, n),
                arppu_usd: if payers == 0 { None } else { ratio6(usd.purchase_revenue_usd, payers) },
                usd,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: RevenueKind, user: u32, day: Day, usd: Option<&str>) -> RevenueRow {
        RevenueRow {
            kind,
            event: 0,
            user,
            day,
            currency: Some("EUR".into()),
            amount_local: Decimal::ONE,
            usd: usd.map(|u| Decimal::from_str_exact(u).unwrap()),
        }
    }

    #[test]
    fn an_unpriced_row_makes_its_sums_unknown_and_only_those() {
        use RevenueKind::{Ad, Purchase};
        let rows = [
            row(Purchase, 1, 0, Some("4.99")),
            row(Purchase, 2, 0, None),
            row(Ad, 1, 0, Some("0.05")),
            row(Purchase, 1, 1, Some("1.00")),
            row(Purchase, 1, 1, Some("2.00")),
        ];
        let days = daily_revenue(&rows);
        assert_eq!((days[0].purchases, days[0].payers, days[0].unpriced_count), (2, 2, 1));
        assert_eq!(days[0].usd.purchase_revenue_usd, None);
        assert_eq!(days[0].usd.ad_revenue_usd.map(|d| d.to_string()), Some("0.05".into()));
        assert_eq!(days[0].usd.revenue_usd, None);
        assert_eq!(
            (days[1].payers, days[1].usd.revenue_usd.map(|d| d.to_string())),
            (1, Some("3.00".into()))
        );
        // a month with activity and no revenue is a true 0; ARPPU has no payers to divide by
        let act: Activity = [(0, 1), (1, 1), (40, 3)].into_iter().collect();
        let months = monthly(&act, &rows);
        assert_eq!((months[0].mau, months[0].payers, months[0].arpu_usd), (1, 2, None));
        assert_eq!(months[1].usd.revenue_usd, Some(Decimal::ZERO));
        assert_eq!((months[1].arpu_usd, months[1].arppu_usd), (Some(Decimal::ZERO), None));
    }

    #[test]
    fn ads_per_day_count_views_without_revenue_too() {
        let e = Event {
            fact: Fact::Ads,
            event_id: "a".into(),
            ts: 0,
            day: 3,
            game: 0,
            user: 1,
            detail: Detail::Ad { revenue: None },
        };
        let ads = daily_ads(&[&e, &e], &[row(RevenueKind::Ad, 1, 3, Some("0.10"))]);
        assert_eq!((ads[0].views, ads[0].views_with_revenue), (2, 1));
        assert_eq!(ads[0].ad_revenue_usd.map(|d| d.to_string()), Some("0.10".into()));
    }
}
