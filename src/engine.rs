//! The one DataFusion session factory used by the CLI, the model runner and the server: the
//! lakehouse catalog `cdrlake` and every cdrlake UDF are registered here and nowhere else.
//!
//! Two kinds of engine: the privileged one (`Engine::new`: the CLI and the model runner, with
//! keyed UDFs, `@set` options and view registration) and client engines (`Engine::for_client`:
//! one per Flight SQL session, made from the privileged one). A client engine has its own
//! settings, a catalog the server hands it (read-only, filtered by role), no keyed UDFs, and
//! plans nothing but queries: DDL, DML and statements are refused on the logical plan.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cdrlake_catalog::{
    CATALOG_NAME, CatalogError, Lakehouse, LakehouseCatalog, LazyView, RowsRead, SCHEMAS,
};
use cdrlake_udfs::reference::References;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemoryCatalogProviderList};
use datafusion::common::TableReference;
use datafusion::config::ConfigOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::{SQLOptions, SessionState};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use deltalake::delta_datafusion::planner::DeltaPlanner;

pub struct Engine {
    ctx: SessionContext,
    /// The state client sessions start from: this engine's, without keyed UDFs. `None` in a
    /// client engine (clients cannot make clients).
    client_template: Option<SessionState>,
    catalog: Arc<LakehouseCatalog>,
    lakehouse: Arc<Lakehouse>,
    /// The UDFs' reference tables, shared with client sessions.
    reference_tables: Arc<ReferenceTables>,
    /// Rows this engine's queries (and merges) read from lakehouse tables.
    rows_read: Arc<RowsRead>,
    /// The Ballista cluster queries over lakehouse tables run on (`--engine ballista://...`).
    #[cfg(feature = "ballista")]
    cluster: Option<crate::cluster::Cluster>,
}

impl Engine {
    pub async fn new(lakehouse: Arc<Lakehouse>) -> Result<Self> {
        Self::with_memory_limit(lakehouse, None).await
    }

