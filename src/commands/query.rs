use anyhow::Result;
use clap::Args;

use crate::commands::args::{EngineArgs, GlobalArgs, OutputArgs};
use crate::engine::Engine;
use crate::output;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// One SQL statement, e.g. "SELECT count(*) FROM bronze.voice_cdr"
    pub sql: String,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub async fn run(global: &GlobalArgs, args: &QueryArgs) -> Result<()> {
    let engine = Engine::new(super::connect(global).await?)
        .await?
        .with_engine(args.engine.engine.as_deref())?;
    // INSERT INTO / CREATE TABLE AS / DELETE on lakehouse tables: one Delta commit each.
    if let Some(write) = crate::sql_write::WriteStatement::parse(&args.sql)? {
        let (schema, table) = write.target();
        let rows = write.execute(&engine).await?;
        println!("{rows} row(s) affected in {schema}.{table}");
        return Ok(());
    }
    let df = engine.dataframe(&args.sql).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    output::write(
        &batches,
        schema,
        args.out.format,
        args.out.output.as_deref(),
    )
}
