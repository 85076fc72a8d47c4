//! Daily operation: `cargo bench --bench daily` (release profile).
//! Delivers CDRLAKE_BENCH_DAYS days (default 30, from 2026-04-17: across the April/May month end)
//! of about CDRLAKE_BENCH_DAY_CDRS CDRs each (default 1,000,000), 1% of them 1 to 3 days late,
//! one day at a time (`generate --append`), and runs `cdrlake run` after each. Prints per day the
//! run's time and peak RSS and each model's time, rows read and rows written; then day N against
//! day 2 for every model, and against day 4 (the first day whose late records reach 3 days back).
//! CDRLAKE_BENCH_PROJECT names a copy of sql/ to read instead of sql/; CDRLAKE_BENCH_RUN_ARGS
//! adds arguments to every `cdrlake run` (e.g. `--memory-limit 4G`).
//! A month is closed as an operator would (`cdrlake close-period M --grace-days 3`) after the run
//! of the first day past its end by the late records' reach; CDRLAKE_BENCH_CLOSE=0 never closes.
//! CDRLAKE_BENCH_HISTORY_DAYS=H (default 0) delivers H days before day 1 in one go and runs once
//! (a lakehouse going live with a backlog): day 2 then has the late records and fraud context of
//! every later day instead of one day's.

mod common;
#[path = "common/model_run.rs"]
mod model_run;

use common::cdrlake;
use model_run::run_models;

use chrono::{Datelike, Duration, NaiveDate};
use std::time::Instant;

/// How many days late a record may arrive (`--late-days` of the generator, its default).
const LATE_DAYS: i64 = 3;

/// Models whose figures are printed per day (all are run).
const SHOWN: [&str; 7] = [
    "silver.cdr",
    "gold.rated_cdr",
    "gold.fact_cdr",
    "gold.agg_cell_hourly",
    "gold.fraud_alert",
    "gold.invoice_line",
    "gold.customer_period",
];

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let cdrs: f64 = env("CDRLAKE_BENCH_DAY_CDRS", "1000000").parse()?;
    let days: u32 = env("CDRLAKE_BENCH_DAYS", "30").parse()?;
    // About 16.6 CDR records per subscriber-day (docs/generator.md).
    let customers = ((cdrs / 16.6).ceil() as u64).max(10).to_string();
    let history: u32 = env("CDRLAKE_BENCH_HISTORY_DAYS", "0").parse()?;
    let close = env("CDRLAKE_BENCH_CLOSE", "1") != "0";
    let first_day = NaiveDate::from_ymd_opt(2026, 4, 17).expect("a date");
    let temp = tempfile::tempdir()?;
    let lake = temp.path().join("lake");
    let truth = temp.path().join("truth.json");
    let truth = truth.to_string_lossy();
    // CDRLAKE_BENCH_PROJECT: a copy of sql/ to read, so the tree can be edited during a long run.
    let project = std::env::var("CDRLAKE_BENCH_PROJECT").unwrap_or_else(|_| {
        std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("sql")
        .to_string_lossy()
        .into_owned()
    });
    let extra = env("CDRLAKE_BENCH_RUN_ARGS", "");
    let mut run_args = vec!["run", "--project", &project];
    run_args.extend(extra.split_whitespace());
    println!(
        "daily: {customers} subscribers (~{cdrs} CDRs a day), {history} day(s) of history, then {days} days from {first_day}, 1% late by 1-{LATE_DAYS} days, months closed: {close}; {}",
        run_args.join(" ")
    );
    if history > 0 {
        let started = Instant::now();
        let start = (first_day - Duration::days(history.into())).to_string();
        generate_first(&lake, &customers, &start, history, history + days, &truth)?;
        let r = run_models(&lake, &run_args)?;
        println!(
            "history: {history} day(s) from {start}, generated and run in {:.1}s (run {:.1}s, peak RSS {:.0} MiB)",
            started.elapsed().as_secs_f64(),
            r.seconds,
            r.peak_mib
        );
    }
    let mut runs = Vec::new();
    for day in 1..=days {
        let generated = Instant::now();
        if day == 1 && history == 0 {
            let start = first_day.to_string();
            generate_first(&lake, &customers, &start, 1, days, &truth)?;
        } else {
            cdrlake(&lake, &["generate", "--append", "--truth", &truth])?;
        }
        let generated = generated.elapsed().as_secs_f64();
        let r = run_models(&lake, &run_args)?;
        let figures: Vec<String> = SHOWN
            .iter()
            .map(|m| match r.models.get(*m) {
                Some(x) => format!(
                    "{m} {:.2}s read {} peak {} MiB ({})",
                    x.seconds,
                    x.read,
                    x.peak_mib.map_or("-".into(), |p| p.to_string()),
                    x.detail
                ),
                None => format!("{m} -"),
            })
            .collect();
        println!(
            "day {day:>2}: generate {generated:.1}s, run {:.1}s, peak RSS {:.0} MiB | {}",
            r.seconds,
            r.peak_mib,
            figures.join(" | ")
        );
        runs.push(r);
        let date = first_day + Duration::days(i64::from(day) - 1);
        if let Some(period) = closable(date).filter(|_| close) {
            let closed = Instant::now();
            cdrlake(
                &lake,
                &[
                    "close-period",
                    &period,
                    "--grace-days",
                    &LATE_DAYS.to_string(),
                    "--project",
                    &project,
                ],
            )?;
            println!(
                "day {day:>2}: closed {period} in {:.1}s",
                closed.elapsed().as_secs_f64()
            );
        }
    }
    for base in [2, 4] {
        if runs.len() >= base {
            compare(base, &runs[base - 1], &runs[runs.len() - 1], runs.len());
        }
    }
    Ok(())
}

/// The first delivery: `days` days from `start`, of a `span`-day generation.
fn generate_first(
    lake: &std::path::Path,
    customers: &str,
    start: &str,
    days: u32,
    span: u32,
    truth: &str,
) -> anyhow::Result<()> {
    let (days, span) = (days.to_string(), span.to_string());
    cdrlake(
        lake,
        &[
            "generate",
            "--customers",
            customers,
            "--start",
            start,
            "--days",
            &days,
            "--span",
            &span,
            "--late-rate",
            "0.01",
            "--late-days",
            &LATE_DAYS.to_string(),
            "--truth",
            truth,
        ],
    )?;
    Ok(())
}

/// The month to close after delivering `date`: the one whose last day's late records have all
/// arrived with it (its end plus the late reach), so no later delivery changes it.
fn closable(date: NaiveDate) -> Option<String> {
    let passed = date - Duration::days(LATE_DAYS + 1);
    let month_end = (date - Duration::days(LATE_DAYS)).with_day(1)? - Duration::days(1);
    (passed == month_end).then(|| format!("{:04}-{:02}", month_end.year(), month_end.month()))
}

fn compare(base: usize, first: &model_run::Run, last: &model_run::Run, day: usize) {
    println!(
        "day {day} / day {base}: run {:.2}x, peak RSS {:.2}x",
        last.seconds / first.seconds,
        last.peak_mib / first.peak_mib
    );
    println!("  model: seconds day {base} -> day {day} (ratio); rows read (ratio)");
    for (m, b) in &last.models {
        if let Some(a) = first.models.get(m) {
            println!(
                "  {m:<30} {:>7.2}s -> {:>7.2}s ({:>5.2}x); {:>10} -> {:>10} ({:.2}x)",
                a.seconds,
                b.seconds,
                b.seconds / a.seconds.max(0.001),
                a.read,
                b.read,
                b.read as f64 / a.read.max(1) as f64
            );
        }
    }
}
