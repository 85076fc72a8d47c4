//! The one DataFusion session factory used by the CLI, the model runner and the server: the
//! lakehouse catalog `cdrlake` and every cdrlake UDF are registered here and nowhere else.

use std::sync::Arc;

use anyhow::{bail, Result};
use cdrlake_catalog::{CatalogError, Lakehouse, LakehouseCatalog, CATALOG_NAME, SCHEMAS};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

pub struct Engine {
    ctx: SessionContext,
    catalog: Arc<LakehouseCatalog>,
    lakehouse: Arc<Lakehouse>,
}

impl Engine {
    pub async fn new(lakehouse: Arc<Lakehouse>) -> Result<Self> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG_NAME, "gold");
        // Timestamps are UTC everywhere; local time is an explicit conversion in SQL.
        config.options_mut().execution.time_zone = Some("UTC".to_string());
        let ctx = SessionContext::new_with_config(config);
        let catalog = Arc::new(LakehouseCatalog::new(lakehouse.clone()));
        catalog.refresh().await?;
        ctx.register_catalog(CATALOG_NAME, catalog.clone());
        cdrlake_udfs::register_all(&ctx);
        Ok(Self { ctx, catalog, lakehouse })
    }

    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn lakehouse(&self) -> &Arc<Lakehouse> {
        &self.lakehouse
    }

    pub fn catalog(&self) -> &Arc<LakehouseCatalog> {
        &self.catalog
    }

    /// Plans one SQL statement. Unknown catalogs and schemas are named before DataFusion
    /// would report them as a missing table.
    pub async fn dataframe(&self, sql: &str) -> Result<DataFrame> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        for reference in state.resolve_table_references(&statement)? {
            check_reference(&reference)?;
        }
        let plan = state.statement_to_plan(statement).await?;
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// Runs one SQL statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.dataframe(sql).await?.collect().await?)
    }
}

fn check_reference(reference: &TableReference) -> Result<()> {
    if let Some(catalog) = reference.catalog()
        && catalog != CATALOG_NAME
    {
        bail!("unknown catalog '{catalog}' in {reference} (the catalog is '{CATALOG_NAME}')");
    }
    match reference.schema() {
        Some(schema) if schema != "information_schema" && !SCHEMAS.contains(&schema) => {
            Err(CatalogError::UnknownSchema(schema.to_string()).into())
        }
        _ => Ok(()),
    }
}
