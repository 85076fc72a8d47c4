//! `cdrlake generate`: a realistic, reproducible bronze dataset (see the spec's `generator.md`).
//!
//! The world (cells, subscribers, CRM versions) is built first; then each simulated day is
//! generated and committed to Delta before the next, so memory holds one day at a time. The same
//! seed and options give the same rows.
//!
//! Dirt (`dirt.rs`) and fraud patterns (`fraud.rs`) are injected and listed in the ground truth.

mod crm;
pub mod delivery;
pub mod dirt;
pub mod fraud;
mod rng;
mod tables;
mod text;
mod traffic;
mod world;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use arrow::array::RecordBatch;
use cdrlake_catalog::{CatalogError, Lakehouse, TableWrite, WriteMode};
use chrono::NaiveDate;
use deltalake::DeltaTable;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::contract::bronze_write_options;
pub use delivery::{GeneratorState, Lateness};
use dirt::{Dirt, DirtCounts};
use fraud::FraudCase;
use traffic::{Counters, DayTables, generate_day};

/// One generated day, ready to be committed.
struct Day {
    tables: DayTables,
    dirt: DirtCounts,
    fraud: Vec<FraudCase>,
}

/// `tables` may be those of an earlier day: their builders are sized for a day already.
fn generate_one_day(
    world: &world::World,
    seed: u64,
    start: NaiveDate,
    day: u32,
    dirt_rate: f64,
    mut fraud: Vec<FraudCase>,
    mut tables: DayTables,
) -> Day {
    let mut counters = Counters::for_day(day);
    let mut dirt = Dirt::new(dirt_rate);
    generate_day(
        world,
        seed,
        start,
        day,
        &mut counters,
        &mut dirt,
        &mut tables,
    );
    fraud::inject_day(
        world,
        seed,
        start,
        day,
        &mut fraud,
        &mut counters,
        &mut tables,
    );
    Day {
        tables,
        dirt: dirt.counts,
        fraud,
    }
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub customers: usize,
    pub start: NaiveDate,
    /// Days delivered by this call, from day `first_day` (0-based) on.
    pub days: u32,
    /// Days the world is simulated for (CRM changes, roaming, fraud): at least `first_day + days`.
    pub span: u32,
    /// The first day delivered: 0 replaces what bronze holds, later days append to it.
    pub first_day: u32,
    pub seed: u64,
    /// Share of records that get one defect (see `dirt.rs`).
    pub dirt_rate: f64,
    pub late: Lateness,
    pub progress: bool,
}

impl GenerateOptions {
    /// Options for days 0..days of a world of `days` days, all delivered now.
    pub fn all_at_once(customers: usize, start: NaiveDate, days: u32, seed: u64) -> Self {
        Self {
            customers,
            start,
            days,
            span: days,
            first_day: 0,
            seed,
            dirt_rate: 0.02,
            late: Lateness::NONE,
            progress: false,
        }
    }

    /// The state to record once days up to `delivered` (exclusive) are in bronze.
    fn state(&self, delivered: u32) -> GeneratorState {
        GeneratorState {
            seed: self.seed,
            customers: self.customers,
            start: self.start,
            span: self.span,
            dirt_rate: self.dirt_rate,
            late: self.late,
            delivered,
        }
    }

    /// The options that deliver the next `days` days of the world `state` describes.
    pub fn next_days(state: &GeneratorState, days: u32) -> Self {
        Self {
            customers: state.customers,
            start: state.start,
            days,
            span: state.span,
            first_day: state.delivered,
            seed: state.seed,
            dirt_rate: state.dirt_rate,
            late: state.late,
            progress: false,
        }
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    /// Rows per table, in the order written.
    pub rows: Vec<(String, u64)>,
    pub seconds: f64,
    pub truth: GroundTruth,
}

/// What the generator injected, for tests of mediation and fraud detection.
#[derive(Debug, Default, Serialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub customers: usize,
    pub start: String,
    pub days: u32,
    /// Days the world is simulated for, and the first one this call delivered (0-based).
    pub span: u32,
    pub first_day: u32,
    pub dirt_rate: f64,
    pub late_rate: f64,
    pub late_days: u32,
    pub rows: BTreeMap<String, u64>,
    pub dirt: DirtCounts,
    /// Rows each table should lose to mediation, by reason code.
    pub expected_rejects: BTreeMap<String, BTreeMap<String, u64>>,
    /// Injected fraud cases, one per pattern occurrence.
    pub fraud: Vec<FraudCase>,
    /// Late CDR records this call delivered, per table and days late.
    pub late_rows: BTreeMap<String, BTreeMap<u32, u64>>,
    /// Late CDR records due after the last day delivered: a later `--append` brings them.
    pub held_back: BTreeMap<String, u64>,
}

