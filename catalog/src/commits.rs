//! Reading what commits recorded: commit-info entries and application transactions.

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;
use deltalake::DeltaTable;

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
