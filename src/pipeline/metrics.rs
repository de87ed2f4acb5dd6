//! The validator's Prometheus metrics. Labels come only from fixed sets (reject codes, call
//! outcomes, partition numbers), never from error text.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::validate::RejectCode;

/// All validator metrics, registered on one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry serving `/metrics`.
    pub registry: Registry,
    /// Records read from the raw topic.
    pub consumed: IntCounter,
    /// Records delivered to the sink.
    pub accepted: IntCounter,
    /// Records delivered to the rejects topic, by reason code.
    pub rejected: IntCounterVec,
    /// PutRecordBatch calls by outcome (`ok`, `error`).
    pub firehose_calls: IntCounterVec,
    /// Records Firehose accepted.
    pub firehose_records: IntCounter,
    /// Entries Firehose reported failed (each is resent).
    pub firehose_failed_entries: IntCounter,
    /// PutRecordBatch retries.
    pub firehose_retries: IntCounter,
    /// PutRecordBatch latency.
    pub firehose_seconds: Histogram,
    /// Offset commit latency.
    pub commit_seconds: Histogram,
    /// Records read but not yet delivered.
    pub in_flight: IntGauge,
    /// Last committed offset per partition.
    pub committed_offset: IntGaugeVec,
    /// High watermark minus committed offset per partition.
    pub lag: IntGaugeVec,
}

impl Metrics {
    /// Creates and registers every metric (reject codes pre-registered at zero).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let consumed =
            IntCounter::new("playstream_records_consumed_total", "Records read from the raw topic")?;
        let accepted = IntCounter::new("playstream_records_accepted_total", "Records delivered to the sink")?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "playstream_records_rejected_total",
                "Records delivered to the rejects topic, by reason",
            ),
            &["reason"],
        )?;
        let firehose_calls = IntCounterVec::new(
            Opts::new("playstream_firehose_calls_total", "PutRecordBatch calls by outcome"),
            &["outcome"],
        )?;
        let firehose_records =
            IntCounter::new("playstream_firehose_records_total", "Records Firehose accepted")?;
        let firehose_failed_entries =
            IntCounter::new("playstream_firehose_failed_entries_total", "Entries Firehose reported failed")?;
        let firehose_retries =
            IntCounter::new("playstream_firehose_retries_total", "PutRecordBatch retries")?;
        let buckets = vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let firehose_seconds = Histogram::with_opts(
            HistogramOpts::new("playstream_firehose_call_seconds", "PutRecordBatch latency")
                .buckets(buckets.clone()),
        )?;
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("playstream_commit_seconds", "Offset commit latency").buckets(buckets),
        )?;
        let in_flight = IntGauge::new("playstream_in_flight_records", "Records read but not yet delivered")?;
        let committed_offset = IntGaugeVec::new(
            Opts::new("playstream_partition_committed_offset", "Last committed offset per partition"),
            &["partition"],
        )?;
        let lag = IntGaugeVec::new(
            Opts::new("playstream_partition_lag", "High watermark minus committed offset per partition"),
            &["partition"],
        )?;
        for m in [&consumed, &accepted, &firehose_records, &firehose_failed_entries, &firehose_retries] {
            registry.register(Box::new(m.clone()))?;
        }
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(firehose_calls.clone()))?;
        registry.register(Box::new(firehose_seconds.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(committed_offset.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        for code in RejectCode::ALL {
            rejected.with_label_values(&[code.code()]);
        }
        Ok(Metrics {
            registry,
            consumed,
            accepted,
            rejected,
            firehose_calls,
            firehose_records,
            firehose_failed_entries,
            firehose_retries,
            firehose_seconds,
            commit_seconds,
            in_flight,
            committed_offset,
            lag,
        })
    }
}
