//! The query planner of a session on the cluster: the last word on where a plan runs, seen
//! once it is optimized and its parameters are bound.

use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::planner::BallistaQueryPlanner;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;
use deltalake::delta_datafusion::planner::DeltaPlanner;

use super::scan::LakehouseTables;
use super::sink::WriteFilesQueryPlanner;

/// Sends a plan to Ballista's scheduler when it reads lakehouse tables and the scheduler can
/// decode it; plans the rest here.
#[derive(Debug)]
pub struct ClusterPlanner {
    ballista: BallistaQueryPlanner<LogicalPlanNode>,
    local: Arc<DeltaPlanner>,
    /// For a write of files that stays here: this process writes them.
    local_write: WriteFilesQueryPlanner,
}

impl ClusterPlanner {
    pub fn new(
        ballista: BallistaQueryPlanner<LogicalPlanNode>,
        tables: Arc<LakehouseTables>,
    ) -> Self {
        Self {
            ballista,
            local: DeltaPlanner::new(),
            local_write: WriteFilesQueryPlanner::new(tables),
        }
    }
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if super::runs_on_cluster(plan) && reads_a_table(plan) && decodable(plan) {
            self.ballista.create_physical_plan(plan, session).await
        } else if let LogicalPlan::Extension(e) = plan
            && super::sink::is_write_files(e.node.as_ref())
        {
            self.local_write.create_physical_plan(plan, session).await
        } else {
            self.local.create_physical_plan(plan, session).await
        }
    }
}

/// Whether `plan` scans a table at all: one the optimizer emptied (a filter known false) has
/// nothing to run remotely.
fn reads_a_table(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        found |= matches!(node, LogicalPlan::TableScan(_));
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// DataFusion's protobuf form of an empty relation has no schema: one with columns (what the
/// optimizer leaves of a scan under a false filter) decodes as having none.
fn decodable(plan: &LogicalPlan) -> bool {
    let mut ok = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::EmptyRelation(empty) = node {
            ok &= empty.schema.fields().is_empty();
        }
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    ok
}
