//! Scale-out on Apache DataFusion Ballista (docs/scale-out.md): `cdrlake scheduler` and
//! `cdrlake executor` embed Ballista's scheduler and executor with what cdrlake's plans need on
//! every node (lakehouse table scans, cdrlake's functions, the lakehouse's object store), and
//! an engine with `--engine ballista://HOST:PORT` sends the queries it can to them.
//!
//! Queries over lakehouse tables run on the cluster; anything else (information_schema, staged
//! in-memory tables, a commit's rows, DDL and DML) runs in the client process, as do Delta
//! commits.

mod codec;
mod planner;
mod scan;
mod sink;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::planner::BallistaQueryPlanner;
use ballista_core::registry::BallistaFunctionRegistry;
use cdrlake_catalog::{DeltaProvider, Lakehouse};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::Column;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::execution::SessionState;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF, cast};
use datafusion::prelude::{DataFrame, SessionConfig};
use datafusion_proto::protobuf::LogicalPlanNode;

pub use codec::{LogicalCodec, PhysicalCodec};
pub use scan::LakehouseTables;
use sink::WriteFilesSpec;

/// A Ballista scheduler to run queries on, from `ballista://HOST:PORT`.
#[derive(Debug, Clone)]
pub struct Cluster {
    scheduler: String,
    tables: Arc<LakehouseTables>,
}

impl Cluster {
    pub fn new(url: &str, lakehouse: Arc<Lakehouse>) -> Result<Self> {
        Ok(Self {
            scheduler: scheduler_url(url)?,
            tables: LakehouseTables::new(lakehouse),
        })
    }

    /// `state` (a client's or the runner's) made to plan on the cluster.
    pub fn remote_state(&self, state: SessionState) -> Result<SessionState> {
        let logical = Arc::new(LogicalCodec::new(self.tables.clone()));
        let base = state.config().clone().upgrade_for_ballista();
        let ballista = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
            self.scheduler.clone(),
            base.ballista_config(),
            logical.clone(),
        );
        let config = state
            .config()
            .clone()
            .with_ballista_logical_extension_codec(logical)
            .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::new(
                self.tables.clone(),
            )))
            .with_ballista_query_planner(Arc::new(planner::ClusterPlanner::new(
                ballista,
                self.tables.clone(),
            )))
            // Writes of its rows are planned and committed here (cdrlake_catalog::PlansElsewhere).
            .with_extension(Arc::new(cdrlake_catalog::PlansElsewhere));
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build()
            .upgrade_for_ballista(self.scheduler.clone())?;
        // Ballista 55's adaptive planner lost track of a model's job (task metrics of a stage
        // it had re-planned: "metrics array size 7 does not equal 5") and never finished it.
        state.config_mut().options_mut().set(
            ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
            "false",
        )?;
        // Ballista defaults to sort-merge joins (they spill); DataFusion 55's panicked on
        // gold.rated_cdr's filtered join ("index out of bounds", sort_merge_join/filter.rs),
        // so the cluster joins as a local run does.
        state
            .config_mut()
            .options_mut()
            .set("datafusion.optimizer.prefer_hash_join", "true")?;
        Ok(state)
    }

    /// Fails with the scheduler's address when nothing answers there, rather than with the
    /// gRPC transport's error in the middle of a query.
    pub async fn check_reachable(&self) -> Result<()> {
        let addr = self.scheduler.trim_start_matches("http://");
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => bail!(
                "cannot reach the Ballista scheduler at {addr} (--engine): {e}; start one with `cdrlake scheduler`"
            ),
            Err(_) => bail!("the Ballista scheduler at {addr} (--engine) did not answer in 10 s"),
        }
    }
}

/// `ballista://host:port` -> the scheduler's gRPC address.
fn scheduler_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("--engine {url}"))?;
    if parsed.scheme() != "ballista" {
        bail!("--engine {url}: expected ballista://HOST:PORT (a Ballista scheduler)");
    }
    let host = parsed
        .host_str()
        .with_context(|| format!("--engine {url}: no host"))?;
    let port = parsed.port().unwrap_or(50050);
    Ok(format!("http://{host}:{port}"))
}

