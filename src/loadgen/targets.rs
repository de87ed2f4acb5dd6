//! Where the load generator sends: `http://HOST:PORT` (the ingest API, batches of up to 500),
//! `kafka://BROKERS/TOPIC` (straight onto the raw topic, JSON or Confluent-framed Avro) or
//! `file://PATH` (NDJSON). Invariant: a record counts as sent only once its target took it (a
//! 202 for its index, a Kafka acknowledgement, a written line); refusals are retried (503 only
//! the indices not accepted, 429 after `Retry-After`) and anything finally refused is counted,
//! never silently dropped.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// Batches of up to 500 records, four requests in flight.
fn send_http(records: &[Outgoing], base: &str, api_key: Option<&str>, pace: &Pace, progress: &Arc<Progress>) {
    let url = format!("{base}/v1/events");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let batches: Vec<&[Outgoing]> = records.chunks(500).collect();
    let next = Arc::new(Mutex::new(0usize));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (next, agent, url, batches) = (next.clone(), agent.clone(), url.as_str(), &batches);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(batch) = batches.get(i) else { return };
                    pace.wait(i as u64 * 500);
                    post_batch(&agent, url, api_key, batch, progress);
                }
            });
        }
    });
}

/// Posts one batch until every record is accepted or refused for good.
fn post_batch(
    agent: &ureq::Agent,
    url: &str,
    api_key: Option<&str>,
    batch: &[Outgoing],
    progress: &Progress,
) {
    let mut pending: Vec<&Outgoing> = batch.iter().collect();
    let mut attempt = 0u32;
    while !pending.is_empty() {
        let mut body = Vec::with_capacity(pending.iter().map(|r| r.value.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, r) in pending.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&r.value);
        }
        body.push(b']');
        let mut req = agent.post(url).set("Content-Type", "application/json");
        if let Some(k) = api_key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let (status, retry_after, json) = match req.send_bytes(&body) {
            Ok(r) => (r.status(), None, r.into_string().ok()),
            Err(ureq::Error::Status(code, r)) => {
                let retry = r.header("retry-after").and_then(|v| v.parse::<u64>().ok());
                (code, retry, r.into_string().ok())
            }
            Err(_) => (0, None, None),
        };
        let answer: serde_json::Value = json.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        match status {
            202 => {
                progress.sent.fetch_add(pending.len() as u64, Ordering::Relaxed);
                return;
            }
            400 | 413 if answer.get("index").is_some_and(serde_json::Value::is_u64) => {
                // One event refused for good; the rest are sent again.
                let index = answer.get("index").and_then(serde_json::Value::as_u64).unwrap_or(0);
                let bad = usize::try_from(index).unwrap_or(0);
                pending.remove(bad.min(pending.len().saturating_sub(1)));
                progress.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            400 | 401 | 413 | 415 => {
                progress.refused.fetch_add(pending.len() as u64, Ordering::Relaxed);
                return;
            }
            503 if answer.get("not_accepted").is_some_and(serde_json::Value::is_array) => {
                let again: Vec<usize> = answer
                    .get("not_accepted")
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter().filter_map(|v| v.as_u64()).filter_map(|v| usize::try_from(v).ok()).collect()
                    })
                    .unwrap_or_default();
                progress
                    .sent
                    .fetch_add((pending.len() - again.len().min(pending.len())) as u64, Ordering::Relaxed);
                pending = again.into_iter().filter_map(|i| pending.get(i).copied()).collect();
            }
            _ => {}
        }
        attempt += 1;
        progress.retries.fetch_add(1, Ordering::Relaxed);
        let wait = retry_after.map(Duration::from_secs).unwrap_or_else(|| {
            crate::pipeline::retry::backoff(attempt, Duration::from_millis(100), Duration::from_secs(5))
        });
        std::thread::sleep(wait);
    }
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
