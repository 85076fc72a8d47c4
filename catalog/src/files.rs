//! Committing Parquet files that other processes wrote (a cluster's executors) as a table's new
//! content: the one Delta commit is made here, from the process that planned the write.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{Action, Add, StructType, normalize_for_delta};
use deltalake::protocol::SaveMode;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;
use crate::write::{CommitMetrics, Committed, WriteOptions};

/// The Delta schema a write of `columns` stores, and the Arrow schema its files are written
/// with (what readers get back), so that files written anywhere match the table.
pub fn delta_columns(columns: &SchemaRef) -> Result<(StructType, SchemaRef)> {
    let delta: StructType = normalize_for_delta(columns)
        .as_ref()
        .try_into_kernel()
        .map_err(|e| CatalogError::Config(format!("columns: {e}")))?;
    let arrow: Schema = (&delta)
        .try_into_arrow()
        .map_err(|e| CatalogError::Config(format!("columns: {e}")))?;
    Ok((delta, Arc::new(arrow)))
}

impl Lakehouse {
    /// Replaces `schema.table`'s rows, columns, partitioning and description with the files
    /// `adds` names (written under the table's directory with `columns`), in one commit; creates
    /// the table when it is missing. Its table properties are kept. A failure leaves the table at
    /// its previous version (the files stay unreferenced until `vacuum`).
    pub async fn overwrite_with_files(
        &self,
        schema: &str,
        table: &str,
        columns: &SchemaRef,
        adds: Vec<Add>,
        mut options: WriteOptions,
    ) -> Result<Committed> {
        let name = format!("{schema}.{table}");
        let target = self.table_for_write(schema, table).await?;
        let (delta, _) = delta_columns(columns)?;
        // What the new version keeps of the one it replaces: its properties; and what it removes.
        let (removed, configuration): (u64, Vec<(String, Option<String>)>) = match target.snapshot()
        {
            Ok(state) => (
                state.log_data().num_files() as u64,
                state
                    .metadata()
                    .configuration()
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
            ),
            Err(_) => (
                0,
                crate::write::TABLE_PROPERTIES
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                    .collect(),
            ),
        };
        let metrics = CommitMetrics {
            rows_added: rows_in(&adds, &name)?,
            files_added: adds.len() as u64,
            files_removed: removed,
            ..CommitMetrics::default()
        };
        let mut entries = std::mem::take(&mut options.commit_metadata);
        entries.push((
            "operationMetrics".into(),
            serde_json::json!({
                "num_added_rows": metrics.rows_added,
                "num_added_files": metrics.files_added,
                "num_removed_files": metrics.files_removed,
            }),
        ));
        let mut create = target
            .create()
            .with_save_mode(SaveMode::Overwrite)
            .with_table_name(table)
            .with_columns(delta.fields().cloned())
            .with_configuration(configuration)
            .with_actions(adds.into_iter().map(Action::Add))
            .with_commit_properties(CommitProperties::default().with_metadata(entries));
        if !options.partition_by.is_empty() {
            create = create.with_partition_columns(options.partition_by.clone());
        }
        if let Some(description) = &options.description {
            create = create.with_comment(description.clone());
        }
        let table = create.await.map_err(|e| CatalogError::delta(&name, e))?;
        Ok(Committed { table, metrics })
    }
}

/// The rows the files hold, from their statistics (every file a writer closes has them).
fn rows_in(adds: &[Add], name: &str) -> Result<u64> {
    adds.iter().try_fold(0u64, |total, add| {
        let stats = add.get_stats().ok().flatten().ok_or_else(|| {
            CatalogError::Config(format!("{name}: file {} has no row count", add.path))
        })?;
        Ok(total + stats.num_records.max(0) as u64)
    })
}
