//! The FX rule of sql/ (030_fx.sql) over a rates file given with `--fx`. The invariant: USD
//! converts at exactly 1; another currency at the rate of the event's UTC day, else at its
//! latest earlier rate; with no rate on or before that day the USD value is **unknown (None),
//! never 0**. `revenue_usd = ROUND(amount × rate, 6)`, half away from zero; rates are held as
//! `NUMBER(38,12)` holds them.
//!
//! The file is CSV, one rate a line: `rate_date,currency,usd_per_unit` (`2026-10-02,EUR,1.12`);
//! a header line (`rate_date,…`), blank lines and `#` comments are skipped, further columns ignored. A later line
//! for the same day and currency replaces an earlier one (as the latest `loaded_at` wins), and
//! USD lines are ignored (USD is always 1).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::{Decimal, RoundingStrategy};

use super::events::{Day, parse_day};

/// A rates file that cannot be used; fixing the file is the only remedy (not retryable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FX rates line {line}: {why} (expected rate_date,currency,usd_per_unit)")]
pub struct FxError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Daily rates to USD per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FxTable {
    rates: HashMap<String, BTreeMap<Day, Decimal>>,
}

/// The USD value of an amount, and the day of the rate used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    /// `revenue_usd`: None when no rate applies.
    pub usd: Option<Decimal>,
    /// `fx_rate_date`: None for USD and when no rate applies.
    pub rate_day: Option<Day>,
}

impl FxTable {
    /// Parses a rates file.
    pub fn parse(text: &str) -> Result<FxTable, FxError> {
        let mut table = FxTable::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split(',').map(str::trim);
            let (date, currency, rate) = (cols.next(), cols.next(), cols.next());
            let err = |why| FxError { line: index + 1, why };
            if date == Some("rate_date") {
                continue;
            }
            let day = date.and_then(parse_day).ok_or_else(|| err("rate_date is not YYYY-MM-DD"))?;
            let currency = currency
                .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
                .ok_or_else(|| err("currency is not an ISO 4217 code"))?;
            let rate = rate
                .and_then(|r| Decimal::from_str_exact(r).ok())
                .filter(|r| r.is_sign_positive() && !r.is_zero())
                .ok_or_else(|| err("usd_per_unit is not a positive decimal"))?
                .round_dp_with_strategy(12, RoundingStrategy::MidpointAwayFromZero);
            if currency != "USD" {
                table.rates.entry(currency.to_string()).or_default().insert(day, rate);
            }
        }
        Ok(table)
    }

    /// A table with one rate per currency from `day` on (the demo's illustrative rates).
    pub fn fixed(day: Day, rates: &[(&str, Decimal)]) -> FxTable {
        let mut table = FxTable::default();
        for (currency, rate) in rates {
            table.rates.entry((*currency).to_string()).or_default().insert(day, *rate);
        }
        table
    }

    /// The USD value of `amount` in `currency` on `day`.
    pub fn price(&self, amount: Decimal, currency: Option<&str>, day: Day) -> Priced {
        let unknown = Priced { usd: None, rate_day: None };
        let Some(currency) = currency else { return unknown };
        if currency == "USD" {
            return Priced { usd: Some(round6(amount)), rate_day: None };
        }
        let Some((rate_day, rate)) = self.rates.get(currency).and_then(|r| r.range(..=day).next_back())
        else {
            return unknown;
        };
        match amount.checked_mul(*rate) {
            Some(usd) => Priced { usd: Some(round6(usd)), rate_day: Some(*rate_day) },
            None => unknown,
        }
    }

    /// Number of (currency, day) rates held.
    pub fn len(&self) -> usize {
        self.rates.values().map(BTreeMap::len).sum()
    }

    /// True when no rate is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `ROUND(x, 6)`, half away from zero.
pub fn round6(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn day(s: &str) -> Day {
        parse_day(s).unwrap()
    }

    const RATES: &str = "rate_date,currency,usd_per_unit\n2026-10-01,EUR,1.10\n2026-10-02,EUR,1.12\n\
                         # a comment\n2026-10-08,EUR,1.08\n2026-10-02,JPY,0.0065\n2026-10-08,JPY,0.0070\n";

    #[test]
    fn the_rule_of_sql() {
        let fx = FxTable::parse(RATES).unwrap();
        assert_eq!(fx.len(), 5);
        // the day's own rate: 19.98 EUR × 1.12
        assert_eq!(
            fx.price(dec("19.98"), Some("EUR"), day("2026-10-02")),
            Priced { usd: Some(dec("22.3776")), rate_day: Some(day("2026-10-02")) }
        );
        // no rate on 10-05: the latest earlier one (10-02)
        assert_eq!(fx.price(dec("4.99"), Some("EUR"), day("2026-10-05")).rate_day, Some(day("2026-10-02")));
        // before the first JPY rate: unknown, not 0
        assert_eq!(
            fx.price(dec("1200"), Some("JPY"), day("2026-10-01")),
            Priced { usd: None, rate_day: None }
        );
        assert_eq!(fx.price(dec("1200"), Some("GBP"), day("2026-10-09")).usd, None);
        assert_eq!(fx.price(dec("1.00"), None, day("2026-10-09")).usd, None);
        assert_eq!(
            fx.price(dec("4.99"), Some("USD"), day("1999-01-01")),
            Priced { usd: Some(dec("4.99")), rate_day: None }
        );
        // rounded to 6 places, half away from zero: 0.0000005 → 0.000001
        let tiny = FxTable::fixed(day("2026-01-01"), &[("XTS", dec("0.0000005"))]);
        assert_eq!(tiny.price(dec("1"), Some("XTS"), day("2026-01-02")).usd, Some(dec("0.000001")));
    }

    #[test]
    fn a_later_line_for_the_same_day_wins_and_usd_is_ignored() {
        let fx = FxTable::parse("2026-10-05,EUR,1.20\n2026-10-05,EUR,1.15\n2026-10-05,USD,2\n").unwrap();
        assert_eq!(fx.len(), 1);
        assert_eq!(fx.price(dec("4.99"), Some("EUR"), day("2026-10-05")).usd, Some(dec("5.7385")));
        assert_eq!(fx.price(dec("3"), Some("USD"), day("2026-10-05")).usd, Some(dec("3")));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        for (text, line) in [
            ("2026-13-01,EUR,1.1", 1),
            ("rate_date,currency,usd_per_unit\n2026-10-01,eur,1.1", 2),
            ("2026-10-01,EUR,abc", 1),
            ("2026-10-01,EUR,-1", 1),
            ("2026-10-01,EUR", 1),
        ] {
            assert_eq!(FxTable::parse(text).map_err(|e| e.line), Err(line), "{text}");
        }
    }
}
