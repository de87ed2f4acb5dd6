//! One classification of every delivery failure, and the backoff between attempts. Invariant:
//! no failure ever drops a record. A *transient* failure is retried with backoff; a failure
//! *permanent for this record* sends the record down its fallback path (a reject that the topic
//! cannot take as it is goes out truncated and flagged), so the record is still accounted for
//! and its partition moves on; a *fatal* failure (configuration, authorization, a missing
//! stream or topic) makes the process report unready with a clear log line and a metric while
//! it keeps retrying slowly, because only an operator can fix it. Pure: no I/O.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What a retry can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// A later attempt can succeed: retry with backoff.
    Transient,
    /// This record can never be taken as it is: take its fallback path.
    PermanentForRecord,
    /// Nothing will succeed until the configuration or the environment changes: report
    /// unready, retry slowly, never drop.
    Fatal,
}

impl FailureClass {
    /// Every class, for pre-registering metric labels.
    pub const ALL: [FailureClass; 3] =
        [FailureClass::Transient, FailureClass::PermanentForRecord, FailureClass::Fatal];

    /// The stable code used as a metric label.
    pub fn code(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::PermanentForRecord => "permanent",
            FailureClass::Fatal => "fatal",
        }
    }

    /// Backoff before retry `attempt` (1-based) of a failure of this class.
    pub fn backoff(self, attempt: u32) -> Duration {
        match self {
            FailureClass::Transient => backoff(attempt, Duration::from_millis(100), Duration::from_secs(10)),
            FailureClass::PermanentForRecord => Duration::ZERO,
            FailureClass::Fatal => backoff(attempt, Duration::from_secs(1), Duration::from_secs(30)),
        }
    }
}

/// Backoff before retry `attempt` (1-based): full jitter over an exponential ceiling.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    ceiling.mul_f64(fastrand::f64())
}

/// Classifies a failure to produce one record to Kafka.
pub fn classify_kafka(error: &KafkaError) -> FailureClass {
    use RDKafkaErrorCode as C;
    match error.rdkafka_error_code() {
        // The record (value, key and headers together) is over a size limit, or the broker
        // refuses this record's contents.
        Some(C::MessageSizeTooLarge | C::InvalidRecord | C::InvalidMessageSize | C::InvalidMessage) => {
            FailureClass::PermanentForRecord
        }
        Some(
            C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::UnknownTopic
            | C::UnknownTopicOrPartition
            | C::InvalidTopic
            | C::UnknownPartition
            | C::Fatal
            | C::InvalidConfig
            | C::UnsupportedVersion
            | C::InvalidRequiredAcks
            | C::TransactionalIdAuthorizationFailed,
        ) => FailureClass::Fatal,
        _ => FailureClass::Transient,
    }
}

/// Classifies an AWS error by its error code (`__type` / `x-amzn-errortype`, or a per-entry
/// `ErrorCode`) and HTTP status, either of which may be unknown (no answer at all: a timeout
/// or a connection failure, which is transient).
pub fn classify_aws(code: Option<&str>, status: Option<u16>) -> FailureClass {
    let code = code.unwrap_or_default();
    // Codes may come as `Namespace#Code`.
    let code = code.rsplit('#').next().unwrap_or(code);
    match code {
        "ServiceUnavailableException"
        | "ThrottlingException"
        | "InternalFailure"
        | "InternalServerError"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "LimitExceededException" => FailureClass::Transient,
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "MissingAuthenticationToken"
        | "InvalidArgumentException"
        | "ValidationException"
        | "InvalidKMSResourceException"
        | "InvalidSourceException"
        | "ResourceInUseException" => FailureClass::Fatal,
        c if c.starts_with("KMS.") => FailureClass::Fatal,
        _ => match status {
            Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => FailureClass::Fatal,
            _ => FailureClass::Transient,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(20);
        for attempt in 1..40 {
            let d = backoff(attempt, base, cap);
            assert!(d <= cap && d <= base * 2u32.pow(attempt.min(16)));
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| backoff(5, base, cap).as_micros()).collect();
        assert!(spread.len() > 10, "jittered");
        assert!(FailureClass::Fatal.backoff(30) <= Duration::from_secs(30));
    }

    #[test]
    fn kafka_failures() {
        let produce = |c| KafkaError::MessageProduction(c);
        assert_eq!(
            classify_kafka(&produce(RDKafkaErrorCode::MessageSizeTooLarge)),
            FailureClass::PermanentForRecord
        );
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::TopicAuthorizationFailed)), FailureClass::Fatal);
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::UnknownTopicOrPartition)), FailureClass::Fatal);
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::UnknownTopic)), FailureClass::Fatal);
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::MessageTimedOut)), FailureClass::Transient);
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::QueueFull)), FailureClass::Transient);
        assert_eq!(classify_kafka(&produce(RDKafkaErrorCode::NotEnoughReplicas)), FailureClass::Transient);
        assert_eq!(classify_kafka(&KafkaError::Canceled), FailureClass::Transient);
    }

    #[test]
    fn aws_failures() {
        assert_eq!(classify_aws(Some("ServiceUnavailableException"), Some(400)), FailureClass::Transient);
        assert_eq!(classify_aws(Some("ThrottlingException"), Some(400)), FailureClass::Transient);
        assert_eq!(classify_aws(Some("InternalFailure"), Some(500)), FailureClass::Transient);
        assert_eq!(
            classify_aws(Some("com.amazonaws#ResourceNotFoundException"), Some(400)),
            FailureClass::Fatal
        );
        assert_eq!(classify_aws(Some("AccessDeniedException"), Some(400)), FailureClass::Fatal);
        assert_eq!(classify_aws(Some("InvalidArgumentException"), Some(400)), FailureClass::Fatal);
        assert_eq!(classify_aws(Some("KMS.DisabledException"), None), FailureClass::Fatal);
        assert_eq!(classify_aws(None, None), FailureClass::Transient, "no answer: a timeout or a reset");
        assert_eq!(classify_aws(None, Some(503)), FailureClass::Transient);
        assert_eq!(classify_aws(Some("Whatever"), Some(403)), FailureClass::Fatal);
        assert_eq!(classify_aws(Some("Whatever"), Some(429)), FailureClass::Transient);
    }
}
