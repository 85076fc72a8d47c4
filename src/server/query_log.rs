//! `system.query_log`: one row per query the server runs (`query_id`, `user`, `sql`, `status`,
//! `rows`, `started_at`, `elapsed_ms`, `error`). Entries are buffered and appended in one Delta
//! commit per flush (every few seconds, and when the server stops), not one commit per query.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use cdrlake_catalog::{Lakehouse, WriteMode};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct Entry {
    pub query_id: String,
    pub user: String,
    pub sql: String,
    pub status: &'static str,
    pub rows: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub elapsed_ms: i64,
    pub error: Option<String>,
}

pub struct QueryLog {
    lakehouse: Arc<Lakehouse>,
    pending: Mutex<Vec<Entry>>,
}

impl QueryLog {
    pub fn new(lakehouse: Arc<Lakehouse>) -> Arc<Self> {
        Arc::new(Self {
            lakehouse,
            pending: Mutex::default(),
        })
    }

    pub fn record(&self, entry: Entry) {
        let metrics = crate::metrics::metrics();
        metrics.queries.with_label_values(&[entry.status]).inc();
        metrics
            .query_seconds
            .observe(entry.elapsed_ms as f64 / 1000.0);
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(entry);
        }
    }

    /// A query that ran (or failed) before any row streamed.
    pub fn failed(
        &self,
        user: &str,
        sql: &str,
        started: Instant,
        started_at: DateTime<Utc>,
        error: &str,
    ) {
        self.record(Entry {
            query_id: uuid::Uuid::now_v7().to_string(),
            user: user.into(),
            sql: sql.into(),
            status: "error",
            rows: None,
            started_at,
            elapsed_ms: started.elapsed().as_millis() as i64,
            error: Some(error.into()),
        });
    }

    /// A statement the policy refused before planning: recorded with its one-line reason.
    pub fn refused(&self, user: &str, sql: &str, reason: &str) {
        self.record(Entry {
            query_id: uuid::Uuid::now_v7().to_string(),
            user: user.into(),
            sql: sql.into(),
            status: "refused",
            rows: None,
            started_at: Utc::now(),
            elapsed_ms: 0,
            error: Some(reason.into()),
        });
    }

    /// Appends what is pending in one commit. On failure the entries are kept for the next try.
    pub async fn flush(&self) -> Result<usize> {
        let entries: Vec<Entry> = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(0),
        };
        if entries.is_empty() {
            return Ok(0);
        }
        let text = |f: fn(&Entry) -> Option<&str>| -> ArrayRef {
            Arc::new(StringArray::from(entries.iter().map(f).collect::<Vec<_>>()))
        };
        let batch = RecordBatch::try_from_iter_with_nullable(vec![
            ("query_id", text(|e| Some(&e.query_id)), true),
            ("user", text(|e| Some(&e.user)), true),
            ("sql", text(|e| Some(&e.sql)), true),
            ("status", text(|e| Some(e.status)), true),
            (
                "rows",
                Arc::new(Int64Array::from_iter(
                    entries.iter().map(|e| e.rows.map(|r| r as i64)),
                )) as ArrayRef,
                true,
            ),
            (
                "started_at",
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        entries.iter().map(|e| e.started_at.timestamp_micros()),
                    )
                    .with_timezone("UTC"),
                ),
                true,
            ),
            (
                "elapsed_ms",
                Arc::new(Int64Array::from_iter_values(
                    entries.iter().map(|e| e.elapsed_ms),
                )),
                true,
            ),
            ("error", text(|e| e.error.as_deref()), true),
        ])?;
        let n = entries.len();
        if let Err(e) = self
            .lakehouse
            .write_batches("system", "query_log", vec![batch], WriteMode::Append)
            .await
        {
            if let Ok(mut pending) = self.pending.lock() {
                pending.splice(0..0, entries);
            }
            return Err(e.into());
        }
        Ok(n)
    }

    /// Flushes every `interval` until the process ends.
    pub fn spawn_flusher(self: &Arc<Self>, interval: Duration) {
        let log = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if let Err(e) = log.flush().await {
                    tracing::warn!("query log: {e}");
                }
            }
        });
    }
}

/// Tracks one streaming query; records its entry when the stream ends or is dropped.
pub struct Running {
    pub log: Arc<QueryLog>,
    pub user: String,
    pub sql: String,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
    pub rows: AtomicU64,
    pub error: Mutex<Option<String>>,
    pub finished: AtomicBool,
}

impl Running {
    pub fn new(log: Arc<QueryLog>, user: &str, sql: &str) -> Arc<Self> {
        Arc::new(Self {
            log,
            user: user.into(),
            sql: sql.into(),
            started: Instant::now(),
            started_at: Utc::now(),
            rows: AtomicU64::new(0),
            error: Mutex::new(None),
            finished: AtomicBool::new(false),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let error = self.error.lock().ok().and_then(|e| e.clone());
        let status = match (&error, self.finished.load(Ordering::Relaxed)) {
            (Some(_), _) => "error",
            (None, true) => "ok",
            (None, false) => "cancelled",
        };
        self.log.record(Entry {
            query_id: uuid::Uuid::now_v7().to_string(),
            user: self.user.clone(),
            sql: self.sql.clone(),
            status,
            rows: Some(self.rows.load(Ordering::Relaxed)),
            started_at: self.started_at,
            elapsed_ms: self.started.elapsed().as_millis() as i64,
            error,
        });
    }
}
