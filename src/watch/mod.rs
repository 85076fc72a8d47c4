//! `cdrlake serve --watch DIR` / `--schedule CRON` / `--alert-webhook URL`: the server ingests
//! files as they land, refreshes the models after new data and on a schedule, keeps
//! `system.freshness` current, compacts bronze, and sends alerts out (docs/operations.md). One
//! process at a time does this for a lakehouse (the `landing` lease); model runs take the
//! `models` lease like `cdrlake run`, so a run by hand, a close and the watcher's refresh never
//! overlap, also across processes.

pub mod landing;
pub mod log;
pub mod schedule;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use cdrlake_catalog::{CatalogError, Lease};
use chrono::{DateTime, Utc};
use futures::FutureExt;

use crate::alerts::webhook::Webhook;
use crate::engine::Engine;
use crate::ingest::{AlreadyIngested, IngestOptions, ingest_bytes};
use crate::models::{Project, RunOptions, runner, with_models_lease};
use landing::{Arrival, Landing};
use log::Entry;
pub use schedule::Schedule;

pub const LANDING_LEASE: &str = "landing";

/// A bronze table with at least this many files, averaging under [`SMALL_FILE`] bytes, is
/// compacted after a run has read them (many small deliveries or bulk-ingest calls otherwise
/// leave thousands of tiny files every scan opens).
const COMPACT_AT_FILES: u64 = 16;
const SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Events are looked for at least this often, also when no run of this process made any (a
/// `cdrlake run` by hand).
const ALERT_CHECK: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The landing zone, a directory or `s3://bucket/prefix`: files go in `<it>/<bronze table>/`.
    pub landing: Option<String>,
    /// Model runs at these times too, new files or not.
    pub schedule: Option<Schedule>,
    /// Where alert events are POSTed; without it they are still raised (`system.alerts`, the log).
    pub webhook: Option<Arc<Webhook>>,
    /// The model project the refresh builds.
    pub project: PathBuf,
    /// How often the directory is listed.
    pub poll: Duration,
    /// How old an unchanged file must be before it is read.
    pub settle: Duration,
    /// The models run once no new file has landed for this long (so a burst of files makes one
    /// run).
    pub refresh_after: Duration,
    /// ... or once the oldest file no run has built is this old (files that never pause).
    pub refresh_max_wait: Duration,
    /// A run still going after this long is abandoned (its model commits so far stay; the next
    /// run goes on from them).
    pub run_timeout: Duration,
    /// Failed runs are tried again this many times, waiting longer each time.
    pub retries: u32,
}

/// Watches until the process ends. Errors are logged and retried, never fatal: the server keeps
/// serving queries whatever happens here.
pub async fn watch(engine: Arc<Engine>, options: WatchOptions) {
    let mut watcher = Watcher::new(engine, options);
    loop {
        // A panic in one step (a bug) is logged; the next step goes on, the server keeps serving.
        match std::panic::AssertUnwindSafe(watcher.step())
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("landing: {}", crate::error::one_line(&e)),
            Err(_) => tracing::error!("the watcher's step panicked; going on with the next"),
        }
        tokio::time::sleep(watcher.options.poll).await;
    }
}

struct Watcher {
    engine: Arc<Engine>,
    options: WatchOptions,
    landing: Option<Landing>,
    lease: Option<Lease>,
    sequences: Option<HashMap<(String, String), u64>>,
    /// When the last file landed that no run has built yet.
    pending_since: Option<Instant>,
    /// When the first of them landed: files arriving without a pause still get a run.
    first_pending: Option<Instant>,
    failures: u32,
    not_before: Instant,
    /// The next scheduled run.
    next_fire: Option<DateTime<Utc>>,
    /// Something changed: measure freshness, look for alert events.
    changed: bool,
    alerts_checked: Option<Instant>,
    /// When events are sent next.
    deliver_at: Option<Instant>,
    /// The last delivery round failed: the receiver gets a pause.
    delivery_failing: bool,
}