/// Whether every table `plan` reads is a whole lakehouse table and nothing in it needs the
/// client process (DDL, DML, statements, extension nodes).
pub fn runs_on_cluster(plan: &LogicalPlan) -> bool {
    let mut distributable = true;
    let walked = plan.apply_with_subqueries(|node| {
        let ok = match node {
            LogicalPlan::TableScan(scan) => source_as_provider(&scan.source)
                .ok()
                .and_then(|p| {
                    p.downcast_ref::<DeltaProvider>()
                        .and_then(|d| d.name())
                        .map(|_| ())
                })
                .is_some(),
            LogicalPlan::Dml(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::DescribeTable(_) => false,
            LogicalPlan::Extension(extension) => sink::is_write_files(extension.node.as_ref()),
            _ => true,
        };
        distributable &= ok;
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    walked.is_ok() && distributable
}

/// Whether `df` is a query a cluster runs (planned by [`Cluster::remote_state`]).
pub fn on_cluster(df: &DataFrame) -> bool {
    df.task_ctx()
        .session_config()
        .get_extension::<cdrlake_catalog::PlansElsewhere>()
        .is_some()
}

/// Writes the rows of `df` (a query [`on_cluster`]) as Parquet files of `spec`'s table, each
/// executor the partitions it computes, and returns the files' columns and `Add` actions: what
/// the one Delta commit needs. Nothing is committed; a failure leaves only unreferenced files.
async fn write_files(
    df: DataFrame,
    spec: WriteFilesSpec,
) -> Result<(SchemaRef, Vec<deltalake::kernel::Add>)> {
    let (state, plan) = df.into_parts();
    let columns = Arc::new(plan.schema().as_arrow().clone());
    let (_, stored) = cdrlake_catalog::delta_columns(&columns)?;
    let plan = with_types(plan, &stored)?;
    let write = sink::WriteFiles::new(plan, spec)?.into_plan();
    let physical = state.create_physical_plan(&write).await?;
    let batches = datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
    Ok((stored, sink::adds_in(&batches)?))
}

/// Replaces `schema.table` with the rows of `df` (a query [`on_cluster`]): the executors write
/// the files ([`write_files`]), this process makes the one commit, with `options`.
pub async fn overwrite_on_cluster(
    lakehouse: &Lakehouse,
    df: DataFrame,
    schema: &str,
    table: &str,
    options: cdrlake_catalog::WriteOptions,
) -> Result<cdrlake_catalog::Committed> {
    let spec = WriteFilesSpec {
        schema: schema.to_string(),
        table: table.to_string(),
        partition_by: options.partition_by.clone(),
        plain_columns: options.plain_columns.clone(),
        unindexed_columns: options.unindexed_columns.clone(),
    };
    let (columns, adds) = write_files(df, spec).await?;
    Ok(lakehouse
        .overwrite_with_files(schema, table, &columns, adds, options)
        .await?)
}

/// `plan` with its columns cast to `schema`'s types (the same columns, in order), so that every
/// file is written with the types the table stores.
fn with_types(plan: LogicalPlan, schema: &SchemaRef) -> Result<LogicalPlan> {
    let stored: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    cast_columns(plan, |i, _| Some(stored[i].clone()))
}

/// `plan` with its dictionary-encoded columns (Delta partition values) cast to their values:
/// Ballista's Arrow Flight transfer of results decodes dictionaries, so a result column declared
/// as a dictionary would arrive as plain strings and not match its schema.
pub fn without_dictionaries(plan: LogicalPlan) -> Result<LogicalPlan> {
    cast_columns(plan, |_, t| match t {
        DataType::Dictionary(_, values) => Some(values.as_ref().clone()),
        _ => None,
    })
}

/// `plan` with column `i` of type `t` cast to `to(i, t)` where that gives another type; `plan`
/// itself when none does.
fn cast_columns(
    plan: LogicalPlan,
    to: impl Fn(usize, &DataType) -> Option<DataType>,
) -> Result<LogicalPlan> {
    let target = |i: usize, t: &DataType| to(i, t).filter(|to| to != t);
    let fields = plan.schema().fields();
    if (0..fields.len()).all(|i| target(i, fields[i].data_type()).is_none()) {
        return Ok(plan);
    }
    let columns: Vec<Expr> = plan
        .schema()
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(Column::from((qualifier, field)));
            match target(i, field.data_type()) {
                Some(to) => cast(column, to).alias_qualified(qualifier.cloned(), field.name()),
                None => column,
            }
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(columns)?.build()?)
}

/// cdrlake's functions as every node registers them (with the lakehouse's key when it has one).
async fn functions(lakehouse: &Lakehouse) -> Vec<Arc<ScalarUDF>> {
    let mut functions: Vec<Arc<ScalarUDF>> =
        cdrlake_udfs::all().into_iter().map(Arc::new).collect();
    functions.push(Arc::new(ScalarUDF::new_from_impl(
        cdrlake_udfs::rating::destination_zone::DestinationZone::new(),
    )));
    match lakehouse.hmac_key().await {
        Ok(key) => functions.extend(cdrlake_udfs::keyed(&key).into_iter().map(Arc::new)),
        Err(e) => tracing::warn!("keyed functions have no key: {e}"),
    }
    functions
}

/// Where a scheduler listens and what it serves.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: std::net::SocketAddr,
    /// The host executors and clients reach this scheduler at.
    pub external_host: String,
}

/// Runs a Ballista scheduler for `lakehouse` until the process ends.
pub async fn run_scheduler(lakehouse: Arc<Lakehouse>, options: SchedulerOptions) -> Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;

    let tables = LakehouseTables::new(lakehouse.clone());
    let functions = functions(&lakehouse).await;
    let planner = Arc::new(sink::WriteFilesQueryPlanner::new(tables.clone()));
    let session_builder = move |config: SessionConfig| {
        let mut state = ballista_core::utils::default_session_builder(config)?;
        for udf in &functions {
            datafusion::execution::FunctionRegistry::register_udf(&mut state, udf.clone())?;
        }
        // Writes of files (sink.rs) are planned here, for the executors to run.
        Ok(SessionStateBuilder::new_from_existing(state)
            .with_query_planner(planner.clone())
            .build())
    };
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.external_host,
        override_session_builder: Some(Arc::new(session_builder)),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(tables.clone()))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(tables))),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    eprintln!(
        "cdrlake scheduler for {} listening on {}",
        lakehouse.location(),
        options.bind
    );
    ballista_scheduler::scheduler_process::start_server(cluster, options.bind, Arc::new(config))
        .await
        .context("the Ballista scheduler stopped")
}

