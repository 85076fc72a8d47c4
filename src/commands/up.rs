//! `cdrlake up`: the main job. Makes sure the lakehouse exists, builds the model project, and
//! reports what the lakehouse holds. Data generation and the Flight SQL server join this
//! command as they land.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use cdrlake_catalog::Lakehouse;
use clap::Args;

use crate::cli::GlobalArgs;
use crate::engine::Engine;
use crate::models::{runner, Project, RunOptions};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The model project to build
    #[arg(long, default_value = "sql", value_name = "DIR")]
    pub project: PathBuf,
}

pub async fn run(global: &GlobalArgs, args: &UpArgs) -> Result<()> {
    let (lakehouse, report) = Lakehouse::init(global.lakehouse_config()?).await?;
    if report.created_root || report.created_bucket {
        println!("created lakehouse at {}", lakehouse.location());
    }
    let lakehouse = Arc::new(lakehouse);
    let engine = Engine::new(lakehouse.clone()).await?;
    let project = Project::load(&args.project)?;
    let run = runner::run(&engine, &project, &RunOptions::default()).await?;
    if run.failed() > 0 {
        bail!("{} model(s) failed (see above)", run.failed());
    }
    let tables = lakehouse.all_tables().await?;
    println!("lakehouse {}: {} Delta table(s)", lakehouse.location(), tables.len());
    for (schema, table) in &tables {
        let info = lakehouse.table_info(schema, table).await?;
        let rows = info.rows.map_or("?".to_string(), |r| r.to_string());
        println!("  {schema}.{table}: version {}, {rows} rows", info.version);
    }
    println!("query it with: cdrlake --lakehouse {} query \"SELECT * FROM bronze.plan\"", lakehouse.location());
    Ok(())
}
