//! Table facts for `cdrlake tables` and the commit log for `cdrlake history`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use deltalake::DeltaTable;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::table::state::DeltaTableState;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub schema: String,
    pub table: String,
    pub version: u64,
    /// Sum of the per-file record counts; `None` when a file was written without statistics.
    pub rows: Option<u64>,
    pub files: u64,
    pub size_bytes: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub version: u64,
    pub timestamp: Option<DateTime<Utc>>,
    pub operation: String,
    pub parameters: String,
    /// Operation metrics (rows written, files added, ...) as JSON.
    pub metrics: String,
}

impl Lakehouse {
    pub async fn table_info(&self, schema: &str, table: &str) -> Result<TableInfo> {
        let t = self.open_table(schema, table, None).await?;
        info_of(schema, table, &t)
    }

    /// The commit log, newest first.
    pub async fn history(&self, schema: &str, table: &str) -> Result<Vec<Commit>> {
        let t = self.open_table(schema, table, None).await?;
        let latest = t.version().unwrap_or(0);
        let infos = self.collect_history(&t).await?;
        Ok(infos
            .into_iter()
            .enumerate()
            .map(|(i, c)| Commit {
                // History streams one entry per commit, newest first.
                version: latest.saturating_sub(i as u64),
                timestamp: c.timestamp.and_then(DateTime::from_timestamp_millis),
                operation: c.operation.unwrap_or_default(),
                parameters: c
                    .operation_parameters
                    .map(|p| serde_json::to_string(&p).unwrap_or_default())
                    .unwrap_or_default(),
                metrics: c
                    .info
                    .get("operationMetrics")
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

/// The largest value of `column` from the table's file statistics (the Delta log), without
/// reading a data file: `None` when a file has no statistic for it (a partition column, a column
/// written without statistics) or the table has no files. Timestamps are kept to the millisecond
/// in the log and rounded up by delta-rs, so one may be up to 1 ms late.
pub fn max_from_statistics(
    table: &DeltaTable,
    column: &str,
    data_type: &DataType,
) -> Option<ScalarValue> {
    let snapshot = table.snapshot().ok()?;
    let mut newest: Option<ScalarValue> = None;
    for file in snapshot.log_data().iter() {
        let text = match file.max_values()?.to_json().get(column)? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let value = ScalarValue::try_from_string(text, data_type).ok()?;
        if newest
            .as_ref()
            .is_none_or(|n| value.partial_cmp(n) == Some(Ordering::Greater))
        {
            newest = Some(value);
        }
    }
    newest
}

fn info_of(schema: &str, table: &str, t: &DeltaTable) -> Result<TableInfo> {
    let snapshot = t
        .snapshot()
        .map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))?;
    let version = snapshot.version();
    let mut size = 0u64;
    let mut files = 0u64;
    for f in snapshot.log_data().iter() {
        files += 1;
        size += f.size().max(0) as u64;
    }
    let rows = rows_of(snapshot);
    let last_modified = snapshot
        .version_timestamp(version)
        .and_then(DateTime::from_timestamp_millis);
    Ok(TableInfo {
        schema: schema.into(),
        table: table.into(),
        version,
        rows,
        files,
        size_bytes: size,
        last_modified,
    })
}

/// Sum of the per-file record counts; `None` when a file was written without statistics.
pub(crate) fn rows_of(snapshot: &DeltaTableState) -> Option<u64> {
    snapshot
        .log_data()
        .iter()
        .try_fold(0u64, |acc, f| Some(acc + f.num_records()? as u64))
}
