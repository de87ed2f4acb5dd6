//! The eight event types of the contract, one struct each: required fields are constructor
//! arguments, optional ones are `Option`s set by chained methods, so an event can only be built
//! with every field its schema requires. Each type writes exactly its own schema's fields.

use rust_decimal::Decimal;

use super::fields::{Datum, Fields, count, opt_text};
use super::values::{AdType, Currency, Store};

/// `install`: the first launch of the game on a device (no session yet).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Install {
    /// Acquisition source (`source`), e.g. a network name.
    pub source: Option<String>,
    /// Acquisition campaign (`campaign`).
    pub campaign: Option<String>,
    /// Device model (`device_model`).
    pub device_model: Option<String>,
    /// Operating system version (`os_version`).
    pub os_version: Option<String>,
}

impl Install {
    /// An install with no optional detail.
    pub fn new() -> Install {
        Install::default()
    }
    /// Sets `source`.
    pub fn source(mut self, v: impl Into<String>) -> Install {
        self.source = Some(v.into());
        self
    }
    /// Sets `campaign`.
    pub fn campaign(mut self, v: impl Into<String>) -> Install {
        self.campaign = Some(v.into());
        self
    }
    /// Sets `device_model`.
    pub fn device_model(mut self, v: impl Into<String>) -> Install {
        self.device_model = Some(v.into());
        self
    }
    /// Sets `os_version`.
    pub fn os_version(mut self, v: impl Into<String>) -> Install {
        self.os_version = Some(v.into());
        self
    }
}

/// `purchase`: real money spent in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// Store product id (`product_id`), non-empty.
    pub product_id: String,
    /// Display name (`product_name`).
    pub product_name: Option<String>,
    /// Price paid (`price`), exact, > 0, in `currency`.
    pub price: Decimal,
    /// ISO 4217 currency of the price (`currency`).
    pub currency: Currency,
    /// Store it went through (`store`).
    pub store: Store,
    /// The store's transaction id (`transaction_id`).
    pub transaction_id: Option<String>,
    /// Units bought (`quantity`, ≥ 1); the schema's default 1 when unset.
    pub quantity: Option<u32>,
}

impl Purchase {
    /// A purchase of `product_id` at `price` in `currency` through `store`.
    pub fn new(product_id: impl Into<String>, price: Decimal, currency: Currency, store: Store) -> Purchase {
        Purchase {
            product_id: product_id.into(),
            product_name: None,
            price,
            currency,
            store,
            transaction_id: None,
            quantity: None,
        }
    }
    /// Sets `product_name`.
    pub fn product_name(mut self, v: impl Into<String>) -> Purchase {
        self.product_name = Some(v.into());
        self
    }
    /// Sets `transaction_id`.
    pub fn transaction_id(mut self, v: impl Into<String>) -> Purchase {
        self.transaction_id = Some(v.into());
        self
    }
    /// Sets `quantity` (≥ 1).
    pub fn quantity(mut self, v: u32) -> Purchase {
        self.quantity = Some(v);
        self
    }
}

/// `session_start`: a play session began (only the common fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStart;

/// `session_end`: a play session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    /// Session length in milliseconds (`duration_ms`).
    pub duration_ms: u64,
}

impl SessionEnd {
    /// A session that lasted `duration_ms`.
    pub fn new(duration_ms: u64) -> SessionEnd {
        SessionEnd { duration_ms }
    }
}

/// `level_start`: a level was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelStart {
    /// Level number (`level`, ≥ 0, at most 2³¹ − 1).
    pub level: u32,
}

impl LevelStart {
    /// Entering `level`.
    pub fn new(level: u32) -> LevelStart {
        LevelStart { level }
    }
}

/// `level_complete`: a level was finished, won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelComplete {
    /// Level number (`level`).
    pub level: u32,
    /// Time spent in milliseconds (`duration_ms`).
    pub duration_ms: u64,
    /// Whether it was won (`success`).
    pub success: bool,
    /// Score (`score`).
    pub score: Option<i64>,
}

impl LevelComplete {
    /// `level` finished after `duration_ms`, won or not.
    pub fn new(level: u32, duration_ms: u64, success: bool) -> LevelComplete {
        LevelComplete { level, duration_ms, success, score: None }
    }
    /// Sets `score`.
    pub fn score(mut self, v: i64) -> LevelComplete {
        self.score = Some(v);
        self
    }
}

/// `ad_watched`: an ad was shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AdWatched {
    /// Where in the game (`placement`), non-empty.
    pub placement: String,
    /// Kind of ad (`ad_type`).
    pub ad_type: AdType,
    /// Revenue (`revenue`, ≥ 0) and its currency (`currency`): the contract requires the
    /// currency whenever revenue is given, so they come as a pair.
    pub revenue: Option<(Decimal, Currency)>,
}

