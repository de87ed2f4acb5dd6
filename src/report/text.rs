//! Text of the report page: HTML escaping and how figures read — money to the cent with
//! thousands grouped, percentages, and "unknown" (never 0) for a figure that is not known.

use rust_decimal::{Decimal, RoundingStrategy};

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A decimal figure as a float for drawing.
pub(super) fn f(v: Option<Decimal>) -> Option<f64> {
    v.and_then(|d| rust_decimal::prelude::ToPrimitive::to_f64(&d))
}

/// Money for a tile: `$1,234.57` (to the cent, half away from zero) or "unknown".
pub(super) fn usd(v: Option<Decimal>, places: u32) -> String {
    match v {
        None => "<span class=\"unknown\">unknown</span>".to_string(),
        Some(d) => {
            let mut d = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
            d.rescale(places);
            format!("${}", group_thousands(&d.to_string()))
        }
    }
}

/// Groups the integer digits of a decimal text by thousands.
pub(super) fn group_thousands(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A percentage, or "not yet" when unknown.
pub(super) fn pct(v: Option<Decimal>) -> String {
    v.map_or_else(|| "<span class=\"unknown\">not yet</span>".to_string(), |p| format!("{p} %"))
}

/// A figure, or a dash when it is unknown.
pub(super) fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "<span class=\"unknown\">–</span>".to_string(), |v| v.to_string())
}

/// An axis label in dollars.
pub(super) fn money_axis(v: &f64) -> String {
    format!("${v:.2}")
}

/// An axis label for counts.
pub(super) fn count_axis(v: &f64) -> String {
    format!("{v:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_money_grouped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(usd(Some(Decimal::new(123_456_785, 4)), 2), "$12,345.68");
        assert_eq!(usd(Some(Decimal::new(-5, 1)), 2), "$-0.50");
        assert_eq!(usd(Some(Decimal::new(99, 0)), 2), "$99.00");
        assert!(usd(None, 2).contains("unknown"));
    }
}
