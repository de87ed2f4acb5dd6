//! Firehose delivery: one PutRecordBatch call per batch, and on a partial failure only the
//! failed entries are sent again (never the whole batch, so successes are not duplicated), with
//! exponential backoff and full jitter. Invariant: a batch is reported delivered only when every
//! entry succeeded — never on a failed entry, never by giving up. Every call has an attempt and
//! an operation timeout, so a half-open connection cannot hold a call slot for ever. Failures
//! are classified once ([`classify_aws`]): throttling and service errors are retried quickly;
//! a missing stream, denied access or an invalid request are fatal — the process reports
//! unready with a clear log line and keeps retrying slowly, because only an operator can fix
//! them. Readiness also turns false when no entry has succeeded for `--unhealthy-after` while
//! work is pending (every entry failing counts as no success).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_firehose::Client;
use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_smithy_types::body::SdkBody;

use super::batch::{Batch, Ticket};
use super::health::{Dependency, Health};
use super::metrics::Metrics;
use super::retry::{FailureClass, classify_aws};
use super::wire::Frame;

/// Timeouts of Firehose calls.
#[derive(Debug, Clone, Copy)]
pub struct FirehoseTimeouts {
    /// Longest one HTTP attempt may take (connect, send, answer).
    pub attempt: Duration,
    /// Longest a whole call may take.
    pub operation: Duration,
}

/// Why the delivery stream cannot be used (checked at start).
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    /// Firehose says the stream or the credentials are wrong: not retryable without a
    /// configuration change.
    #[error("Firehose delivery stream {stream:?} cannot be used: {reason}")]
    Misconfigured {
        /// The stream.
        stream: String,
        /// What Firehose said.
        reason: String,
    },
}

/// A Firehose delivery stream.
#[derive(Debug, Clone)]
pub struct FirehoseSink {
    client: Client,
    stream: String,
    /// The PutRecordBatch body's frame for this stream (its name serialised once).
    frame: Arc<Frame>,
    metrics: Metrics,
    health: Arc<Health>,
}

