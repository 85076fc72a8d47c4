//! Counting the rows a session reads from lakehouse tables: the model runner reports them per
//! model, so a daily run shows whether its work grows with the history it does not need.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter_pushdown::{FilterDescription, FilterPushdownPhase};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    SendableRecordBatchStream, Statistics, StatisticsArgs,
};
use futures::StreamExt;

/// Rows read by scans of Delta tables, as a session configuration extension: a session that
/// carries one counts into it (`SessionConfig::with_extension`).
#[derive(Debug, Default)]
pub struct RowsRead(AtomicU64);

impl RowsRead {
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self, rows: u64) {
        self.0.fetch_add(rows, Ordering::Relaxed);
    }
}

/// A Delta scan that adds the rows it yields (after file and row-group pruning) to a counter.
#[derive(Debug)]
pub struct CountedScan {
    scan: Arc<dyn ExecutionPlan>,
    counter: Arc<RowsRead>,
}

impl CountedScan {
    pub fn new(scan: Arc<dyn ExecutionPlan>, counter: Arc<RowsRead>) -> Self {
        Self { scan, counter }
    }
}

impl DisplayAs for CountedScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CountedScan")
    }
}

impl ExecutionPlan for CountedScan {
    fn name(&self) -> &str {
        "CountedScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.scan.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.scan]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([scan]) => Ok(Arc::new(Self::new(scan, self.counter.clone()))),
            Err(c) => Err(DataFusionError::Internal(format!(
                "CountedScan takes one child, not {}",
                c.len()
            ))),
        }
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        Ok(self
            .scan
            .repartitioned(target_partitions, config)?
            .map(|scan| Arc::new(Self::new(scan, self.counter.clone())) as _))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = self.scan.execute(partition, context)?;
        let schema = stream.schema();
        let counter = self.counter.clone();
        let counted = stream.inspect(move |batch| {
            if let Ok(b) = batch {
                counter.add(b.num_rows() as u64);
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, counted)))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        input_stats.first().cloned().ok_or_else(|| {
            DataFusionError::Internal("CountedScan expects its scan's statistics".into())
        })
    }

    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        FilterDescription::from_children(parent_filters, &self.children())
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}
