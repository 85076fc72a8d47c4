//! Lakehouse table scans that another process can run: a table is named by its schema, name and
//! Delta version, and each process opens that version itself. The scheduler plans the scan; an
//! executor re-plans the same scan (same version, projection, filters and settings, so the same
//! file groups) and runs the partition it was given. delta-rs has no codec for its scan plan,
//! and this keeps the wire format ours: a few names and numbers, not a file list.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cdrlake_catalog::{DeltaProvider, Lakehouse};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion_proto::bytes::Serializeable;
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

/// A lakehouse table at one version, as named in a plan sent between processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableVersion {
    /// The lakehouse root, so that a process serving another lakehouse refuses the plan.
    pub root: String,
    pub schema: String,
    pub table: String,
    pub version: u64,
}

impl fmt::Display for TableVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} at version {}",
            self.schema, self.table, self.version
        )
    }
}

/// This process's lakehouse and the table versions it has opened.
#[derive(Debug)]
pub struct LakehouseTables {
    lakehouse: Arc<Lakehouse>,
    opened: Mutex<HashMap<TableVersion, DeltaTable>>,
}

/// Opened versions kept per process; a run touches a few dozen tables.
const KEPT_VERSIONS: usize = 256;

impl LakehouseTables {
    pub fn new(lakehouse: Arc<Lakehouse>) -> Arc<Self> {
        Arc::new(Self {
            lakehouse,
            opened: Mutex::default(),
        })
    }

    pub fn lakehouse(&self) -> &Arc<Lakehouse> {
        &self.lakehouse
    }

    pub fn root(&self) -> String {
        self.lakehouse.location().to_string()
    }

    /// `Err` naming both lakehouses when `table` belongs to another one.
    pub fn check(&self, table: &TableVersion) -> Result<()> {
        let root = self.root();
        if table.root != root {
            return Err(DataFusionError::Plan(format!(
                "the plan reads {table} of the lakehouse {}, but this process serves {root}: start the scheduler and executors with the same --lakehouse as the client",
                table.root
            )));
        }
        Ok(())
    }

    async fn open(&self, table: &TableVersion) -> Result<DeltaTable> {
        self.check(table)?;
        if let Some(t) = self.lock().get(table) {
            return Ok(t.clone());
        }
        let opened = self
            .lakehouse
            .open_table(&table.schema, &table.table, Some(table.version))
            .await
            .map_err(|e| DataFusionError::Plan(format!("{table}: {e}")))?;
        let mut cache = self.lock();
        if cache.len() >= KEPT_VERSIONS {
            cache.clear();
        }
        cache.insert(table.clone(), opened.clone());
        Ok(opened)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TableVersion, DeltaTable>> {
        // Only a cache of opened tables: still usable after a panic elsewhere.
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The table provider a scheduler decodes from a client's plan.
#[derive(Debug)]
pub struct RemoteTable {
    table: TableVersion,
    schema: SchemaRef,
    tables: Arc<LakehouseTables>,
}

impl RemoteTable {
    pub fn new(table: TableVersion, schema: SchemaRef, tables: Arc<LakehouseTables>) -> Self {
        Self {
            table,
            schema,
            tables,
        }
    }
}

#[async_trait]
impl TableProvider for RemoteTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters stay above the scan as well: the scan uses them to skip files only.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let spec = ScanSpec {
            table: self.table.clone(),
            projection: projection.cloned(),
            filters: filters
                .iter()
                .filter(|f| !needs_plan_state(f))
                .map(|f| f.to_bytes().map(|b| b.to_vec()))
                .collect::<Result<_>>()?,
            limit,
        };
        let planned = spec.plan(&self.tables, state).await?;
        Ok(Arc::new(LakehouseScanExec::new(
            spec,
            planned.properties().partitioning.partition_count(),
            planned.schema(),
            self.tables.clone(),
            Some(planned),
        )))
    }
}

/// Whether `filter` calls a function whose state travels with the plan (`destination_zone`'s
/// prefix table): a scan's filters go as plain protobuf, where it would arrive without it. The
/// filter stays above the scan (Inexact), so leaving it out only skips fewer files.
fn needs_plan_state(filter: &Expr) -> bool {
    filter
        .exists(|e| {
            Ok(matches!(e, Expr::ScalarFunction(f)
                if f.func.inner().downcast_ref::<cdrlake_udfs::rating::destination_zone::DestinationZone>().is_some()))
        })
        .unwrap_or(true)
}

/// What a scan reads: enough for any process to plan the same scan again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSpec {
    pub table: TableVersion,
    pub projection: Option<Vec<usize>>,
    /// Filters as DataFusion's protobuf bytes, for file skipping.
    pub filters: Vec<Vec<u8>>,
    pub limit: Option<usize>,
}

