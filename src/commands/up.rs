//! `cdrlake up`: the main job. Makes sure the lakehouse exists, generates the sample bronze
//! data if it has none, builds the model project, reports what the lakehouse holds, and serves
//! it over Flight SQL.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use cdrlake_catalog::{Fence, Lakehouse};
use clap::Args;

use crate::billing::close::{CloseOptions, closable_periods, close_period};
use crate::commands::args::GlobalArgs;
use crate::engine::Engine;
use crate::generate::{GenerateOptions, generate};
use crate::models::{Project, RunOptions, runner};
use chrono::NaiveDate;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The model project to build
    #[arg(long, default_value = "sql", value_name = "DIR")]
    pub project: PathBuf,
    /// Subscribers of the sample data generated into an empty lakehouse
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Days of sample data from 2026-04-01: by default April, which is closed once built (its
    /// invoices issued), and the first 4 days of May (provisional)
    #[arg(long, default_value_t = 34)]
    pub days: u32,
    #[command(flatten)]
    pub serve: super::serve::ServeArgs,
    #[command(flatten)]
    pub watch: super::serve::WatchArgs,
    /// Build, report and exit instead of serving
    #[arg(long)]
    pub no_serve: bool,
}

pub async fn run(global: &GlobalArgs, args: &UpArgs) -> Result<()> {
    let (lakehouse, report) = Lakehouse::init(global.lakehouse_config()?).await?;
    if report.created_root || report.created_bucket {
        println!("created lakehouse at {}", lakehouse.location());
    }
    let lakehouse = Arc::new(lakehouse);
    if lakehouse
        .list_tables("bronze")
        .await?
        .iter()
        .all(|t| t != "voice_cdr")
    {
        let options = GenerateOptions {
            progress: true,
            ..GenerateOptions::all_at_once(
                args.customers,
                NaiveDate::from_ymd_opt(2026, 4, 1).expect("valid date"),
                args.days,
                42,
            )
        };
        println!(
            "no CDRs yet: generating {} subscribers over {} days",
            options.customers, options.days
        );
        let summary = generate(&lakehouse, &options).await?;
        println!(
            "generated {} CDRs in {:.1}s",
            summary.cdrs(),
            summary.seconds
        );
    }
    let project = Project::load(&args.project)?;
    crate::models::with_models_lease(&lakehouse, "up", |fence| async {
        crate::billing::store::ensure_tables(&lakehouse).await?;
        let engine = Engine::new(lakehouse.clone())
            .await?
            .with_engine(args.serve.engine.engine.as_deref())?;
        build_and_close(&engine, &project, fence).await
    })
    .await?;
    let tables = lakehouse.all_tables().await?;
    println!(
        "lakehouse {}: {} Delta table(s)",
        lakehouse.location(),
        tables.len()
    );
    for (schema, table) in &tables {
        let info = lakehouse.table_info(schema, table).await?;
        let rows = info.rows.map_or("?".to_string(), |r| r.to_string());
        println!("  {schema}.{table}: version {}, {rows} rows", info.version);
    }
    println!(
        "query it with: cdrlake --lakehouse {} query \"SELECT * FROM bronze.plan\"",
        lakehouse.location()
    );
    if args.no_serve {
        return Ok(());
    }
    // Building is done: from here on the process is a server (see `allocator`).
    crate::allocator::keep_freed_memory(false);
    // A fresh session: it sees the views and tables the run just built.
    let watch = args.watch.options(Some(&args.project))?;
    super::serve::serve_lakehouse(
        global,
        lakehouse,
        &args.serve,
        Some(args.project.clone()),
        watch,
    )
    .await
}

/// Builds every model, then closes the months that have ended by the data's clock (the monthly
/// routine), so the sample has issued invoices for them and provisional ones after.
async fn build_and_close(engine: &Engine, project: &Project, fence: Fence) -> Result<()> {
    let everything = RunOptions {
        fence: fence.clone(),
        progress: super::progress::cli(),
        ..RunOptions::default()
    };
    let run = runner::run(engine, project, &everything).await?;
    if run.failed() > 0 {
        bail!("{} model(s) failed (see above)", run.failed());
    }
    let grace_days = 2;
    for period in closable_periods(engine, grace_days).await? {
        let options = CloseOptions {
            period,
            grace_days,
            user: "cdrlake up".into(),
            fence: fence.clone(),
            progress: everything.progress.clone(),
        };
        let closed = close_period(engine, project, &options).await?;
        println!(
            "{period} closed: {} invoices issued, net {} MAD",
            closed.invoices, closed.net_amount
        );
    }
    Ok(())
}
