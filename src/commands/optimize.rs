//! `cdrlake optimize schema.table [--zorder col,...]`: compact a table's files, or Z-order them by
//! the columns lookups filter on. One Delta commit; readers keep their snapshot meanwhile.

use anyhow::Result;
use cdrlake_catalog::parse_table_name;
use clap::Args;

use crate::commands::args::GlobalArgs;

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Table as schema.table, e.g. gold.fact_cdr
    pub table: String,
    /// Order rows by these columns (Z-order for several), e.g. --zorder customer_id,start_time
    #[arg(long, value_delimiter = ',')]
    pub zorder: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: &OptimizeArgs) -> Result<()> {
    let (schema, table) = parse_table_name(&args.table)?;
    let lakehouse = super::connect(global).await?;
    let done = lakehouse.optimize(&schema, &table, &args.zorder).await?;
    let version = done
        .version
        .map(|v| format!(", now version {v}"))
        .unwrap_or_default();
    println!(
        "{schema}.{table}: {} file(s) rewritten into {}{version}",
        done.files_removed, done.files_added
    );
    Ok(())
}
