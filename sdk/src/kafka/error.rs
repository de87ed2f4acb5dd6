//! Every way an emit can fail, classified once: [`EmitError::is_retryable`] says whether the
//! same event, emitted again later, can succeed. Invariant: each variant's message says so in
//! words too, and no message carries registry credentials.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Why an event was not emitted, or the emitter not built.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The configuration cannot work.
    #[error("invalid Kafka emitter configuration: {0} (a retry cannot help)")]
    Config(String),
    /// The event cannot be written with its Avro schema (a field added with
    /// [`EventBuilder::extra`](crate::EventBuilder::extra), which Avro has no place for).
    #[error("cannot write this {event_type} event as Avro ({schema}): {reason} (a retry cannot help)")]
    Encode {
        /// The event's type.
        event_type: &'static str,
        /// The record schema's full name.
        schema: String,
        /// What does not fit.
        reason: String,
    },
    /// The Schema Registry could not be reached or is failing (connection refused, timeout,
    /// HTTP 5xx, 408, 429).
    #[error("the Schema Registry at {url} cannot be used now: {reason} (a retry may help)")]
    RegistryUnavailable {
        /// The registry's base URL (without credentials).
        url: String,
        /// What happened.
        reason: String,
    },
    /// The Schema Registry refused to register the schema (bad credentials, an incompatible
    /// schema under the subject's compatibility rule, an invalid schema).
    #[error(
        "the Schema Registry at {url} refused the schema for subject {subject}: HTTP {status}: {message} (a retry cannot help)"
    )]
    RegistryRefused {
        /// The registry's base URL (without credentials).
        url: String,
        /// The subject the schema was registered under.
        subject: String,
        /// The HTTP status.
        status: u16,
        /// The registry's `error_code`, if it sent one (`409` incompatible, `42201` invalid).
        error_code: Option<i64>,
        /// The registry's message, or the answer's start.
        message: String,
    },
    /// Kafka did not acknowledge the record.
    #[error("Kafka did not acknowledge the record: {source} ({})", if *retryable { "a retry may help" } else { "a retry cannot help" })]
    Kafka {
        /// librdkafka's error.
        source: KafkaError,
        /// Whether emitting the event again can succeed.
        retryable: bool,
    },
}

impl EmitError {
    /// Whether emitting the same event again later can succeed. A retry may duplicate an event
    /// Kafka stored but could not confirm; the pipeline deduplicates by `event_id`.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmitError::Config(_) | EmitError::Encode { .. } | EmitError::RegistryRefused { .. } => false,
            EmitError::RegistryUnavailable { .. } => true,
            EmitError::Kafka { retryable, .. } => *retryable,
        }
    }

    /// A Kafka failure, classified. `rebuilt`: the producer was unusable or stuck and replaced,
    /// so the next emit goes through a fresh one.
    pub(crate) fn kafka(source: KafkaError, rebuilt: bool) -> EmitError {
        let retryable = rebuilt || kafka_retryable(&source);
        EmitError::Kafka { source, retryable }
    }
}

/// Whether a produce failure can go away by itself: timeouts, a full local queue, leader
/// changes and broker outages can; a record over a size limit, refused credentials or ACLs, a
/// topic that does not exist and a configuration librdkafka rejects cannot.
fn kafka_retryable(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    match e {
        // The producer is gone (dropped while the send was pending).
        KafkaError::Canceled => false,
        _ => !matches!(
            e.rdkafka_error_code(),
            Some(
                C::MessageSizeTooLarge
                    | C::InvalidMessageSize
                    | C::InvalidMessage
                    | C::InvalidRecord
                    | C::TopicAuthorizationFailed
                    | C::ClusterAuthorizationFailed
                    | C::SaslAuthenticationFailed
                    | C::Authentication
                    | C::UnknownTopic
                    | C::UnknownTopicOrPartition
                    | C::InvalidTopic
                    | C::InvalidConfig
                    | C::InvalidArgument
                    | C::UnsupportedVersion
                    | C::InvalidRequiredAcks
                    | C::Fatal
            )
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produce_failures_say_whether_a_retry_can_help() {
        let produce = |c| EmitError::kafka(KafkaError::MessageProduction(c), false);
        for c in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::QueueFull,
            RDKafkaErrorCode::NotEnoughReplicas,
        ] {
            let e = produce(c);
            assert!(e.is_retryable() && e.to_string().contains("a retry may help"), "{e}");
        }
        for c in [RDKafkaErrorCode::MessageSizeTooLarge, RDKafkaErrorCode::TopicAuthorizationFailed] {
            let e = produce(c);
            assert!(!e.is_retryable() && e.to_string().contains("a retry cannot help"), "{e}");
        }
        assert!(!produce(RDKafkaErrorCode::Fatal).is_retryable());
        assert!(
            EmitError::kafka(KafkaError::MessageProduction(RDKafkaErrorCode::Fatal), true).is_retryable()
        );
        assert!(!EmitError::kafka(KafkaError::Canceled, false).is_retryable());
    }
}
