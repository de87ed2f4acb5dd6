//! Exact decimal numbers from text. A JSON number (or a money string) is parsed digit by digit
//! into `mantissa × 10^power` with trailing zeros removed, so values are judged by value and
//! never by their spelling (`4.990` is `4.99`, `1.2e3` is `1200`), no digit is ever rounded,
//! and no input — `1e400`, fifty digits, `NaN` — can overflow or panic.

use rust_decimal::Decimal;

/// Most significant digits an exact value may have (u128 holds 38 decimal digits).
const MAX_DIGITS: u32 = 38;

/// An exact decimal `(-1)^negative × mantissa × 10^power`; `mantissa` has no trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    negative: bool,
    mantissa: u128,
    digits: u32,
    power: i64,
}

/// Why text is not an exact number we can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not a number at all (`NaN`, `""`, `" 1"`, `1.2.3`).
    Syntax,
    /// More significant digits than any field accepts.
    TooManyDigits,
}

/// Why an exact number does not fit a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FitError {
    /// It has fractional digits beyond the allowed scale.
    Scale,
    /// It is larger than the field can hold.
    Range,
}

impl Exact {
    /// Parses `-?digits(.digits)?([eE][+-]?digits)?`.
    pub(crate) fn parse(text: &str) -> Result<Exact, NumberError> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = bytes.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        let mut mantissa: u128 = 0;
        let mut digits: u32 = 0;
        let mut pending_zeros: u32 = 0;
        let mut fraction_len: i64 = 0;
        let mut seen_digit = false;
        let mut in_fraction = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' => {
                    seen_digit = true;
                    if in_fraction {
                        fraction_len += 1;
                    }
                    let d = u128::from(b - b'0');
                    if d == 0 {
                        if digits > 0 {
                            pending_zeros += 1;
                        }
                    } else {
                        if digits + pending_zeros + 1 > MAX_DIGITS {
                            return Err(NumberError::TooManyDigits);
                        }
                        mantissa = mantissa * 10u128.pow(pending_zeros + 1) + d;
                        digits += pending_zeros + 1;
                        pending_zeros = 0;
                    }
                }
                b'.' if !in_fraction && seen_digit => {
                    in_fraction = true;
                    seen_digit = false;
                }
                b'e' | b'E' if seen_digit => break,
                _ => return Err(NumberError::Syntax),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(NumberError::Syntax);
        }
        let exponent = match bytes.get(i) {
            None => 0,
            Some(_) => parse_exponent(bytes.get(i + 1..).unwrap_or_default())?,
        };
        if mantissa == 0 {
            return Ok(Exact { negative: false, mantissa: 0, digits: 0, power: 0 });
        }
        let power = i64::from(pending_zeros).saturating_sub(fraction_len).saturating_add(exponent);
        Ok(Exact { negative, mantissa, digits, power })
    }

    /// The exact value of an unscaled integer at `scale` (an Avro decimal's content).
    pub(crate) fn from_unscaled(unscaled: i128, scale: u32) -> Exact {
        let mut mantissa = unscaled.unsigned_abs();
        if mantissa == 0 {
            return Exact { negative: false, mantissa: 0, digits: 0, power: 0 };
        }
        let mut power = -i64::from(scale);
        while mantissa % 10 == 0 {
            mantissa /= 10;
            power += 1;
        }
        let digits = mantissa.checked_ilog10().map_or(1, |d| d + 1);
        Exact { negative: unscaled < 0, mantissa, digits, power }
    }

    /// True for values below zero (`-0` is zero, not negative).
    pub(crate) fn is_negative(&self) -> bool {
        self.negative
    }

    /// True for zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Fractional digits the value needs (`4.99` needs 2, `1200` needs 0).
    pub(crate) fn scale_needed(&self) -> u32 {
        if self.power >= 0 { 0 } else { u32::try_from(self.power.unsigned_abs()).unwrap_or(u32::MAX) }
    }

    /// The value as a decimal at exactly `scale` fractional digits, if it fits both the scale
    /// and a total of `precision` digits at `max_scale` (the schema's decimal type).
    pub(crate) fn to_decimal(self, scale: u32, precision: u32, max_scale: u32) -> Result<Decimal, FitError> {
        if self.scale_needed() > scale {
            return Err(FitError::Scale);
        }
        if self.mantissa == 0 {
            return Ok(Decimal::new(0, scale));
        }
        // Digits of the unscaled value at the schema's scale must fit the schema's precision.
        let total = i64::from(self.digits).saturating_add(self.power).saturating_add(i64::from(max_scale));
        if total > i64::from(precision) || total > 28 {
            return Err(FitError::Range);
        }
        let shift =
            u32::try_from(self.power.saturating_add(i64::from(scale))).map_err(|_| FitError::Range)?;
        let unscaled = 10u128
            .checked_pow(shift)
            .and_then(|p| self.mantissa.checked_mul(p))
            .and_then(|v| i128::try_from(v).ok())
            .ok_or(FitError::Range)?;
        let signed = if self.negative { -unscaled } else { unscaled };
        Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| FitError::Range)
    }

    /// The value as an integer, if it is one and fits `i64`.
    pub(crate) fn to_i64(self) -> Result<i64, FitError> {
        if self.power < 0 {
            return Err(FitError::Scale);
        }
        if self.mantissa == 0 {
            return Ok(0);
        }
        if i64::from(self.digits).saturating_add(self.power) > 19 {
            return Err(FitError::Range);
        }
        let shift = u32::try_from(self.power).map_err(|_| FitError::Range)?;
        let magnitude =
            10u128.checked_pow(shift).and_then(|p| self.mantissa.checked_mul(p)).ok_or(FitError::Range)?;
        let signed = if self.negative {
            -i128::try_from(magnitude).map_err(|_| FitError::Range)?
        } else {
            i128::try_from(magnitude).map_err(|_| FitError::Range)?
        };
        i64::try_from(signed).map_err(|_| FitError::Range)
    }
}

