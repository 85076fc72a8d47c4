use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::record_batch::RecordBatch;
use cdrlake_catalog::location::check_schema;
use cdrlake_catalog::{SCHEMAS, TableInfo};
use clap::Args;

use crate::commands::args::{GlobalArgs, OutputArgs};
use crate::output;

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Only this schema (bronze, silver, gold, system)
    pub schema: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub async fn run(global: &GlobalArgs, args: &TablesArgs) -> Result<()> {
    let lakehouse = super::connect(global).await?;
    let schemas: Vec<&str> = match &args.schema {
        Some(s) => {
            check_schema(s)?;
            vec![s.as_str()]
        }
        None => SCHEMAS.to_vec(),
    };
    let mut infos = Vec::new();
    for schema in schemas {
        for table in lakehouse.list_tables(schema).await? {
            infos.push(lakehouse.table_info(schema, &table).await?);
        }
    }
    let batch = to_batch(&infos)?;
    output::write(
        std::slice::from_ref(&batch),
        batch.schema(),
        args.out.format,
        args.out.output.as_deref(),
    )
}

fn to_batch(infos: &[TableInfo]) -> Result<RecordBatch> {
    let col = |f: fn(&TableInfo) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(infos.iter().map(f)))
    };
    Ok(RecordBatch::try_from_iter(vec![
        ("schema", col(|i| &i.schema)),
        ("table", col(|i| &i.table)),
        (
            "version",
            Arc::new(UInt64Array::from_iter_values(
                infos.iter().map(|i| i.version),
            )) as ArrayRef,
        ),
        (
            "rows",
            Arc::new(UInt64Array::from_iter(infos.iter().map(|i| i.rows))) as ArrayRef,
        ),
        (
            "files",
            Arc::new(UInt64Array::from_iter_values(infos.iter().map(|i| i.files))) as ArrayRef,
        ),
        (
            "size_bytes",
            Arc::new(UInt64Array::from_iter_values(
                infos.iter().map(|i| i.size_bytes),
            )) as ArrayRef,
        ),
        (
            "last_modified",
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    infos
                        .iter()
                        .map(|i| i.last_modified.map(|t| t.timestamp_micros())),
                )
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
    ])?)
}
