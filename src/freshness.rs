//! How fresh each table is (`cdrlake status`, `system.freshness`, the `freshness_lag_seconds`
//! metric): its latest Delta version and commit time, the newest event in it, the last
//! successful build of it, and how far that newest event is behind the wall clock and behind
//! the newest event anywhere in bronze (data may be historical: a replay of April is as fresh as
//! its sources, however old April is).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdrlake_catalog::WriteMode;
use chrono::{DateTime, Utc};

use crate::engine::Engine;

pub const TABLE: (&str, &str) = ("system", "freshness");

/// The layers measured; `system` holds logs, not data.
const LAYERS: [&str; 3] = ["bronze", "silver", "gold"];

/// Bronze holds event times as received (text with an offset): the column per event table. Its
/// newest event leaves out rows mediation rejected (`silver.cdr_rejected`).
const BRONZE_EVENT_TIME: [(&str, &str); 4] = [
    ("voice_cdr", "release_time"),
    ("sms_cdr", "event_time"),
    ("data_cdr", "record_opening_time"),
    ("network_probe", "probe_time"),
];

/// In silver and gold, the first of these timestamp columns a table has is its event time.
const EVENT_COLUMNS: [&str; 5] = [
    "start_time",
    "detected_at",
    "hour_start",
    "probe_time",
    "event_time",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    /// `schema.table`
    pub table: String,
    pub version: u64,
    pub committed_at: Option<DateTime<Utc>>,
    pub event_column: Option<String>,
    pub newest_event: Option<DateTime<Utc>>,
    /// The last successful build by a model run (models only).
    pub last_success: Option<DateTime<Utc>>,
    /// Seconds from the newest event to now.
    pub lag_wall_clock: Option<i64>,
    /// Seconds from the newest event to the newest event in bronze.
    pub lag_sources: Option<i64>,
}

/// Measures every bronze, silver and gold table.
pub async fn measure(engine: &Engine) -> Result<Vec<Freshness>> {
    let lakehouse = engine.lakehouse();
    let last_success = last_successes(engine).await?;
    let mut out = Vec::new();
    for layer in LAYERS {
        for table in lakehouse.list_tables(layer).await? {
            let name = format!("{layer}.{table}");
            let info = lakehouse.table_info(layer, &table).await?;
            let column = event_column(engine, layer, &table).await?;
            let newest = match &column {
                Some((_, sql)) => newest(engine, sql).await?,
                None => None,
            };
            out.push(Freshness {
                last_success: last_success.get(&name).copied(),
                table: name,
                version: info.version,
                committed_at: info.last_modified,
                event_column: column.map(|(c, _)| c),
                newest_event: newest,
                lag_wall_clock: None,
                lag_sources: None,
            });
        }
    }
    let now = Utc::now();
    let sources = out
        .iter()
        .filter(|f| f.table.starts_with("bronze."))
        .filter_map(|f| f.newest_event)
        .max();
    for f in &mut out {
        if let Some(newest) = f.newest_event {
            f.lag_wall_clock = Some((now - newest).num_seconds());
            f.lag_sources = sources.map(|s| (s - newest).num_seconds().max(0));
        }
    }
    Ok(out)
}

/// Overwrites `system.freshness` with `rows` and sets the lag gauges.
pub async fn record(engine: &Engine, rows: &[Freshness]) -> Result<()> {
    let gauge = &crate::metrics::metrics().freshness_lag;
    for f in rows {
        for (against, lag) in [("wall_clock", f.lag_wall_clock), ("sources", f.lag_sources)] {
            if let Some(lag) = lag {
                gauge
                    .with_label_values(&[f.table.as_str(), against])
                    .set(lag as f64);
            }
        }
    }
    let batch = to_batch(rows)?;
    engine
        .lakehouse()
        .write_batches(TABLE.0, TABLE.1, vec![batch], WriteMode::Overwrite)
        .await?;
    Ok(())
}

