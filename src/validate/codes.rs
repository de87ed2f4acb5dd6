//! Static ISO code tables: ISO 4217 active currency codes with their minor
//! units, and ISO 3166-1 alpha-2 country codes.
//!
//! Lookups are exact (uppercase ASCII only), allocation-free, and never panic.

/// Minor unit (decimal places) of an ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CurrencyUnits {
    /// Number of digits after the decimal separator.
    Digits(u32),
    /// The standard lists "N.A." (metals, funds, test and no-currency codes).
    NotApplicable,
}

use CurrencyUnits::{Digits as D, NotApplicable as NA};

/// ISO 4217 list one (active codes), reflecting the 2025 amendments:
/// XCG added (ANG withdrawn), ZWG present (ZWL withdrawn), SLE present
/// (SLL withdrawn), VED/VES present. Withdrawn codes such as HRK, CUC, VEF,
/// MRO, STD, LTL, LVL and EEK are excluded. BGN is still listed pending its
/// withdrawal after Bulgaria's 2026 euro changeover.
///
/// Must stay strictly sorted by code (checked by a unit test).
static CURRENCIES: &[(&str, CurrencyUnits)] = &[
    ("AED", D(2)),
    ("AFN", D(2)),
    ("ALL", D(2)),
    ("AMD", D(2)),
    ("AOA", D(2)),
    ("ARS", D(2)),
    ("AUD", D(2)),
    ("AWG", D(2)),
    ("AZN", D(2)),
    ("BAM", D(2)),
    ("BBD", D(2)),
    ("BDT", D(2)),
    ("BGN", D(2)),
    ("BHD", D(3)),
    ("BIF", D(0)),
    ("BMD", D(2)),
    ("BND", D(2)),
    ("BOB", D(2)),
    ("BOV", D(2)),
    ("BRL", D(2)),
    ("BSD", D(2)),
    ("BTN", D(2)),
    ("BWP", D(2)),
    ("BYN", D(2)),
    ("BZD", D(2)),
    ("CAD", D(2)),
    ("CDF", D(2)),
    ("CHE", D(2)),
    ("CHF", D(2)),
    ("CHW", D(2)),
    ("CLF", D(4)),
    ("CLP", D(0)),
    ("CNY", D(2)),
    ("COP", D(2)),
    ("COU", D(2)),
    ("CRC", D(2)),
    ("CUP", D(2)),
    ("CVE", D(2)),
    ("CZK", D(2)),
    ("DJF", D(0)),
    ("DKK", D(2)),
    ("DOP", D(2)),
    ("DZD", D(2)),
    ("EGP", D(2)),
    ("ERN", D(2)),
    ("ETB", D(2)),
    ("EUR", D(2)),
    ("FJD", D(2)),
    ("FKP", D(2)),
    ("GBP", D(2)),
    ("GEL", D(2)),
    ("GHS", D(2)),
    ("GIP", D(2)),
    ("GMD", D(2)),
    ("GNF", D(0)),
    ("GTQ", D(2)),
    ("GYD", D(2)),
    ("HKD", D(2)),
    ("HNL", D(2)),
    ("HTG", D(2)),
    ("HUF", D(2)),
    ("IDR", D(2)),
    ("ILS", D(2)),
    ("INR", D(2)),
    ("IQD", D(3)),
    ("IRR", D(2)),
    ("ISK", D(0)),
    ("JMD", D(2)),
    ("JOD", D(3)),
    ("JPY", D(0)),
    ("KES", D(2)),
    ("KGS", D(2)),
    ("KHR", D(2)),
    ("KMF", D(0)),
    ("KPW", D(2)),
    ("KRW", D(0)),
    ("KWD", D(3)),
    ("KYD", D(2)),
    ("KZT", D(2)),
    ("LAK", D(2)),
    ("LBP", D(2)),
    ("LKR", D(2)),
    ("LRD", D(2)),
    ("LSL", D(2)),
    ("LYD", D(3)),
    ("MAD", D(2)),
    ("MDL", D(2)),
    ("MGA", D(2)),
    ("MKD", D(2)),
    ("MMK", D(2)),
    ("MNT", D(2)),
    ("MOP", D(2)),
    ("MRU", D(2)),
    ("MUR", D(2)),
    ("MVR", D(2)),
    ("MWK", D(2)),
    ("MXN", D(2)),
    ("MXV", D(2)),
    ("MYR", D(2)),
    ("MZN", D(2)),
    ("NAD", D(2)),
    ("NGN", D(2)),
    ("NIO", D(2)),
    ("NOK", D(2)),
    ("NPR", D(2)),
    ("NZD", D(2)),
    ("OMR", D(3)),
    ("PAB", D(2)),
    ("PEN", D(2)),
    ("PGK", D(2)),
    ("PHP", D(2)),
    ("PKR", D(2)),
    ("PLN", D(2)),
    ("PYG", D(0)),
    ("QAR", D(2)),
    ("RON", D(2)),
    ("RSD", D(2)),
    ("RUB", D(2)),
    ("RWF", D(0)),
    ("SAR", D(2)),
    ("SBD", D(2)),
    ("SCR", D(2)),
    ("SDG", D(2)),
    ("SEK", D(2)),
    ("SGD", D(2)),
    ("SHP", D(2)),
    ("SLE", D(2)),
    ("SOS", D(2)),
    ("SRD", D(2)),
    ("SSP", D(2)),
    ("STN", D(2)),
    ("SVC", D(2)),
    ("SYP", D(2)),
    ("SZL", D(2)),
    ("THB", D(2)),
    ("TJS", D(2)),
    ("TMT", D(2)),
    ("TND", D(3)),
    ("TOP", D(2)),
    ("TRY", D(2)),
    ("TTD", D(2)),
    ("TWD", D(2)),
    ("TZS", D(2)),
    ("UAH", D(2)),
    ("UGX", D(0)),
    ("USD", D(2)),
    ("USN", D(2)),
    ("UYI", D(0)),
    ("UYU", D(2)),
    ("UYW", D(4)),
    ("UZS", D(2)),
    ("VED", D(2)),
    ("VES", D(2)),
    ("VND", D(0)),
    ("VUV", D(0)),
    ("WST", D(2)),
    ("XAF", D(0)),
    ("XAG", NA),
    ("XAU", NA),
    ("XBA", NA),
    ("XBB", NA),
    ("XBC", NA),
    ("XBD", NA),
    ("XCD", D(2)),
    ("XCG", D(2)),
    ("XDR", NA),
    ("XOF", D(0)),
    ("XPD", NA),
    ("XPF", D(0)),
    ("XPT", NA),
    ("XSU", NA),
    ("XTS", NA),
    ("XUA", NA),
    ("XXX", NA),
    ("YER", D(2)),
    ("ZAR", D(2)),
    ("ZMW", D(2)),
    ("ZWG", D(2)),
];

