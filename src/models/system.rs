//! Run records in the `system` schema: `system.model_runs` and `system.test_results`.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use cdrlake_catalog::{CatalogError, DeltaProvider, Lakehouse, WriteMode};
use datafusion::prelude::{col, lit};

use crate::engine::Engine;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    Error,
    /// Not run because a model it reads failed or was skipped.
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelRun {
    pub run_id: String,
    pub model: String,
    pub materialization: String,
    pub status: RunStatus,
    pub rows: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub error: Option<String>,
    /// `{"bronze.voice_cdr": 3, ...}`: the Delta version of every table it read.
    pub inputs: String,
    pub output_version: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub run_id: String,
    pub test: String,
    pub model: String,
    /// `pass`, `fail`, `warn` (failed with severity warn) or `error` (could not run).
    pub status: String,
    pub failing_rows: Option<u64>,
    pub checked_at: DateTime<Utc>,
    pub severity: String,
    pub message: Option<String>,
}

fn text<T>(rows: &[T], f: impl Fn(&T) -> Option<&str>) -> ArrayRef {
    Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
}

fn ts<T>(rows: &[T], f: impl Fn(&T) -> DateTime<Utc>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| f(r).timestamp_micros()))
            .with_timezone("UTC"),
    )
}

fn int<T>(rows: &[T], f: impl Fn(&T) -> Option<u64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(
        rows.iter().map(|r| f(r).map(|v| v as i64)),
    ))
}

/// The Delta version each model was left at, by a build whose tests passed, in the last recorded
/// run (the newest commit of `system.model_runs`, a run's rows): a model still at that version
/// that commits nothing now needs no new check. One run's rows are read, however long the log.
pub async fn passed_last_run(engine: &Engine) -> Result<HashMap<String, u64>> {
    let table = match engine
        .lakehouse()
        .open_table("system", "model_runs", None)
        .await
    {
        Ok(table) => table,
        Err(CatalogError::UnknownTable { .. }) => return Ok(HashMap::new()),
        Err(e) => return Err(e.into()),
    };
    let Some(version) = table.version() else {
        return Ok(HashMap::new());
    };
    let last_run = DeltaProvider::added_by(table, version).await?;
    let batches = engine
        .ctx()
        .read_table(Arc::new(last_run))?
        .filter(
            col("status")
                .eq(lit(RunStatus::Success.as_str()))
                .and(col("output_version").is_not_null()),
        )?
        .select_columns(&["model", "output_version"])?
        .collect()
        .await?;
    let mut passed = HashMap::new();
    for batch in &batches {
        let models = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let models = models.as_string::<i32>();
        let versions = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            passed.insert(models.value(row).to_string(), versions.value(row) as u64);
        }
    }
    Ok(passed)
}

pub async fn record_model_runs(lakehouse: &Lakehouse, runs: &[ModelRun]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let batch = RecordBatch::try_from_iter_with_nullable(vec![
        ("run_id", text(runs, |r| Some(&r.run_id)), true),
        ("model", text(runs, |r| Some(&r.model)), true),
        (
            "materialization",
            text(runs, |r| Some(&r.materialization)),
            true,
        ),
        ("status", text(runs, |r| Some(r.status.as_str())), true),
        ("rows", int(runs, |r| r.rows), true),
        ("started_at", ts(runs, |r| r.started_at), true),
        ("finished_at", ts(runs, |r| r.finished_at), true),
        ("error", text(runs, |r| r.error.as_deref()), true),
        ("inputs", text(runs, |r| Some(&r.inputs)), true),
        ("output_version", int(runs, |r| r.output_version), true),
    ])?;
    lakehouse
        .write_batches("system", "model_runs", vec![batch], WriteMode::Append)
        .await?;
    Ok(())
}

pub async fn record_test_results(lakehouse: &Lakehouse, results: &[TestResult]) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let batch = RecordBatch::try_from_iter_with_nullable(vec![
        ("run_id", text(results, |r| Some(&r.run_id)), true),
        ("test", text(results, |r| Some(&r.test)), true),
        ("model", text(results, |r| Some(&r.model)), true),
        ("status", text(results, |r| Some(&r.status)), true),
        ("failing_rows", int(results, |r| r.failing_rows), true),
        ("checked_at", ts(results, |r| r.checked_at), true),
        ("severity", text(results, |r| Some(&r.severity)), true),
        ("message", text(results, |r| r.message.as_deref()), true),
    ])?;
    lakehouse
        .write_batches("system", "test_results", vec![batch], WriteMode::Append)
        .await?;
    Ok(())
}

pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