/// The rows as `system.freshness` holds them (and `cdrlake status` prints them).
pub fn to_batch(rows: &[Freshness]) -> Result<RecordBatch> {
    let ts = |f: &dyn Fn(&Freshness) -> Option<DateTime<Utc>>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.iter()
                    .map(|r| f(r).map(|t| t.timestamp_micros()))
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        )
    };
    let int = |f: &dyn Fn(&Freshness) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let now = Utc::now();
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.table))),
            int(&|r| Some(r.version as i64)),
            ts(&|r| r.committed_at),
            Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| r.event_column.clone())
                    .collect::<Vec<_>>(),
            )),
            ts(&|r| r.newest_event),
            ts(&|r| r.last_success),
            int(&|r| r.lag_wall_clock),
            int(&|r| r.lag_sources),
            ts(&|_| Some(now)),
        ],
    )?)
}

pub fn schema() -> SchemaRef {
    let ts = |n: &str| {
        Field::new(
            n,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        )
    };
    Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("delta_version", DataType::Int64, true),
        ts("committed_at"),
        Field::new("event_column", DataType::Utf8, true),
        ts("newest_event"),
        ts("last_success"),
        Field::new("lag_wall_clock_s", DataType::Int64, true),
        Field::new("lag_sources_s", DataType::Int64, true),
        ts("checked_at"),
    ]))
}

/// The table's event-time column and the query for its newest value.
async fn event_column(
    engine: &Engine,
    layer: &str,
    table: &str,
) -> Result<Option<(String, String)>> {
    let name = format!("{layer}.{table}");
    let newest = |expr: &str, filter: &str| {
        format!("SELECT CAST(max({expr}) AS TIMESTAMP(6) WITH TIME ZONE) FROM {name} b {filter}")
    };
    if layer == "bronze" {
        let Some((_, column)) = BRONZE_EVENT_TIME.iter().find(|(t, _)| *t == table) else {
            return Ok(None);
        };
        // Rows mediation rejected do not count: a garbled timestamp months ahead would otherwise
        // be the newest event and make everything after look stale.
        let rejected_exists = engine
            .lakehouse()
            .has_table("silver", "cdr_rejected")
            .await?;
        let filter = if rejected_exists && table != "network_probe" {
            format!(
                "WHERE NOT EXISTS (SELECT 1 FROM silver.cdr_rejected r WHERE r.source_table = '{table}' \
                 AND r._batch_id = b._batch_id AND r._row_number = b._row_number)"
            )
        } else {
            String::new()
        };
        let expr = format!("parse_timestamp_utc({column})");
        return Ok(Some((column.to_string(), newest(&expr, &filter))));
    }
    let df = engine.dataframe(&format!("SELECT * FROM {name}")).await?;
    let schema = df.schema();
    Ok(EVENT_COLUMNS
        .iter()
        .find(|c| {
            schema
                .field_with_unqualified_name(c)
                .is_ok_and(|f| matches!(f.data_type(), DataType::Timestamp(_, _)))
        })
        .map(|c| (c.to_string(), newest(c, ""))))
}

async fn newest(engine: &Engine, sql: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(first_timestamp(&engine.sql(sql).await?))
}

fn first_timestamp(batches: &[RecordBatch]) -> Option<DateTime<Utc>> {
    let column = batches.first()?.column(0);
    let micros = arrow::compute::cast(
        column,
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )
    .ok()?;
    let micros = micros.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    (!micros.is_empty() && micros.is_valid(0))
        .then(|| DateTime::from_timestamp_micros(micros.value(0)))
        .flatten()
}

/// When each model last built successfully, from `system.model_runs`.
async fn last_successes(engine: &Engine) -> Result<HashMap<String, DateTime<Utc>>> {
    let mut out = HashMap::new();
    let runs_exist = engine.lakehouse().has_table("system", "model_runs").await?;
    if !runs_exist {
        return Ok(out);
    }
    let batches = engine
        .sql(
            "SELECT model, max(finished_at) FROM system.model_runs WHERE status = 'success' GROUP BY model",
        )
        .await?;
    for b in &batches {
        let models = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let models = models.as_string::<i32>();
        for i in 0..b.num_rows() {
            let at = first_timestamp(&[b.slice(i, 1).project(&[1])?]);
            if let (true, Some(at)) = (models.is_valid(i), at) {
                out.insert(models.value(i).to_string(), at);
            }
        }
    }
    Ok(out)
}
