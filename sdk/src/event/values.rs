//! The small value types events are made of. Each one can only hold a value the JSON contract
//! (design.md) allows in its shape: an enum symbol the schema lists, a three-letter upper-case
//! currency code, a two-letter country code, a UTC instant a year 0–9999 can spell. Whether a
//! currency is *active* and a country *assigned* is the service's call (it keeps the ISO
//! tables); what reaches the wire is at least well-formed.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::EventError;

macro_rules! symbols {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every symbol, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The symbol as it is sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = EventError;

            fn from_str(s: &str) -> Result<$name, EventError> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(EventError::Invalid { field: stringify!($name), reason: format!("{s:?} is not a symbol of this enum") }),
                }
            }
        }
    };
}

symbols! {
    /// The client platform (`platform`).
    Platform {
        /// Apple iOS.
        Ios => "ios",
        /// Android.
        Android => "android",
        /// A web browser.
        Web => "web",
        /// Windows.
        Windows => "windows",
        /// macOS.
        Macos => "macos",
        /// Linux.
        Linux => "linux",
        /// PlayStation.
        Playstation => "playstation",
        /// Xbox.
        Xbox => "xbox",
        /// Nintendo Switch.
        Switch => "switch",
    }
}

symbols! {
    /// The store a purchase went through (`store`).
    Store {
        /// Apple's App Store.
        AppStore => "app_store",
        /// Google Play.
        GooglePlay => "google_play",
        /// Steam.
        Steam => "steam",
        /// The Epic Games Store.
        Epic => "epic",
        /// A web shop.
        Web => "web",
        /// Any other store.
        Other => "other",
    }
}

symbols! {
    /// The kind of ad watched (`ad_type`).
    AdType {
        /// A rewarded ad.
        Rewarded => "rewarded",
        /// An interstitial ad.
        Interstitial => "interstitial",
        /// A banner ad.
        Banner => "banner",
    }
}

/// Three upper-case ASCII letters, checked.
fn upper_code<const N: usize>(code: &str, field: &'static str) -> Result<[u8; N], EventError> {
    let bytes: [u8; N] = code
        .as_bytes()
        .try_into()
        .map_err(|_| EventError::Invalid { field, reason: format!("{code:?} is not {N} letters") })?;
    if bytes.iter().all(u8::is_ascii_uppercase) {
        Ok(bytes)
    } else {
        Err(EventError::Invalid { field, reason: format!("{code:?} is not {N} upper-case ASCII letters") })
    }
}

/// An ISO 4217 currency code such as `USD`: three upper-case letters. The service checks that
/// the code is active and that an amount has no more decimals than its minor unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"GBP");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(*b"JPY");
    /// Korean won (no minor unit).
    pub const KRW: Currency = Currency(*b"KRW");
    /// Chinese yuan.
    pub const CNY: Currency = Currency(*b"CNY");
    /// Brazilian real.
    pub const BRL: Currency = Currency(*b"BRL");
    /// Kuwaiti dinar (three decimals).
    pub const KWD: Currency = Currency(*b"KWD");

    /// A currency from its code (`"USD"`); refuses anything but three upper-case letters.
    pub fn new(code: &str) -> Result<Currency, EventError> {
        upper_code::<3>(code, "currency").map(Currency)
    }

    /// The code as it is sent.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 3166-1 alpha-2 country code such as `DE`: two upper-case letters (the service checks
/// that it is assigned).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// A country from its code (`"DE"`); refuses anything but two upper-case letters.
    pub fn new(code: &str) -> Result<Country, EventError> {
        upper_code::<2>(code, "country").map(Country)
    }

    /// The code as it is sent.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// First and last instant a four-digit year can spell, µs since the epoch.
const MIN_MICROS: i64 = -62_167_219_200_000_000; // 0000-01-01T00:00:00Z
const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z

/// A UTC instant with microsecond precision, sent as RFC 3339 with `Z`
/// (`2026-11-23T10:15:00.250000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now()).unwrap_or(Timestamp(0))
    }

    /// An instant given as µs since the Unix epoch; `None` outside the years 0–9999.
    pub fn from_unix_micros(micros: i64) -> Option<Timestamp> {
        (MIN_MICROS..=MAX_MICROS).contains(&micros).then_some(Timestamp(micros))
    }

    /// An instant from a [`SystemTime`]; `None` outside the years 0–9999.
    pub fn from_system_time(t: SystemTime) -> Option<Timestamp> {
        let micros = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).ok()?,
            Err(e) => i64::try_from(e.duration().as_micros()).ok()?.checked_neg()?,
        };
        Timestamp::from_unix_micros(micros)
    }

    /// µs since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with six fractional digits and `Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_utc_rfc3339() {
        let t = |m| Timestamp::from_unix_micros(m).map(|t| t.to_string());
        assert_eq!(t(0).as_deref(), Some("1970-01-01T00:00:00.000000Z"));
        assert_eq!(t(1_795_436_100_250_000).as_deref(), Some("2026-11-23T12:15:00.250000Z"));
        assert_eq!(t(951_782_400_000_001).as_deref(), Some("2000-02-29T00:00:00.000001Z"));
        assert_eq!(t(-1).as_deref(), Some("1969-12-31T23:59:59.999999Z"));
        assert_eq!(t(MIN_MICROS).as_deref(), Some("0000-01-01T00:00:00.000000Z"));
        assert_eq!(t(MAX_MICROS).as_deref(), Some("9999-12-31T23:59:59.999999Z"));
        assert_eq!(t(MAX_MICROS + 1), None);
    }

    #[test]
    fn codes_are_checked_for_shape() {
        assert_eq!(Currency::new("USD").map(|c| c.to_string()).ok().as_deref(), Some("USD"));
        assert!(Currency::new("usd").is_err());
        assert!(Currency::new("US").is_err());
        assert!(Currency::new("USDT").is_err());
        assert_eq!(Country::new("DE").map(|c| c.to_string()).ok().as_deref(), Some("DE"));
        assert!(Country::new("DEU").is_err());
        assert_eq!("google_play".parse::<Store>().ok(), Some(Store::GooglePlay));
        assert!("playstation5".parse::<Platform>().is_err());
    }
}
