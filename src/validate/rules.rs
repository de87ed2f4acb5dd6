//! Business rules a schema type cannot express: string lengths, ISO 3166 countries, ISO 4217
//! currencies, UUID syntax, numeric bounds, the future-skew bound on timestamps, and money that
//! is exact at its currency's minor unit. Each rule is a pure function of a value, its field
//! spec and the [`Context`](super::Context), and names the field in the reject it returns.

use std::borrow::Cow;

use rust_decimal::Decimal;

use super::Context;
use super::codes::{CurrencyUnits, currency_minor_units, is_country};
use super::number::{Exact, FitError};
use super::reject::{Reject, RejectCode};
use super::schema::{FieldSpec, Format, Kind};

/// Checks a string's length bounds (in characters) and format; lower-cases UUIDs.
pub(crate) fn check_string<'a>(spec: &FieldSpec, value: Cow<'a, str>) -> Result<Cow<'a, str>, Reject> {
    let name = spec.name.as_str();
    if spec.kind == Kind::Uuid {
        return match uuid_case(&value) {
            None => Err(Reject::field(RejectCode::InvalidUuid, name, format!("{name} is not a UUID"))),
            Some(true) => Ok(Cow::Owned(value.to_ascii_lowercase())),
            Some(false) => Ok(value),
        };
    }
    // Bytes bound characters from above (and from below by 4x): count only when it matters.
    let bytes = i64::try_from(value.len()).unwrap_or(i64::MAX);
    let surely_ok = spec.max.is_none_or(|m| bytes <= m) && spec.min.is_none_or(|m| bytes / 4 >= m);
    if !surely_ok {
        let len = i64::try_from(value.chars().count()).unwrap_or(i64::MAX);
        if spec.min.is_some_and(|m| len < m) || spec.max.is_some_and(|m| len > m) {
            let bounds = match (spec.min, spec.max) {
                (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => String::new(),
            };
            return Err(Reject::field(
                RejectCode::OutOfRange,
                name,
                format!("{name} has {len} characters, {bounds} allowed"),
            ));
        }
    }
    match spec.format {
        Format::Iso3166 if !is_country(&value) => Err(Reject::field(
            RejectCode::InvalidCountry,
            name,
            format!("{name} is not an ISO 3166-1 alpha-2 code"),
        )),
        Format::Iso4217 if currency_minor_units(&value).is_none() => Err(Reject::field(
            RejectCode::InvalidCurrency,
            name,
            format!("{name} is not an active ISO 4217 code"),
        )),
        _ => Ok(value),
    }
}

/// Byte classes for UUID checking: 1 = lower-case hex digit, 2 = upper-case hex, 0 = other.
#[allow(clippy::indexing_slicing)] // b < 256
const fn hex_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'0'..=b'9' | b'a'..=b'f' => 1,
            b'A'..=b'F' => 2,
            _ => 0,
        };
        b += 1;
    }
    t
}

static HEX_CLASS: [u8; 256] = hex_classes();

/// For the canonical 8-4-4-4-12 hex form (any version): `Some(has_upper_case)`, else `None`.
fn uuid_case(s: &str) -> Option<bool> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    let (mut all, mut any) = (1u8, 0u8);
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            all &= u8::from(c == b'-');
        } else {
            let class = HEX_CLASS.get(usize::from(c)).copied().unwrap_or(0);
            all &= u8::from(class != 0);
            any |= class;
        }
    }
    (all == 1).then_some(any & 2 != 0)
}

/// True for the canonical 8-4-4-4-12 hex form (any version, either case).
#[cfg(test)]
pub(crate) fn is_uuid(s: &str) -> bool {
    uuid_case(s).is_some()
}

/// Checks an integer against its type's width and the spec's bounds.
pub(crate) fn check_integer(spec: &FieldSpec, value: i64) -> Result<i64, Reject> {
    let name = spec.name.as_str();
    let out = |why: String| Reject::field(RejectCode::OutOfRange, name, why);
    if spec.kind == Kind::Int && i32::try_from(value).is_err() {
        return Err(out(format!("{name} {value} does not fit a 32-bit integer")));
    }
    if let Some(min) = spec.min {
        if value < min || (spec.min_exclusive && value == min) {
            let cmp = if spec.min_exclusive { "greater than" } else { "at least" };
            return Err(out(format!("{name} is {value}, must be {cmp} {min}")));
        }
    }
    if let Some(max) = spec.max.filter(|m| value > *m) {
        return Err(out(format!("{name} is {value}, must be at most {max}")));
    }
    Ok(value)
}

/// Checks a timestamp (µs since the epoch) against the future-skew bound.
pub(crate) fn check_timestamp(spec: &FieldSpec, micros: i64, ctx: &Context) -> Result<i64, Reject> {
    if micros > ctx.now_micros().saturating_add(ctx.max_future_micros) {
        let hours = ctx.max_future_micros / 3_600_000_000;
        return Err(Reject::field(
            RejectCode::TimestampInFuture,
            &spec.name,
            format!("{} is more than {hours} h in the future", spec.name),
        ));
    }
    Ok(micros)
}

