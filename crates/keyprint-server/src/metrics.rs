//! Prometheus metrics, served at `GET /metrics` in the text exposition format (version 0.0.4).
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `keyprint_ingest_batches_total` | counter | `outcome` (`accepted`, `rejected`) | `POST /v1/records` answers |
//! | `keyprint_ingest_records_total` | counter | | records in accepted batches |
//! | `keyprint_ingest_seconds` | histogram | | time to validate, score and durably store one batch (the request) |
//! | `keyprint_rejected_requests_total` | counter | `code` (the API's error code) | every 4xx/5xx answer |
//! | `keyprint_sink_backlog` | gauge | `sink` | undelivered outbox rows |
//! | `keyprint_sink_delivered_total` | counter | `sink` | alerts delivered |
//! | `keyprint_sink_failures_total` | counter | `sink` | failed delivery attempts |
//! | `keyprint_sink_tasks` | gauge | | running sink delivery tasks (one per configured sink) |
//!
//! Each server has its own registry (no process globals), so two servers in one process count apart.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// `POST /v1/records` answers by outcome.
    pub ingest_batches: IntCounterVec,
    /// Records in accepted batches.
    pub ingest_records: IntCounter,
    /// Ingest (scoring) latency.
    pub ingest_seconds: Histogram,
    /// Error answers by code.
    pub rejected: IntCounterVec,
    /// Undelivered rows per sink.
    pub sink_backlog: IntGaugeVec,
    /// Delivered alerts per sink.
    pub sink_delivered: IntCounterVec,
    /// Failed attempts per sink.
    pub sink_failures: IntCounterVec,
    /// Running sink tasks.
    pub sink_tasks: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let ingest_batches = IntCounterVec::new(
            Opts::new("keyprint_ingest_batches_total", "POST /v1/records answers"),
            &["outcome"],
        )
        .expect("valid metric");
        let ingest_records = IntCounter::new(
            "keyprint_ingest_records_total",
            "records in accepted batches",
        )
        .expect("valid metric");
        let ingest_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "keyprint_ingest_seconds",
                "time to validate, score and store one batch",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )
        .expect("valid metric");
        let rejected = IntCounterVec::new(
            Opts::new("keyprint_rejected_requests_total", "error answers by code"),
            &["code"],
        )
        .expect("valid metric");
        let sink_backlog = IntGaugeVec::new(
            Opts::new("keyprint_sink_backlog", "undelivered outbox rows"),
            &["sink"],
        )
        .expect("valid metric");
        let sink_delivered = IntCounterVec::new(
            Opts::new("keyprint_sink_delivered_total", "alerts delivered"),
            &["sink"],
        )
        .expect("valid metric");
        let sink_failures = IntCounterVec::new(
            Opts::new("keyprint_sink_failures_total", "failed delivery attempts"),
            &["sink"],
        )
        .expect("valid metric");
        let sink_tasks = IntGauge::new("keyprint_sink_tasks", "running sink delivery tasks")
            .expect("valid metric");
        for c in [
            Box::new(ingest_batches.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(ingest_records.clone()),
            Box::new(ingest_seconds.clone()),
            Box::new(rejected.clone()),
            Box::new(sink_backlog.clone()),
            Box::new(sink_delivered.clone()),
            Box::new(sink_failures.clone()),
            Box::new(sink_tasks.clone()),
        ] {
            registry.register(c).expect("metric names are distinct");
        }
        Metrics {
            registry,
            ingest_batches,
            ingest_records,
            ingest_seconds,
            rejected,
            sink_backlog,
            sink_delivered,
            sink_failures,
            sink_tasks,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.ingest_batches.with_label_values(&["accepted"]).inc();
        m.rejected.with_label_values(&["not_found"]).inc_by(2);
        m.sink_backlog.with_label_values(&["file"]).set(3);
        m.sink_failures.with_label_values(&["webhook"]).inc();
        m.sink_delivered.with_label_values(&["file"]).inc();
        m.ingest_seconds.observe(0.01);
        m.ingest_records.inc_by(5);
        let t = m.render();
        for l in [
            "keyprint_ingest_batches_total{outcome=\"accepted\"} 1",
            "keyprint_rejected_requests_total{code=\"not_found\"} 2",
            "keyprint_sink_backlog{sink=\"file\"} 3",
            "keyprint_sink_failures_total{sink=\"webhook\"} 1",
            "keyprint_sink_delivered_total{sink=\"file\"} 1",
            "keyprint_ingest_seconds_count 1",
            "keyprint_ingest_records_total 5",
        ] {
            assert!(t.lines().any(|x| x == l), "{l} missing in\n{t}");
        }
    }
}