impl ScanSpec {
    async fn plan(
        &self,
        tables: &LakehouseTables,
        state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = tables.open(&self.table).await?;
        let filters = self
            .filters
            .iter()
            .map(|bytes| Expr::from_bytes_with_ctx(bytes, &state.task_ctx()))
            .collect::<Result<Vec<_>>>()?;
        // Unnamed: no rows-read counter, which would be a node other processes cannot decode.
        DeltaProvider::try_new(table)
            .await?
            .scan(state, self.projection.as_ref(), &filters, self.limit)
            .await
    }
}

/// A leaf node that reads one scan's partitions: planned already on the scheduler, planned again
/// from its [`ScanSpec`] on an executor when a task first runs it.
pub struct LakehouseScanExec {
    spec: ScanSpec,
    partitions: usize,
    properties: Arc<PlanProperties>,
    tables: Arc<LakehouseTables>,
    planned: Arc<tokio::sync::OnceCell<Arc<dyn ExecutionPlan>>>,
}

impl fmt::Debug for LakehouseScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakehouseScanExec")
            .field("spec", &self.spec)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl LakehouseScanExec {
    pub fn new(
        spec: ScanSpec,
        partitions: usize,
        schema: SchemaRef,
        tables: Arc<LakehouseTables>,
        planned: Option<Arc<dyn ExecutionPlan>>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            spec,
            partitions,
            properties: Arc::new(properties),
            tables,
            planned: Arc::new(tokio::sync::OnceCell::new_with(planned)),
        }
    }

    pub fn spec(&self) -> &ScanSpec {
        &self.spec
    }

    pub fn partitions(&self) -> usize {
        self.partitions
    }
}

impl DisplayAs for LakehouseScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "LakehouseScanExec: {}, partitions={}",
            self.spec.table, self.partitions
        )
    }
}

impl ExecutionPlan for LakehouseScanExec {
    fn name(&self) -> &str {
        "LakehouseScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "LakehouseScanExec has no children".into(),
            ))
        }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let spec = self.spec.clone();
        let tables = self.tables.clone();
        let expected = self.partitions;
        let planned = self.planned.clone();
        let stream = futures::stream::once(async move {
            let plan = planned
                .get_or_try_init(|| async {
                    let state = session_for(&context);
                    let plan = spec.plan(&tables, &state).await?;
                    let found = plan.properties().partitioning.partition_count();
                    if found != expected {
                        return Err(DataFusionError::Execution(format!(
                            "{}: this process planned {found} scan partitions where the scheduler planned {expected}; give every node the same DataFusion settings",
                            spec.table
                        )));
                    }
                    Ok(plan)
                })
                .await?;
            plan.execute(partition, context)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.boxed(),
        )))
    }
}

/// A session with a task's settings, functions and runtime (its object stores), to plan in.
fn session_for(context: &TaskContext) -> datafusion::execution::SessionState {
    SessionStateBuilder::new()
        .with_default_features()
        .with_config(context.session_config().clone())
        .with_runtime_env(context.runtime_env())
        .with_scalar_functions(context.scalar_functions().values().cloned().collect())
        .build()
}
