//! `cdrlake generate`: a realistic, reproducible bronze dataset (see the spec's `generator.md`).
//!
//! The world (cells, subscribers, CRM versions) is built first; then each simulated day is
//! generated and committed to Delta before the next, so memory holds one day at a time. The same
//! seed and options give the same rows.
//!
//! Dirt (`dirt.rs`) and fraud patterns (`fraud.rs`) are injected and listed in the ground truth.

mod crm;
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
use cdrlake_catalog::{Lakehouse, WriteMode, write_to};
use chrono::NaiveDate;
use deltalake::DeltaTable;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::contract::bronze_write_options;
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
    pub days: u32,
    pub seed: u64,
    /// Share of records that get one defect (see `dirt.rs`).
    pub dirt_rate: f64,
    pub progress: bool,
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
    pub dirt_rate: f64,
    pub rows: BTreeMap<String, u64>,
    pub dirt: DirtCounts,
    /// Rows each table should lose to mediation, by reason code.
    pub expected_rejects: BTreeMap<String, BTreeMap<String, u64>>,
    /// Injected fraud cases, one per pattern occurrence.
    pub fraud: Vec<FraudCase>,
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
            dirt_rate: options.dirt_rate,
            rows: rows.iter().cloned().collect(),
            dirt,
            expected_rejects,
            fraud,
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
    let started = Instant::now();
    let batch_id = format!(
        "generator-{}-{}-{}-{}",
        options.seed, options.customers, options.start, options.days
    );
    let source = format!("generator:{}", options.seed);
    let world = world::build(options.seed, options.customers, options.start, options.days);
    let mut summary = Summary::default();

    let cells = crm::cell_batch(&world)?;
    summary.add("cell", cells.num_rows() as u64);
    lakehouse
        .write_batches("bronze", "cell", vec![cells], WriteMode::Overwrite)
        .await?;
    let mut customers = crm::customer_table(&world, options.start);
    summary.add("crm_customer", customers.len() as u64);
    let batch = customers.finish(&batch_id, &source, 0)?;
    lakehouse
        .write_batches("bronze", "crm_customer", vec![batch], WriteMode::Overwrite)
        .await?;

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
    let planned = fraud::plan(&world, options.seed, options.start, options.days);
    let mut fraud_cases = Vec::new();
    let mut dirt = DirtCounts::default();
    let mut rows_written: BTreeMap<&'static str, i64> = BTreeMap::new();
    // Days are generated on blocking threads a little ahead of the writer, which commits them in order.
    let lookahead = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let mut pending: VecDeque<tokio::task::JoinHandle<Day>> = VecDeque::new();
    // Written days hand their emptied tables to later days: growing builders from empty copied
    // every column's buffers again and again.
    let mut spare_tables: Vec<DayTables> = Vec::new();
    // The Delta tables as the last commit left them: reopening one replays its whole log.
    let mut open: BTreeMap<&'static str, DeltaTable> = BTreeMap::new();
    let mut next_day = 0;
    for day in 0..options.days {
        while next_day < options.days && pending.len() < lookahead {
            let (world, d) = (world.clone(), next_day);
            let cases: Vec<FraudCase> = planned.iter().filter(|c| c.day == d).cloned().collect();
            let (seed, start, rate) = (options.seed, options.start, options.dirt_rate);
            let tables = spare_tables.pop().unwrap_or_else(DayTables::new);
            pending.push_back(tokio::task::spawn_blocking(move || {
                generate_one_day(&world, seed, start, d, rate, cases, tables)
            }));
            next_day += 1;
        }
        let mut done = pending.pop_front().expect("a day is pending").await?;
        dirt.merge(done.dirt);
        fraud_cases.extend(done.fraud);
        let mode = if day == 0 {
            WriteMode::Overwrite
        } else {
            WriteMode::Append
        };
        let (mut names, mut writes) = (Vec::new(), Vec::new());
        for table in [
            &mut done.tables.voice,
            &mut done.tables.sms,
            &mut done.tables.data,
            &mut done.tables.probes,
        ] {
            let name = table.name;
            let before = rows_written.entry(name).or_default();
            let batch = table.finish(&batch_id, &source, *before)?;
            *before += batch.num_rows() as i64;
            summary.add(name, batch.num_rows() as u64);
            let target = match open.remove(name) {
                Some(t) => t,
                None => lakehouse.table_for_write("bronze", name).await?,
            };
            names.push(name);
            writes.push(write_to(
                target,
                ("bronze", name),
                vec![batch],
                mode,
                bronze_write_options(name),
            ));
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
    summary.truth = GroundTruth::new(options, &summary.rows, dirt, fraud_cases);
    Ok(summary)
}
