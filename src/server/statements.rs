//! Running one client statement: classified by the policy, then planned and streamed in the
//! caller's own session (queries), written through the Delta write path (engineers' writes), or
//! applied to the session (`SET`). Every outcome, refusals included, reaches the query log.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::StringArray;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tonic::{Request, Response, Status};

use super::cancel::{self, CancelFlag};
use super::flight_sql::{CdrlakeFlightSql, DoGetStream, one_batch, to_status};
use super::middleware::Caller;
use super::policy::{self, Allowed};
use super::procedures::Procedure;
use super::query_log::Running;
use super::query_memory::QueryMemoryPool;
use crate::output::{plain_schema, plain_types};
use crate::sql_write::WriteStatement;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

/// Limits every client query runs under.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// A query still running after this long is cancelled.
    pub timeout: Option<Duration>,
    /// Queries running at once, over all clients.
    pub max_concurrent: usize,
    /// How long a query waits for a free slot before it is refused.
    pub queue_wait: Duration,
    /// Largest DoPut upload (bulk ingest, bound parameters), in bytes.
    pub max_upload: usize,
    /// Memory one query may hold, within the server's pool.
    pub query_memory: Option<usize>,
}

impl Default for QueryLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            timeout: Some(Duration::from_secs(600)),
            max_concurrent: (2 * cores).max(4),
            queue_wait: Duration::from_secs(30),
            max_upload: 512 << 20,
            query_memory: None,
        }
    }
}

/// What `SET` returns when run as a query: the option and its value.
pub fn setting_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("option", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

/// What a writing statement returns when run as a query.
pub fn write_result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "rows",
        DataType::Int64,
        false,
    )]))
}

