//! Where the load generator sends: `http://HOST:PORT` (the ingest API, through the client SDK),
//! `kafka://BROKERS/TOPIC` (straight onto the raw topic, JSON or Confluent-framed Avro) or
//! `file://PATH` (NDJSON). Invariant: a record counts as sent only once its target took it (a
//! 202 for its index, a Kafka acknowledgement, a written line); refusals are retried (503 only
//! the indices not accepted, 429 after `Retry-After`) and anything finally refused is counted,
//! never silently dropped.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Outgoing;

/// A parsed `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The ingest service's base URL.
    Http(String),
    /// Brokers and topic.
    Kafka(String, String),
    /// An NDJSON file.
    File(std::path::PathBuf),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Target::Http(s.trim_end_matches('/').to_string()));
        }
        if let Some(rest) = s.strip_prefix("kafka://") {
            if let Some((brokers, topic)) =
                rest.split_once('/').filter(|(b, t)| !b.is_empty() && !t.is_empty())
            {
                return Ok(Target::Kafka(brokers.to_string(), topic.to_string()));
            }
        }
        if let Some(path) = s.strip_prefix("file://").filter(|p| !p.is_empty()) {
            return Ok(Target::File(path.into()));
        }
        Err(format!("expected http://HOST:PORT, kafka://BROKERS/TOPIC or file://PATH, got {s:?}"))
    }
}

/// Why sending stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The file could not be written (not retryable here).
    #[error("cannot write {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The Kafka producer could not be created (a configuration error).
    #[error("cannot create the Kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Live counters of a send.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records the target took.
    pub sent: AtomicU64,
    /// Records the target refused for good (e.g. HTTP 400/413).
    pub refused: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
}

/// Paces sending to `rate` records per second (0: as fast as possible).
#[derive(Debug)]
struct Pace {
    rate: f64,
    started: Instant,
}

impl Pace {
    fn wait(&self, done: u64) {
        if self.rate <= 0.0 {
            return;
        }
        let due = Duration::from_secs_f64(done as f64 / self.rate);
        if let Some(ahead) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

/// Sends every record to `target` (blocking), updating `progress`.
pub fn send(
    records: &[Outgoing],
    target: &Target,
    api_key: Option<&str>,
    rate: f64,
    progress: &Arc<Progress>,
) -> Result<(), SendError> {
    let pace = Pace { rate, started: Instant::now() };
    match target {
        Target::File(path) => {
            let err = |source| SendError::File { path: path.display().to_string(), source };
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
            for (i, r) in records.iter().enumerate() {
                pace.wait(i as u64);
                f.write_all(&r.value).and_then(|()| f.write_all(b"\n")).map_err(err)?;
                progress.sent.fetch_add(1, Ordering::Relaxed);
            }
            f.flush().map_err(err)
        }
        Target::Kafka(brokers, topic) => send_kafka(records, brokers, topic, &pace, progress),
        Target::Http(base) => {
            send_http(records, base, api_key, &pace, progress);
            Ok(())
        }
    }
}

fn send_kafka(
    records: &[Outgoing],
    brokers: &str,
    topic: &str,
    pace: &Pace,
    progress: &Arc<Progress>,
) -> Result<(), SendError> {
    use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
    struct Acks(Arc<Progress>);
    impl rdkafka::ClientContext for Acks {}
    impl ProducerContext for Acks {
        type DeliveryOpaque = ();
        fn delivery(&self, r: &DeliveryResult<'_>, (): ()) {
            let c = if r.is_ok() { &self.0.sent } else { &self.0.refused };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut cc = crate::event::reliable_producer_config(brokers);
    cc.set("linger.ms", "5").set("message.timeout.ms", "300000");
    let producer: ThreadedProducer<Acks> = cc.create_with_context(Acks(progress.clone()))?;
    for (i, r) in records.iter().enumerate() {
        pace.wait(i as u64);
        let mut rec = BaseRecord::to(topic).payload(r.value.as_slice());
        if let Some(k) = &r.key {
            rec = rec.key(k.as_str());
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    progress.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    let _ = producer.flush(Duration::from_secs(300));
    Ok(())
}

/// SDK clients sending at once; each player always goes through the same one, so a player's
/// events keep their order.
const HTTP_CLIENTS: usize = 4;

/// Through the client SDK (`playstream-sdk`): batching, gzip, retries honouring `Retry-After`,
/// only the unaccepted indices resent; a queue that blocks when full, so nothing is dropped for
/// space. Returns once every record is acknowledged or refused for good.
fn send_http(records: &[Outgoing], base: &str, api_key: Option<&str>, pace: &Pace, progress: &Arc<Progress>) {
    use playstream_sdk::RawEvent;
    use playstream_sdk::{Client, ClientConfig, FullPolicy};
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() else {
        progress.refused.fetch_add(records.len() as u64, Ordering::Relaxed);
        return;
    };
    rt.block_on(async {
        let mut clients = Vec::with_capacity(HTTP_CLIENTS);
        for _ in 0..HTTP_CLIENTS {
            let config = ClientConfig {
                flush_interval: Duration::from_millis(50),
                max_queue_events: 20_000,
                max_queue_bytes: 64 * 1024 * 1024,
                full_policy: FullPolicy::Block,
                ..ClientConfig::new(base, api_key.unwrap_or_default())
            };
            match Client::start(config) {
                Ok(c) => clients.push(c),
                Err(e) => tracing::error!(error = %e, "the SDK client could not start"),
            }
        }
        if clients.is_empty() {
            progress.refused.fetch_add(records.len() as u64, Ordering::Relaxed);
            return;
        }
        let report = |clients: &[Client]| {
            let (acked, dropped) = clients
                .iter()
                .map(Client::stats)
                .fold((0, 0), |(a, d), s| (a + s.acknowledged, d + s.dropped_total()));
            progress.sent.store(acked, Ordering::Relaxed);
            progress.refused.store(dropped, Ordering::Relaxed);
        };
        for (i, r) in records.iter().enumerate() {
            if pace.rate > 0.0 {
                let due = Duration::from_secs_f64(i as f64 / pace.rate);
                if let Some(ahead) = due.checked_sub(pace.started.elapsed()) {
                    tokio::time::sleep(ahead).await;
                }
            }
            let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&r.value)
            else {
                progress.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let lane = r.key.as_deref().map_or(i, |k| {
                k.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)))
            });
            let Some(client) = clients.get(lane % clients.len()) else { continue };
            if client.track_raw(RawEvent(map)).await.is_err() {
                progress.refused.fetch_add(1, Ordering::Relaxed);
            }
            if i % 5_000 == 0 {
                report(&clients);
            }
        }
        for c in &clients {
            c.flush().await;
        }
        report(&clients);
        for c in &clients {
            c.shutdown(Duration::from_secs(5)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!("http://127.0.0.1:8080/".parse(), Ok(Target::Http("http://127.0.0.1:8080".into())));
        assert_eq!(
            "kafka://a:9092,b:9092/raw".parse(),
            Ok(Target::Kafka("a:9092,b:9092".into(), "raw".into()))
        );
        assert_eq!("file:///tmp/x.ndjson".parse(), Ok(Target::File("/tmp/x.ndjson".into())));
        assert!("kafka://brokers".parse::<Target>().is_err());
        assert!("s3://b".parse::<Target>().is_err());
    }
}
