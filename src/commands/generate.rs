use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Args;

use crate::commands::args::GlobalArgs;
use crate::generate::{GenerateOptions, Lateness, customers_for, delivered_state, generate};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of subscribers
    #[arg(long, default_value_t = 10_000, conflicts_with = "cdrs")]
    pub customers: usize,
    /// Aim for about this many CDRs instead of giving --customers
    #[arg(long)]
    pub cdrs: Option<u64>,
    /// First local day [default: 2026-04-01; with --append, the next undelivered day]
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Number of local days delivered [default: 30; with --append, 1]
    #[arg(long)]
    pub days: Option<u32>,
    /// Days the world is simulated for (CRM changes, roaming, fraud) [default: --days]: deliver
    /// fewer now and the rest later with --append
    #[arg(long, conflicts_with = "append")]
    pub span: Option<u32>,
    /// Deliver the next days of the world already in bronze (same seed, subscribers, cells and
    /// CRM history) instead of replacing it
    #[arg(long, conflicts_with_all = ["customers", "cdrs", "seed", "dirt_rate", "late_rate", "late_days"])]
    pub append: bool,
    /// Random seed: the same seed and options give the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of records with one injected defect (0 for clean data)
    #[arg(long, default_value_t = 0.02)]
    pub dirt_rate: f64,
    /// Share of CDR records delivered one to --late-days deliveries after their day's
    #[arg(long, default_value_t = 0.0)]
    pub late_rate: f64,
    /// The most deliveries a late record is behind
    #[arg(long, default_value_t = 3)]
    pub late_days: u32,
    /// Where to write the ground truth (what was injected) as JSON
    #[arg(long, default_value = "ground-truth.json")]
    pub truth: std::path::PathBuf,
}

/// Morocco's offsets are only known up to here in the tz data cdrlake ships.
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 20).expect("valid")
}

async fn options(
    lakehouse: &cdrlake_catalog::Lakehouse,
    args: &GenerateArgs,
) -> Result<GenerateOptions> {
    if args.append {
        let state = delivered_state(lakehouse).await?.context(
            "nothing to append to: bronze.voice_cdr was not written by `cdrlake generate` (run it without --append first)",
        )?;
        let next = state.start + chrono::Days::new(u64::from(state.delivered));
        if let Some(start) = args.start.filter(|s| *s != next) {
            bail!("--start {start} with --append: the next day to deliver is {next}");
        }
        let days = args.days.unwrap_or(1);
        if state.delivered + days > state.span {
            bail!(
                "the world in bronze was simulated for {} days from {} and {} are delivered: \
                 {days} more would pass its end (generate it again with a larger --span)",
                state.span,
                state.start,
                state.delivered
            );
        }
        return Ok(GenerateOptions {
            progress: true,
            ..GenerateOptions::next_days(&state, days)
        });
    }
    if !(0.0..=0.5).contains(&args.dirt_rate) {
        bail!("--dirt-rate must be between 0 and 0.5");
    }
    if !(0.0..=0.5).contains(&args.late_rate) || args.late_days == 0 {
        bail!("--late-rate must be between 0 and 0.5 and --late-days at least 1");
    }
    let days = args.days.unwrap_or(30);
    let span = args.span.unwrap_or(days);
    if span < days {
        bail!("--span {span} is shorter than --days {days}");
    }
    let start = args
        .start
        .unwrap_or(NaiveDate::from_ymd_opt(2026, 4, 1).expect("valid"));
    Ok(GenerateOptions {
        customers: args.cdrs.map_or(args.customers, |c| customers_for(c, days)),
        start,
        days,
        span,
        first_day: 0,
        seed: args.seed,
        dirt_rate: args.dirt_rate,
        late: Lateness {
            rate: args.late_rate,
            max_days: args.late_days,
        },
        progress: true,
    })
}

pub async fn run(global: &GlobalArgs, args: &GenerateArgs) -> Result<()> {
    let lakehouse = super::connect_or_init(global).await?;
    let options = options(&lakehouse, args).await?;
    let first = options.start + chrono::Days::new(u64::from(options.first_day));
    if first + chrono::Days::new(u64::from(options.days)) > last_day() {
        bail!(
            "days must end by {}: later tz data versions disagree on Morocco's offset",
            last_day()
        );
    }
    println!(
        "generating {} subscribers, {} day(s) from {first} (seed {}) into {}{}",
        options.customers,
        options.days,
        options.seed,
        lakehouse.location(),
        if options.first_day > 0 {
            " (appending)"
        } else {
            ""
        }
    );
    let summary = generate(&lakehouse, &options).await?;
    let total: u64 = summary.rows.iter().map(|(_, n)| n).sum();
    let json = serde_json::to_string_pretty(&summary.truth)?;
    std::fs::write(&args.truth, json + "\n")
        .with_context(|| format!("cannot write {}", args.truth.display()))?;
    for (table, rows) in &summary.rows {
        println!("  bronze.{table:<14} {rows:>12} rows");
    }
    let late: u64 = summary
        .truth
        .late_rows
        .values()
        .flat_map(|m| m.values())
        .sum();
    let held: u64 = summary.truth.held_back.values().sum();
    if late + held > 0 {
        println!("  {late} late records delivered, {held} due with later deliveries");
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
