//! Writing rows that another process computes. A session whose planner sends plans elsewhere (a
//! Ballista cluster) is marked with [`PlansElsewhere`]; a write or merge of such a frame plans
//! the frame's query with that session and everything delta-rs adds around it (its scans of the
//! target, its extension nodes, the writer) in this process with delta-rs's planner, where the commit is made.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType, provider_as_source};
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::DataFrame;
use deltalake::delta_datafusion::planner::DeltaPlanner;

/// Marks a session (as a `SessionConfig` extension) whose plans run outside this process.
#[derive(Debug, Default)]
pub struct PlansElsewhere;

/// `df`'s session and plan as a writer in this process should plan them.
pub(crate) fn local_input(df: DataFrame) -> Result<(SessionState, LogicalPlan)> {
    let (state, plan) = df.into_parts();
    if state.config().get_extension::<PlansElsewhere>().is_none() {
        return Ok((state, plan));
    }
    let schema = Arc::new(plan.schema().as_arrow().clone());
    let query = RemoteQuery {
        state: state.clone(),
        plan,
        schema,
    };
    let local = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(DeltaPlanner::new())
        .build();
    let scan = LogicalPlanBuilder::scan("remote_query", provider_as_source(Arc::new(query)), None)?
        .build()?;
    Ok((local, scan))
}

/// A query planned (and run) by its own session, read as a table.
#[derive(Debug)]
struct RemoteQuery {
    state: SessionState,
    plan: LogicalPlan,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for RemoteQuery {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut plan = LogicalPlanBuilder::from(self.plan.clone());
        if let Some(projection) = projection {
            let columns = self.plan.schema().columns();
            plan = plan.project(projection.iter().map(|&i| Expr::Column(columns[i].clone())))?;
        }
        if limit.is_some() {
            plan = plan.limit(0, limit)?;
        }
        self.state.create_physical_plan(&plan.build()?).await
    }
}
