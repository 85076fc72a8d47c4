//! `cdrlake up`: the main job. Makes sure the lakehouse exists and reports what it holds.
//! Generation, model builds and the Flight SQL server join this command as they land.

use anyhow::Result;
use cdrlake_catalog::Lakehouse;

use crate::cli::GlobalArgs;

pub async fn run(global: &GlobalArgs) -> Result<()> {
    let (lakehouse, report) = Lakehouse::init(global.lakehouse_config()?).await?;
    if report.created_root || report.created_bucket {
        println!("created lakehouse at {}", lakehouse.location());
    }
    let tables = lakehouse.all_tables().await?;
    println!("lakehouse {}: {} Delta table(s)", lakehouse.location(), tables.len());
    for (schema, table) in &tables {
        let info = lakehouse.table_info(schema, table).await?;
        let rows = info.rows.map_or("?".to_string(), |r| r.to_string());
        println!("  {schema}.{table}: version {}, {rows} rows", info.version);
    }
    println!("query it with: cdrlake --lakehouse {} query \"SELECT ...\"", lakehouse.location());
    Ok(())
}
