//! The `cdrlake` catalog as one client session sees it: only the schemas its role reads, nothing
//! it can register or drop (views and in-memory tables belong to the model runner), and for an
//! analyst only their own rows of `system.query_log`.

use std::sync::Arc;

use async_trait::async_trait;
use cdrlake_catalog::{LakehouseCatalog, LakehouseSchema};
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{col, lit};

use super::auth::Role;

/// The table whose rows an analyst sees only for their own user.
const QUERY_LOG: (&str, &str) = ("system", "query_log");

#[derive(Debug)]
pub struct ClientCatalog {
    inner: Arc<LakehouseCatalog>,
    role: Role,
    user: String,
}

impl ClientCatalog {
    pub fn new(inner: Arc<LakehouseCatalog>, role: Role, user: &str) -> Self {
        Self {
            inner,
            role,
            user: user.to_string(),
        }
    }
}

impl CatalogProvider for ClientCatalog {
    fn schema_names(&self) -> Vec<String> {
        let names = self.inner.schema_names();
        names
            .into_iter()
            .filter(|s| self.role.may_read(s))
            .collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if !self.role.may_read(name) {
            return None;
        }
        let inner = self.inner.lakehouse_schema(name)?.clone();
        let own_log_only = self.role == Role::Analyst && name == QUERY_LOG.0;
        Some(Arc::new(ClientSchema {
            inner,
            log_filter: own_log_only.then(|| self.user.clone()),
        }))
    }

    fn register_schema(
        &self,
        name: &str,
        _schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        plan_err!("schema '{name}' cannot be created: the lakehouse schemas are fixed")
    }
}

#[derive(Debug)]
struct ClientSchema {
    inner: Arc<LakehouseSchema>,
    /// `Some(user)`: `system.query_log` (any version of it) shows that user's rows only.
    log_filter: Option<String>,
}

#[async_trait]
impl SchemaProvider for ClientSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(table) = self.inner.table(name).await? else {
            return Ok(None);
        };
        // `query_log@3` is the same table at another version: filtered the same.
        let base = name.split_once('@').map_or(name, |(b, _)| b);
        match &self.log_filter {
            Some(user) if base == QUERY_LOG.1 => Ok(Some(own_rows(table, user)?)),
            _ => Ok(Some(table)),
        }
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        plan_err!(
            "'{name}' cannot be created from a client session: tables are written through the lakehouse"
        )
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        plan_err!("'{name}' cannot be dropped from a client session")
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `table` as a view of the rows whose `user` is `user`. The view scans the provider itself, not
/// a name, so it cannot be turned back into the whole table.
fn own_rows(table: Arc<dyn TableProvider>, user: &str) -> Result<Arc<dyn TableProvider>> {
    let plan = LogicalPlanBuilder::scan(QUERY_LOG.1, provider_as_source(table), None)?
        .filter(col("user").eq(lit(user)))?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}