impl AdWatched {
    /// An ad of `ad_type` shown at `placement`.
    pub fn new(placement: impl Into<String>, ad_type: AdType) -> AdWatched {
        AdWatched { placement: placement.into(), ad_type, revenue: None }
    }
    /// Sets `revenue` and `currency`.
    pub fn revenue(mut self, amount: Decimal, currency: Currency) -> AdWatched {
        self.revenue = Some((amount, currency));
        self
    }
}

/// `achievement_unlocked`: an achievement was earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AchievementUnlocked {
    /// Achievement id (`achievement_id`), non-empty.
    pub achievement_id: String,
}

impl AchievementUnlocked {
    /// Unlocking `achievement_id`.
    pub fn new(achievement_id: impl Into<String>) -> AchievementUnlocked {
        AchievementUnlocked { achievement_id: achievement_id.into() }
    }
}

/// What an event is about: one of the eight types with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `install`
    Install(Install),
    /// `purchase`
    Purchase(Purchase),
    /// `session_start`
    SessionStart(SessionStart),
    /// `session_end`
    SessionEnd(SessionEnd),
    /// `level_start`
    LevelStart(LevelStart),
    /// `level_complete`
    LevelComplete(LevelComplete),
    /// `ad_watched`
    AdWatched(AdWatched),
    /// `achievement_unlocked`
    AchievementUnlocked(AchievementUnlocked),
}

/// The `event_type` of every type, in the contract's order.
pub const EVENT_TYPES: [&str; 8] = [
    "install",
    "purchase",
    "session_start",
    "session_end",
    "level_start",
    "level_complete",
    "ad_watched",
    "achievement_unlocked",
];

macro_rules! payload_from {
    ($($t:ident),*) => {
        $(impl From<$t> for Payload {
            fn from(v: $t) -> Payload {
                Payload::$t(v)
            }
        })*
    };
}
payload_from!(
    Install,
    Purchase,
    SessionStart,
    SessionEnd,
    LevelStart,
    LevelComplete,
    AdWatched,
    AchievementUnlocked
);

impl Payload {
    /// The `event_type` value.
    pub fn event_type(&self) -> &'static str {
        match self {
            Payload::Install(_) => "install",
            Payload::Purchase(_) => "purchase",
            Payload::SessionStart(_) => "session_start",
            Payload::SessionEnd(_) => "session_end",
            Payload::LevelStart(_) => "level_start",
            Payload::LevelComplete(_) => "level_complete",
            Payload::AdWatched(_) => "ad_watched",
            Payload::AchievementUnlocked(_) => "achievement_unlocked",
        }
    }

    /// Adds the type's own fields, in schema order (unset options left out).
    pub(crate) fn fields<'a>(&'a self, out: &mut Fields<'a>) {
        use Datum::{Bool, Int, Money, Symbol, Text};
        match self {
            Payload::Install(e) => {
                opt_text(out, "source", e.source.as_ref());
                opt_text(out, "campaign", e.campaign.as_ref());
                opt_text(out, "device_model", e.device_model.as_ref());
                opt_text(out, "os_version", e.os_version.as_ref());
            }
            Payload::Purchase(e) => {
                out.push(("product_id", Text(&e.product_id)));
                opt_text(out, "product_name", e.product_name.as_ref());
                out.push(("price", Money(e.price)));
                out.push(("currency", Text(e.currency.as_str())));
                out.push(("store", Symbol(e.store.as_str())));
                opt_text(out, "transaction_id", e.transaction_id.as_ref());
                if let Some(q) = e.quantity {
                    out.push(("quantity", Int(i64::from(q))));
                }
            }
            Payload::SessionStart(SessionStart) => {}
            Payload::SessionEnd(e) => out.push(("duration_ms", count(e.duration_ms))),
            Payload::LevelStart(e) => out.push(("level", Int(i64::from(e.level)))),
            Payload::LevelComplete(e) => {
                out.push(("level", Int(i64::from(e.level))));
                out.push(("duration_ms", count(e.duration_ms)));
                out.push(("success", Bool(e.success)));
                if let Some(s) = e.score {
                    out.push(("score", Int(s)));
                }
            }
            Payload::AdWatched(e) => {
                out.push(("placement", Text(&e.placement)));
                out.push(("ad_type", Symbol(e.ad_type.as_str())));
                if let Some((amount, currency)) = &e.revenue {
                    out.push(("revenue", Money(*amount)));
                    out.push(("currency", Text(currency.as_str())));
                }
            }
            Payload::AchievementUnlocked(e) => out.push(("achievement_id", Text(&e.achievement_id))),
        }
    }
}
