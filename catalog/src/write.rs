//! The one way rows get into a lakehouse table. A [`TableWrite`] names the table, takes record
//! batches or a DataFrame (streamed, never collected), and commits once, all or nothing: append,
//! overwrite, overwrite of the rows a predicate selects, or a merge on a key (`merge.rs`). It
//! returns the table as committed and what the commit did ([`CommitMetrics`]).

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::prelude::{DataFrame, Expr};
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::{SchemaMode, WriteBuilder};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

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
    /// Columns whose values name the table's partitions (directories), on create and overwrite.
    pub partition_by: Vec<String>,
    /// The table's description, on create and overwrite.
    pub description: Option<String>,
}

/// Rows per Parquet row group. A writer holds its open row group in memory, encoded, for every
/// partition it writes: a table partitioned by day, written from two streams, has some 60 open
/// at once, and at Parquet's default of 1Mi rows they held gigabytes the query engine does not
/// count (docs/performance.md). `CDRLAKE_PARQUET_ROW_GROUP_ROWS` overrides it.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

pub(crate) fn row_group_rows() -> usize {
    std::env::var("CDRLAKE_PARQUET_ROW_GROUP_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&rows| rows > 0)
        .unwrap_or(ROW_GROUP_ROWS)
}

/// delta-rs's default properties (Snappy), row groups of [`ROW_GROUP_ROWS`], with dictionaries
/// off for `plain` and statistics off for `unindexed`.
pub fn column_properties(plain: &[String], unindexed: &[String]) -> WriterProperties {
    let builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows()));
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
    /// A write to `schema.table`, whether or not it exists yet.
    pub async fn write(&self, schema: &str, table: &str) -> Result<TableWrite> {
        let target = self.table_for_write(schema, table).await?;
        Ok(TableWrite::on(target, schema, table))
    }

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
        self.write(schema, table)
            .await?
            .batches(vec![RecordBatch::new_empty(columns)])
            .commit()
            .await?;
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
        let write = self.write(schema, table).await?.batches(batches).mode(mode);
        Ok(write.commit().await?.table)
    }
}

/// What a commit did, as delta-rs counted it while writing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitMetrics {
    /// Rows written as new: appended, inserted by a merge, or the new content of an overwrite.
    pub rows_added: u64,
    /// Rows a merge changed in place.
    pub rows_updated: u64,
    pub rows_deleted: u64,
    /// Rows stored before that share a rewritten file with changed rows: read and written again.
    pub rows_copied: u64,
    pub files_added: u64,
    pub files_removed: u64,
}

/// A commit made: the table as of that commit, and what it did.
#[derive(Debug)]
pub struct Committed {
    pub table: DeltaTable,
    pub metrics: CommitMetrics,
}

impl Committed {
    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }
}

pub(crate) enum Input {
    None,
    Batches(Vec<RecordBatch>),
    Frame(Box<DataFrame>),
}

/// One commit to one table, built up with its settings and made by [`TableWrite::commit`] (or
/// [`TableWrite::merge`]).
pub struct TableWrite {
    pub(crate) target: DeltaTable,
    pub(crate) name: String,
    table: String,
    pub(crate) input: Input,
    mode: WriteMode,
    replace_where: Option<Expr>,
    pub(crate) options: WriteOptions,
}

impl TableWrite {
    /// A write to `schema.table`, already open: a writer that commits to a table again and again
    /// passes the table each commit returns and skips reading the log every time.
    pub fn on(target: DeltaTable, schema: &str, table: &str) -> Self {
        Self {
            target,
            name: format!("{schema}.{table}"),
            table: table.to_string(),
            input: Input::None,
            mode: WriteMode::Append,
            replace_where: None,
            options: WriteOptions::default(),
        }
    }

    pub fn batches(mut self, batches: Vec<RecordBatch>) -> Self {
        self.input = Input::Batches(batches);
        self
    }

    /// The rows of `df`, encoded as its plan produces them (a 10M-row result collected first
    /// peaked at 4.6 GB), with `df`'s session.
    pub fn dataframe(mut self, df: DataFrame) -> Self {
        self.input = Input::Frame(Box::new(df));
        self
    }

    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// Replace only the stored rows `predicate` selects (Delta's replaceWhere); every written
    /// row must satisfy it.
    pub fn replace_where(mut self, predicate: Expr) -> Self {
        self.mode = WriteMode::Overwrite;
        self.replace_where = Some(predicate);
        self
    }

    pub fn options(mut self, options: WriteOptions) -> Self {
        self.options = options;
        self
    }

    pub fn commit_metadata(mut self, entries: Vec<(String, serde_json::Value)>) -> Self {
        self.options.commit_metadata = entries;
        self
    }

