use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::record_batch::RecordBatch;
use cdrlake_catalog::{Commit, parse_table_name};
use clap::Args;

use crate::commands::args::{GlobalArgs, OutputArgs};
use crate::output;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Table as schema.table, e.g. bronze.voice_cdr
    pub table: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub async fn run(global: &GlobalArgs, args: &HistoryArgs) -> Result<()> {
    let (schema, table) = parse_table_name(&args.table)?;
    let lakehouse = super::connect(global).await?;
    let commits = lakehouse.history(&schema, &table).await?;
    let batch = to_batch(&commits)?;
    output::write(
        std::slice::from_ref(&batch),
        batch.schema(),
        args.out.format,
        args.out.output.as_deref(),
    )
}

fn to_batch(commits: &[Commit]) -> Result<RecordBatch> {
    let col = |f: fn(&Commit) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(commits.iter().map(f)))
    };
    Ok(RecordBatch::try_from_iter(vec![
        (
            "version",
            Arc::new(UInt64Array::from_iter_values(
                commits.iter().map(|c| c.version),
            )) as ArrayRef,
        ),
        (
            "timestamp",
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    commits
                        .iter()
                        .map(|c| c.timestamp.map(|t| t.timestamp_micros())),
                )
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        ("operation", col(|c| &c.operation)),
        ("parameters", col(|c| &c.parameters)),
        ("metrics", col(|c| &c.metrics)),
    ])?)
}
