//! Executors writing a table's new Parquet files: a logical node "write these rows as Delta files
//! of schema.table" ([`WriteFiles`]) that the client sends with the query, the scheduler plans
//! into [`WriteFilesExec`], and every task runs over its partition with delta-rs's `DeltaWriter`.
//! Each task returns the `Add` actions of the files it wrote, as JSON rows; the client makes the
//! one Delta commit with them (`Lakehouse::overwrite_with_files`).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cdrlake_catalog::column_properties;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{EquivalenceProperties, OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
use deltalake::kernel::Add;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::scan::LakehouseTables;

/// Where and how a write's files go: the table, and the writer settings of its model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Serialize, Deserialize)]
pub struct WriteFilesSpec {
    pub schema: String,
    pub table: String,
    pub partition_by: Vec<String>,
    pub plain_columns: Vec<String>,
    pub unindexed_columns: Vec<String>,
}

impl fmt::Display for WriteFilesSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// The one column of a write's result: an `Add` action as JSON.
fn adds_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("add", DataType::Utf8, false)]))
}

/// The logical node: `input`'s rows written as files of `spec`'s table (not committed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WriteFiles {
    input: LogicalPlan,
    spec: WriteFilesSpec,
    schema: DFSchemaRef,
}

impl WriteFiles {
    pub fn new(input: LogicalPlan, spec: WriteFilesSpec) -> Result<Self> {
        Ok(Self {
            input,
            spec,
            schema: Arc::new(DFSchema::try_from(adds_schema())?),
        })
    }

    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(Extension {
            node: Arc::new(self),
        })
    }

    pub fn spec(&self) -> &WriteFilesSpec {
        &self.spec
    }
}

impl PartialOrd for WriteFiles {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.spec, &self.input).partial_cmp(&(&other.spec, &other.input))
    }
}

impl UserDefinedLogicalNodeCore for WriteFiles {
    fn name(&self) -> &str {
        "WriteFiles"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WriteFiles: {}", self.spec)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if inputs.len() != 1 {
            return Err(DataFusionError::Internal("WriteFiles has one input".into()));
        }
        Self::new(inputs.swap_remove(0), self.spec.clone())
    }
}

/// Whether `node` is a write of files (which a cluster runs, unlike other extension nodes).
pub fn is_write_files(node: &dyn UserDefinedLogicalNode) -> bool {
    node.as_any().downcast_ref::<WriteFiles>().is_some()
}

/// Plans [`WriteFiles`] into [`WriteFilesExec`].
#[derive(Debug)]
pub struct WriteFilesPlanner {
    tables: Arc<LakehouseTables>,
}

impl WriteFilesPlanner {
    pub fn new(tables: Arc<LakehouseTables>) -> Self {
        Self { tables }
    }
}

#[async_trait]
impl ExtensionPlanner for WriteFilesPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(write) = node.as_any().downcast_ref::<WriteFiles>() else {
            return Ok(None);
        };
        Ok(Some(Arc::new(WriteFilesExec::new(
            physical_inputs[0].clone(),
            write.spec.clone(),
            self.tables.clone(),
        ))))
    }
}

/// DataFusion's planner with [`WriteFilesPlanner`]: the scheduler's, and the client's for a write
/// that cannot go to the cluster (it then writes the files itself).
#[derive(Debug)]
pub struct WriteFilesQueryPlanner {
    tables: Arc<LakehouseTables>,
}

impl WriteFilesQueryPlanner {
    pub fn new(tables: Arc<LakehouseTables>) -> Self {
        Self { tables }
    }
}

#[async_trait]
impl QueryPlanner for WriteFilesQueryPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(WriteFilesPlanner::new(
            self.tables.clone(),
        ))])
        .create_physical_plan(plan, session)
        .await
    }
}

/// Writes each input partition as Parquet files of the table and returns their `Add` actions.
pub struct WriteFilesExec {
    input: Arc<dyn ExecutionPlan>,
    spec: WriteFilesSpec,
    tables: Arc<LakehouseTables>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for WriteFilesExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteFilesExec")
            .field("spec", &self.spec)
            .finish()
    }
}

impl WriteFilesExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        spec: WriteFilesSpec,
        tables: Arc<LakehouseTables>,
    ) -> Self {
        let partitions = input.properties().partitioning.partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(adds_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            input,
            spec,
            tables,
            properties: Arc::new(properties),
        }
    }

    pub fn spec(&self) -> &WriteFilesSpec {
        &self.spec
    }
}

impl DisplayAs for WriteFilesExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WriteFilesExec: {}", self.spec)
    }
}

impl ExecutionPlan for WriteFilesExec {
    fn name(&self) -> &str {
        "WriteFilesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "WriteFilesExec has one child".into(),
            ));
        }
        Ok(Arc::new(Self::new(
            children.swap_remove(0),
            self.spec.clone(),
            self.tables.clone(),
        )))
    }

    /// The model's order stays the files' order (its sorts are there for row-group skipping).
    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![
            self.input
                .output_ordering()
                .cloned()
                .map(OrderingRequirements::from),
        ]
    }

    /// Files are written from the partitions there are: a repartition would be a shuffle.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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
        let input = self.input.execute(partition, context)?;
        let spec = self.spec.clone();
        let tables = self.tables.clone();
        let schema = self.schema();
        let written = futures::stream::once(async move {
            let adds = write_partition(input, &spec, &tables).await?;
            adds_batch(schema, &adds)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            written.boxed(),
        )))
    }
}

fn delta_error(spec: &WriteFilesSpec, e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("writing files of {spec}: {e}"))
}

/// One partition's rows as files under the table's directory (not committed).
async fn write_partition(
    mut input: SendableRecordBatchStream,
    spec: &WriteFilesSpec,
    tables: &LakehouseTables,
) -> Result<Vec<Add>> {
    let lakehouse = tables.lakehouse();
    let url = lakehouse
        .table_url(&spec.schema, &spec.table)
        .map_err(|e| delta_error(spec, e))?;
    let store = deltalake::DeltaTableBuilder::from_url(url)
        .and_then(|b| {
            b.with_storage_options(lakehouse.storage_options().clone())
                .build()
        })
        .map_err(|e| delta_error(spec, e))?
        .object_store();
    let config = WriterConfig::new(
        input.schema(),
        spec.partition_by.clone(),
        Some(column_properties(
            &spec.plain_columns,
            &spec.unindexed_columns,
        )),
        Some(deltalake::table::config::DEFAULT_TARGET_FILE_SIZE),
        None,
        Default::default(),
        None,
    );
    let mut writer = DeltaWriter::new(store, config);
    while let Some(batch) = input.next().await {
        writer
            .write(&batch?)
            .await
            .map_err(|e| delta_error(spec, e))?;
    }
    let adds = writer.close().await.map_err(|e| delta_error(spec, e))?;
    for add in &adds {
        tracing::info!("wrote {} ({} bytes) of {spec}", add.path, add.size);
    }
    Ok(adds)
}

fn adds_batch(schema: SchemaRef, adds: &[Add]) -> Result<RecordBatch> {
    let json = adds
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(json))],
    )?)
}

/// The `Add` actions in a write's result rows.
pub fn adds_in(batches: &[RecordBatch]) -> Result<Vec<Add>> {
    let mut adds = Vec::new();
    for batch in batches {
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Internal("a write returned no add column".into()))?;
        for i in 0..column.len() {
            adds.push(
                serde_json::from_str(column.value(i))
                    .map_err(|e| DataFusionError::External(Box::new(e)))?,
            );
        }
    }
    Ok(adds)
}
