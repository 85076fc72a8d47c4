//! Views live in the lakehouse as `<root>/<schema>/_views/<name>.sql`, one object each, so every
//! process that opens the catalog (CLI, server, model runner) registers the same views.
//!
//! A view is planned when a query scans it, never earlier: a plan made at registration would pin
//! the Delta versions of its tables, and views must always read the latest ones.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::DataFrame;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::Result;
use crate::lakehouse::Lakehouse;
use crate::location::{SCHEMAS, check_schema, check_table_name};

const VIEW_DIR: &str = "_views";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDefinition {
    pub schema: String,
    pub name: String,
    pub sql: String,
}

impl Lakehouse {
    pub async fn save_view(&self, schema: &str, name: &str, sql: &str) -> Result<()> {
        check_schema(schema)?;
        check_table_name(name)?;
        let path = Path::from(format!("{schema}/{VIEW_DIR}/{name}.sql"));
        self.store()
            .put(&path, PutPayload::from(sql.to_string()))
            .await?;
        Ok(())
    }

    pub async fn drop_view(&self, schema: &str, name: &str) -> Result<bool> {
        check_schema(schema)?;
        check_table_name(name)?;
        let path = Path::from(format!("{schema}/{VIEW_DIR}/{name}.sql"));
        match self.store().delete(&path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every saved view, sorted by schema and name.
    pub async fn load_views(&self) -> Result<Vec<ViewDefinition>> {
        let mut views = Vec::new();
        for schema in SCHEMAS {
            let dir = Path::from(format!("{schema}/{VIEW_DIR}"));
            let objects: Vec<_> = match self.store().list(Some(&dir)).try_collect().await {
                Ok(o) => o,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            for meta in objects {
                let Some(name) = meta
                    .location
                    .filename()
                    .and_then(|f| f.strip_suffix(".sql"))
                else {
                    continue;
                };
                let bytes = self.store().get(&meta.location).await?.bytes().await?;
                let sql = String::from_utf8_lossy(&bytes).into_owned();
                views.push(ViewDefinition {
                    schema: schema.to_string(),
                    name: name.to_string(),
                    sql,
                });
            }
        }
        views.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(views)
    }
}

/// A SQL view planned afresh on every scan.
#[derive(Debug)]
pub struct LazyView {
    sql: String,
    schema: SchemaRef,
}

impl LazyView {
    /// Plans `sql` once to learn its schema (and to reject a broken view up front).
    pub async fn try_new(state: &SessionState, sql: &str) -> DfResult<Self> {
        let plan = state.create_logical_plan(sql).await?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        Ok(Self {
            sql: sql.to_string(),
            schema,
        })
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }
}

#[async_trait]
impl TableProvider for LazyView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.sql)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| {
                DataFusionError::Internal("a view needs a DataFusion SessionState".into())
            })?;
        let plan = state.create_logical_plan(&self.sql).await?;
        let mut df = DataFrame::new(state.clone(), plan);
        if let Some(indices) = projection {
            let names: Vec<&str> = indices
                .iter()
                .map(|i| self.schema.field(*i).name().as_str())
                .collect();
            df = df.select_columns(&names)?;
        }
        if limit.is_some() {
            df = df.limit(0, limit)?;
        }
        df.create_physical_plan().await
    }
}
