//! The process's Prometheus metrics (docs/operations.md): counted where things happen (the query
//! log, ingest, the model runner, the landing watcher), read by the server's `/metrics` endpoint.
//! One registry per process, like the `prometheus` crate's default one, so every layer can count
//! without being handed it.

use std::sync::OnceLock;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Client statements by outcome: ok, error, cancelled, refused.
    pub queries: IntCounterVec,
    pub query_seconds: Histogram,
    /// Rows written to bronze, per table (file ingest, the landing watcher, ADBC bulk ingest).
    pub rows_ingested: IntCounterVec,
    /// Landed files by outcome: loaded, duplicate, rejected, gap.
    pub landed_files: IntCounterVec,
    /// Model and seed builds by outcome: ok, error, skipped.
    pub model_builds: IntCounterVec,
    pub model_seconds: Histogram,
    /// Runs by outcome: ok (every model built), failed.
    pub runs: IntCounterVec,
    /// Data tests that failed with severity error (a gate that stopped a model).
    pub gate_failures: IntCounter,
    /// Client sessions open now (set at each scrape).
    pub open_sessions: IntGauge,
    /// Events raised into `system.alerts`, by kind: fraud_alert, gate_failed, run_failed.
    pub alerts_raised: IntCounterVec,
    /// Events a webhook receiver took.
    pub alerts_delivered: IntCounter,
    /// Delivery rounds that stopped at an event the receiver would not take.
    pub alert_delivery_failures: IntCounter,
    /// How far a table's newest event is behind, in seconds, per table and against what:
    /// `wall_clock` or `sources` (the newest event in bronze).
    pub freshness_lag: GaugeVec,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new().expect("metric names and labels are valid"))
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("cdrlake".into()), None)?;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        // Query latency from a millisecond to ten minutes (the default query timeout).
        let query_buckets = vec![
            0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
        ];
        let model_buckets = vec![0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
        let metrics = Self {
            queries: counter("queries_total", "Client statements by outcome", &["status"])?,
            query_seconds: Histogram::with_opts(
                HistogramOpts::new("query_seconds", "Time of client statements")
                    .buckets(query_buckets),
            )?,
            rows_ingested: counter("rows_ingested_total", "Rows written to bronze", &["table"])?,
            landed_files: counter(
                "landed_files_total",
                "Files the landing watcher took, by outcome",
                &["status"],
            )?,
            model_builds: counter(
                "model_builds_total",
                "Model and seed builds by outcome",
                &["status"],
            )?,
            model_seconds: Histogram::with_opts(
                HistogramOpts::new("model_seconds", "Time of one model's build and tests")
                    .buckets(model_buckets),
            )?,
            runs: counter("runs_total", "Model runs by outcome", &["status"])?,
            gate_failures: IntCounter::new(
                "gate_failures_total",
                "Data tests of severity error that failed",
            )?,
            open_sessions: IntGauge::new("open_sessions", "Client sessions open now")?,
            alerts_raised: counter(
                "alerts_raised_total",
                "Alert events raised, by kind",
                &["kind"],
            )?,
            alerts_delivered: IntCounter::new(
                "alerts_delivered_total",
                "Alert events a webhook receiver took",
            )?,
            alert_delivery_failures: IntCounter::new(
                "alert_delivery_failures_total",
                "Webhook delivery rounds stopped by a receiver that refused or was unreachable",
            )?,
            freshness_lag: GaugeVec::new(
                Opts::new(
                    "freshness_lag_seconds",
                    "Seconds the newest event of a table is behind the wall clock or the newest source event",
                ),
                &["table", "against"],
            )?,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(metrics.queries.clone()))?;
        r.register(Box::new(metrics.query_seconds.clone()))?;
        r.register(Box::new(metrics.rows_ingested.clone()))?;
        r.register(Box::new(metrics.landed_files.clone()))?;
        r.register(Box::new(metrics.model_builds.clone()))?;
        r.register(Box::new(metrics.model_seconds.clone()))?;
        r.register(Box::new(metrics.runs.clone()))?;
        r.register(Box::new(metrics.gate_failures.clone()))?;
        r.register(Box::new(metrics.open_sessions.clone()))?;
        r.register(Box::new(metrics.alerts_raised.clone()))?;
        r.register(Box::new(metrics.alerts_delivered.clone()))?;
        r.register(Box::new(metrics.alert_delivery_failures.clone()))?;
        r.register(Box::new(metrics.freshness_lag.clone()))?;
        Ok(metrics)
    }

    /// Everything, in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on a broken metric family, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
