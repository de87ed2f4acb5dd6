//! The validator's Prometheus metrics. Labels come only from fixed sets (reject codes, call
//! outcomes, partition numbers), never from error text.

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::health::Dependency;
use super::retry::FailureClass;
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
    /// Age of the oldest undelivered record per partition, seconds.
    pub oldest_undelivered: GaugeVec,
    /// Bytes read but not yet delivered.
    pub in_flight_bytes: IntGauge,
    /// Partitions paused because the in-flight budget is spent.
    pub paused_partitions: IntGauge,
    /// Failed delivery attempts by dependency (`sink`, `rejects`) and class.
    pub delivery_failures: IntCounterVec,
    /// Rejects produced with their value cut to what the topic takes.
    pub rejects_truncated: IntCounter,
    /// Records read under an assignment revoked before they were tracked (the new owner reads
    /// them again).
    pub stale_records: IntCounter,
    /// Offset commits by outcome (`ok`, `error`), as confirmed by the broker.
    pub commits: IntCounterVec,
    /// Rebalance events by kind (`assign`, `revoke`).
    pub rebalances: IntCounterVec,
    /// 1 while a dependency can take work, else 0.
    pub dependency_up: IntGaugeVec,
    /// Schema Registry lookups by outcome.
    pub registry_lookups: IntCounterVec,
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
        let oldest_undelivered = GaugeVec::new(
            Opts::new(
                "playstream_partition_oldest_undelivered_seconds",
                "Age of the oldest record read but not yet delivered, per partition",
            ),
            &["partition"],
        )?;
        let in_flight_bytes =
            IntGauge::new("playstream_in_flight_bytes", "Bytes of records read but not yet delivered")?;
        let paused_partitions = IntGauge::new(
            "playstream_paused_partitions",
            "Partitions paused because the in-flight budget is spent",
        )?;
        let delivery_failures = IntCounterVec::new(
            Opts::new(
                "playstream_delivery_failures_total",
                "Failed delivery attempts by dependency and failure class",
            ),
            &["dependency", "class"],
        )?;
        let rejects_truncated = IntCounter::new(
            "playstream_rejects_truncated_total",
            "Rejects produced with the value cut to what the rejects topic takes",
        )?;
        let stale_records = IntCounter::new(
            "playstream_records_stale_total",
            "Records read under an assignment that was revoked before they were tracked",
        )?;
        let commits = IntCounterVec::new(
            Opts::new("playstream_commits_total", "Offset commits by outcome, as confirmed by the broker"),
            &["outcome"],
        )?;
        let rebalances = IntCounterVec::new(
            Opts::new("playstream_rebalances_total", "Rebalance events by kind"),
            &["kind"],
        )?;
        let dependency_up = IntGaugeVec::new(
            Opts::new("playstream_dependency_up", "1 while a dependency can take work"),
            &["dependency"],
        )?;
        let registry_lookups = IntCounterVec::new(
            Opts::new("playstream_registry_lookups_total", "Schema Registry lookups by outcome"),
            &["outcome"],
        )?;
        for m in [
            &consumed,
            &accepted,
            &firehose_records,
            &firehose_failed_entries,
            &firehose_retries,
            &rejects_truncated,
            &stale_records,
        ] {
            registry.register(Box::new(m.clone()))?;
        }
        registry.register(Box::new(oldest_undelivered.clone()))?;
        registry.register(Box::new(in_flight_bytes.clone()))?;
        registry.register(Box::new(paused_partitions.clone()))?;
        registry.register(Box::new(delivery_failures.clone()))?;
        registry.register(Box::new(commits.clone()))?;
        registry.register(Box::new(rebalances.clone()))?;
        registry.register(Box::new(dependency_up.clone()))?;
        registry.register(Box::new(registry_lookups.clone()))?;
        for d in [Dependency::Sink, Dependency::Rejects] {
            for c in FailureClass::ALL {
                delivery_failures.with_label_values(&[d.code(), c.code()]);
            }
            dependency_up.with_label_values(&[d.code()]).set(1);
        }
        for o in ["ok", "error"] {
            commits.with_label_values(&[o]);
        }
        for k in ["assign", "revoke"] {
            rebalances.with_label_values(&[k]);
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
            oldest_undelivered,
            in_flight_bytes,
            paused_partitions,
            delivery_failures,
            rejects_truncated,
            stale_records,
            commits,
            rebalances,
            dependency_up,
            registry_lookups,
        })
    }

    /// Counts one failed delivery attempt.
    pub fn delivery_failed(&self, d: Dependency, class: FailureClass) {
        self.delivery_failures.with_label_values(&[d.code(), class.code()]).inc();
    }

    /// Removes the per-partition series of a partition no longer owned.
    pub fn forget_partition(&self, partition: i32) {
        let p = partition.to_string();
        let _ = self.committed_offset.remove_label_values(&[&p]);
        let _ = self.lag.remove_label_values(&[&p]);
        let _ = self.oldest_undelivered.remove_label_values(&[&p]);
    }
}
