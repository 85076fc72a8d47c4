//! Table maintenance: compaction and Z-ordering (delta-rs `optimize`), one Delta commit each.
//! Z-ordering on the columns queries filter by lays rows with close values into the same files
//! and pages, so min/max statistics and page indexes skip the rest: what makes point lookups on
//! a large table fast.

use deltalake::operations::optimize::OptimizeType;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::table::config::TablePropertiesExt;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

/// What an optimize did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optimized {
    pub files_removed: u64,
    pub files_added: u64,
    pub version: Option<u64>,
}

impl Lakehouse {
    /// Rewrites `schema.table`'s small files into larger ones; with `zorder` columns, every file
    /// ordered by them (Z-order over several columns).
    pub async fn optimize(
        &self,
        schema: &str,
        table: &str,
        zorder: &[String],
    ) -> Result<Optimized> {
        let name = format!("{schema}.{table}");
        let target = self.open_table(schema, table, None).await?;
        let kind = if zorder.is_empty() {
            OptimizeType::Compact
        } else {
            OptimizeType::ZOrder(zorder.to_vec())
        };
        // Row groups of 128Ki rows, as every write: a lookup that statistics narrow to one row
        // group then decodes that group's dictionaries only (with the default 1Mi rows they
        // dominate a point query).
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(crate::write::row_group_rows()))
            .build();
        let (table, metrics) = target
            .optimize()
            .with_type(kind)
            .with_writer_properties(properties)
            .await
            .map_err(|e| CatalogError::delta(&name, e))?;
        Ok(Optimized {
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            version: table.version(),
        })
    }
}

/// What a vacuum deleted, or in a dry run would delete: data files under the table's root.
#[derive(Debug, Clone, PartialEq)]
pub struct Vacuumed {
    pub files: Vec<String>,
    pub dry_run: bool,
}

impl Lakehouse {
    /// Deletes the data files that commits older than `retain` replaced or removed (every full
    /// refresh, merge and optimize leaves its old files for time travel). `None` keeps the table's
    /// `delta.deletedFileRetentionDuration`, 7 days by default; a shorter period is refused unless
    /// `force`, since versions older than it can no longer be read (a bill replay reads its inputs
    /// at the versions `system.model_runs` recorded). Files the log never knew are left alone.
    pub async fn vacuum(
        &self,
        schema: &str,
        table: &str,
        retain: Option<chrono::Duration>,
        dry_run: bool,
        force: bool,
    ) -> Result<Vacuumed> {
        let name = format!("{schema}.{table}");
        let target = self.open_table(schema, table, None).await?;
        let config = target
            .snapshot()
            .map_err(|e| CatalogError::delta(&name, e))?
            .table_config();
        let min_hours = (config.deleted_file_retention_duration().as_secs() / 3600) as i64;
        let mut vacuum = target
            .vacuum()
            .with_dry_run(dry_run)
            .with_enforce_retention_duration(!force);
        if let Some(retain) = retain {
            if !force && retain.num_hours() < min_hours {
                return Err(CatalogError::RetentionTooShort {
                    table: name,
                    hours: retain.num_hours(),
                    min_hours,
                });
            }
            vacuum = vacuum.with_retention_period(retain);
        }
        let (_, metrics) = vacuum.await.map_err(|e| CatalogError::delta(&name, e))?;
        Ok(Vacuumed {
            files: metrics.files_deleted,
            dry_run: metrics.dry_run,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};

    use crate::{Lakehouse, LakehouseConfig, WriteMode};

    #[tokio::test]
    async fn zorder_rewrites_files_and_keeps_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, _) = Lakehouse::init(LakehouseConfig::local(dir.path().to_str().unwrap()))
            .await
            .unwrap();
        for ids in [vec![5i64, 1, 9], vec![3, 7], vec![2, 8, 4, 6]] {
            let batch = RecordBatch::try_from_iter(vec![(
                "id",
                Arc::new(Int64Array::from(ids)) as ArrayRef,
            )])
            .unwrap();
            lake.write_batches("gold", "t", vec![batch], WriteMode::Append)
                .await
                .unwrap();
        }
        let done = lake
            .optimize("gold", "t", &["id".to_string()])
            .await
            .unwrap();
        assert_eq!(
            (done.files_removed, done.files_added, done.version),
            (3, 1, Some(3))
        );
        assert_eq!(lake.table_info("gold", "t").await.unwrap().rows, Some(9));
        let err = lake
            .optimize("gold", "t", &["nope".to_string()])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn vacuum_deletes_replaced_files_only_past_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, _) = Lakehouse::init(LakehouseConfig::local(dir.path().to_str().unwrap()))
            .await
            .unwrap();
        let is_parquet = |e: &std::io::Result<std::fs::DirEntry>| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "parquet")
        };
        let files = || {
            std::fs::read_dir(dir.path().join("gold/t"))
                .unwrap()
                .filter(is_parquet)
                .count()
        };
        for ids in [vec![1i64, 2], vec![3, 4, 5]] {
            let batch = RecordBatch::try_from_iter(vec![(
                "id",
                Arc::new(Int64Array::from(ids)) as ArrayRef,
            )])
            .unwrap();
            lake.write_batches("gold", "t", vec![batch], WriteMode::Overwrite)
                .await
                .unwrap();
        }
        assert_eq!(files(), 2, "the overwritten file stays for time travel");

        let kept = lake.vacuum("gold", "t", None, false, false).await.unwrap();
        assert!(
            kept.files.is_empty(),
            "inside the default 7 days nothing goes: {kept:?}"
        );
        let refused = lake
            .vacuum("gold", "t", Some(chrono::Duration::zero()), false, false)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("gold.t") && refused.contains("168 hours"),
            "{refused}"
        );
        let planned = lake
            .vacuum("gold", "t", Some(chrono::Duration::zero()), true, true)
            .await
            .unwrap();
        assert_eq!(
            (planned.files.len(), planned.dry_run, files()),
            (1, true, 2),
            "a dry run deletes nothing"
        );
        let done = lake
            .vacuum("gold", "t", Some(chrono::Duration::zero()), false, true)
            .await
            .unwrap();
        assert_eq!((done.files, files()), (planned.files, 1));
        assert_eq!(
            lake.table_info("gold", "t").await.unwrap().rows,
            Some(3),
            "the current version reads as before"
        );
    }
}
