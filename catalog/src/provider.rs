//! The DataFusion view of a lakehouse: catalog `cdrlake`, one schema provider per lakehouse schema.
//!
//! Tables are opened from storage at plan time, so every query reads the latest committed
//! version and sees tables other processes created, without a restart. `name@N` (a quoted
//! identifier, e.g. `bronze."voice_cdr@3"`) reads version N instead (time travel).
//! Views and other registered providers live in memory beside the Delta tables.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;
use crate::location::SCHEMAS;
use crate::reads::{CountedScan, RowsRead};

#[derive(Debug)]
pub struct LakehouseCatalog {
    schemas: Vec<Arc<LakehouseSchema>>,
}

impl LakehouseCatalog {
    pub fn new(lakehouse: Arc<Lakehouse>) -> Self {
        let schemas = SCHEMAS
            .iter()
            .map(|s| Arc::new(LakehouseSchema::new(lakehouse.clone(), s)))
            .collect();
        Self { schemas }
    }

    /// Re-reads which tables exist, for `table_names` (SHOW TABLES, information_schema).
    /// Planning does not depend on it: a table is opened from storage whenever a query names it.
    pub async fn refresh(&self) -> Result<()> {
        for s in &self.schemas {
            s.refresh().await?;
        }
        Ok(())
    }

    pub fn lakehouse_schema(&self, name: &str) -> Option<&Arc<LakehouseSchema>> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// `schema.table` at its latest committed version (only newer commits are read when it was
    /// opened before), or `None` if there is no such table.
    pub async fn latest_table(&self, schema: &str, table: &str) -> Result<Option<DeltaTable>> {
        let Some(s) = self.lakehouse_schema(schema) else {
            return Ok(None);
        };
        match s.latest(table).await {
            Ok(t) => Ok(Some(t)),
            Err(CatalogError::UnknownTable { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl CatalogProvider for LakehouseCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.schemas.iter().map(|s| s.name.clone()).collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.lakehouse_schema(name)
            .map(|s| s.clone() as Arc<dyn SchemaProvider>)
    }
}

#[derive(Debug)]
pub struct LakehouseSchema {
    lakehouse: Arc<Lakehouse>,
    name: String,
    delta_names: RwLock<BTreeSet<String>>,
    registered: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
    /// Tables opened before: brought up to date with only their newer commits, instead of
    /// re-reading the whole log on every query.
    opened: Mutex<HashMap<String, DeltaTable>>,
}

impl LakehouseSchema {
    fn new(lakehouse: Arc<Lakehouse>, name: &str) -> Self {
        Self {
            lakehouse,
            name: name.to_string(),
            delta_names: RwLock::default(),
            registered: RwLock::default(),
            opened: Mutex::default(),
        }
    }

    pub async fn refresh(&self) -> Result<()> {
        let names = self.lakehouse.list_tables(&self.name).await?;
        *self.delta_names.write().expect("lock poisoned") = names.into_iter().collect();
        Ok(())
    }

    /// The latest committed version of `table`: the cached handle plus any newer commits.
    async fn latest(&self, table: &str) -> Result<DeltaTable> {
        let cached = self
            .opened
            .lock()
            .expect("lock poisoned")
            .get(table)
            .cloned();
        if let Some(mut t) = cached {
            if t.update_incremental(None).await.is_ok() {
                self.opened
                    .lock()
                    .expect("lock poisoned")
                    .insert(table.to_string(), t.clone());
                return Ok(t);
            }
            self.opened.lock().expect("lock poisoned").remove(table);
        }
        let t = self.lakehouse.open_table(&self.name, table, None).await?;
        self.opened
            .lock()
            .expect("lock poisoned")
            .insert(table.to_string(), t.clone());
        Ok(t)
    }

    async fn open_delta(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let (table, version) = split_version(name)?;
        let opened = match version {
            None => self.latest(table).await,
            Some(v) => self.lakehouse.open_table(&self.name, table, Some(v)).await,
        };
        match opened {
            Ok(t) => {
                self.delta_names
                    .write()
                    .expect("lock poisoned")
                    .insert(table.to_string());
                Ok(Some(Arc::new(
                    DeltaProvider::named(&self.name, table, t).await?,
                )))
            }
            Err(CatalogError::UnknownTable { .. }) => Ok(None),
            Err(e) => Err(DataFusionError::Plan(e.to_string())),
        }
    }
}

/// `voice_cdr@3` -> (`voice_cdr`, Some(3)).
fn split_version(name: &str) -> DfResult<(&str, Option<u64>)> {
    match name.split_once('@') {
        None => Ok((name, None)),
        Some((t, v)) => v.parse::<u64>().ok().map(|v| (t, Some(v))).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "'{name}': the version after '@' must be a number >= 0"
            ))
        }),
    }
}

