//! The emitter's settings and the producer configuration made from them. Invariant: whatever
//! overrides are given, the producer waits for every in-sync replica (`acks=all`) and is
//! idempotent with at most 5 requests in flight per connection, so an acknowledged emit is
//! durable and the records of one key stay in the order they were emitted; an override that
//! would weaken this is refused, not applied.

use std::fmt;
use std::time::Duration;

use super::error::EmitError;
use super::{KafkaEmitter, SubjectStrategy};

/// Settings of a [`KafkaEmitter`]; made by [`KafkaEmitter::builder`], finished by
/// [`KafkaConfig::build`].
#[derive(Clone)]
pub struct KafkaConfig {
    /// Kafka bootstrap servers (`host:port[,host:port…]`).
    pub brokers: String,
    /// The topic every event is produced to (the pipeline's raw topic, `game-events.raw`).
    pub topic: String,
    /// Base URL of the Confluent-compatible Schema Registry (`http://localhost:8081`).
    pub registry_url: String,
    /// Basic-auth credentials for the registry (`user`, `password`); never shown by `Debug`.
    pub registry_auth: Option<(String, String)>,
    /// How registry subjects are named (default [`SubjectStrategy::TopicName`]: `<topic>-value`).
    pub subject_strategy: SubjectStrategy,
    /// Longest a queued record waits for Kafka's ack before emit fails, retryably (default 30 s).
    pub delivery_timeout: Duration,
    /// Longest one Schema Registry request may take (default 10 s).
    pub registry_timeout: Duration,
    /// Produce requests in flight per broker connection, 1–5 (default 5; order is kept at any).
    pub max_in_flight: u32,
    /// Records the producer queues at most; emit waits up to `delivery_timeout` for room (100,000).
    pub max_queued: u32,
    /// librdkafka properties set after the emitter's own (`sasl.*`…); none may weaken acks/idempotence.
    pub overrides: Vec<(String, String)>,
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("registry_url", &self.registry_url)
            .field("registry_auth", &self.registry_auth.as_ref().map(|(user, _)| (user, "…")))
            .field("subject_strategy", &self.subject_strategy)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("registry_timeout", &self.registry_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_queued", &self.max_queued)
            .field("overrides", &self.overrides.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl KafkaConfig {
    /// Settings with every default, for `topic` on `brokers` through the registry at
    /// `registry_url`.
    pub fn new(
        brokers: impl Into<String>,
        topic: impl Into<String>,
        registry_url: impl Into<String>,
    ) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.into(),
            topic: topic.into(),
            registry_url: registry_url.into(),
            registry_auth: None,
            subject_strategy: SubjectStrategy::TopicName,
            delivery_timeout: Duration::from_secs(30),
            registry_timeout: Duration::from_secs(10),
            max_in_flight: 5,
            max_queued: 100_000,
            overrides: Vec::new(),
        }
    }

    /// Sets a librdkafka property (applied after the emitter's own).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> KafkaConfig {
        self.overrides.push((key.into(), value.into()));
        self
    }

    /// Sets the registry's basic-auth credentials.
    pub fn registry_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> KafkaConfig {
        self.registry_auth = Some((user.into(), password.into()));
        self
    }

    /// Sets how subjects are named.
    pub fn subject_strategy(mut self, strategy: SubjectStrategy) -> KafkaConfig {
        self.subject_strategy = strategy;
        self
    }

    /// Sets how long an emit waits for Kafka's acknowledgement.
    pub fn delivery_timeout(mut self, timeout: Duration) -> KafkaConfig {
        self.delivery_timeout = timeout;
        self
    }

    /// Sets how long one Schema Registry request may take.
    pub fn registry_timeout(mut self, timeout: Duration) -> KafkaConfig {
        self.registry_timeout = timeout;
        self
    }

    /// Sets the produce requests in flight per connection (1–5).
    pub fn max_in_flight(mut self, n: u32) -> KafkaConfig {
        self.max_in_flight = n;
        self
    }

    /// The emitter (the producer is created; nothing is sent and no schema registered yet).
    pub fn build(self) -> Result<KafkaEmitter, EmitError> {
        KafkaEmitter::new(self)
    }

    /// The producer configuration, or why these settings cannot work.
    pub(crate) fn producer_config(&self) -> Result<rdkafka::ClientConfig, EmitError> {
        let bad = |why: String| Err(EmitError::Config(why));
        if self.brokers.trim().is_empty() {
            return bad("no brokers given".into());
        }
        if self.topic.is_empty() {
            return bad("no topic given".into());
        }
        if !(1..=5).contains(&self.max_in_flight) {
            return bad(format!(
                "max_in_flight must be 1–5 for an idempotent producer, is {}",
                self.max_in_flight
            ));
        }
        let timeout_ms = self.delivery_timeout.as_millis();
        if timeout_ms == 0 || timeout_ms > i32::MAX as u128 {
            return bad(format!("delivery_timeout must be 1 ms to 24 days, is {:?}", self.delivery_timeout));
        }
        let mut cc = rdkafka::ClientConfig::new();
        cc.set("bootstrap.servers", &self.brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("max.in.flight.requests.per.connection", self.max_in_flight.to_string())
            .set("message.timeout.ms", timeout_ms.to_string())
            .set("queue.buffering.max.messages", self.max_queued.max(1).to_string())
            .set("compression.type", "lz4")
            .set("linger.ms", "5");
        for (key, value) in &self.overrides {
            let weakens = match key.as_str() {
                "acks" | "request.required.acks" => !matches!(value.as_str(), "all" | "-1"),
                "enable.idempotence" => value != "true",
                "max.in.flight.requests.per.connection" | "max.in.flight" => {
                    !value.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n))
                }
                _ => false,
            };
            if weakens {
                return bad(format!(
                    "{key}={value} would weaken acks=all / idempotence, which emit relies on"
                ));
            }
            cc.set(key, value);
        }
        Ok(cc)
    }
}
