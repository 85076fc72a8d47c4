//! Writes that change stored rows: a merge of the write's rows on a key (Delta MERGE: rows whose
//! key is stored replace the stored row or are skipped, the others are inserted) and a delete,
//! each one commit.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::prelude::{DataFrame, Expr, SessionContext, col};

use crate::error::{CatalogError, Result};
use crate::write::{CommitMetrics, Committed, Input, TableWrite};

/// The aliases the merge's condition uses for the two sides.
pub const SOURCE: &str = "source";
pub const TARGET: &str = "target";

/// How written rows meet stored ones.
#[derive(Debug, Clone)]
pub struct MergeOn {
    /// Key columns: a written row matches the stored row with equal values in all of them.
    pub keys: Vec<String>,
    /// Narrows the stored rows a written row can match (columns qualified `target.`), so the
    /// merge reads only the files that can hold them.
    pub target_filter: Option<Expr>,
    /// A matched stored row takes the written row's values; otherwise it stays as it is.
    pub update_matched: bool,
}

/// `relation.column`, for conditions over the merge's two sides.
pub fn qualified(relation: &str, column: &str) -> Expr {
    col(Column::new(Some(relation), column))
}

impl TableWrite {
    /// Merges the write's rows into the table (which must exist) as one commit.
    pub async fn merge(mut self, on: MergeOn) -> Result<Committed> {
        let name = self.name.clone();
        let source = match std::mem::replace(&mut self.input, Input::None) {
            Input::Frame(df) => *df,
            Input::Batches(batches) => SessionContext::new()
                .read_batches(batches)
                .map_err(|e| CatalogError::delta(&name, e.into()))?,
            Input::None => SessionContext::new()
                .read_empty()
                .map_err(|e| CatalogError::delta(&name, e.into()))?,
        };
        let columns: Vec<String> = source
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let condition = on
            .keys
            .iter()
            .map(|k| qualified(TARGET, k).eq(qualified(SOURCE, k)))
            .chain(on.target_filter)
            .reduce(Expr::and)
            .ok_or_else(|| CatalogError::DeltaDetail {
                table: name.clone(),
                detail: "a merge needs at least one key column".into(),
            })?;
        let (state, plan) = crate::remote_input::local_input(source)?;
        let session: Arc<dyn Session> = Arc::new(state.clone());
        let source = DataFrame::new(state, plan);
        let mut merge = self
            .target
            .clone()
            .merge(source, condition)
            .with_source_alias(SOURCE)
            .with_target_alias(TARGET)
            .with_session_state(session);
        merge = merge.with_writer_properties(self.parquet_properties());
        if let Some(props) = self.commit_properties() {
            merge = merge.with_commit_properties(props);
        }
        let delta = |e| CatalogError::delta(&name, e);
        if on.update_matched {
            merge = merge
                .when_matched_update(|u| {
                    columns
                        .iter()
                        .fold(u, |u, c| u.update(c.as_str(), qualified(SOURCE, c)))
                })
                .map_err(delta)?;
        }
        let (table, metrics) = merge
            .when_not_matched_insert(|i| {
                columns
                    .iter()
                    .fold(i, |i, c| i.set(c.as_str(), qualified(SOURCE, c)))
            })
            .map_err(delta)?
            .await
            .map_err(delta)?;
        Ok(Committed {
            table,
            metrics: CommitMetrics {
                rows_added: metrics.num_target_rows_inserted as u64,
                rows_updated: metrics.num_target_rows_updated as u64,
                rows_deleted: metrics.num_target_rows_deleted as u64,
                rows_copied: metrics.num_target_rows_copied as u64,
                files_added: metrics.num_target_files_added as u64,
                files_removed: metrics.num_target_files_removed as u64,
            },
        })
    }
}

impl TableWrite {
    /// Deletes the stored rows `predicate` (SQL over the table's columns) selects, all rows
    /// without one, as one commit, planned with `session` (its functions may appear in it).
    pub async fn delete(
        self,
        predicate: Option<String>,
        session: Arc<dyn Session>,
    ) -> Result<Committed> {
        let name = self.name.clone();
        let mut delete = self.target.clone().delete().with_session_state(session);
        if let Some(p) = predicate {
            delete = delete.with_predicate(p);
        }
        let (table, metrics) = delete.await.map_err(|e| CatalogError::delta(&name, e))?;
        // delta-rs does not count rows of whole files it drops without reading them.
        let rows_deleted = match metrics.num_deleted_rows {
            Some(n) => n as u64,
            None => stored_rows(&self.target)
                .unwrap_or(0)
                .saturating_sub(stored_rows(&table).unwrap_or(0)),
        };
        Ok(Committed {
            table,
            metrics: CommitMetrics {
                rows_deleted,
                rows_copied: metrics.num_copied_rows as u64,
                files_added: metrics.num_added_files as u64,
                files_removed: metrics.num_removed_files as u64,
                ..CommitMetrics::default()
            },
        })
    }
}

fn stored_rows(table: &deltalake::DeltaTable) -> Option<u64> {
    crate::info::rows_of(table.snapshot().ok()?)
}
