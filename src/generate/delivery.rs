//! Deliveries: which generated rows arrive with which day's delivery, and what the generator
//! records on bronze so that `generate --append` can deliver the next day of the same world.
//!
//! A day's CDR records normally arrive with that day's delivery. With `--late-rate`, a share of
//! them arrives one to `--late-days` deliveries later (a switch that was unreachable, a file
//! re-sent): their `_ingested_at` moves by as many days. Whether a record is late depends only on
//! (seed, table, day, row), so delivering a month at once or one day at a time gives the same rows.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::{concat_batches, filter_record_batch};
use chrono::NaiveDate;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::rng::stream;

const PURPOSE_LATE: u64 = 12;
const DAY_US: i64 = 86_400_000_000;

/// The commit-info key under which each delivery records the generator's state.
pub const STATE_KEY: &str = "cdrlake.generator";

/// How the world was made and how far it has been delivered: enough to deliver the next day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorState {
    pub seed: u64,
    pub customers: usize,
    pub start: NaiveDate,
    /// Days the world (CRM history, roaming, fraud plan) is simulated for.
    pub span: u32,
    pub dirt_rate: f64,
    pub late: Lateness,
    /// Days delivered so far: the next delivery is day `delivered` (0-based).
    pub delivered: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lateness {
    /// Share of CDR records delivered late.
    pub rate: f64,
    /// The most deliveries a late record is behind (at least 1).
    pub max_days: u32,
}

impl Lateness {
    pub const NONE: Lateness = Lateness {
        rate: 0.0,
        max_days: 1,
    };

    /// Deliveries after its own day's that row `row` of table `table` (its index in the day's
    /// tables) of day `day` arrives: 0 on time.
    pub fn delay(&self, seed: u64, table: usize, day: u32, row: usize) -> u32 {
        if self.rate <= 0.0 {
            return 0;
        }
        let index = (u64::from(day) << 40) | ((table as u64) << 36) | row as u64;
        let mut rng = stream(seed, PURPOSE_LATE, index);
        if rng.random::<f64>() >= self.rate {
            return 0;
        }
        rng.random_range(1..=self.max_days.max(1))
    }
}

/// A day's rows split by delay: the on-time rows, and for each delay the late rows with their
/// `_ingested_at` moved by that many days.
pub fn split_late(
    batch: &RecordBatch,
    delays: &[u32],
) -> Result<(RecordBatch, Vec<(u32, RecordBatch)>)> {
    let on_time = BooleanArray::from_iter(delays.iter().map(|d| Some(*d == 0)));
    let first = filter_record_batch(batch, &on_time)?;
    let mut late = Vec::new();
    let most = delays.iter().copied().max().unwrap_or(0);
    for delay in 1..=most {
        let mask = BooleanArray::from_iter(delays.iter().map(|d| Some(*d == delay)));
        let rows = filter_record_batch(batch, &mask)?;
        if rows.num_rows() > 0 {
            late.push((delay, shift_ingested_at(&rows, i64::from(delay) * DAY_US)?));
        }
    }
    Ok((first, late))
}

fn shift_ingested_at(batch: &RecordBatch, by_us: i64) -> Result<RecordBatch> {
    let index = batch.schema().index_of("_ingested_at")?;
    let old = batch
        .column(index)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .context("_ingested_at is a microsecond timestamp")?;
    let moved: TimestampMicrosecondArray = old.iter().map(|t| t.map(|t| t + by_us)).collect();
    replace_column(batch, index, Arc::new(moved.with_timezone("UTC")))
}

/// One delivery: its parts in order, as one batch of `batch_id` numbered from `rows_before + 1`.
pub fn assemble(parts: &[RecordBatch], batch_id: &str, rows_before: i64) -> Result<RecordBatch> {
    let schema = parts.first().context("a delivery has rows")?.schema();
    let batch = concat_batches(&schema, parts)?;
    let n = batch.num_rows();
    let ids = Arc::new(StringArray::from(vec![batch_id; n])) as ArrayRef;
    let numbers = Arc::new(Int64Array::from_iter_values(
        rows_before + 1..=rows_before + n as i64,
    )) as ArrayRef;
    let batch = replace_column(&batch, schema.index_of("_batch_id")?, ids)?;
    replace_column(&batch, schema.index_of("_row_number")?, numbers)
}

fn replace_column(batch: &RecordBatch, index: usize, column: ArrayRef) -> Result<RecordBatch> {
    debug_assert_eq!(column.len(), batch.num_rows());
    let mut columns = batch.columns().to_vec();
    columns[index] = column;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_a_share_and_bounded() {
        let late = Lateness {
            rate: 0.05,
            max_days: 3,
        };
        let delays: Vec<u32> = (0..20_000).map(|r| late.delay(9, 0, 4, r)).collect();
        let share = delays.iter().filter(|d| **d > 0).count() as f64 / 20_000.0;
        assert!((0.04..0.06).contains(&share), "{share}");
        assert!(delays.iter().all(|d| *d <= 3));
        assert!((1..=3).all(|d| delays.contains(&d)));
        assert!((0..1000).all(|r| Lateness::NONE.delay(9, 0, 4, r) == 0));
        // The same row is late by the same days however it is asked.
        assert_eq!(late.delay(9, 1, 2, 77), late.delay(9, 1, 2, 77));
    }
}
