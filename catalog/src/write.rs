//! Writing record batches to a lakehouse table: one Delta commit per call, all or nothing.

use datafusion::arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::SaveMode;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the table if missing, else add rows.
    Append,
    /// Create the table if missing, else replace all rows (and the schema).
    Overwrite,
}

/// Options beyond the mode.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Add columns the table does not have yet (Delta schema evolution) instead of failing.
    pub merge_schema: bool,
    /// A Delta application transaction `(app_id, version)` committed atomically with the data,
    /// so a writer can later ask whether it already wrote something (idempotent ingest).
    pub app_transaction: Option<(String, i64)>,
    /// Columns written without a Parquet dictionary: for mostly unique values (timestamps, ids)
    /// a dictionary saves no space and hashing every value into it costs encoding time.
    pub plain_columns: Vec<String>,
    /// Columns written without min/max statistics: raw text no query filters on, where
    /// comparing every value to the running min and max is a fifth of the encoding time.
    pub unindexed_columns: Vec<String>,
    /// Entries for the commit's `commitInfo` (read back with [`Lakehouse::last_commit_entry`]).
    pub commit_metadata: Vec<(String, serde_json::Value)>,
}

/// delta-rs's default properties (Snappy), with dictionaries off for `plain` and statistics off
/// for `unindexed`.
pub fn column_properties(plain: &[String], unindexed: &[String]) -> WriterProperties {
    let builder = WriterProperties::builder().set_compression(Compression::SNAPPY);
    let builder = plain.iter().fold(builder, |b, c| {
        b.set_column_dictionary_enabled(ColumnPath::from(c.as_str()), false)
    });
    unindexed
        .iter()
        .fold(builder, |b, c| {
            b.set_column_statistics_enabled(ColumnPath::from(c.as_str()), EnabledStatistics::None)
        })
        .build()
}

impl Lakehouse {
    /// Creates `schema.table` with `columns` and no rows, unless it exists: for tables a query
    /// reads before anything was written to them (an anti-join against what was already sent).
    pub async fn ensure_table(
        &self,
        schema: &str,
        table: &str,
        columns: datafusion::arrow::datatypes::SchemaRef,
    ) -> Result<()> {
        match self.open_table(schema, table, None).await {
            Ok(_) => return Ok(()),
            Err(CatalogError::UnknownTable { .. }) => {}
            Err(e) => return Err(e),
        }
        self.table_for_write(schema, table)
            .await?
            .write(vec![RecordBatch::new_empty(columns)])
            .with_save_mode(SaveMode::Append)
            .with_table_name(table)
            .await
            .map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))?;
        Ok(())
    }

    /// Commits `batches` to `schema.table` in one Delta commit and returns the new table state.
    pub async fn write_batches(
        &self,
        schema: &str,
        table: &str,
        batches: Vec<RecordBatch>,
        mode: WriteMode,
    ) -> Result<DeltaTable> {
        self.write_batches_with(schema, table, batches, mode, WriteOptions::default())
            .await
    }

    pub async fn write_batches_with(
        &self,
        schema: &str,
        table: &str,
        batches: Vec<RecordBatch>,
        mode: WriteMode,
        options: WriteOptions,
    ) -> Result<DeltaTable> {
        let target = self.table_for_write(schema, table).await?;
        write_to(target, (schema, table), batches, mode, options).await
    }
}

/// One commit to `schema.table`, already open: a writer that commits to a table again and again
/// passes the table each commit returns and skips reading the log every time.
pub async fn write_to(
    target: DeltaTable,
    (schema, table): (&str, &str),
    batches: Vec<RecordBatch>,
    mode: WriteMode,
    options: WriteOptions,
) -> Result<DeltaTable> {
    if let Some((app_id, version)) = &options.app_transaction {
        check_transaction(&target, (schema, table), app_id, *version).await?;
    }
    let mut builder = target.write(batches).with_table_name(table);
    builder = match mode {
        WriteMode::Append => builder.with_save_mode(SaveMode::Append),
        WriteMode::Overwrite => builder
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite),
    };
    if options.merge_schema && mode == WriteMode::Append {
        builder = builder.with_schema_mode(SchemaMode::Merge);
    }
    if !options.plain_columns.is_empty() || !options.unindexed_columns.is_empty() {
        builder = builder.with_writer_properties(column_properties(
            &options.plain_columns,
            &options.unindexed_columns,
        ));
    }
    if options.app_transaction.is_some() || !options.commit_metadata.is_empty() {
        let mut props = CommitProperties::default().with_metadata(options.commit_metadata);
        if let Some((app_id, version)) = options.app_transaction {
            props = props.with_application_transaction(Transaction::new(app_id, version));
        }
        builder = builder.with_commit_properties(props);
    }
    builder
        .await
        .map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))
}

/// Refuses a commit of application transaction `app_id` at `version` when the table, as this
/// commit reads it, already holds that version or a later one. Checked on the snapshot the commit
/// is made against, so another writer committing the same transaction after it is a conflict that
/// Delta refuses (a check on a snapshot read earlier would let both commit). A table not created
/// yet holds none.
async fn check_transaction(
    target: &DeltaTable,
    (schema, table): (&str, &str),
    app_id: &str,
    version: i64,
) -> Result<()> {
    let Ok(state) = target.snapshot() else {
        return Ok(());
    };
    let name = format!("{schema}.{table}");
    let current = state
        .transaction_version(target.log_store().as_ref(), app_id)
        .await
        .map_err(|e| CatalogError::delta(&name, e))?;
    match current {
        Some(held) if held >= version => Err(CatalogError::TransactionCommitted {
            table: name,
            app_id: app_id.to_string(),
            version: held,
        }),
        _ => Ok(()),
    }
}

impl Lakehouse {
    /// The latest version of `schema.table` and the value its commit recorded under `key`
    /// (`None` for a table that does not exist).
    pub async fn last_commit_entry(
        &self,
        schema: &str,
        table: &str,
        key: &str,
    ) -> Result<Option<(u64, Option<serde_json::Value>)>> {
        let t = match self.open_table(schema, table, None).await {
            Ok(t) => t,
            Err(CatalogError::UnknownTable { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(version) = t.version() else {
            return Ok(None);
        };
        let last = self.collect_history_limited(&t, 1).await?;
        let value = last.first().and_then(|c| c.info.get(key).cloned());
        Ok(Some((version, value)))
    }

    /// The commit-info entries of the last `within` commits of `table`, newest first (find a
    /// key's newest value with `find_map`: maintenance such as `optimize` commits without it).
    pub async fn recent_commit_infos(
        &self,
        table: &DeltaTable,
        within: usize,
    ) -> Result<Vec<std::collections::HashMap<String, serde_json::Value>>> {
        let recent = self.collect_history_limited(table, within).await?;
        Ok(recent.into_iter().map(|c| c.info).collect())
    }

    /// The version of application transaction `app_id` recorded in `schema.table`, if any.
    pub async fn app_transaction_version(
        &self,
        schema: &str,
        table: &str,
        app_id: &str,
    ) -> Result<Option<i64>> {
        let t = match self.open_table(schema, table, None).await {
            Ok(t) => t,
            Err(CatalogError::UnknownTable { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let name = format!("{schema}.{table}");
        let state = t.snapshot().map_err(|e| CatalogError::delta(&name, e))?;
        state
            .transaction_version(t.log_store().as_ref(), app_id)
            .await
            .map_err(|e| CatalogError::delta(&name, e))
    }
}
