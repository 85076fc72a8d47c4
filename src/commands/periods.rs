//! `cdrlake close-period`: the monthly routine after the daily runs (docs/rating-billing.md).

use anyhow::Result;
use clap::Args;

use crate::billing::Period;
use crate::billing::close::{CloseOptions, close_period, release_period};
use crate::billing::documents::export_invoices;
use crate::billing::replay::replay_period;
use crate::commands::args::GlobalArgs;
use crate::commands::models::ProjectArgs;
use crate::engine::Engine;
use crate::models::Project;

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The billing period to close, YYYY-MM
    pub period: String,
    /// Days after the period's last day that the data's clock (the newest CDR) must have passed,
    /// so that most late records are in
    #[arg(long, default_value_t = 2)]
    pub grace_days: u32,
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub async fn close(global: &GlobalArgs, args: &CloseArgs) -> Result<()> {
    let period = Period::parse(&args.period)?;
    let project = Project::load(&args.project.project)?;
    let lakehouse = super::connect(global).await?;
    let purpose = format!("close-period {period}");
    let closed = crate::models::with_models_lease(&lakehouse, &purpose, |fence| async {
        let options = CloseOptions {
            period,
            grace_days: args.grace_days,
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            fence,
            progress: super::progress::cli(),
        };
        let engine = Engine::new(lakehouse.clone()).await?;
        close_period(&engine, &project, &options).await
    })
    .await?;
    println!(
        "{period} closed: {} invoices issued, net {} MAD, total {} MAD incl. VAT (system.period_close, run {})",
        closed.invoices, closed.net_amount, closed.total_amount, closed.run_id
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The closed billing period to replay, YYYY-MM
    pub period: String,
    /// Where to rebuild it [default: a new temporary directory, removed afterwards]
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<std::path::PathBuf>,
}

pub async fn replay(global: &GlobalArgs, args: &ReplayArgs) -> Result<()> {
    let period = Period::parse(&args.period)?;
    let engine = Engine::new(super::connect(global).await?).await?;
    let temporary = tempfile::tempdir()?;
    let scratch = args.scratch.as_deref().unwrap_or(temporary.path());
    let replay = replay_period(&engine, period, scratch, &super::progress::cli()).await?;
    if replay.differences.is_empty() {
        println!(
            "identical: {period} replayed from the versions its close recorded gives the {} issued invoices and {} lines exactly",
            replay.invoices, replay.lines
        );
        return Ok(());
    }
    for difference in &replay.differences {
        println!("  {difference}");
    }
    anyhow::bail!(
        "{period} replayed differs from what was issued: {} row(s) (listed above)",
        replay.differences.len()
    )
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The closed billing period whose recorded versions `vacuum` may then delete, YYYY-MM
    pub period: String,
}

pub async fn release(global: &GlobalArgs, args: &ReleaseArgs) -> Result<()> {
    let period = Period::parse(&args.period)?;
    let lakehouse = super::connect(global).await?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    crate::models::with_models_lease(&lakehouse, &format!("release-period {period}"), |fence| {
        let (lakehouse, user) = (lakehouse.clone(), user.clone());
        async move {
            let engine = Engine::new(lakehouse).await?;
            fence.check()?;
            release_period(&engine, period, &user).await
        }
    })
    .await?;
    println!(
        "{period} released: vacuum may now delete the files its close recorded (its invoices stay issued; system.period_close)"
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct InvoicesArgs {
    #[command(subcommand)]
    pub command: InvoicesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum InvoicesCommand {
    /// Write a closed period's issued invoices as customer documents (HTML, one per invoice, and
    /// an index). They carry customer data: the directory is made readable by its owner only.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The closed billing period, YYYY-MM
    pub period: String,
    /// The directory to write the documents into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
}

pub async fn invoices(global: &GlobalArgs, args: &InvoicesArgs) -> Result<()> {
    match &args.command {
        InvoicesCommand::Export(export) => {
            let period = Period::parse(&export.period)?;
            let engine = Engine::new(super::connect(global).await?).await?;
            let exported = export_invoices(&engine, period, &export.out).await?;
            println!(
                "{period}: {} invoice documents in {} (open {} for the list; print to PDF from a browser)",
                exported.documents,
                export.out.display(),
                exported.index.display()
            );
            Ok(())
        }
    }
}
