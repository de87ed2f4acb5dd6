//! Typed events. An [`Event`] is immutable once built: its `event_id` (a UUIDv7, time-ordered)
//! is fixed at creation and is what the pipeline deduplicates on, so every retry of an event
//! carries the same id. [`Event::to_json`] writes exactly the JSON contract of design.md: flat
//! object, RFC 3339 UTC timestamps with `Z`, money as decimal strings (`"4.99"`, never a
//! float), unset optional fields omitted.

mod fields;
mod types;
mod values;

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use uuid::Uuid;

pub(crate) use fields::{Datum, Fields};

pub use types::{
    AchievementUnlocked, AdWatched, EVENT_TYPES, Install, LevelComplete, LevelStart, Payload, Purchase,
    SessionEnd, SessionStart,
};
pub use values::{AdType, Country, Currency, Platform, Store, Timestamp};

/// Why an event cannot be built. Retrying cannot help: the event itself must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A required field was not given.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A field's value is outside what the contract allows.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An extra field has the name of a field the event type already has.
    #[error("extra field {0:?} has the name of a schema field; set it through the typed API")]
    ExtraShadowsField(String),
}

/// Fields most events of one player share: set once, then stamp events with
/// [`EventContext::event`].
#[derive(Debug, Clone, PartialEq)]
pub struct EventContext {
    /// Player id (`user_id`, 1–128 characters).
    pub user_id: String,
    /// Game id (`game_id`, 1–128 characters).
    pub game_id: String,
    /// Client platform (`platform`).
    pub platform: Platform,
    /// Client build (`app_version`, non-empty).
    pub app_version: String,
    /// Current session (`session_id`): required on every type but `install`.
    pub session_id: Option<String>,
    /// Player's country (`country`).
    pub country: Option<Country>,
}

impl EventContext {
    /// A context for one player of one game build, with no session yet.
    pub fn new(
        user_id: impl Into<String>,
        game_id: impl Into<String>,
        platform: Platform,
        app_version: impl Into<String>,
    ) -> EventContext {
        EventContext {
            user_id: user_id.into(),
            game_id: game_id.into(),
            platform,
            app_version: app_version.into(),
            session_id: None,
            country: None,
        }
    }

    /// Sets the session id.
    pub fn session(mut self, session_id: impl Into<String>) -> EventContext {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the country.
    pub fn country(mut self, country: Country) -> EventContext {
        self.country = Some(country);
        self
    }

    /// A builder for `payload` with this context's fields filled in.
    pub fn event(&self, payload: impl Into<Payload>) -> EventBuilder {
        let mut b = Event::builder(payload)
            .user_id(self.user_id.clone())
            .game_id(self.game_id.clone())
            .platform(self.platform)
            .app_version(self.app_version.clone());
        b.session_id.clone_from(&self.session_id);
        b.country = self.country;
        b
    }
}

/// Builds an [`Event`]; [`EventBuilder::build`] checks every field against the contract.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    payload: Payload,
    timestamp: Option<Timestamp>,
    user_id: Option<String>,
    game_id: Option<String>,
    platform: Option<Platform>,
    app_version: Option<String>,
    session_id: Option<String>,
    country: Option<Country>,
    extra: Map<String, Value>,
}

impl EventBuilder {
    /// Sets `user_id`.
    pub fn user_id(mut self, v: impl Into<String>) -> EventBuilder {
        self.user_id = Some(v.into());
        self
    }
    /// Sets `game_id`.
    pub fn game_id(mut self, v: impl Into<String>) -> EventBuilder {
        self.game_id = Some(v.into());
        self
    }
    /// Sets `platform`.
    pub fn platform(mut self, v: Platform) -> EventBuilder {
        self.platform = Some(v);
        self
    }
    /// Sets `app_version`.
    pub fn app_version(mut self, v: impl Into<String>) -> EventBuilder {
        self.app_version = Some(v.into());
        self
    }
    /// Sets `session_id`.
    pub fn session_id(mut self, v: impl Into<String>) -> EventBuilder {
        self.session_id = Some(v.into());
        self
    }
    /// Sets `country`.
    pub fn country(mut self, v: Country) -> EventBuilder {
        self.country = Some(v);
        self
    }
    /// Sets when it happened (default: when [`build`](EventBuilder::build) is called).
    pub fn timestamp(mut self, v: Timestamp) -> EventBuilder {
        self.timestamp = Some(v);
        self
    }
    /// Adds a field the schemas do not have yet; the service keeps it verbatim under `_extra`.
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> EventBuilder {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The event, with a new UUIDv7 `event_id`, or what is wrong with it.
    pub fn build(self) -> Result<Event, EventError> {
        let user_id = bounded("user_id", self.user_id, 128)?;
        let game_id = bounded("game_id", self.game_id, 128)?;
        let platform = self.platform.ok_or(EventError::Missing("platform"))?;
        let app_version = bounded("app_version", self.app_version, usize::MAX)?;
        let session_id = match (self.session_id, &self.payload) {
            (None, Payload::Install(_)) => None,
            (s, _) => Some(bounded("session_id", s, usize::MAX)?),
        };
        check_payload(&self.payload)?;
        let event = Event {
            event_id: Uuid::now_v7(),
            timestamp: self.timestamp.unwrap_or_else(Timestamp::now),
            user_id,
            game_id,
            platform,
            app_version,
            session_id,
            country: self.country,
            payload: self.payload,
            extra: Map::new(),
        };
        let known = event.to_map();
        if let Some(name) = self.extra.keys().find(|k| known.contains_key(k.as_str())) {
            return Err(EventError::ExtraShadowsField(name.clone()));
        }
        Ok(Event { extra: self.extra, ..event })
    }
}

fn bounded(field: &'static str, v: Option<String>, max_chars: usize) -> Result<String, EventError> {
    let v = v.ok_or(EventError::Missing(field))?;
    let n = v.chars().count();
    if n == 0 || n > max_chars {
        let reason = format!("must be 1–{max_chars} characters, is {n}");
        return Err(EventError::Invalid { field, reason });
    }
    Ok(v)
}

fn non_empty(field: &'static str, v: &str) -> Result<(), EventError> {
    if v.is_empty() { Err(EventError::Invalid { field, reason: "must not be empty".into() }) } else { Ok(()) }
}

/// At most 12 integer digits and 6 decimals (the schemas' `decimal(18, 6)`), `> 0` or `≥ 0`.
fn money(field: &'static str, v: Decimal, zero_ok: bool) -> Result<(), EventError> {
    let bad = |reason: &str| Err(EventError::Invalid { field, reason: reason.to_string() });
    if v.is_sign_negative() && !v.is_zero() || (!zero_ok && v.is_zero()) {
        return bad(if zero_ok { "must be ≥ 0" } else { "must be > 0" });
    }
    if v.normalize().scale() > 6 {
        return bad("has more than 6 decimals");
    }
    if v.abs() >= Decimal::from(1_000_000_000_000_i64) {
        return bad("has more than 12 integer digits");
    }
    Ok(())
}

fn int_range(field: &'static str, v: u64, min: u64, max: u64) -> Result<(), EventError> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(EventError::Invalid { field, reason: format!("must be {min}–{max}, is {v}") })
    }
}

