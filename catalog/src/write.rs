//! Writing record batches to a lakehouse table: one Delta commit per call, all or nothing.

use datafusion::arrow::record_batch::RecordBatch;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTable;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the table if missing, else add rows.
    Append,
    /// Create the table if missing, else replace all rows (and the schema).
    Overwrite,
}

impl Lakehouse {
    /// Commits `batches` to `schema.table` in one Delta commit and returns the new table state.
    pub async fn write_batches(
        &self,
        schema: &str,
        table: &str,
        batches: Vec<RecordBatch>,
        mode: WriteMode,
    ) -> Result<DeltaTable> {
        let target = self.table_for_write(schema, table).await?;
        let mut builder = target.write(batches).with_table_name(table);
        builder = match mode {
            WriteMode::Append => builder.with_save_mode(SaveMode::Append),
            WriteMode::Overwrite => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite),
        };
        builder.await.map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))
    }
}
