use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Args;

use crate::commands::args::GlobalArgs;
use crate::generate::{GenerateOptions, customers_for, generate};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of subscribers
    #[arg(long, default_value_t = 10_000, conflicts_with = "cdrs")]
    pub customers: usize,
    /// Aim for about this many CDRs instead of giving --customers
    #[arg(long)]
    pub cdrs: Option<u64>,
    /// First local day
    #[arg(long, default_value = "2026-04-01")]
    pub start: NaiveDate,
    /// Number of local days
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Random seed: the same seed and options give the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of records with one injected defect (0 for clean data)
    #[arg(long, default_value_t = 0.02)]
    pub dirt_rate: f64,
    /// Where to write the ground truth (what was injected) as JSON
    #[arg(long, default_value = "ground-truth.json")]
    pub truth: std::path::PathBuf,
}

pub async fn run(global: &GlobalArgs, args: &GenerateArgs) -> Result<()> {
    if args.start >= NaiveDate::from_ymd_opt(2026, 9, 20).expect("valid") {
        bail!(
            "--start must be before 2026-09-20: later tz data versions disagree on Morocco's offset"
        );
    }
    let customers = args
        .cdrs
        .map_or(args.customers, |c| customers_for(c, args.days));
    let lakehouse = super::connect_or_init(global).await?;
    if !(0.0..=0.5).contains(&args.dirt_rate) {
        bail!("--dirt-rate must be between 0 and 0.5");
    }
    let options = GenerateOptions {
        customers,
        start: args.start,
        days: args.days,
        seed: args.seed,
        dirt_rate: args.dirt_rate,
        progress: true,
    };
    println!(
        "generating {customers} subscribers over {} day(s) from {} (seed {}) into {}",
        args.days,
        args.start,
        args.seed,
        lakehouse.location()
    );
    let summary = generate(&lakehouse, &options).await?;
    let total: u64 = summary.rows.iter().map(|(_, n)| n).sum();
    let json = serde_json::to_string_pretty(&summary.truth)?;
    std::fs::write(&args.truth, json + "\n")
        .with_context(|| format!("cannot write {}", args.truth.display()))?;
    for (table, rows) in &summary.rows {
        println!("  bronze.{table:<14} {rows:>12} rows");
    }
    println!(
        "{} CDRs, {total} rows in {:.1}s ({:.0} rows/s, {:.0} CDRs/s)",
        summary.cdrs(),
        summary.seconds,
        total as f64 / summary.seconds,
        summary.cdrs() as f64 / summary.seconds
    );
    println!("ground truth: {}", args.truth.display());
    Ok(())
}