fn parse_exponent(bytes: &[u8]) -> Result<i64, NumberError> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if rest.is_empty() {
        return Err(NumberError::Syntax);
    }
    let mut value: i64 = 0;
    for &b in rest {
        if !b.is_ascii_digit() {
            return Err(NumberError::Syntax);
        }
        // Saturate: 1e999999999999 is simply "too large", never an overflow.
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str, scale: u32) -> Result<String, FitError> {
        Exact::parse(text).map_err(|_| FitError::Range)?.to_decimal(scale, 18, 6).map(|d| d.to_string())
    }

    #[test]
    fn money_is_exact_at_currency_scale() {
        assert_eq!(dec("4.99", 2), Ok("4.99".into()));
        assert_eq!(dec("4.990", 2), Ok("4.99".into()));
        assert_eq!(dec("120.0", 0), Ok("120".into()));
        assert_eq!(dec("1.5", 3), Ok("1.500".into()));
        assert_eq!(dec("1.2e3", 2), Ok("1200.00".into()));
        assert_eq!(dec("499e-2", 2), Ok("4.99".into()));
        assert_eq!(dec("100.5", 0), Err(FitError::Scale));
        assert_eq!(dec("4.999", 2), Err(FitError::Scale));
        assert_eq!(dec("1e400", 2), Err(FitError::Range));
        assert_eq!(dec("1e-400", 2), Err(FitError::Scale));
        assert_eq!(dec("999999999999.99", 2), Ok("999999999999.99".into()));
        assert_eq!(dec("1000000000000", 2), Err(FitError::Range));
        assert_eq!(dec("-0", 2), Ok("0.00".into()));
        assert_eq!(dec("0.000", 0), Ok("0".into()));
    }

    #[test]
    fn fifty_digits_judged_by_value() {
        let long_zeros = format!("4.99{}", "0".repeat(46));
        assert_eq!(dec(&long_zeros, 2), Ok("4.99".into()));
        let long = "1".repeat(50);
        assert_eq!(Exact::parse(&long), Err(NumberError::TooManyDigits));
        let long_frac = format!("0.{}", "1".repeat(50));
        assert_eq!(Exact::parse(&long_frac), Err(NumberError::TooManyDigits));
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "",
            "-",
            "NaN",
            "Infinity",
            "-Infinity",
            " 1",
            "1 ",
            "1.2.3",
            "1e",
            "1e+",
            ".5",
            "0x10",
            "1,5",
            "+1",
            "١",
        ] {
            assert_eq!(Exact::parse(bad), Err(NumberError::Syntax), "{bad:?}");
        }
        assert!(Exact::parse("5.").is_err());
    }

    #[test]
    fn integers() {
        let int = |t: &str| Exact::parse(t).map_err(|_| FitError::Range).and_then(|e| e.to_i64());
        assert_eq!(int("0"), Ok(0));
        assert_eq!(int("-0"), Ok(0));
        assert_eq!(int("42"), Ok(42));
        assert_eq!(int("1.0"), Ok(1));
        assert_eq!(int("1e2"), Ok(100));
        assert_eq!(int("-17"), Ok(-17));
        assert_eq!(int("1.5"), Err(FitError::Scale));
        assert_eq!(int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int("9223372036854775808"), Err(FitError::Range));
        assert_eq!(int("1e400"), Err(FitError::Range));
        assert_eq!(int("1e99999999999999999999999"), Err(FitError::Range));
    }

    #[test]
    fn from_unscaled_matches_parse() {
        assert_eq!(Exact::from_unscaled(4_990_000, 6), Exact::parse("4.99").unwrap());
        assert_eq!(Exact::from_unscaled(-15, 1), Exact::parse("-1.5").unwrap());
        assert_eq!(Exact::from_unscaled(0, 6), Exact::parse("0").unwrap());
        assert_eq!(Exact::from_unscaled(1200, 0), Exact::parse("1.2e3").unwrap());
        assert_eq!(Exact::from_unscaled(i128::MIN, 6).to_decimal(6, 18, 6), Err(FitError::Range));
        assert_eq!(Exact::parse("1e-99999999999999999999999").unwrap().scale_needed(), u32::MAX);
    }

    #[test]
    fn sign_and_zero() {
        let neg = Exact::parse("-4.99").unwrap_or_else(|_| unreachable!());
        assert!(neg.is_negative());
        assert!(!Exact::parse("-0.0").map(|e| e.is_negative()).unwrap_or(true));
        assert!(Exact::parse("0e10").map(|e| e.is_zero()).unwrap_or(false));
    }
}