    pub(crate) fn commit_properties(&mut self) -> Option<CommitProperties> {
        let options = &mut self.options;
        if options.app_transaction.is_none() && options.commit_metadata.is_empty() {
            return None;
        }
        let mut props =
            CommitProperties::default().with_metadata(std::mem::take(&mut options.commit_metadata));
        if let Some((app_id, version)) = options.app_transaction.take() {
            props = props.with_application_transaction(Transaction::new(app_id, version));
        }
        Some(props)
    }

    pub(crate) fn parquet_properties(&self) -> WriterProperties {
        column_properties(&self.options.plain_columns, &self.options.unindexed_columns)
    }

    /// Makes the commit. A failure leaves the table at its previous version.
    pub async fn commit(mut self) -> Result<Committed> {
        if let Some((app_id, version)) = &self.options.app_transaction {
            check_transaction(&self.target, &self.name, app_id, *version).await?;
        }
        let name = self.name.clone();
        let mut builder = match std::mem::replace(&mut self.input, Input::None) {
            Input::None => self.target.clone().write(vec![]),
            Input::Batches(batches) => self.target.clone().write(batches),
            Input::Frame(df) => {
                let (state, plan) = crate::remote_input::local_input(*df)?;
                let session: Arc<dyn Session> = Arc::new(state);
                self.target
                    .clone()
                    .write(vec![])
                    .with_input_plan(plan)
                    .with_session_state(session)
            }
        };
        builder = self.settings(builder);
        let table = builder.await.map_err(|e| CatalogError::delta(&name, e))?;
        let metrics = write_metrics(&table, &name).await?;
        Ok(Committed { table, metrics })
    }

    fn settings(&mut self, builder: WriteBuilder) -> WriteBuilder {
        let options = &self.options;
        let mut builder = builder
            .with_table_name(self.table.clone())
            .with_configuration(TABLE_PROPERTIES.map(|(k, v)| (k, Some(v))));
        builder = match (self.mode, self.replace_where.take()) {
            (WriteMode::Append, _) => builder.with_save_mode(SaveMode::Append),
            (WriteMode::Overwrite, Some(predicate)) => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_replace_where(predicate),
            (WriteMode::Overwrite, None) => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_schema_mode(SchemaMode::Overwrite),
        };
        if options.merge_schema && self.mode == WriteMode::Append {
            builder = builder.with_schema_mode(SchemaMode::Merge);
        }
        if !options.partition_by.is_empty() {
            builder = builder.with_partition_columns(options.partition_by.clone());
        }
        if let Some(description) = &options.description {
            builder = builder.with_description(description.clone());
        }
        builder = builder.with_writer_properties(self.parquet_properties());
        if let Some(props) = self.commit_properties() {
            builder = builder.with_commit_properties(props);
        }
        builder
    }
}

/// The Delta properties a table is created with (delta-rs applies them only when it creates one).
/// A checkpoint every 10 commits: opening a table replays the JSON commits since the last
/// checkpoint, many times a run, and delta-rs's default of 100 made every
/// daily run slower than the one before for 100 days. Old commit files are never deleted by a
/// checkpoint: a closed period is replayed from the versions its close recorded, however old
/// (`cdrlake vacuum` keeps their data files).
pub(crate) const TABLE_PROPERTIES: [(&str, &str); 2] = [
    ("delta.checkpointInterval", "10"),
    ("delta.enableExpiredLogCleanup", "false"),
];

/// The metrics delta-rs recorded in the commit just made (read from that commit, so another
/// writer's later commit is not counted).
async fn write_metrics(table: &DeltaTable, name: &str) -> Result<CommitMetrics> {
    let ours: Vec<_> = table
        .history(Some(1))
        .try_collect()
        .await
        .map_err(|e| CatalogError::delta(name, e))?;
    let recorded = ours
        .first()
        .and_then(|commit| commit.info.get("operationMetrics"));
    let count = |key: &str| {
        recorded
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    Ok(CommitMetrics {
        rows_added: count("num_added_rows"),
        files_added: count("num_added_files"),
        files_removed: count("num_removed_files"),
        ..CommitMetrics::default()
    })
}

/// Refuses a commit of application transaction `app_id` at `version` when the table, as this
/// commit reads it, already holds that version or a later one. Checked on the snapshot the commit
/// is made against, so another writer committing the same transaction after it is a conflict that
/// Delta refuses (a check on a snapshot read earlier would let both commit). A table not created
/// yet holds none.
async fn check_transaction(
    target: &DeltaTable,
    name: &str,
    app_id: &str,
    version: i64,
) -> Result<()> {
    let Ok(state) = target.snapshot() else {
        return Ok(());
    };
    let current = state
        .transaction_version(target.log_store().as_ref(), app_id)
        .await
        .map_err(|e| CatalogError::delta(name, e))?;
    match current {
        Some(held) if held >= version => Err(CatalogError::TransactionCommitted {
            table: name.to_string(),
            app_id: app_id.to_string(),
            version: held,
        }),
        _ => Ok(()),
    }
}