impl GroundTruth {
    fn new(
        options: &GenerateOptions,
        rows: &[(String, u64)],
        dirt: DirtCounts,
        fraud: Vec<FraudCase>,
    ) -> Self {
        let mut expected_rejects: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (table, kinds) in &dirt.rows {
            for (kind, n) in kinds {
                if let Some(reason) = kind.reason() {
                    *expected_rejects
                        .entry(table.to_string())
                        .or_default()
                        .entry(reason.to_string())
                        .or_default() += n;
                }
            }
        }
        Self {
            seed: options.seed,
            customers: options.customers,
            start: options.start.to_string(),
            days: options.days,
            span: options.span,
            first_day: options.first_day,
            dirt_rate: options.dirt_rate,
            late_rate: options.late.rate,
            late_days: options.late.max_days,
            rows: rows.iter().cloned().collect(),
            dirt,
            expected_rejects,
            fraud,
            ..Default::default()
        }
    }
}

impl Summary {
    pub fn cdrs(&self) -> u64 {
        self.rows
            .iter()
            .filter(|(t, _)| t.ends_with("_cdr"))
            .map(|(_, n)| n)
            .sum()
    }
    fn add(&mut self, table: &str, n: u64) {
        match self.rows.iter_mut().find(|(t, _)| t == table) {
            Some((_, total)) => *total += n,
            None => self.rows.push((table.to_string(), n)),
        }
    }
}

/// Customers needed for about `cdrs` CDRs over `days` (measured: about 16.6 CDR records per
/// subscriber-day with the default traffic mix, partials and MT legs included).
pub fn customers_for(cdrs: u64, days: u32) -> usize {
    ((cdrs as f64 / (16.6 * f64::from(days.max(1)))).ceil() as usize).max(10)
}