#[async_trait]
impl SchemaProvider for LakehouseSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.delta_names.read().expect("lock poisoned").clone();
        names.extend(
            self.registered
                .read()
                .expect("lock poisoned")
                .keys()
                .cloned(),
        );
        names.into_iter().collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let registered = self
            .registered
            .read()
            .expect("lock poisoned")
            .get(name)
            .cloned();
        match registered {
            Some(t) => Ok(Some(t)),
            None => self.open_delta(name).await,
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .registered
            .write()
            .expect("lock poisoned")
            .insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(self.registered.write().expect("lock poisoned").remove(name))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.registered
            .read()
            .expect("lock poisoned")
            .contains_key(name)
            || self
                .delta_names
                .read()
                .expect("lock poisoned")
                .contains(name)
    }
}

/// A Delta table at one version. Registers the table's object store with the querying
/// session before each scan, so any session can read any lakehouse table.
#[derive(Debug)]
pub struct DeltaProvider {
    table: DeltaTable,
    inner: Arc<dyn TableProvider>,
    /// `(schema, table)` when this is a whole lakehouse table at one version (not a commit's
    /// files): what another process needs to open the same rows.
    name: Option<(String, String)>,
}

impl DeltaProvider {
    pub async fn try_new(table: DeltaTable) -> DfResult<Self> {
        let inner = table.table_provider().await?;
        Ok(Self {
            table,
            inner,
            name: None,
        })
    }

    /// `schema.table` of the lakehouse, at the version `table` is at.
    pub async fn named(schema: &str, name: &str, table: DeltaTable) -> DfResult<Self> {
        let mut provider = Self::try_new(table).await?;
        provider.name = Some((schema.to_string(), name.to_string()));
        Ok(provider)
    }

    /// `(schema, table)` when this provider reads a whole lakehouse table at one version.
    pub fn name(&self) -> Option<(&str, &str)> {
        self.name.as_ref().map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// The rows commit `version` of `table` added (the files it wrote, at that version): what an
    /// incremental build's data tests check, instead of the whole table.
    pub async fn added_by(table: DeltaTable, version: u64) -> DfResult<Self> {
        let external = |e: deltalake::DeltaTableError| DataFusionError::External(Box::new(e));
        let commit = table
            .log_store()
            .read_commit_entry(version as _)
            .await
            .map_err(external)?
            .ok_or_else(|| DataFusionError::Plan(format!("no commit {version}")))?;
        let adds = deltalake::logstore::get_actions(version as _, &commit)
            .map_err(external)?
            .into_iter()
            .filter_map(|a| match a {
                deltalake::kernel::Action::Add(add) => Some(add),
                _ => None,
            });
        let mut at = table.clone();
        at.load_version(version as _).await.map_err(external)?;
        let inner = at.table_provider().with_adds(adds).await?;
        Ok(Self {
            table: at,
            inner,
            name: None,
        })
    }

    pub fn delta_table(&self) -> &DeltaTable {
        &self.table
    }

    fn prepare(&self, state: &dyn Session) -> DfResult<()> {
        self.table
            .update_datafusion_session(state)
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

#[async_trait]
impl TableProvider for DeltaProvider {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.prepare(state)?;
        let scan = self.inner.scan(state, projection, filters, limit).await?;
        Ok(match state.config().get_extension::<RowsRead>() {
            Some(counter) => Arc::new(CountedScan::new(scan, counter)),
            None => scan,
        })
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.prepare(state)?;
        self.inner.insert_into(state, input, op).await
    }
}

#[cfg(test)]
mod tests {
    use super::split_version;

    #[test]
    fn version_suffix() {
        assert_eq!(split_version("voice_cdr").unwrap(), ("voice_cdr", None));
        assert_eq!(
            split_version("voice_cdr@3").unwrap(),
            ("voice_cdr", Some(3))
        );
        assert!(split_version("voice_cdr@x").is_err());
        assert!(split_version("voice_cdr@-1").is_err());
    }
}