impl CdrlakeFlightSql {
    /// The caller's session, as the middleware found it.
    pub(super) fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                Status::unauthenticated("no session: log in with a user name and password")
            })
    }

    /// The policy's decision for `sql`; a refusal is logged with its reason.
    pub(super) fn allowed(&self, caller: &Caller, sql: &str) -> Result<Allowed, Status> {
        policy::classify(sql, caller.session.role).map_err(|refusal| {
            tracing::info!("refused for {}: {}", caller.session.user, refusal.message());
            self.log
                .refused(&caller.session.user, sql, refusal.message());
            refusal.status()
        })
    }

    /// Plans a query in the caller's session, after checking their role reads every table it
    /// names.
    pub(super) async fn plan(
        &self,
        caller: &Caller,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
    ) -> Result<DataFrame, Status> {
        let session = &caller.session;
        for (schema, table) in session.engine.references(sql).map_err(to_status)? {
            if !session.role.may_read(&schema) {
                let reason = format!(
                    "user '{}' ({:?}) may not read {schema}.{table}: analysts read gold and system",
                    session.user, session.role
                );
                self.log.refused(&session.user, sql, &reason);
                return Err(Status::permission_denied(reason));
            }
        }
        let df = session.engine.dataframe(sql).await.map_err(to_status)?;
        match params {
            Some(p) => df
                .with_param_values(ParamValues::List(
                    p.iter().cloned().map(Into::into).collect(),
                ))
                .map_err(|e| to_status(e.into())),
            None => Ok(df),
        }
    }

    /// Planning failures at GetFlightInfo are queries too: log them.
    pub(super) async fn plan_logged(
        &self,
        caller: &Caller,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
    ) -> Result<DataFrame, Status> {
        let (started, started_at) = (std::time::Instant::now(), chrono::Utc::now());
        let result = self.plan(caller, sql, params).await;
        if let Err(status) = &result
            && status.code() != tonic::Code::PermissionDenied
        {
            self.log.failed(
                &caller.session.user,
                sql,
                started,
                started_at,
                status.message(),
            );
        }
        result
    }

    /// The FlightInfo schema of an allowed statement, planning queries.
    pub(super) async fn result_schema(
        &self,
        caller: &Caller,
        sql: &str,
        allowed: &Allowed,
    ) -> Result<(SchemaRef, Option<DataFrame>), Status> {
        match allowed {
            Allowed::Query => {
                let df = self.plan_logged(caller, sql, None).await?;
                Ok((plain_schema(df.schema().as_arrow()), Some(df)))
            }
            Allowed::Write(_) => Ok((write_result_schema(), None)),
            Allowed::Set { .. } | Allowed::Reset { .. } => Ok((setting_schema(), None)),
            Allowed::Call(procedure) => Ok((procedure.schema(), None)),
        }
    }

    /// Runs a statement given as a query (the DoGet of a statement or prepared statement).
    pub(super) async fn execute(
        &self,
        caller: &Caller,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
        planned: Option<DataFrame>,
        query_id: &str,
    ) -> Result<Response<DoGetStream>, Status> {
        match self.allowed(caller, sql)? {
            Allowed::Query => self.run(caller, sql, params, planned, query_id).await,
            Allowed::Write(write) => {
                let rows = self.write(caller, sql, &write).await?;
                let schema = write_result_schema();
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(arrow::array::Int64Array::from(vec![rows]))],
                )
                .map_err(FlightError::from);
                Ok(one_batch(schema, batch))
            }
            Allowed::Call(procedure) => {
                let batch = self.call(caller, sql, &procedure).await?;
                Ok(one_batch(batch.schema(), Ok(batch)))
            }
            allowed @ (Allowed::Set { .. } | Allowed::Reset { .. }) => {
                let (key, value) = self.apply_setting(caller, sql, &allowed)?;
                let schema = setting_schema();
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(StringArray::from(vec![key])),
                        Arc::new(StringArray::from(vec![value])),
                    ],
                )
                .map_err(FlightError::from);
                Ok(one_batch(schema, batch))
            }
        }
    }

    /// Applies `SET`/`RESET` to the caller's session; returns the option and its new value.
    pub(super) fn apply_setting(
        &self,
        caller: &Caller,
        sql: &str,
        allowed: &Allowed,
    ) -> Result<(String, String), Status> {
        let session = &caller.session;
        let (key, result) = match allowed {
            Allowed::Set { key, value } => (key, session.set_option(key, value)),
            Allowed::Reset { key } => (key, session.reset_option(key)),
            _ => return Err(Status::internal("not a setting")),
        };
        if let Err(e) = result {
            self.log.refused(&session.user, sql, e.message());
            return Err(Status::invalid_argument(e.message().to_string()));
        }
        let value = session
            .options()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_default();
        Ok((key.clone(), value))
    }

    /// Plans (unless `planned`) and streams a query, recording it in the query log either way.
    pub(super) async fn run(
        &self,
        caller: &Caller,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
        planned: Option<DataFrame>,
        query_id: &str,
    ) -> Result<Response<DoGetStream>, Status> {
        let flag = self.cancels.flag(query_id);
        if flag.is_cancelled() {
            self.cancels.finished(query_id);
            return Err(Status::cancelled(cancel::CANCELLED_MESSAGE));
        }
        let slot = self.slot().await?;
        let running = Running::new(self.log.clone(), &caller.session.user, sql);
        let planned = match planned {
            Some(df) => Ok(df),
            None => self.plan(caller, sql, params).await,
        };
        match planned {
            Ok(df) => self.stream(df, running, flag, query_id, slot).await,
            Err(status) => {
                if let Ok(mut e) = running.error.lock() {
                    *e = Some(status.message().to_string());
                }
                Err(status)
            }
        }
    }

    /// A slot among the server's concurrent queries, waited for a while, else RESOURCE_EXHAUSTED.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, Status> {
        let limits = &self.limits;
        match tokio::time::timeout(limits.queue_wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Status::resource_exhausted(format!(
                "server busy: {} queries are running (the limit) and none finished within {}s; try again",
                limits.max_concurrent,
                limits.queue_wait.as_secs()
            ))),
        }
    }

    /// Runs a writing statement for an engineer, into a table no model owns; recorded in the
    /// query log with its row count.
    pub(super) async fn write(
        &self,
        caller: &Caller,
        sql: &str,
        write: &WriteStatement,
    ) -> Result<i64, Status> {
        let session = &caller.session;
        let (schema, table) = write.target();
        if let Err(reason) = self.writable(schema, table).await {
            self.log.refused(&session.user, sql, &reason);
            return Err(Status::permission_denied(reason));
        }
        let _slot = self.slot().await?;
        let running = Running::new(self.log.clone(), &session.user, sql);
        match write.execute(&session.engine).await {
            Ok(rows) => {
                running.rows.store(rows, Ordering::Relaxed);
                running.finished.store(true, Ordering::Relaxed);
                tracing::info!("{} wrote {rows} row(s) to {schema}.{table}", session.user);
                Ok(rows as i64)
            }
            Err(e) => {
                let status = to_status(e);
                if let Ok(mut slot) = running.error.lock() {
                    *slot = Some(status.message().to_string());
                }
                Err(status)
            }
        }
    }

    /// Runs a procedure for an engineer (policy checked the role), recorded in the query log.
    /// It holds one query slot while it runs.
    pub(super) async fn call(
        &self,
        caller: &Caller,
        sql: &str,
        procedure: &Procedure,
    ) -> Result<RecordBatch, Status> {
        let user = &caller.session.user;
        let _slot = self.slot().await?;
        let running = Running::new(self.log.clone(), user, sql);
        tracing::info!("{user} calls {procedure}");
        let outcome = procedure
            .clone()
            .spawn(self.server.clone(), self.project.clone(), user.clone())
            .await;
        match outcome {
            Ok(batch) => {
                running.rows.store(1, Ordering::Relaxed);
                running.finished.store(true, Ordering::Relaxed);
                tracing::info!("{user}: {procedure} done");
                Ok(batch)
            }
            Err(e) => {
                let message = crate::error::one_line(&e);
                tracing::warn!("{user}: {procedure} failed: {message}");
                if let Ok(mut slot) = running.error.lock() {
                    *slot = Some(message.clone());
                }
                Err(Status::failed_precondition(message))
            }
        }
    }

    /// Clients write only tables no model owns: never `system`, never a table `cdrlake run`
    /// has built (models and seeds, as `system.model_runs` records them).
    pub(super) async fn writable(&self, schema: &str, table: &str) -> Result<(), String> {
        if schema == "system" {
            return Err(format!(
                "{schema}.{table}: system tables are written by cdrlake itself"
            ));
        }
        let owned = self
            .model_tables()
            .await
            .map_err(|e| format!("cannot tell whether a model owns {schema}.{table}: {e}"))?;
        if owned.contains(&format!("{schema}.{table}")) {
            return Err(format!(
                "{schema}.{table} is built by the models: only `cdrlake run` writes it (write to a bronze or scratch table instead)"
            ));
        }
        Ok(())
    }

    /// Every table a model or seed run has written.
    async fn model_tables(&self) -> anyhow::Result<HashSet<String>> {
        let lakehouse = self.server.lakehouse();
        if !lakehouse.has_table("system", "model_runs").await? {
            return Ok(HashSet::new());
        }
        let batches = self
            .server
            .sql("SELECT DISTINCT CAST(model AS VARCHAR) FROM system.model_runs")
            .await?;
        let mut names = HashSet::new();
        for batch in &batches {
            let column = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
            let column = column
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| anyhow::anyhow!("model names are not text"))?;
            names.extend(column.iter().flatten().map(str::to_string));
        }
        Ok(names)
    }

    async fn stream(
        &self,
        df: DataFrame,
        running: Arc<Running>,
        flag: Arc<CancelFlag>,
        query_id: &str,
        slot: OwnedSemaphorePermit,
    ) -> Result<Response<DoGetStream>, Status> {
        let schema = plain_schema(df.schema().as_arrow());
        let df = self
            .with_query_memory(df)
            .map_err(|e| to_status(e.into()))?;
        let batches = df.execute_stream().await.map_err(|e| to_status(e.into()))?;
        let batches =
            cancel::until_cancelled(with_deadline(batches, self.limits.timeout), flag.clone());
        let (counting, done) = (running.clone(), running);
        let (cancels, id) = (self.cancels.clone(), query_id.to_string());
        let batches = batches
            .map(move |b| {
                // A cancelled query ends with CANCELLED and is logged as cancelled, not as an error.
                if b.is_err() && flag.is_cancelled() {
                    return Err(FlightError::Tonic(Box::new(Status::cancelled(
                        cancel::CANCELLED_MESSAGE,
                    ))));
                }
                let b = b
                    .map_err(|e| match e.find_root() {
                        // A limit hit (time, memory) is RESOURCE_EXHAUSTED with its own message.
                        datafusion::error::DataFusionError::ResourcesExhausted(m) => {
                            FlightError::Tonic(Box::new(Status::resource_exhausted(m.clone())))
                        }
                        _ => FlightError::from_external_error(Box::new(e)),
                    })
                    .and_then(|b| {
                        plain_types(&b).map_err(|e| FlightError::ProtocolError(e.to_string()))
                    });
                match &b {
                    Ok(batch) => {
                        counting
                            .rows
                            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if let Ok(mut slot) = counting.error.lock() {
                            *slot = Some(e.to_string());
                        }
                    }
                }
                b
            })
            .chain(
                futures::stream::once(async move {
                    cancels.finished(&id);
                    done.finished.store(true, Ordering::Relaxed);
                    // The query's slot is free once its last batch is sent (or the stream dropped).
                    drop(slot);
                })
                .filter_map(|()| async { None }),
            );
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }
}