const I32_MAX: u64 = i32::MAX as u64;
const I64_MAX: u64 = i64::MAX as u64;

fn check_payload(p: &Payload) -> Result<(), EventError> {
    match p {
        Payload::Install(_) | Payload::SessionStart(_) => Ok(()),
        Payload::Purchase(e) => {
            non_empty("product_id", &e.product_id)?;
            money("price", e.price, false)?;
            e.quantity.map_or(Ok(()), |q| int_range("quantity", u64::from(q), 1, I32_MAX))
        }
        Payload::SessionEnd(e) => int_range("duration_ms", e.duration_ms, 0, I64_MAX),
        Payload::LevelStart(e) => int_range("level", u64::from(e.level), 0, I32_MAX),
        Payload::LevelComplete(e) => {
            int_range("level", u64::from(e.level), 0, I32_MAX)?;
            int_range("duration_ms", e.duration_ms, 0, I64_MAX)
        }
        Payload::AdWatched(e) => {
            non_empty("placement", &e.placement)?;
            e.revenue.map_or(Ok(()), |(amount, _)| money("revenue", amount, true))
        }
        Payload::AchievementUnlocked(e) => non_empty("achievement_id", &e.achievement_id),
    }
}

/// One game event, ready to send. Built with [`Event::builder`] or [`EventContext::event`].
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    event_id: Uuid,
    timestamp: Timestamp,
    user_id: String,
    game_id: String,
    platform: Platform,
    app_version: String,
    session_id: Option<String>,
    country: Option<Country>,
    payload: Payload,
    extra: Map<String, Value>,
}

impl Event {
    /// A builder for an event about `payload`; the common fields are set on the builder.
    pub fn builder(payload: impl Into<Payload>) -> EventBuilder {
        EventBuilder {
            payload: payload.into(),
            timestamp: None,
            user_id: None,
            game_id: None,
            platform: None,
            app_version: None,
            session_id: None,
            country: None,
            extra: Map::new(),
        }
    }

    /// The event's id (UUIDv7), fixed at creation and kept across every retry.
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }
    /// When it happened.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    /// The player.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    /// The type-specific part.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Every field the schema has that this event sets, typed, in schema order (extra fields
    /// not included).
    pub(crate) fn fields(&self) -> Fields<'_> {
        let mut out: Fields<'_> = Vec::with_capacity(16);
        out.push(("event_id", Datum::Uuid(self.event_id)));
        out.push(("event_type", Datum::Symbol(self.payload.event_type())));
        out.push(("timestamp", Datum::Time(self.timestamp)));
        out.push(("user_id", Datum::Text(&self.user_id)));
        out.push(("game_id", Datum::Text(&self.game_id)));
        out.push(("platform", Datum::Symbol(self.platform.as_str())));
        out.push(("app_version", Datum::Text(&self.app_version)));
        fields::opt_text(&mut out, "session_id", self.session_id.as_ref());
        if let Some(c) = &self.country {
            out.push(("country", Datum::Text(c.as_str())));
        }
        self.payload.fields(&mut out);
        out
    }

    /// Fields added with [`EventBuilder::extra`].
    #[cfg(feature = "kafka")]
    pub(crate) fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    fn to_map(&self) -> Map<String, Value> {
        self.fields().into_iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
    }

    /// The event as a JSON object of the contract (extra fields included).
    pub fn to_value(&self) -> Value {
        let mut m = self.to_map();
        m.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(m)
    }

    /// The event as the JSON bytes sent to the ingest service.
    pub fn to_json(&self) -> Vec<u8> {
        self.to_value().to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests;