/// Turns an exact amount into money at its currency's minor unit, or `invalid_amount`.
pub(crate) fn finish_money(spec: &FieldSpec, amount: &Exact, currency: &str) -> Result<Decimal, Reject> {
    let name = spec.name.as_str();
    let bad = |why: String| Reject::field(RejectCode::InvalidAmount, name, why);
    let Kind::Decimal { precision, scale: max_scale } = spec.kind else {
        return Err(bad(format!("{name} is not a decimal field")));
    };
    let scale = match currency_minor_units(currency) {
        Some(CurrencyUnits::Digits(d)) => d.min(max_scale),
        Some(CurrencyUnits::NotApplicable) | None => amount.scale_needed().min(max_scale),
    };
    if amount.is_negative() {
        return Err(bad(format!("{name} is negative")));
    }
    if spec.min_exclusive && amount.is_zero() {
        return Err(bad(format!("{name} must be greater than zero")));
    }
    amount.to_decimal(scale, precision, max_scale).map_err(|e| match e {
        FitError::Scale => bad(format!("{name} has more decimals than {currency} allows ({scale})")),
        FitError::Range => {
            bad(format!("{name} is too large (at most {} integer digits)", precision - max_scale))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::schema::Catalog;

    fn spec(event: &str, field: &str) -> FieldSpec {
        let c = Catalog::embedded();
        let s = c.latest(event).unwrap();
        s.fields[s.field_index(field).unwrap()].clone()
    }

    fn money(text: &str, currency: &str) -> Result<String, RejectCode> {
        let amount = Exact::parse(text).unwrap();
        finish_money(&spec("purchase", "price"), &amount, currency).map(|d| d.to_string()).map_err(|r| r.code)
    }

    #[test]
    fn money_rules() {
        assert_eq!(money("4.99", "USD"), Ok("4.99".into()));
        assert_eq!(money("4.990", "USD"), Ok("4.99".into()));
        assert_eq!(money("120.0", "JPY"), Ok("120".into()));
        assert_eq!(money("100.5", "JPY"), Err(RejectCode::InvalidAmount));
        assert_eq!(money("1.5", "KWD"), Ok("1.500".into()));
        assert_eq!(money("1.2345", "KWD"), Err(RejectCode::InvalidAmount));
        assert_eq!(money("0", "USD"), Err(RejectCode::InvalidAmount));
        assert_eq!(money("-1", "USD"), Err(RejectCode::InvalidAmount));
        assert_eq!(money("1e400", "USD"), Err(RejectCode::InvalidAmount));
        assert_eq!(money("1.25", "XAU"), Ok("1.25".into()));
        let revenue = spec("ad_watched", "revenue");
        let zero = Exact::parse("-0").unwrap();
        assert_eq!(finish_money(&revenue, &zero, "EUR").unwrap().to_string(), "0.00");
    }

    #[test]
    fn string_rules() {
        let user = spec("purchase", "user_id");
        assert!(check_string(&user, "u".into()).is_ok());
        assert_eq!(check_string(&user, "".into()).unwrap_err().code, RejectCode::OutOfRange);
        assert_eq!(check_string(&user, "x".repeat(200).into()).unwrap_err().code, RejectCode::OutOfRange);
        assert!(check_string(&user, "é".repeat(128).into()).is_ok(), "length counts characters");
        let country = spec("purchase", "country");
        assert_eq!(check_string(&country, "ZZ".into()).unwrap_err().code, RejectCode::InvalidCountry);
        let cur = spec("purchase", "currency");
        assert_eq!(check_string(&cur, "XYZ".into()).unwrap_err().code, RejectCode::InvalidCurrency);
        let id = spec("purchase", "event_id");
        let upper = "6F1C2B1E-8C3A-4D6B-9E1F-0A2B3C4D5E6F";
        assert_eq!(check_string(&id, upper.into()).unwrap(), upper.to_ascii_lowercase());
        assert_eq!(check_string(&id, "not-a-uuid".into()).unwrap_err().code, RejectCode::InvalidUuid);
    }

    #[test]
    fn integer_rules() {
        let level = spec("level_start", "level");
        assert_eq!(check_integer(&level, 0), Ok(0));
        assert_eq!(check_integer(&level, -1).unwrap_err().code, RejectCode::OutOfRange);
        assert_eq!(check_integer(&level, i64::from(i32::MAX) + 1).unwrap_err().code, RejectCode::OutOfRange);
        let qty = spec("purchase", "quantity");
        assert_eq!(check_integer(&qty, 0).unwrap_err().code, RejectCode::OutOfRange);
    }
}