impl FirehoseSink {
    /// A sink for `stream`, with AWS settings from the standard chain (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials). The SDK's own retries are off: every failure is
    /// classified and retried here, in one place.
    pub async fn new(
        stream: &str,
        timeouts: FirehoseTimeouts,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> FirehoseSink {
        let timeout = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3).min(timeouts.attempt))
            .operation_attempt_timeout(timeouts.attempt)
            .operation_timeout(timeouts.operation)
            .build();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeout)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        FirehoseSink {
            client: Client::new(&config),
            stream: stream.to_string(),
            frame: Arc::new(Frame::put_record_batch(stream)),
            metrics,
            health,
        }
    }

    /// How a batch's entries are framed into a request body for this stream.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Startup check (DescribeDeliveryStream): a stream that does not exist or may not be used
    /// is an error; an endpoint that does not answer is only logged (deliveries will retry, and
    /// readiness tells the rest).
    pub async fn healthcheck(&self) -> Result<(), FirehoseError> {
        match self.client.describe_delivery_stream().delivery_stream_name(&self.stream).send().await {
            Ok(out) => {
                let status = out
                    .delivery_stream_description()
                    .map(|d| d.delivery_stream_status().as_str().to_string());
                if status.as_deref() != Some("ACTIVE") {
                    tracing::warn!(stream = %self.stream, ?status, "the Firehose delivery stream is not ACTIVE yet");
                }
                Ok(())
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match classify_aws(e.code(), status) {
                    FailureClass::Fatal => Err(FirehoseError::Misconfigured {
                        stream: self.stream.clone(),
                        reason: format!(
                            "{} ({})",
                            e.code().unwrap_or("error"),
                            e.message().unwrap_or("no message")
                        ),
                    }),
                    _ => {
                        tracing::warn!(stream = %self.stream, error = %crate::telemetry::error_chain(&e), "Firehose did not answer DescribeDeliveryStream; starting anyway");
                        Ok(())
                    }
                }
            }
        }
    }

    /// Delivers every entry of `batch` (Firehose-encoded, see [`super::wire`]); returns only
    /// when Firehose accepted all of them.
    pub async fn deliver(&self, batch: Batch) -> Vec<Ticket> {
        let Batch { buf, ranges, tickets, .. } = batch;
        // The first attempt sends the batch's body as it is; a resend frames the failed entries.
        let full = bytes::Bytes::from(buf);
        let mut pending: Vec<usize> = (0..tickets.len()).collect();
        let mut attempt = 0u32;
        let mut class = FailureClass::Transient;
        self.health.started(Dependency::Sink);
        while !pending.is_empty() {
            if attempt > 0 {
                self.metrics.firehose_retries.inc();
                tokio::time::sleep(class.backoff(attempt)).await;
            }
            attempt += 1;
            // The request body is written here from the encoded entries (one copy, no per-record
            // allocation) and put in place of the SDK's own before it signs the request; the
            // SDK still signs, times out and parses the answer.
            let body = if pending.len() == ranges.len() {
                full.clone()
            } else {
                bytes::Bytes::from(self.frame.body(&full, pending.iter().filter_map(|&i| ranges.get(i))))
            };
            let started = Instant::now();
            let result = self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.stream)
                .set_records(Some(Vec::new()))
                .customize()
                .mutate_request(move |req| {
                    let len = body.len().to_string();
                    *req.body_mut() = SdkBody::from(body.clone());
                    req.headers_mut().insert("content-length", len);
                })
                .send()
                .await;
            self.metrics.firehose_seconds.observe(started.elapsed().as_secs_f64());
            match result {
                Ok(out) => {
                    self.metrics.firehose_calls.with_label_values(&["ok"]).inc();
                    let responses = out.request_responses();
                    if out.failed_put_count() == 0 && responses.iter().all(|r| r.error_code().is_none()) {
                        self.metrics.firehose_records.inc_by(pending.len() as u64);
                        self.health.succeeded(Dependency::Sink);
                        pending.clear();
                        continue;
                    }
                    // Keep exactly the entries whose response carries an error code; an entry
                    // without a response (short answer) counts as failed too.
                    let before = pending.len();
                    let mut worst = FailureClass::Transient;
                    pending = pending
                        .iter()
                        .enumerate()
                        .filter(|(pos, _)| {
                            let failed = responses.get(*pos).is_none_or(|r| r.error_code().is_some());
                            if failed
                                && classify_aws(responses.get(*pos).and_then(|r| r.error_code()), None)
                                    == FailureClass::Fatal
                            {
                                worst = FailureClass::Fatal;
                            }
                            failed
                        })
                        .map(|(_, i)| *i)
                        .collect();
                    let failed = pending.len();
                    if failed < before {
                        self.health.succeeded(Dependency::Sink);
                    } else if worst == FailureClass::Fatal {
                        self.health.fatal(Dependency::Sink);
                    }
                    class = worst;
                    self.metrics.firehose_records.inc_by((before - failed) as u64);
                    self.metrics.firehose_failed_entries.inc_by(failed as u64);
                    self.metrics.delivery_failed(Dependency::Sink, class);
                    let code = responses.iter().find_map(|r| r.error_code()).unwrap_or("none");
                    tracing::warn!(
                        failed,
                        of = before,
                        code,
                        "Firehose partial failure; resending only the failed entries"
                    );
                }
                Err(e) => {
                    self.metrics.firehose_calls.with_label_values(&["error"]).inc();
                    class = classify_aws(e.code(), e.raw_response().map(|r| r.status().as_u16()));
                    self.metrics.delivery_failed(Dependency::Sink, class);
                    let error = crate::telemetry::error_chain(&e);
                    if class == FailureClass::Fatal {
                        self.health.fatal(Dependency::Sink);
                        tracing::error!(stream = %self.stream, %error, attempt, "Firehose refuses PutRecordBatch; unready, retrying slowly (check the stream, region and credentials)");
                    } else {
                        tracing::warn!(%error, attempt, "PutRecordBatch failed; retrying");
                    }
                }
            }
        }
        self.health.finished(Dependency::Sink);
        tickets
    }
}
