//! RFC 3339 timestamps to and from microseconds since the Unix epoch. Parsing is strict (a date,
//! `T`, a time, and an explicit offset are all required; calendar dates are checked, leap years
//! included), total (every input yields a value or an error, never a panic), and keeps
//! microseconds exactly (finer digits are truncated). Formatting always writes UTC with `Z`.

/// Microseconds in one second.
const MICROS: i64 = 1_000_000;

/// Parses an RFC 3339 date-time with offset into microseconds since the epoch (UTC).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            if i - start < 6 {
                micros = micros * 10 + i64::from(d - b'0');
            }
            i += 1;
        }
        let len = i - start;
        if len == 0 {
            return None;
        }
        for _ in len..6 {
            micros *= 10;
        }
    }
    let offset_seconds = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest.get(2) == Some(&b':') => {
            let oh = digits(rest, 0, 2)?;
            let om = digits(rest, 3, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = oh * 3600 + om * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * MICROS + micros)
}

/// Formats microseconds since the epoch as RFC 3339 UTC (`2026-11-01T10:00:00.250Z`): the
/// fraction is omitted when zero, written with 3 digits for whole milliseconds, else 6.
pub fn format_rfc3339(micros: i64, out: &mut Vec<u8>) {
    let seconds = micros.div_euclid(MICROS);
    let frac = micros.rem_euclid(MICROS);
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    push_num(out, year, 4);
    out.push(b'-');
    push_num(out, month, 2);
    out.push(b'-');
    push_num(out, day, 2);
    out.push(b'T');
    push_num(out, secs_of_day / 3600, 2);
    out.push(b':');
    push_num(out, secs_of_day / 60 % 60, 2);
    out.push(b':');
    push_num(out, secs_of_day % 60, 2);
    if frac != 0 {
        out.push(b'.');
        if frac % 1000 == 0 { push_num(out, frac / 1000, 3) } else { push_num(out, frac, 6) }
    }
    out.push(b'Z');
}

/// Convenience: [`format_rfc3339`] into a new `String`.
pub fn to_rfc3339(micros: i64) -> String {
    let mut out = Vec::with_capacity(27);
    format_rfc3339(micros, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn push_num(out: &mut Vec<u8>, value: i64, width: u32) {
    let mut div = 10i64.pow(width.saturating_sub(1));
    let mut v = value.rem_euclid(10i64.pow(width));
    while div > 0 {
        let digit = u8::try_from(v / div).unwrap_or(0);
        out.push(b'0' + digit);
        v %= div;
        div /= 10;
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = b.get(start..start + len)?;
    slice.iter().try_fold(0i64, |acc, d| d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0')))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z"), Some(500_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123456789Z"), Some(123_456));
        assert_eq!(parse_rfc3339("2026-11-01t10:00:00z"), parse_rfc3339("2026-11-01T10:00:00Z"));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400 * MICROS));
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "2026-11-01",
            "2026-11-01T10:00:00",
            "2026-11-01T10:00:00+0100",
            "2026-13-01T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "1900-02-29T10:00:00Z",
            "2026-11-31T10:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T10:60:00Z",
            "2026-11-01T10:00:60Z",
            "2026-11-01T10:00:00.Z",
            "2026-11-01T10:00:00Zjunk",
            "2026-11-01T10:00:00+24:00",
            "１９７０-01-01T00:00:00Z",
            "1700000000",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_utc() {
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(to_rfc3339(250_000), "1970-01-01T00:00:00.250Z");
        assert_eq!(to_rfc3339(1), "1970-01-01T00:00:00.000001Z");
        assert_eq!(to_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
        let t = parse_rfc3339("2026-11-22T13:45:07.120+02:00").unwrap();
        assert_eq!(to_rfc3339(t), "2026-11-22T11:45:07.120Z");
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        let mut day = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 12, 31);
        while day <= end {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            let text = to_rfc3339(day * 86_400 * MICROS + 7);
            assert_eq!(parse_rfc3339(&text), Some(day * 86_400 * MICROS + 7));
            day += 1;
        }
    }
}
