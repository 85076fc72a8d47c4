//! `system.landing_log`: one row per file the watcher took (loaded, a re-delivery, rejected with
//! its reason) and per gap it found in a switch's file sequence.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{
    ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdrlake_catalog::{Lakehouse, WriteMode};

use super::landing::sequence;
use crate::engine::Engine;

pub const TABLE: (&str, &str) = ("system", "landing_log");

/// One thing that happened to a landed file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: String,
    pub table: String,
    /// loaded, duplicate, rejected or gap.
    pub status: &'static str,
    pub rows: Option<i64>,
    pub batch_id: Option<String>,
    pub reason: Option<String>,
    pub moved_to: Option<String>,
}

pub fn schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("file"),
        text("table_name"),
        text("status"),
        Field::new("rows", DataType::Int64, true),
        text("batch_id"),
        text("reason"),
        text("moved_to"),
    ]))
}

pub async fn append(lakehouse: &Lakehouse, entries: &[Entry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let texts = |f: &dyn Fn(&Entry) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(entries.iter().map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![now; entries.len()]).with_timezone("UTC")),
        texts(&|e| Some(e.file.clone())),
        texts(&|e| Some(e.table.clone())),
        texts(&|e| Some(e.status.to_string())),
        Arc::new(Int64Array::from(
            entries.iter().map(|e| e.rows).collect::<Vec<_>>(),
        )),
        texts(&|e| e.batch_id.clone()),
        texts(&|e| e.reason.clone()),
        texts(&|e| e.moved_to.clone()),
    ];
    let batch = RecordBatch::try_new(schema(), columns)?;
    lakehouse
        .write_batches(TABLE.0, TABLE.1, vec![batch], WriteMode::Append)
        .await?;
    Ok(())
}

/// The highest sequence number loaded so far per table and file-name prefix, from the log.
pub async fn sequences(engine: &Engine) -> Result<HashMap<(String, String), u64>> {
    let mut last = HashMap::new();
    let exists = engine.lakehouse().has_table(TABLE.0, TABLE.1).await?;
    if !exists {
        return Ok(last);
    }
    let batches = engine
        .sql("SELECT table_name, file FROM system.landing_log WHERE status IN ('loaded', 'duplicate')")
        .await?;
    for batch in &batches {
        let text = |i: usize| arrow::compute::cast(batch.column(i), &DataType::Utf8);
        let (tables, files) = (text(0)?, text(1)?);
        let (tables, files) = (tables.as_string::<i32>(), files.as_string::<i32>());
        for (table, file) in tables.iter().zip(files.iter()) {
            if let (Some(table), Some((prefix, n, _))) = (table, file.and_then(sequence)) {
                let seen = last.entry((table.to_string(), prefix)).or_insert(n);
                *seen = (*seen).max(n);
            }
        }
    }
    Ok(last)
}