impl Watcher {
    fn new(engine: Arc<Engine>, options: WatchOptions) -> Self {
        let next_fire = options
            .schedule
            .as_ref()
            .and_then(|s| s.next_after(Utc::now()));
        Self {
            landing: None,
            engine,
            options,
            lease: None,
            sequences: None,
            pending_since: None,
            first_pending: None,
            failures: 0,
            not_before: Instant::now(),
            next_fire,
            changed: true,
            alerts_checked: None,
            deliver_at: None,
            delivery_failing: false,
        }
    }

    async fn step(&mut self) -> Result<()> {
        if !self.hold_landing().await? {
            return Ok(());
        }
        if self.landing.is_none()
            && let Some(root) = &self.options.landing
        {
            let s3 = &self.engine.lakehouse().config().s3;
            self.landing = Some(Landing::open(root, s3)?);
        }
        if let Some(landing) = &mut self.landing {
            let arrivals = landing.poll(self.options.settle).await?;
            for arrival in arrivals {
                self.changed = true;
                if self.take(&arrival).await? {
                    self.pending_since = Some(Instant::now());
                    self.first_pending.get_or_insert_with(Instant::now);
                }
            }
        }
        if self.next_fire.is_some_and(|at| Utc::now() >= at) {
            println!("scheduled refresh");
            self.pending_since = Some(Instant::now() - self.options.refresh_after);
            self.next_fire = self
                .options
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(Utc::now()));
        }
        let due = self
            .pending_since
            .is_some_and(|since| since.elapsed() >= self.options.refresh_after)
            || self
                .first_pending
                .is_some_and(|since| since.elapsed() >= self.options.refresh_max_wait);
        if due && Instant::now() >= self.not_before {
            self.refresh().await;
            self.changed = true;
        }
        self.after_changes().await
    }

    /// Freshness and alerts: after anything changed, and alerts at least every [`ALERT_CHECK`].
    async fn after_changes(&mut self) -> Result<()> {
        let engine = &self.engine;
        if self.changed {
            let rows = crate::freshness::measure(engine).await?;
            crate::freshness::record(engine, &rows).await?;
        }
        let check = self.changed
            || self
                .alerts_checked
                .is_none_or(|t| t.elapsed() >= ALERT_CHECK);
        self.changed = false;
        if check {
            self.alerts_checked = Some(Instant::now());
            // New events go out now, unless a failing receiver is being given a pause.
            if crate::alerts::collect(engine).await? > 0 && !self.delivery_failing {
                self.deliver_at = Some(Instant::now());
            }
        }
        let Some(webhook) = &self.options.webhook else {
            return Ok(());
        };
        // Every start sends what a previous process left unsent.
        let at = *self.deliver_at.get_or_insert_with(Instant::now);
        if Instant::now() < at {
            return Ok(());
        }
        match webhook.deliver(engine).await {
            Ok(done) => {
                self.delivery_failing = false;
                if done.sent > 0 {
                    println!(
                        "alerts: {} event(s) delivered to {}",
                        done.sent,
                        webhook.endpoint()
                    );
                }
                self.deliver_at = (done.pending > 0)
                    .then(Instant::now)
                    .or(Some(Instant::now() + ALERT_CHECK));
            }
            Err(e) => {
                tracing::warn!(
                    "alerts: {}; trying again in {}s",
                    crate::error::one_line(&e),
                    ALERT_CHECK.as_secs() / 4
                );
                self.deliver_at = Some(Instant::now() + ALERT_CHECK / 4);
                self.delivery_failing = true;
            }
        }
        Ok(())
    }

    /// Holds the `landing` lease, or says another process watches. A lost lease (stalled past
    /// its expiry) stops this process taking files until it holds it again.
    async fn hold_landing(&mut self) -> Result<bool> {
        if self.lease.as_ref().is_some_and(|l| !l.is_lost()) {
            return Ok(true);
        }
        let lakehouse = self.engine.lakehouse();
        match lakehouse
            .acquire_lease(LANDING_LEASE, "serve --watch: ingesting landed files")
            .await
        {
            Ok(lease) => {
                match &self.options.landing {
                    Some(root) => println!(
                        "watching {root} for new files (this process holds the landing lease)"
                    ),
                    None => {
                        println!("refreshing on schedule (this process holds the landing lease)")
                    }
                }
                self.lease = Some(lease);
                // Read again: another process may have loaded files while this one waited.
                self.sequences = None;
                Ok(true)
            }
            Err(CatalogError::Busy { .. }) => {
                self.lease = None;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ingests one landed file and files it away; true if it brought new rows.
    async fn take(&mut self, arrival: &Arrival) -> Result<bool> {
        if self.sequences.is_none() {
            self.sequences = Some(log::sequences(&self.engine).await?);
        }
        let lakehouse = self.engine.lakehouse().clone();
        let outcome = if crate::contract::bronze_event_columns(&arrival.table).is_none() {
            Err(anyhow!(
                "'{}' is not a landing table: put files in <landing>/<table>/ for one of {}",
                arrival.table,
                landing_tables()
            ))
        } else {
            let options = IngestOptions {
                table: arrival.table.clone(),
                format: None,
                allow_new_columns: false,
                force: false,
            };
            let landing = self.landing()?;
            match landing.read(arrival).await {
                Ok(bytes) => {
                    let source = landing.show(&arrival.key);
                    let name = std::path::Path::new(&arrival.name);
                    ingest_bytes(&lakehouse, bytes, name, &source, &options).await
                }
                Err(e) => Err(e),
            }
        };
        let mut entries = Vec::new();
        let entry = |status, reason: Option<String>| Entry {
            file: arrival.name.clone(),
            table: arrival.table.clone(),
            status,
            rows: None,
            batch_id: None,
            reason,
            moved_to: None,
        };
        let loaded = match outcome {
            Ok(ingested) => {
                let moved = self.landing()?.file_away(arrival, None).await?;
                println!(
                    "landed {} -> bronze.{}: {} rows (version {})",
                    arrival.name, arrival.table, ingested.rows, ingested.version
                );
                entries.extend(self.gap(arrival));
                entries.push(Entry {
                    rows: Some(ingested.rows as i64),
                    batch_id: Some(ingested.batch_id),
                    moved_to: Some(moved),
                    ..entry("loaded", None)
                });
                true
            }
            Err(e) if e.downcast_ref::<AlreadyIngested>().is_some() => {
                let moved = self.landing()?.file_away(arrival, None).await?;
                let reason = crate::error::one_line(&e);
                println!("re-delivered {}: {reason}", arrival.name);
                entries.push(Entry {
                    moved_to: Some(moved),
                    ..entry("duplicate", Some(reason))
                });
                false
            }
            Err(e) => {
                let reason = crate::error::one_line(&e);
                let moved = self.landing()?.file_away(arrival, Some(&reason)).await?;
                tracing::warn!("rejected landed file {}: {reason}", arrival.name);
                println!("rejected {}: {reason}", arrival.name);
                entries.push(Entry {
                    moved_to: Some(moved),
                    ..entry("rejected", Some(reason))
                });
                false
            }
        };
        for e in &entries {
            crate::metrics::metrics()
                .landed_files
                .with_label_values(&[e.status])
                .inc();
        }
        log::append(&lakehouse, &entries).await?;
        Ok(loaded)
    }

    fn landing(&self) -> Result<&Landing> {
        self.landing
            .as_ref()
            .ok_or_else(|| anyhow!("no landing directory is watched"))
    }

    /// A `gap` entry when a loaded file's sequence number skips some after the last one loaded
    /// with the same name prefix.
    fn gap(&mut self, arrival: &Arrival) -> Option<Entry> {
        let (prefix, n, width) = landing::sequence(&arrival.name)?;
        let last = self
            .sequences
            .get_or_insert_with(HashMap::new)
            .entry((arrival.table.clone(), prefix.clone()))
            .or_insert(n);
        let missing = (n > *last + 1).then(|| (*last + 1, n - 1));
        *last = (*last).max(n);
        let (from, to) = missing?;
        let reason = format!(
            "{} file(s) missing before {}: {prefix}{from:0width$} to {prefix}{to:0width$}",
            to - from + 1,
            arrival.name
        );
        tracing::warn!("bronze.{}: {reason}", arrival.table);
        Some(Entry {
            file: arrival.name.clone(),
            table: arrival.table.clone(),
            status: "gap",
            rows: None,
            batch_id: None,
            reason: Some(reason),
            moved_to: None,
        })
    }

    /// Runs the models once, under the `models` lease. A lease held elsewhere (a run by hand, a
    /// close) is waited for; a failure is retried with a growing pause, then left until new data.
    async fn refresh(&mut self) {
        let outcome = self.run_models().await;
        match outcome {
            Ok(()) => {
                self.pending_since = None;
                self.first_pending = None;
                self.failures = 0;
                if let Err(e) = self.compact_bronze().await {
                    tracing::warn!("compacting bronze: {}", crate::error::one_line(&e));
                }
            }
            Err(e)
                if matches!(
                    e.downcast_ref::<CatalogError>(),
                    Some(CatalogError::Busy { .. })
                ) =>
            {
                println!("refresh waits: {}", crate::error::one_line(&e));
            }
            Err(e) => {
                self.failures += 1;
                let message = crate::error::one_line(&e);
                // A model that failed is in system.model_runs, where alerts find it; anything else
                // (a timeout, storage gone) is raised here.
                if e.downcast_ref::<ModelsFailed>().is_none() {
                    let event = crate::alerts::Event {
                        id: format!("run_failed:serve:{}", uuid::Uuid::now_v7()),
                        kind: "run_failed".into(),
                        summary: format!("the refresh failed: {message}"),
                        payload: serde_json::Map::from_iter([(
                            "error".to_string(),
                            serde_json::Value::from(message.clone()),
                        )]),
                    };
                    if let Err(e) = crate::alerts::raise(self.engine.lakehouse(), &[event]).await {
                        tracing::error!(
                            "could not raise the alert: {}",
                            crate::error::one_line(&e)
                        );
                    }
                }
                if self.failures > self.options.retries {
                    tracing::error!(
                        "refresh failed {} times, last: {message}; waiting for new data",
                        self.failures
                    );
                    self.pending_since = None;
                    self.first_pending = None;
                    self.first_pending = None;
                    self.failures = 0;
                } else {
                    let pause = self.options.poll * 2u32.pow(self.failures);
                    tracing::warn!(
                        "refresh failed ({message}); trying again in {}s",
                        pause.as_secs()
                    );
                    self.not_before = Instant::now() + pause;
                }
            }
        }
    }

    async fn run_models(&self) -> Result<()> {
        let project = Project::load(&self.options.project)?;
        let engine = &self.engine;
        let timeout = self.options.run_timeout;
        let purpose = "refresh after new files or on schedule (serve)";
        with_models_lease(engine.lakehouse(), purpose, |fence| async {
            let options = RunOptions {
                fence,
                ..RunOptions::default()
            };
            // The issued-invoice tables the billing models read, on a lakehouse that has none.
            crate::billing::store::ensure_tables(engine.lakehouse()).await?;
            let report = tokio::time::timeout(timeout, runner::run(engine, &project, &options))
                .await
                .map_err(|_| {
                    anyhow!(
                        "the run took longer than {}s and was stopped",
                        timeout.as_secs()
                    )
                })??;
            if report.failed() > 0 {
                return Err(ModelsFailed(format!(
                    "run {}: {} model(s) failed, {} skipped",
                    report.run_id,
                    report.failed(),
                    report.skipped()
                ))
                .into());
            }
            engine.catalog().refresh().await?;
            Ok(())
        })
        .await
    }
}

impl Watcher {
    /// Compacts the bronze tables that many small commits (files, bulk-ingest calls) left in
    /// many small files, once a run has read them.
    async fn compact_bronze(&self) -> Result<()> {
        let lakehouse = self.engine.lakehouse();
        for table in lakehouse.list_tables("bronze").await? {
            let info = lakehouse.table_info("bronze", &table).await?;
            if info.files < COMPACT_AT_FILES || info.size_bytes / info.files >= SMALL_FILE {
                continue;
            }
            let done = lakehouse.optimize("bronze", &table, &[]).await?;
            println!(
                "compacted bronze.{table}: {} small files into {}",
                done.files_removed, done.files_added
            );
        }
        Ok(())
    }
}

/// Some models failed: their errors are in `system.model_runs`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ModelsFailed(String);

fn landing_tables() -> String {
    crate::contract::BRONZE_EVENT_TABLES
        .iter()
        .map(|(t, _)| *t)
        .collect::<Vec<_>>()
        .join(", ")
}