    /// With `memory_limit` bytes, queries share a memory pool of that size and spill sorts,
    /// joins and aggregations to temporary files beyond it (or fail if they cannot); a quarter
    /// of it is kept for operators that cannot spill (`memory_pool::bounded_runtime`).
    pub async fn with_memory_limit(
        lakehouse: Arc<Lakehouse>,
        memory_limit: Option<usize>,
    ) -> Result<Self> {
        // DATAFUSION_* environment variables tune the engine (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS).
        let mut config = SessionConfig::from_env()
            .context("a DATAFUSION_* environment variable is not a valid DataFusion setting")?
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG_NAME, "gold");
        let rows_read = Arc::new(RowsRead::default());
        config = config.with_extension(rows_read.clone());
        // Timestamps are UTC everywhere; local time is an explicit conversion in SQL.
        config.options_mut().execution.time_zone = Some("UTC".to_string());
        // Build sides of up to 2M rows / 64 MB are hashed once and shared (CollectLeft) instead of
        // repartitioning both sides: a join of 10M wide CDR rows against 480k keys spent most of
        // its time moving the wide rows between partitions (4.7 s -> 0.8 s). Env settings win.
        let optimizer = &mut config.options_mut().optimizer;
        if std::env::var_os("DATAFUSION_OPTIMIZER_HASH_JOIN_SINGLE_PARTITION_THRESHOLD").is_none() {
            optimizer.hash_join_single_partition_threshold = 64 * 1024 * 1024;
        }
        if std::env::var_os("DATAFUSION_OPTIMIZER_HASH_JOIN_SINGLE_PARTITION_THRESHOLD_ROWS")
            .is_none()
        {
            optimizer.hash_join_single_partition_threshold_rows = 2_000_000;
        }
        // A sort that spilled merges its files within memory reserved before it starts: at the
        // default 10 MB the merge of a 30M-row rating sort found the pool taken by the sorts and
        // failed; 1/32 of an 8 GB pool let it finish, not of 6 GB, hence also `memory_retry`
        // (docs/performance.md). Env settings win.
        if let Some(bytes) = memory_limit
            && std::env::var_os("DATAFUSION_EXECUTION_SORT_SPILL_RESERVATION_BYTES").is_none()
        {
            let execution = &mut config.options_mut().execution;
            execution.sort_spill_reservation_bytes =
                execution.sort_spill_reservation_bytes.max(bytes / 32);
        }
        // delta-rs writes plan custom nodes; its planner wraps DataFusion's default one.
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_query_planner(DeltaPlanner::new());
        let state = match memory_limit {
            Some(bytes) => state.with_runtime_env(Arc::new(
                crate::memory_pool::bounded_runtime(bytes).build()?,
            )),
            None => state,
        }
        .build();
        let ctx = SessionContext::new_with_state(state);
        let catalog = Arc::new(LakehouseCatalog::new(lakehouse.clone()));
        catalog.refresh().await?;
        ctx.register_catalog(CATALOG_NAME, catalog.clone());
        let reference_tables = Arc::new(ReferenceTables::new(cdrlake_udfs::register_all(&ctx)));
        // A lakehouse this process may only read (and that has no key yet) still serves queries;
        // only the keyed functions then fail, saying how to configure a key.
        match lakehouse.hmac_key().await {
            Ok(key) => cdrlake_udfs::keyed(&key)
                .into_iter()
                .for_each(|udf| ctx.register_udf(udf)),
            Err(e) => tracing::warn!("keyed functions have no key: {e}"),
        }
        let template = SessionContext::new_with_state(ctx.state());
        for name in cdrlake_udfs::KEYED {
            template.deregister_udf(name);
        }
        let engine = Self {
            ctx,
            client_template: Some(template.state()),
            catalog,
            lakehouse,
            reference_tables,
            rows_read,
            #[cfg(feature = "ballista")]
            cluster: None,
        };
        engine.refresh_references().await?;
        engine.register_saved_views().await?;
        Ok(engine)
    }

    /// Registers the views saved in the lakehouse. A view may read another, so this retries in
    /// rounds; a view that still cannot be planned is skipped with a warning, not fatal.
    async fn register_saved_views(&self) -> Result<()> {
        let mut pending = self.lakehouse.load_views().await?;
        loop {
            let before = pending.len();
            let mut failed = Vec::new();
            for view in pending {
                if let Err(e) = self
                    .register_view(&view.schema, &view.name, &view.sql)
                    .await
                {
                    failed.push((view, e));
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            if failed.len() == before {
                for (view, e) in failed {
                    tracing::warn!("view {}.{} is not available: {e}", view.schema, view.name);
                }
                return Ok(());
            }
            pending = failed.into_iter().map(|(v, _)| v).collect();
        }
    }

    /// A session for one client: this engine's settings and functions less the keyed UDFs, its
    /// own configuration from here on, `catalog` as the `cdrlake` catalog, and every plan
    /// checked to be a query. The memory pool and object stores stay shared.
    pub fn for_client(&self, catalog: Arc<dyn CatalogProvider>) -> Result<Self> {
        let template = self
            .client_template
            .clone()
            .context("a client session cannot open another client session")?;
        let catalogs = Arc::new(MemoryCatalogProviderList::new());
        catalogs.register_catalog(CATALOG_NAME.to_string(), catalog);
        let state = SessionStateBuilder::new_from_existing(template)
            .with_catalog_list(catalogs)
            .build();
        Ok(Self {
            ctx: SessionContext::new_with_state(state),
            client_template: None,
            catalog: self.catalog.clone(),
            lakehouse: self.lakehouse.clone(),
            reference_tables: self.reference_tables.clone(),
            rows_read: self.rows_read.clone(),
            #[cfg(feature = "ballista")]
            cluster: self.cluster.clone(),
        })
    }

    /// Runs the queries it can on the Ballista scheduler at `url` (`ballista://HOST:PORT`), or
    /// all in this process when `None`.
    pub fn with_engine(self, url: Option<&str>) -> Result<Self> {
        // An empty CDRLAKE_ENGINE (as compose passes an unset variable) means this process.
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return Ok(self);
        };
        #[cfg(feature = "ballista")]
        {
            let cluster = crate::cluster::Cluster::new(url, self.lakehouse.clone())?;
            Ok(Self {
                cluster: Some(cluster),
                ..self
            })
        }
        #[cfg(not(feature = "ballista"))]
        bail!("--engine {url}: this cdrlake was built without the `ballista` feature")
    }

    /// The rows read from lakehouse tables since this engine started (its client sessions'
    /// queries included): a model's reads are the difference across its build.
    pub fn rows_read(&self) -> &RowsRead {
        &self.rows_read
    }

    /// Whether this is a client session's engine (plans queries only).
    pub fn is_client(&self) -> bool {
        self.client_template.is_none()
    }

    fn privileged(&self, what: &str) -> Result<()> {
        if self.is_client() {
            bail!("{what} is not available to client sessions");
        }
        Ok(())
    }

    /// Makes `schema.name` a view of `sql` in this session (not saved; see `Lakehouse::save_view`).
    pub async fn register_view(&self, schema: &str, name: &str, sql: &str) -> Result<()> {
        self.privileged("registering a view")?;
        let view = LazyView::try_new(&self.ctx.state(), sql).await?;
        let provider = self
            .catalog
            .lakehouse_schema(schema)
            .ok_or_else(|| CatalogError::UnknownSchema(schema.into()))?;
        datafusion::catalog::SchemaProvider::register_table(
            provider.as_ref(),
            name.to_string(),
            Arc::new(view),
        )?;
        Ok(())
    }

    pub fn deregister_view(&self, schema: &str, name: &str) -> Result<()> {
        self.privileged("dropping a view")?;
        if let Some(provider) = self.catalog.lakehouse_schema(schema) {
            datafusion::catalog::SchemaProvider::deregister_table(provider.as_ref(), name)?;
        }
        Ok(())
    }

    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// Sets DataFusion options (`datafusion.optimizer.join_reordering` = `false`, ...) for the
    /// queries planned from now on; returns the options as they were, for [`Engine::restore_options`].
    pub fn set_options(&self, settings: &[(String, String)]) -> Result<ConfigOptions> {
        self.privileged("@set options")?;
        let state = self.ctx.state_ref();
        let mut state = state.write();
        let saved = state.config().options().as_ref().clone();
        for (key, value) in settings {
            if let Err(e) = state.config_mut().options_mut().set(key, value) {
                *state.config_mut().options_mut() = saved.clone();
                bail!("{key} = {value}: {}", e.strip_backtrace());
            }
        }
        Ok(saved)
    }

    pub fn restore_options(&self, saved: &ConfigOptions) {
        *self.ctx.state_ref().write().config_mut().options_mut() = saved.clone();
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
        let sql = &crate::placeholders::number_question_marks(sql);
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        for reference in state.resolve_table_references(&statement)? {
            check_reference(&reference)?;
        }
        let plan = state.statement_to_plan(statement).await?;
        if self.is_client() {
            // Deny by default, on what would run: whatever the text was, a client's plan holds
            // no DDL (CREATE/DROP of tables and views), no DML (INSERT, COPY) and no statement
            // (SET, transactions, PREPARE) that DataFusion would execute in memory.
            SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false)
                .verify_plan(&plan)?;
        }
        self.refresh_references().await?;
        #[cfg(feature = "ballista")]
        if let Some(cluster) = &self.cluster
            && crate::cluster::runs_on_cluster(&plan)
        {
            cluster.check_reachable().await?;
            let remote = SessionContext::new_with_state(cluster.remote_state(self.ctx.state())?);
            let plan = crate::cluster::without_dictionaries(plan)?;
            return Ok(remote.execute_logical_plan(plan).await?);
        }
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// Loads the UDFs' reference tables (`cdrlake_udfs::reference`) whose Delta version changed
    /// since they were last loaded, so every query uses them as committed when it started. The
    /// check is a read of the tables' newest log entries; a missing table leaves its UDFs
    /// unloaded (they say so when called).
    async fn refresh_references(&self) -> Result<()> {
        for (i, reference) in self.reference_tables.tables.iter().enumerate() {
            let (schema, name) = reference.table();
            let Some(table) = self.catalog.latest_table(schema, name).await? else {
                if self.reference_tables.lock()[i].take().is_some() {
                    reference.unload();
                }
                continue;
            };
            let version = table.version();
            if self.reference_tables.lock()[i] == version {
                continue;
            }
            match self.read_reference(table, reference.columns()).await {
                Ok(batches) => {
                    reference.load(&batches)?;
                    self.reference_tables.lock()[i] = version;
                }
                // Queries not calling its functions go on; those that do fail, never using
                // an older version of the table.
                Err(e) => {
                    tracing::warn!("{schema}.{name} could not be read for its functions: {e}");
                    reference.unload();
                    self.reference_tables.lock()[i] = None;
                }
            }
        }
        Ok(())
    }

    /// `columns` of `table`, read through the table itself, not its name: a client session whose
    /// role does not read the table still gets what its functions need (never the rows).
    async fn read_reference(
        &self,
        table: deltalake::DeltaTable,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>> {
        let provider = Arc::new(cdrlake_catalog::DeltaProvider::try_new(table).await?);
        Ok(self
            .ctx
            .read_table(provider)?
            .select_columns(columns)?
            .collect()
            .await?)
    }

    /// The `(schema, table)` pairs one SQL statement names, unqualified names in the default
    /// schema (CTE names excluded). Used to authorize a statement before planning it.
    pub fn references(&self, sql: &str) -> Result<Vec<(String, String)>> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        let default_schema = state.config().options().catalog.default_schema.clone();
        Ok(state
            .resolve_table_references(&statement)?
            .into_iter()
            .map(|r| {
                (
                    r.schema().unwrap_or(&default_schema).to_string(),
                    r.table().to_string(),
                )
            })
            .collect())
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

/// The UDFs' reference tables and the Delta version each was last loaded at.
struct ReferenceTables {
    tables: References,
    loaded: std::sync::Mutex<Vec<Option<deltalake::kernel::Version>>>,
}

impl ReferenceTables {
    fn new(tables: References) -> Self {
        let loaded = std::sync::Mutex::new(vec![None; tables.len()]);
        Self { tables, loaded }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<deltalake::kernel::Version>>> {
        // The versions are only a cache: after a panic elsewhere they are still usable.
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}