/// Where an executor listens, which scheduler it serves, and how much it takes on.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub bind_host: String,
    pub external_host: Option<String>,
    pub port: u16,
    pub grpc_port: u16,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub concurrent_tasks: usize,
    pub work_dir: Option<String>,
    pub memory_limit: Option<u64>,
}

/// Runs a Ballista executor for `lakehouse` until the process ends.
pub async fn run_executor(lakehouse: Arc<Lakehouse>, options: ExecutorOptions) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

    let tables = LakehouseTables::new(lakehouse.clone());
    let mut registry = BallistaFunctionRegistry::default();
    // Ballista's registry leaves out the array functions (range, make_array, ...).
    let nested = datafusion::functions_nested::all_default_nested_functions();
    for udf in nested.into_iter().chain(functions(&lakehouse).await) {
        registry
            .scalar_functions
            .insert(udf.name().to_string(), udf);
    }
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host,
        external_host: options.external_host,
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir,
        memory_pool_size: options.memory_limit,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(tables.clone()))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(tables))),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "cdrlake executor {} for {} listening on port {}",
        config.executor_id,
        lakehouse.location(),
        config.port
    );
    start_executor_process(Arc::new(config))
        .await
        .context("the Ballista executor stopped")
}

#[cfg(test)]
mod tests {
    use super::scheduler_url;

    #[test]
    fn engine_urls() {
        assert_eq!(
            scheduler_url("ballista://127.0.0.1:50050").unwrap(),
            "http://127.0.0.1:50050"
        );
        assert_eq!(
            scheduler_url("ballista://sched").unwrap(),
            "http://sched:50050"
        );
        assert!(scheduler_url("http://127.0.0.1:50050").is_err());
        assert!(scheduler_url("127.0.0.1:50050").is_err());
    }
}
