//! `cdrlake vacuum schema.table [--retain-hours N] [--dry-run] [--force]`: delete the data files
//! that older commits replaced. Until then every full refresh, merge and optimize keeps its old
//! files for time travel, and storage only grows.

use anyhow::Result;
use cdrlake_catalog::parse_table_name;
use clap::Args;

use crate::commands::args::GlobalArgs;

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Table as schema.table, e.g. silver.cdr
    pub table: String,
    /// Keep files replaced less than this many hours ago [default: the table's
    /// delta.deletedFileRetentionDuration, 168 hours unless set]
    #[arg(long)]
    pub retain_hours: Option<u32>,
    /// List what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a retention shorter than the table's: versions older than it can no longer be read
    /// (time travel, and replaying a bill run at the input versions system.model_runs recorded)
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &GlobalArgs, args: &VacuumArgs) -> Result<()> {
    let (schema, table) = parse_table_name(&args.table)?;
    let lakehouse = super::connect(global).await?;
    let engine = crate::engine::Engine::new(lakehouse.clone()).await?;
    let current = lakehouse.open_table(&schema, &table, None).await?.version();
    let name = format!("{schema}.{table}");
    // A closed period's replay reads the versions its close recorded: keep their files.
    for (period, versions) in crate::billing::close::held_versions(&engine).await? {
        if let (Some(&held), Some(current)) = (versions.get(&name), current)
            && held < current
        {
            anyhow::bail!(
                "{name}: the close of {period} recorded version {held} (for replay-period), and vacuum could delete its files: release the period first (cdrlake release-period {period})"
            );
        }
    }
    let retain = args
        .retain_hours
        .map(|h| chrono::Duration::hours(i64::from(h)));
    let done = lakehouse
        .vacuum(&schema, &table, retain, args.dry_run, args.force)
        .await?;
    if done.dry_run {
        println!(
            "{schema}.{table}: {} file(s) would be deleted",
            done.files.len()
        );
        for file in &done.files {
            println!("  {file}");
        }
    } else {
        println!("{schema}.{table}: {} file(s) deleted", done.files.len());
    }
    Ok(())
}