/// All 249 officially assigned ISO 3166-1 alpha-2 codes (no user-assigned
/// or exceptionally reserved codes such as XK, EU or UK).
///
/// Must stay strictly sorted (checked by a unit test).
static COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA",
    "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV",
    "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU",
    "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES",
    "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
    "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE",
    "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM",
    "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT",
    "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU",
    "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA",
    "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
    "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL",
    "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE",
    "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Minor units of an active ISO 4217 code; `None` if the code is unknown.
pub(crate) fn currency_minor_units(code: &str) -> Option<CurrencyUnits> {
    if code.len() != 3 {
        return None;
    }
    CURRENCIES
        .binary_search_by(|(key, _)| (*key).cmp(code))
        .ok()
        .and_then(|idx| CURRENCIES.get(idx))
        .map(|&(_, units)| units)
}

/// COUNTRIES as a 26×26 bitmap indexed by the two letters (one lookup, no comparisons).
#[allow(clippy::indexing_slicing)] // letters are checked to be A–Z before indexing
const fn country_bitmap() -> [bool; 676] {
    let mut map = [false; 676];
    let mut i = 0;
    while i < COUNTRIES.len() {
        let b = COUNTRIES[i].as_bytes();
        if b.len() == 2 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase() {
            map[(b[0] - b'A') as usize * 26 + (b[1] - b'A') as usize] = true;
        }
        i += 1;
    }
    map
}

static COUNTRY_BITMAP: [bool; 676] = country_bitmap();

/// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code.
pub(crate) fn is_country(code: &str) -> bool {
    match code.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => {
            COUNTRY_BITMAP.get(usize::from(a - b'A') * 26 + usize::from(b - b'A')).copied().unwrap_or(false)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_agrees_with_the_table() {
        let mut count = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                assert_eq!(is_country(&code), COUNTRIES.binary_search(&code.as_str()).is_ok(), "{code}");
                count += usize::from(is_country(&code));
            }
        }
        assert_eq!(count, COUNTRIES.len());
    }

    #[test]
    fn currency_table_sorted_unique_and_well_formed() {
        for pair in CURRENCIES.windows(2) {
            if let [(a, _), (b, _)] = pair {
                assert!(a < b, "currency table not strictly sorted at {a} / {b}");
            }
        }
        for (code, _) in CURRENCIES {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "bad currency code {code}"
            );
        }
    }

    #[test]
    fn country_table_sorted_unique_and_complete() {
        for pair in COUNTRIES.windows(2) {
            if let [a, b] = pair {
                assert!(a < b, "country table not strictly sorted at {a} / {b}");
            }
        }
        for code in COUNTRIES {
            assert!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "bad country code {code}"
            );
        }
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn currency_lookups() {
        assert_eq!(currency_minor_units("USD"), Some(CurrencyUnits::Digits(2)));
        assert_eq!(currency_minor_units("EUR"), Some(CurrencyUnits::Digits(2)));
        assert_eq!(currency_minor_units("JPY"), Some(CurrencyUnits::Digits(0)));
        assert_eq!(currency_minor_units("KWD"), Some(CurrencyUnits::Digits(3)));
        assert_eq!(currency_minor_units("CLF"), Some(CurrencyUnits::Digits(4)));
        assert_eq!(currency_minor_units("XCG"), Some(CurrencyUnits::Digits(2)));
        assert_eq!(currency_minor_units("ZWG"), Some(CurrencyUnits::Digits(2)));
        assert_eq!(currency_minor_units("AED"), Some(CurrencyUnits::Digits(2)));
        assert_eq!(currency_minor_units("XAU"), Some(CurrencyUnits::NotApplicable));
        assert_eq!(currency_minor_units("XXX"), Some(CurrencyUnits::NotApplicable));
    }

    #[test]
    fn currency_rejects_invalid_and_withdrawn() {
        for code in [
            "usd", "Usd", "US", "USDX", "", "ÜSD", "Ü", "HRK", "SLL", "ZWL", "ANG", "CUC", "VEF", "MRO",
            "STD", "LTL", "LVL", "EEK", "ABC",
        ] {
            assert_eq!(currency_minor_units(code), None, "{code:?} should be rejected");
        }
    }

    #[test]
    fn country_lookups() {
        for code in ["US", "JP", "DE", "AD", "ZW", "GB"] {
            assert!(is_country(code), "{code:?} should be a country");
        }
        for code in ["us", "XK", "UK", "EU", "", "USA", "U", "ÜS", "AA", "ZZ"] {
            assert!(!is_country(code), "{code:?} should not be a country");
        }
    }
}
