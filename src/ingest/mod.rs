//! `cdrlake ingest`: land files in a bronze table, one Delta commit (one batch) per file.
//!
//! Each file's SHA-256 is committed with its rows as a Delta application transaction
//! (`cdrlake-ingest:<hash>`), so "was this content already ingested?" is answered from the
//! table's own log, atomically with the data: a re-delivered file cannot be billed twice.

pub mod read;
mod sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use cdrlake_catalog::{CatalogError, Lakehouse, WriteOptions};
use sha2::{Digest, Sha256};

use crate::contract::{
    BRONZE_REFERENCE_TABLES, METADATA_COLUMNS, bronze_event_columns, bronze_write_options,
    metadata_columns,
};
use read::{FileFormat, read_text_batch};
pub use sources::expand;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub table: String,
    pub format: Option<FileFormat>,
    pub allow_new_columns: bool,
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct Ingested {
    pub rows: usize,
    pub batch_id: String,
    pub version: u64,
}

/// A file whose content is already in the table (a re-delivery): nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("already ingested into bronze.{table} (same content, SHA-256 {}…); use --force to ingest it again", &.hash[..12])]
pub struct AlreadyIngested {
    pub table: String,
    pub hash: String,
}

/// Ingests one file into `bronze.<options.table>` as one commit, or commits nothing.
pub async fn ingest_file(
    lakehouse: &Lakehouse,
    path: &Path,
    options: &IngestOptions,
) -> Result<Ingested> {
    let bytes =
        Bytes::from(std::fs::read(path).with_context(|| "cannot read the file".to_string())?);
    // The absolute path: a relative one means nothing once the command is over.
    let source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    ingest_bytes(
        lakehouse,
        bytes,
        path,
        &source.display().to_string(),
        options,
    )
    .await
}

/// Ingests a file's content (read from anywhere: a landing on S3) named `name` (its extension
/// tells the format) and recorded as coming from `source`.
pub async fn ingest_bytes(
    lakehouse: &Lakehouse,
    bytes: Bytes,
    name: &Path,
    source: &str,
    options: &IngestOptions,
) -> Result<Ingested> {
    let table = options.table.as_str();
    let format = match options.format.or_else(|| FileFormat::from_path(name)) {
        Some(f) => f,
        None => bail!("cannot tell the format from the file name: use --format csv|json|parquet"),
    };
    let hash = format!("{:x}", Sha256::digest(&bytes));
    let app_id = format!("cdrlake-ingest:{hash}");
    let previous = lakehouse
        .app_transaction_version("bronze", table, &app_id)
        .await?;
    if previous.is_some() && !options.force {
        return Err(AlreadyIngested {
            table: table.to_string(),
            hash,
        }
        .into());
    }
    let data = read_text_batch(bytes, format)?;
    let write = WriteOptions {
        merge_schema: options.allow_new_columns,
        app_transaction: Some((app_id.clone(), previous.unwrap_or(0) + 1)),
        ..Default::default()
    };
    match ingest_batch(lakehouse, table, &data, source, write).await {
        Ok(ingested) => Ok(ingested),
        // Another ingest of the same content committed first: Delta refuses the second commit
        // of the same application transaction, and the content is now in the table.
        Err(_)
            if !options.force
                && lakehouse
                    .app_transaction_version("bronze", table, &app_id)
                    .await
                    .is_ok_and(|v| v.is_some()) =>
        {
            Err(AlreadyIngested {
                table: table.to_string(),
                hash,
            }
            .into())
        }
        Err(e) => Err(e),
    }
}

/// Lands one batch of text columns in `bronze.<table>` as one commit with the ingest metadata,
/// after checking its columns against the contract (or the existing table).
pub async fn ingest_batch(
    lakehouse: &Lakehouse,
    table: &str,
    data: &RecordBatch,
    source: &str,
    write: WriteOptions,
) -> Result<Ingested> {
    let existing = existing_columns(lakehouse, table).await?;
    let columns = target_columns(table, data, &existing, write.merge_schema)?;
    let batch_id = uuid::Uuid::now_v7().to_string();
    let batch = with_metadata(data, &columns, &batch_id, source)?;
    let rows = batch.num_rows();
    let layout = bronze_write_options(table);
    let write = WriteOptions {
        plain_columns: layout.plain_columns,
        unindexed_columns: layout.unindexed_columns,
        ..write
    };
    let committed = lakehouse
        .write("bronze", table)
        .await?
        .batches(vec![batch])
        .options(write)
        .commit()
        .await?;
    crate::metrics::metrics()
        .rows_ingested
        .with_label_values(&[table])
        .inc_by(rows as u64);
    Ok(Ingested {
        rows,
        batch_id,
        version: committed.version().unwrap_or(0),
    })
}

/// Data columns of the existing table (without ingest metadata), or none if it does not exist.
async fn existing_columns(lakehouse: &Lakehouse, table: &str) -> Result<Vec<String>> {
    match lakehouse.open_table("bronze", table, None).await {
        Ok(t) => {
            let snapshot = t
                .snapshot()
                .map_err(|e| CatalogError::delta(format!("bronze.{table}"), e))?;
            Ok(snapshot
                .schema()
                .fields()
                .map(|f| f.name().to_string())
                .filter(|n| !METADATA_COLUMNS.contains(&n.as_str()))
                .collect())
        }
        Err(CatalogError::UnknownTable { .. }) => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}

/// The table's data columns after this file: required ones first, in contract (or table) order.
fn target_columns(
    table: &str,
    data: &RecordBatch,
    existing: &[String],
    allow_new: bool,
) -> Result<Vec<String>> {
    if BRONZE_REFERENCE_TABLES.contains(&table) {
        bail!(
            "bronze.{table} is typed reference data (seeds or the generator), not a file landing table"
        );
    }
    let file: Vec<String> = data
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let required: Vec<String> = match bronze_event_columns(table) {
        Some(contract) => contract.iter().map(|c| c.to_string()).collect(),
        None => existing.to_vec(),
    };
    let missing: Vec<&String> = required.iter().filter(|c| !file.contains(c)).collect();
    let known = |c: &String| required.contains(c) || existing.contains(c);
    let unknown: Vec<&String> = file.iter().filter(|c| !known(c)).collect();
    let list = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if !missing.is_empty() {
        bail!("missing column(s) of bronze.{table}: {}", list(&missing));
    }
    if !unknown.is_empty() && !required.is_empty() && !allow_new {
        bail!(
            "unknown column(s) for bronze.{table}: {} (use --allow-new-columns to add them to the table)",
            list(&unknown)
        );
    }
    let mut columns = required;
    for c in existing.iter().chain(file.iter()) {
        if !columns.contains(c) {
            columns.push(c.clone());
        }
    }
    Ok(columns)
}

fn with_metadata(
    data: &RecordBatch,
    columns: &[String],
    batch_id: &str,
    source: &str,
) -> Result<RecordBatch> {
    let n = data.num_rows();
    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in columns {
        fields.push(Field::new(c, DataType::Utf8, true));
        arrays.push(match data.column_by_name(c) {
            Some(a) => a.clone(),
            None => Arc::new(StringArray::new_null(n)),
        });
    }
    let now = chrono::Utc::now().timestamp_micros();
    for (field, array) in metadata_columns(batch_id, source, 0, vec![now; n]) {
        fields.push(field);
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The outcome of one file, for the command's report.
pub struct FileOutcome {
    pub path: PathBuf,
    pub result: Result<Ingested>,
}
