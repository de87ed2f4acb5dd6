//! Firehose delivery: one PutRecordBatch call per batch, and on a partial failure only the
//! failed entries are sent again (never the whole batch, so successes are not duplicated), with
//! exponential backoff and full jitter; throttling and errors are retried the same way. A batch
//! is reported delivered only when every entry succeeded — never on a failed entry, never by
//! giving up: if Firehose stays down the call keeps retrying and the sink reports unhealthy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use super::metrics::Metrics;

/// Backoff before retry `attempt` (1-based): full jitter over an exponential ceiling.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    ceiling.mul_f64(fastrand::f64())
}

/// A Firehose delivery stream.
#[derive(Debug, Clone)]
pub struct FirehoseSink {
    client: Client,
    stream: String,
    metrics: Metrics,
    healthy: Arc<AtomicBool>,
}

impl FirehoseSink {
    /// A sink for `stream`, with AWS settings from the standard chain (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials).
    pub async fn new(stream: &str, metrics: Metrics, healthy: Arc<AtomicBool>) -> FirehoseSink {
        let config = aws_config::load_from_env().await;
        FirehoseSink { client: Client::new(&config), stream: stream.to_string(), metrics, healthy }
    }

    /// Delivers every line; returns only when Firehose accepted all of them.
    pub async fn deliver(&self, lines: &[Vec<u8>]) {
        let mut pending: Vec<usize> = (0..lines.len()).collect();
        let mut attempt = 0u32;
        let mut failing_since: Option<Instant> = None;
        while !pending.is_empty() {
            if attempt > 0 {
                self.metrics.firehose_retries.inc();
                tokio::time::sleep(backoff(attempt, Duration::from_millis(100), Duration::from_secs(20)))
                    .await;
            }
            attempt += 1;
            let records: Vec<Record> = pending
                .iter()
                .filter_map(|&i| lines.get(i))
                .filter_map(|l| Record::builder().data(Blob::new(l.clone())).build().ok())
                .collect();
            let started = Instant::now();
            let result = self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.stream)
                .set_records(Some(records))
                .send()
                .await;
            self.metrics.firehose_seconds.observe(started.elapsed().as_secs_f64());
            match result {
                Ok(out) => {
                    self.metrics.firehose_calls.with_label_values(&["ok"]).inc();
                    let responses = out.request_responses();
                    if out.failed_put_count() == 0 && responses.iter().all(|r| r.error_code().is_none()) {
                        self.metrics.firehose_records.inc_by(pending.len() as u64);
                        pending.clear();
                    } else {
                        // Keep exactly the entries whose response carries an error code; an
                        // entry without a response (short answer) counts as failed too.
                        let before = pending.len();
                        pending = pending
                            .iter()
                            .enumerate()
                            .filter(|(pos, _)| responses.get(*pos).is_none_or(|r| r.error_code().is_some()))
                            .map(|(_, i)| *i)
                            .collect();
                        let failed = pending.len();
                        self.metrics.firehose_records.inc_by((before - failed) as u64);
                        self.metrics.firehose_failed_entries.inc_by(failed as u64);
                        tracing::warn!(
                            failed,
                            of = before,
                            "Firehose partial failure; resending only the failed entries"
                        );
                    }
                }
                Err(e) => {
                    self.metrics.firehose_calls.with_label_values(&["error"]).inc();
                    let since = *failing_since.get_or_insert(started);
                    if since.elapsed() > Duration::from_secs(30) {
                        self.healthy.store(false, Ordering::Relaxed);
                    }
                    tracing::warn!(error = %aws_sdk_firehose::error::DisplayErrorContext(&e), attempt, "PutRecordBatch failed; retrying");
                }
            }
        }
        self.healthy.store(true, Ordering::Relaxed);
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
    }
}
