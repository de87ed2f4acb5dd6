//! Reject reasons: every record the validator refuses carries exactly one [`Reject`] whose
//! [`RejectCode`] is one of the stable codes of the design contract. Codes are never renamed;
//! they are used verbatim as the `reject.reason` header and as a metric label, so the label set
//! is fixed and never built from error text.

use std::fmt;

/// A stable reject reason code (design.md "Reject reason codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    /// The value is not valid JSON (including an empty value, invalid UTF-8, duplicate keys).
    InvalidJson,
    /// The value is JSON but not an object (`null`, an array, a scalar).
    NotAnObject,
    /// A Confluent-framed value whose Avro body cannot be decoded with its writer schema.
    InvalidAvro,
    /// A Confluent frame names a schema id no source knows.
    UnknownSchemaId,
    /// `event_type` is not one of the known event types.
    UnknownEventType,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON/Avro type.
    WrongType,
    /// A value outside a closed set (platform, store, ad_type).
    InvalidEnum,
    /// A field that must be a UUID is not one.
    InvalidUuid,
    /// A timestamp that is not RFC 3339 with an offset.
    InvalidTimestamp,
    /// A timestamp further in the future than the allowed skew.
    TimestampInFuture,
    /// A currency that is not an active ISO 4217 code.
    InvalidCurrency,
    /// A money amount that is not exact at the currency's scale, not positive, or too big.
    InvalidAmount,
    /// A country that is not an ISO 3166-1 alpha-2 code.
    InvalidCountry,
    /// A number or a string length outside its bound.
    OutOfRange,
    /// A record larger than the sink accepts (1,000 KiB for Firehose).
    TooLarge,
    /// A Confluent frame whose writer schema cannot be resolved to ours by Avro's schema
    /// resolution rules (checked once per writer schema id; every record with that id gets it).
    IncompatibleSchema,
}

impl RejectCode {
    /// Every code, in declaration order (for metrics pre-registration and tests).
    pub const ALL: [RejectCode; 17] = [
        RejectCode::InvalidJson,
        RejectCode::NotAnObject,
        RejectCode::InvalidAvro,
        RejectCode::UnknownSchemaId,
        RejectCode::UnknownEventType,
        RejectCode::MissingField,
        RejectCode::WrongType,
        RejectCode::InvalidEnum,
        RejectCode::InvalidUuid,
        RejectCode::InvalidTimestamp,
        RejectCode::TimestampInFuture,
        RejectCode::InvalidCurrency,
        RejectCode::InvalidAmount,
        RejectCode::InvalidCountry,
        RejectCode::OutOfRange,
        RejectCode::TooLarge,
        RejectCode::IncompatibleSchema,
    ];

    /// The wire form used in the `reject.reason` header and as the metric label.
    pub const fn code(self) -> &'static str {
        match self {
            RejectCode::InvalidJson => "invalid_json",
            RejectCode::NotAnObject => "not_an_object",
            RejectCode::InvalidAvro => "invalid_avro",
            RejectCode::UnknownSchemaId => "unknown_schema_id",
            RejectCode::UnknownEventType => "unknown_event_type",
            RejectCode::MissingField => "missing_field",
            RejectCode::WrongType => "wrong_type",
            RejectCode::InvalidEnum => "invalid_enum",
            RejectCode::InvalidUuid => "invalid_uuid",
            RejectCode::InvalidTimestamp => "invalid_timestamp",
            RejectCode::TimestampInFuture => "timestamp_in_future",
            RejectCode::InvalidCurrency => "invalid_currency",
            RejectCode::InvalidAmount => "invalid_amount",
            RejectCode::InvalidCountry => "invalid_country",
            RejectCode::OutOfRange => "out_of_range",
            RejectCode::TooLarge => "too_large",
            RejectCode::IncompatibleSchema => "incompatible_schema",
        }
    }

    /// Parses a wire code back (for the rejects tools).
    pub fn from_code(code: &str) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why one record was refused: a stable code, the JSON path of the field (empty when the
/// record as a whole is at fault), and one human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The stable reason code.
    pub code: RejectCode,
    /// JSON path of the offending field (`$.price`), empty when none.
    pub field: String,
    /// One human sentence saying what is wrong.
    pub detail: String,
    /// Schema the record was checked against (`playstream.events.Purchase v1`), if any.
    pub schema: Option<String>,
}

impl Reject {
    /// A reject about the record as a whole.
    pub fn record(code: RejectCode, detail: impl Into<String>) -> Reject {
        Reject { code, field: String::new(), detail: detail.into(), schema: None }
    }

    /// A reject about one top-level field.
    pub fn field(code: RejectCode, field: &str, detail: impl Into<String>) -> Reject {
        let mut path = String::with_capacity(field.len() + 2);
        path.push_str("$.");
        path.push_str(field);
        Reject { code, field: path, detail: detail.into(), schema: None }
    }

    /// Attaches the schema the record was checked against.
    pub fn with_schema(mut self, schema: String) -> Reject {
        self.schema = Some(schema);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in RejectCode::ALL {
            assert!(seen.insert(code.code()), "duplicate {code}");
            assert_eq!(RejectCode::from_code(code.code()), Some(code));
        }
        assert_eq!(seen.len(), 17);
        assert_eq!(RejectCode::from_code("nope"), None);
    }

    #[test]
    fn field_paths_are_json_paths() {
        let r = Reject::field(RejectCode::InvalidAmount, "price", "too many digits");
        assert_eq!(r.field, "$.price");
        assert_eq!(Reject::record(RejectCode::InvalidJson, "x").field, "");
    }
}