impl CdrlakeFlightSql {
    /// `df` to run in a memory pool of its own, of the per-query size, inside the server's.
    fn with_query_memory(&self, df: DataFrame) -> datafusion::error::Result<DataFrame> {
        let Some(limit) = self.limits.query_memory else {
            return Ok(df);
        };
        let (state, plan) = df.into_parts();
        let shared = state.runtime_env();
        let pool = Arc::new(QueryMemoryPool::new(shared.memory_pool.clone(), limit));
        let runtime = RuntimeEnvBuilder::from_runtime_env(shared)
            .with_memory_pool(pool)
            .build_arc()?;
        let state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build();
        Ok(DataFrame::new(state, plan))
    }
}

type BatchStream = Pin<Box<dyn Stream<Item = datafusion::error::Result<RecordBatch>> + Send>>;

/// Ends `batches` with an error once `limit` has passed; dropping the stream cancels the query.
fn with_deadline(
    batches: datafusion::physical_plan::SendableRecordBatchStream,
    limit: Option<Duration>,
) -> BatchStream {
    let Some(limit) = limit else {
        return Box::pin(batches);
    };
    let deadline = tokio::time::Instant::now() + limit;
    Box::pin(futures::stream::unfold(
        Some(batches),
        move |state| async move {
            let mut batches = state?;
            match tokio::time::timeout_at(deadline, batches.next()).await {
                Ok(Some(item)) => Some((item, Some(batches))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(datafusion::error::DataFusionError::ResourcesExhausted(
                        format!(
                            "query cancelled: it ran longer than the {}s limit",
                            limit.as_secs_f64()
                        ),
                    )),
                    None,
                )),
            }
        },
    ))
}