pub async fn generate(lakehouse: &Lakehouse, options: &GenerateOptions) -> Result<Summary> {
    if options.customers == 0 || options.days == 0 {
        bail!("--customers and --days must be at least 1");
    }
    let delivered_to = options.first_day + options.days;
    if delivered_to > options.span {
        bail!(
            "day {delivered_to} is past the {} simulated days of this world (--span)",
            options.span
        );
    }
    let started = Instant::now();
    let first_date = options.start + chrono::Days::new(u64::from(options.first_day));
    let batch_id = format!(
        "generator-{}-{}-{}-{}",
        options.seed, options.customers, first_date, options.days
    );
    let source = format!("generator:{}", options.seed);
    let world = world::build(options.seed, options.customers, options.start, options.span);
    let mut summary = Summary::default();

    if options.first_day == 0 {
        let cells = crm::cell_batch(&world)?;
        summary.add("cell", cells.num_rows() as u64);
        lakehouse
            .write_batches("bronze", "cell", vec![cells], WriteMode::Overwrite)
            .await?;
    }

    let bar = if options.progress {
        ProgressBar::new(u64::from(options.days))
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} day {pos}/{len} [{bar:30}] {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let world = Arc::new(world);
    let planned = fraud::plan(&world, options.seed, options.start, options.span);
    let mut fraud_cases = Vec::new();
    let mut dirt = DirtCounts::default();
    let mut late_rows: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let mut rows_written: BTreeMap<&'static str, i64> = BTreeMap::new();
    // Late rows by the day whose delivery brings them, then by table.
    let mut pending: BTreeMap<u32, Vec<(&'static str, u32, RecordBatch)>> = BTreeMap::new();
    // Days before the first delivered one are generated again only for their late rows.
    let replayed = if options.late.rate > 0.0 {
        options.first_day.saturating_sub(options.late.max_days)
    } else {
        options.first_day
    };
    let day_range = replayed..delivered_to;
    // Days are generated on blocking threads a little ahead of the writer, which commits them in order.
    let lookahead = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let mut generating: VecDeque<tokio::task::JoinHandle<Day>> = VecDeque::new();
    // Written days hand their emptied tables to later days: growing builders from empty copied
    // every column's buffers again and again.
    let mut spare_tables: Vec<DayTables> = Vec::new();
    // The Delta tables as the last commit left them: reopening one replays its whole log.
    let mut open: BTreeMap<&'static str, DeltaTable> = BTreeMap::new();
    let mut next_day = day_range.start;
    for day in day_range.clone() {
        while next_day < day_range.end && generating.len() < lookahead {
            let (world, d) = (world.clone(), next_day);
            let cases: Vec<FraudCase> = planned.iter().filter(|c| c.day == d).cloned().collect();
            let (seed, start, rate) = (options.seed, options.start, options.dirt_rate);
            let tables = spare_tables.pop().unwrap_or_else(DayTables::new);
            generating.push_back(tokio::task::spawn_blocking(move || {
                generate_one_day(&world, seed, start, d, rate, cases, tables)
            }));
            next_day += 1;
        }
        let mut done = generating.pop_front().expect("a day is generating").await?;
        let delivering = day >= options.first_day;
        let mut deliveries: Vec<(&'static str, RecordBatch)> = Vec::new();
        let cdr_tables = [
            &mut done.tables.voice,
            &mut done.tables.sms,
            &mut done.tables.data,
        ];
        for (index, table) in cdr_tables.into_iter().enumerate() {
            let name = table.name;
            let batch = table.finish(&batch_id, &source, 0)?;
            let delays: Vec<u32> = (0..batch.num_rows())
                .map(|row| options.late.delay(options.seed, index, day, row))
                .collect();
            let (on_time, late) = delivery::split_late(&batch, &delays)?;
            for (delay, rows) in late {
                if day + delay >= options.first_day {
                    pending
                        .entry(day + delay)
                        .or_default()
                        .push((name, delay, rows));
                }
            }
            deliveries.push((name, on_time));
        }
        deliveries.push((
            done.tables.probes.name,
            done.tables.probes.finish(&batch_id, &source, 0)?,
        ));
        if !delivering {
            spare_tables.push(done.tables);
            continue;
        }
        dirt.merge(done.dirt);
        fraud_cases.extend(done.fraud);
        let arriving = pending.remove(&day).unwrap_or_default();
        let mode = if day == 0 {
            WriteMode::Overwrite
        } else {
            WriteMode::Append
        };
        let state = serde_json::to_value(options.state(day + 1))?;
        let write_options = |name: &str| {
            let mut o = bronze_write_options(name);
            o.commit_metadata = vec![(delivery::STATE_KEY.to_string(), state.clone())];
            o
        };
        let mut crm_rows = crm::customer_table(&world, options.start, day);
        if !crm_rows.is_empty() {
            summary.add("crm_customer", crm_rows.len() as u64);
            let before = rows_written.entry("crm_customer").or_default();
            let batch = crm_rows.finish(&batch_id, &source, *before)?;
            *before += batch.num_rows() as i64;
            let target = match open.remove("crm_customer") {
                Some(t) => t,
                None => lakehouse.table_for_write("bronze", "crm_customer").await?,
            };
            let written = TableWrite::on(target, "bronze", "crm_customer")
                .batches(vec![batch])
                .mode(mode)
                .options(write_options("crm_customer"))
                .commit()
                .await?;
            open.insert("crm_customer", written.table);
        }
        let (mut names, mut writes) = (Vec::new(), Vec::new());
        for (name, on_time) in deliveries {
            let mut parts = vec![on_time];
            for (_, delay, rows) in arriving.iter().filter(|(t, ..)| *t == name) {
                *late_rows
                    .entry(name.to_string())
                    .or_default()
                    .entry(*delay)
                    .or_default() += rows.num_rows() as u64;
                parts.push(rows.clone());
            }
            let before = rows_written.entry(name).or_default();
            let batch = delivery::assemble(&parts, &batch_id, *before)?;
            *before += batch.num_rows() as i64;
            summary.add(name, batch.num_rows() as u64);
            let target = match open.remove(name) {
                Some(t) => t,
                None => lakehouse.table_for_write("bronze", name).await?,
            };
            names.push(name);
            let write = TableWrite::on(target, "bronze", name)
                .batches(vec![batch])
                .mode(mode)
                .options(write_options(name));
            writes.push(async move { Ok::<_, CatalogError>(write.commit().await?.table) });
        }
        // The four tables are independent commits; encoding them together keeps both cores busy.
        open.extend(
            names
                .into_iter()
                .zip(futures::future::try_join_all(writes).await?),
        );
        spare_tables.push(done.tables);
        bar.set_message(format!("{} CDRs", summary.cdrs()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    fraud_cases.sort_by_key(|c| c.rule as u8);
    let held_back = pending
        .values()
        .flatten()
        .fold(BTreeMap::new(), |mut m, (t, _, rows)| {
            *m.entry(t.to_string()).or_default() += rows.num_rows() as u64;
            m
        });
    summary.truth = GroundTruth::new(options, &summary.rows, dirt, fraud_cases);
    summary.truth.late_rows = late_rows;
    summary.truth.held_back = held_back;
    Ok(summary)
}

/// The generator's state as the last delivery into `bronze.voice_cdr` recorded it.
pub async fn delivered_state(lakehouse: &Lakehouse) -> Result<Option<GeneratorState>> {
    let entry = lakehouse
        .last_commit_entry("bronze", "voice_cdr", delivery::STATE_KEY)
        .await?;
    match entry {
        Some((_, Some(value))) => Ok(Some(serde_json::from_value(value)?)),
        _ => Ok(None),
    }
}
