//! `FlightSqlService` for cdrlake. Statement tickets carry the SQL itself and are planned again
//! in DoGet; prepared statements keep their SQL and bound parameters under a handle until closed,
//! and the plan GetFlightInfo made for the next DoGet (one planning per execution, not two).
//! Results have view types turned into Utf8/Binary, which every client can read.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow::record_batch::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, CommandGetCatalogs,
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys,
    CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandPreparedStatementUpdate,
    CommandStatementIngest, CommandStatementQuery, CommandStatementUpdate,
    DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightDescriptor,
    FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket,
};
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::auth::Auth;
use super::cancel::{self, CancelFlag, Cancellations};
use super::query_log::{QueryLog, Running};
use super::sql_info::{SQL_INFO, XDBC_TYPES};
use crate::engine::Engine;
use crate::output::{plain_schema, plain_types};
use crate::sql_write::WriteStatement;

type DoGetStream =
    Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send + 'static>>;

struct Prepared {
    sql: String,
    params: Option<Vec<ScalarValue>>,
    /// Planned by GetFlightInfo for this user and these parameters; taken by the next DoGet.
    planned: Option<(String, DataFrame)>,
}

pub struct CdrlakeFlightSql {
    engine: Arc<Engine>,
    auth: Arc<Auth>,
    log: Arc<QueryLog>,
    query_timeout: Option<std::time::Duration>,
    prepared: Mutex<HashMap<String, Prepared>>,
    cancels: Arc<Cancellations>,
}

impl CdrlakeFlightSql {
    pub fn new(
        engine: Arc<Engine>,
        auth: Arc<Auth>,
        log: Arc<QueryLog>,
        query_timeout: Option<std::time::Duration>,
    ) -> Self {
        Self {
            engine,
            auth,
            log,
            query_timeout,
            prepared: Mutex::default(),
            cancels: Arc::default(),
        }
    }

    /// Plans (unless `planned`) and streams `sql` for the caller, recording it in the query log
    /// either way.
    async fn run<T>(
        &self,
        request: &Request<T>,
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
        let user = self
            .auth
            .session(request)
            .map(|s| s.user)
            .unwrap_or_default();
        let running = Running::new(self.log.clone(), &user, sql);
        let planned = match planned {
            Some(df) => Ok(df),
            None => self.plan(request, sql, params).await,
        };
        match planned {
            Ok(df) => self.stream(df, running, flag, query_id).await,
            Err(status) => {
                if let Ok(mut e) = running.error.lock() {
                    *e = Some(status.message().to_string());
                }
                Err(status)
            }
        }
    }

    /// Planning failures at GetFlightInfo are queries too: log them.
    async fn plan_logged<T>(
        &self,
        request: &Request<T>,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
    ) -> Result<DataFrame, Status> {
        let (started, started_at) = (std::time::Instant::now(), chrono::Utc::now());
        let result = self.plan(request, sql, params).await;
        if let Err(status) = &result {
            let user = self
                .auth
                .session(request)
                .map(|s| s.user)
                .unwrap_or_default();
            self.log
                .failed(&user, sql, started, started_at, status.message());
        }
        result
    }

    /// Plans `sql` for the caller of `request`, after checking their role may read every table
    /// it names.
    async fn plan<T>(
        &self,
        request: &Request<T>,
        sql: &str,
        params: Option<&Vec<ScalarValue>>,
    ) -> Result<DataFrame, Status> {
        let session = self.auth.session(request)?;
        for (schema, table) in self.engine.references(sql).map_err(to_status)? {
            if !session.role.may_read(&schema) {
                return Err(Status::permission_denied(format!(
                    "user '{}' ({:?}) may not read {schema}.{table}: analysts read gold and system",
                    session.user, session.role
                )));
            }
        }
        let df = self.engine.dataframe(sql).await.map_err(to_status)?;
        match params {
            Some(p) => df
                .with_param_values(ParamValues::List(
                    p.iter().cloned().map(Into::into).collect(),
                ))
                .map_err(|e| to_status(e.into())),
            None => Ok(df),
        }
    }

    /// Runs a writing statement for an engineer; recorded in the query log with its row count.
    async fn write<T>(
        &self,
        request: &Request<T>,
        sql: &str,
        write: &WriteStatement,
    ) -> Result<i64, Status> {
        let session = self.auth.session(request)?;
        let (schema, table) = write.target();
        if session.role != super::auth::Role::Engineer {
            return Err(Status::permission_denied(format!(
                "user '{}' ({:?}) may not write {schema}.{table}: writing needs the engineer role",
                session.user, session.role
            )));
        }
        let running = Running::new(self.log.clone(), &session.user, sql);
        match write.execute(&self.engine).await {
            Ok(rows) => {
                running
                    .rows
                    .store(rows, std::sync::atomic::Ordering::Relaxed);
                running
                    .finished
                    .store(true, std::sync::atomic::Ordering::Relaxed);
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

    /// A write sent as a query (some clients execute everything that way): one row, its count.
    async fn write_as_result<T>(
        &self,
        request: &Request<T>,
        sql: &str,
        write: &WriteStatement,
    ) -> Result<Response<DoGetStream>, Status> {
        let rows = self.write(request, sql, write).await?;
        let schema = write_result_schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow::array::Int64Array::from(vec![rows]))],
        )
        .map_err(FlightError::from);
        Ok(one_batch(schema, batch))
    }

    fn prepared_map(&self) -> Result<MutexGuard<'_, HashMap<String, Prepared>>, Status> {
        self.prepared
            .lock()
            .map_err(|_| Status::internal("prepared statements unavailable"))
    }

    /// Keeps `sql` under a new handle until the client closes it.
    fn store_prepared(&self, sql: String) -> Result<String, Status> {
        let handle = uuid::Uuid::now_v7().to_string();
        self.prepared_map()?.insert(
            handle.clone(),
            Prepared {
                sql,
                params: None,
                planned: None,
            },
        );
        Ok(handle)
    }

    fn prepared(&self, handle: &[u8]) -> Result<(String, Option<Vec<ScalarValue>>), Status> {
        let handle = String::from_utf8_lossy(handle).into_owned();
        let map = self.prepared_map()?;
        let p = map.get(&handle).ok_or_else(|| {
            Status::not_found(format!("no prepared statement {handle} (closed?)"))
        })?;
        Ok((p.sql.clone(), p.params.clone()))
    }

    /// The plan GetFlightInfo made for `handle`, if `user` made it (another user plans again,
    /// so their role is checked).
    fn take_planned(&self, handle: &str, user: &str) -> Result<Option<DataFrame>, Status> {
        let mut map = self.prepared_map()?;
        let planned = map.get_mut(handle).and_then(|p| p.planned.take());
        Ok(planned.filter(|(by, _)| by == user).map(|(_, df)| df))
    }

    async fn stream(
        &self,
        df: DataFrame,
        running: Arc<Running>,
        flag: Arc<CancelFlag>,
        query_id: &str,
    ) -> Result<Response<DoGetStream>, Status> {
        let schema = plain_schema(df.schema().as_arrow());
        let batches = df.execute_stream().await.map_err(|e| to_status(e.into()))?;
        let batches =
            cancel::until_cancelled(with_deadline(batches, self.query_timeout), flag.clone());
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
                    .map_err(|e| FlightError::from_external_error(Box::new(e)))
                    .and_then(|b| {
                        plain_types(&b).map_err(|e| FlightError::ProtocolError(e.to_string()))
                    });
                match &b {
                    Ok(batch) => {
                        counting.rows.fetch_add(
                            batch.num_rows() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
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
                    done.finished
                        .store(true, std::sync::atomic::Ordering::Relaxed);
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

type BatchStream = Pin<Box<dyn Stream<Item = datafusion::error::Result<RecordBatch>> + Send>>;

/// Ends `batches` with an error once `limit` has passed; dropping the stream cancels the query.
fn with_deadline(
    batches: datafusion::physical_plan::SendableRecordBatchStream,
    limit: Option<std::time::Duration>,
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
                    Err(datafusion::error::DataFusionError::Execution(format!(
                        "query cancelled: it ran longer than the {}s limit",
                        limit.as_secs_f64()
                    ))),
                    None,
                )),
            }
        },
    ))
}

/// DataFusion and catalog errors as gRPC statuses: a missing table is NotFound, every other
/// problem with the request InvalidArgument.
/// What a writing statement returns when run as a query.
fn write_result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "rows",
        DataType::Int64,
        false,
    )]))
}

fn not_a_write(sql: &str) -> Status {
    let head: String = sql.trim().chars().take(40).collect();
    Status::invalid_argument(format!(
        "'{head}' is not a writing statement: updates run INSERT INTO, CREATE TABLE ... AS or DELETE FROM (queries go through CommandStatementQuery)"
    ))
}

fn parse_write(sql: &str) -> Result<Option<WriteStatement>, Status> {
    WriteStatement::parse(sql).map_err(|e| Status::invalid_argument(crate::cli::one_line(&e)))
}

fn to_status(e: anyhow::Error) -> Status {
    let message = crate::cli::one_line(&e);
    if message.contains("not found") || message.contains("does not exist") {
        Status::not_found(message)
    } else {
        Status::invalid_argument(message)
    }
}

fn info(schema: &Schema, ticket: Ticket) -> Result<FlightInfo, Status> {
    // No location: clients fetch from the connection they already have.
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(FlightDescriptor::new_cmd(vec![]));
    Ok(info)
}

/// The FlightInfo of a metadata command: its result schema, and the command itself as ticket.
fn command_info(
    schema: &Schema,
    command: &impl ProstMessageExt,
) -> Result<Response<FlightInfo>, Status> {
    Ok(Response::new(info(
        schema,
        Ticket::new(command.as_any().encode_to_vec()),
    )?))
}

fn schema_bytes(schema: &Schema) -> Result<prost::bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}

fn one_batch(schema: SchemaRef, batch: Result<RecordBatch, FlightError>) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { batch }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

#[tonic::async_trait]
impl FlightSqlService for CdrlakeFlightSql {
    type FlightService = CdrlakeFlightSql;

    /// HTTP Basic in, bearer token out (in the `authorization` header and the payload).
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        if !self.auth.enabled() {
            let response = HandshakeResponse {
                protocol_version: 0,
                payload: Default::default(),
            };
            return Ok(Response::new(Box::pin(futures::stream::once(async {
                Ok(response)
            }))));
        }
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let (token, session) = self.auth.login(header)?;
        tracing::info!("user {} logged in as {:?}", session.user, session.role);
        let response = HandshakeResponse {
            protocol_version: 0,
            payload: token.clone().into_bytes().into(),
        };
        let mut response = Response::new(Box::pin(futures::stream::once(async { Ok(response) }))
            as Pin<Box<dyn Stream<Item = _> + Send>>);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("token is not a header value"))?;
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let id = uuid::Uuid::now_v7().to_string();
        let ticket = TicketStatementQuery {
            statement_handle: cancel::statement_handle(&id, &query.query).into(),
        };
        if parse_write(&query.query)?.is_some() {
            return Ok(Response::new(info(
                &write_result_schema(),
                Ticket::new(ticket.as_any().encode_to_vec()),
            )?));
        }
        let df = self.plan_logged(&request, &query.query, None).await?;
        self.cancels.register(&id);
        let ticket = Ticket::new(ticket.as_any().encode_to_vec());
        Ok(Response::new(info(
            &plain_schema(df.schema().as_arrow()),
            ticket,
        )?))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (id, sql) = match cancel::split_statement_handle(&ticket.statement_handle) {
            Some((id, sql)) => (id.to_string(), sql.to_string()),
            // A ticket made by hand: the SQL alone.
            None => {
                let sql = String::from_utf8(ticket.statement_handle.to_vec())
                    .map_err(|_| Status::invalid_argument("ticket is not UTF-8 SQL"))?;
                (uuid::Uuid::now_v7().to_string(), sql)
            }
        };
        if let Some(write) = parse_write(&sql)? {
            return self.write_as_result(&request, &sql, &write).await;
        }
        self.run(&request, &sql, None, None, &id).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        if parse_write(&query.query)?.is_some() {
            // Writes return a row count, not a dataset; they take no parameters.
            let handle = self.store_prepared(query.query)?;
            return Ok(ActionCreatePreparedStatementResult {
                prepared_statement_handle: handle.into_bytes().into(),
                dataset_schema: schema_bytes(&write_result_schema())?,
                parameter_schema: Default::default(),
            });
        }
        let df = self.plan(&request, &query.query, None).await?;
        let parameters = df
            .logical_plan()
            .get_parameter_types()
            .map_err(|e| to_status(e.into()))?;
        let mut names: Vec<&String> = parameters.keys().collect();
        names.sort_by_key(|n| {
            n.trim_start_matches('$')
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        let fields: Vec<Field> = names
            .iter()
            .map(|n| {
                Field::new(
                    n.as_str(),
                    parameters[*n].clone().unwrap_or(DataType::Utf8),
                    true,
                )
            })
            .collect();
        let handle = self.store_prepared(query.query)?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into_bytes().into(),
            dataset_schema: schema_bytes(&plain_schema(df.schema().as_arrow()))?,
            parameter_schema: if fields.is_empty() {
                Default::default()
            } else {
                schema_bytes(&Schema::new(fields))?
            },
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let stream = request.into_inner().map_err(FlightError::from);
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(stream)
            .try_collect()
            .await
            .map_err(Status::from)?;
        let row = batches.iter().find(|b| b.num_rows() > 0);
        let params = match row {
            Some(b) => Some(
                b.columns()
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, 0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Status::invalid_argument(e.to_string()))?,
            ),
            None => None,
        };
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        let mut map = self.prepared_map()?;
        let prepared = map
            .get_mut(&handle)
            .ok_or_else(|| Status::not_found(format!("no prepared statement {handle}")))?;
        prepared.params = params;
        prepared.planned = None;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(query.prepared_statement_handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let (sql, params) = self.prepared(&cmd.prepared_statement_handle)?;
        let ticket = Ticket::new(cmd.as_any().encode_to_vec());
        if parse_write(&sql)?.is_some() {
            return Ok(Response::new(info(&write_result_schema(), ticket)?));
        }
        let df = self.plan(&request, &sql, params.as_ref()).await?;
        let handle = String::from_utf8_lossy(&cmd.prepared_statement_handle).into_owned();
        let schema = plain_schema(df.schema().as_arrow());
        let user = self.auth.session(&request)?.user;
        if let Some(p) = self.prepared_map()?.get_mut(&handle) {
            p.planned = Some((user, df));
        }
        self.cancels.register(&handle);
        Ok(Response::new(info(&schema, ticket)?))
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (sql, params) = self.prepared(&cmd.prepared_statement_handle)?;
        if let Some(write) = parse_write(&sql)? {
            return self.write_as_result(&request, &sql, &write).await;
        }
        let handle = String::from_utf8_lossy(&cmd.prepared_statement_handle).into_owned();
        let planned = self.take_planned(&handle, &self.auth.session(&request)?.user)?;
        self.run(&request, &sql, params.as_ref(), planned, &handle)
            .await
    }

    /// CancelQuery (Flight SQL's, deprecated in favour of CancelFlightInfo, which ADBC uses).
    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        _request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let info = FlightInfo::decode(query.info.as_ref())
            .map_err(|e| Status::invalid_argument(format!("CancelQuery: not a FlightInfo: {e}")))?;
        // ActionCancelQueryResult.CancelResult (not re-exported by arrow-flight): 1 CANCELLED, 3 NOT_CANCELLABLE.
        let result = if self.cancels.cancel(&info) { 1 } else { 3 };
        Ok(ActionCancelQueryResult { result })
    }

    /// Flight's CancelFlightInfo; every other unknown action is refused by name.
    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let action = request.into_inner();
        if action.r#type != "CancelFlightInfo" {
            return Err(Status::invalid_argument(format!(
                "unknown action '{}'",
                action.r#type
            )));
        }
        let cancel = CancelFlightInfoRequest::decode(action.body.as_ref())
            .map_err(|e| Status::invalid_argument(format!("CancelFlightInfo: {e}")))?;
        let info = cancel
            .info
            .ok_or_else(|| Status::invalid_argument("CancelFlightInfo without a FlightInfo"))?;
        let status = if self.cancels.cancel(&info) {
            CancelStatus::Cancelled
        } else {
            CancelStatus::NotCancellable
        };
        let body = CancelFlightInfoResult {
            status: status as i32,
        }
        .encode_to_vec();
        Ok(Response::new(Box::pin(futures::stream::once(async move {
            Ok(arrow_flight::Result { body: body.into() })
        }))))
    }

    /// INSERT INTO, CREATE TABLE AS, DELETE: one Delta commit each; returns the rows affected.
    async fn do_put_statement_update(
        &self,
        cmd: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        match parse_write(&cmd.query)? {
            Some(write) => self.write(&request, &cmd.query, &write).await,
            None => Err(not_a_write(&cmd.query)),
        }
    }

    async fn do_put_prepared_statement_update(
        &self,
        cmd: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let (sql, _) = self.prepared(&cmd.prepared_statement_handle)?;
        match parse_write(&sql)? {
            Some(write) => self.write(&request, &sql, &write).await,
            None => Err(not_a_write(&sql)),
        }
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        self.prepared_map()?.remove(&handle);
        Ok(())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&SQL_INFO).schema();
        command_info(&schema, &query)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let builder = query.into_builder(&SQL_INFO);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        command_info(&schema, &query)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(cdrlake_catalog::CATALOG_NAME);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        command_info(&schema, &query)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let role = self.auth.session(&request)?.role;
        let mut builder = query.into_builder();
        for schema in cdrlake_catalog::SCHEMAS
            .into_iter()
            .filter(|s| role.may_read(s))
        {
            builder.append(cdrlake_catalog::CATALOG_NAME, schema);
        }
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        command_info(&schema, &query)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let role = self.auth.session(&request)?.role;
        let catalog = self.engine.catalog();
        catalog.refresh().await.map_err(|e| to_status(e.into()))?;
        let mut builder = query.into_builder();
        for schema_name in cdrlake_catalog::SCHEMAS
            .into_iter()
            .filter(|s| role.may_read(s))
        {
            let Some(schema) = catalog.lakehouse_schema(schema_name) else {
                continue;
            };
            for table in datafusion::catalog::SchemaProvider::table_names(schema.as_ref()) {
                let Ok(Some(provider)) =
                    datafusion::catalog::SchemaProvider::table(schema.as_ref(), &table).await
                else {
                    continue;
                };
                let kind = match provider.table_type() {
                    datafusion::datasource::TableType::View => "VIEW",
                    _ => "TABLE",
                };
                builder
                    .append(
                        cdrlake_catalog::CATALOG_NAME,
                        schema_name,
                        &table,
                        kind,
                        &plain_schema(&provider.schema()),
                    )
                    .map_err(Status::from)?;
            }
        }
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        command_info(&schema, &query)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append("TABLE");
        builder.append("VIEW");
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder(&XDBC_TYPES).schema();
        command_info(&schema, &query)
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let builder = query.into_builder(&XDBC_TYPES);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    // Delta tables declare no keys: the key commands answer with empty results of the right shape.

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&primary_keys_schema(), &query)
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(empty(primary_keys_schema()))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&foreign_keys_schema(), &query)
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(empty(foreign_keys_schema()))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&foreign_keys_schema(), &query)
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(empty(foreign_keys_schema()))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        command_info(&foreign_keys_schema(), &query)
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(empty(foreign_keys_schema()))
    }

    /// ADBC bulk ingest into a bronze table: one Delta commit per call, with the ingest metadata
    /// (`_source` = `flight:<user>`). Bronze is append-only: create or append, never replace.
    async fn do_put_statement_ingest(
        &self,
        cmd: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        use arrow_flight::sql::{TableExistsOption, TableNotExistOption};
        let session = self.auth.session(&request)?;
        if session.role != super::auth::Role::Engineer {
            return Err(Status::permission_denied(format!(
                "user '{}' may not ingest: bulk ingest needs the engineer role",
                session.user
            )));
        }
        if cmd
            .catalog
            .as_deref()
            .is_some_and(|c| c != cdrlake_catalog::CATALOG_NAME)
            || cmd.schema.as_deref().is_some_and(|s| s != "bronze")
        {
            return Err(Status::invalid_argument(
                "bulk ingest lands in bronze: use schema 'bronze' (catalog 'cdrlake')",
            ));
        }
        if cmd.temporary {
            return Err(Status::invalid_argument(
                "temporary tables are not supported",
            ));
        }
        let table = cmd.table.clone();
        if !cdrlake_catalog::location::is_identifier(&table) {
            return Err(Status::invalid_argument(format!(
                "'{table}' is not a valid table name"
            )));
        }
        let options = cmd.table_definition_options.unwrap_or_default();
        let exists = self
            .engine
            .lakehouse()
            .list_tables("bronze")
            .await
            .map_err(|e| to_status(e.into()))?
            .contains(&table);
        match (
            exists,
            TableExistsOption::try_from(options.if_exists),
            TableNotExistOption::try_from(options.if_not_exist),
        ) {
            (true, Ok(TableExistsOption::Fail), _) => {
                return Err(Status::already_exists(format!("bronze.{table} exists")));
            }
            (true, Ok(TableExistsOption::Replace), _) => {
                return Err(Status::invalid_argument(
                    "bronze is append-only: replacing a table is not allowed (use append)",
                ));
            }
            (false, _, Ok(TableNotExistOption::Fail)) => {
                return Err(Status::not_found(format!("bronze.{table} does not exist")));
            }
            _ => {}
        }
        let stream = request.into_inner().map_err(FlightError::from);
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(stream)
            .try_collect()
            .await
            .map_err(Status::from)?;
        let Some(first) = batches.first() else {
            return Ok(0);
        };
        let data = arrow::compute::concat_batches(&first.schema(), &batches)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let text = crate::ingest::read::as_text(&data).map_err(to_status)?;
        let source = format!("flight:{}", session.user);
        let done = crate::ingest::ingest_batch(
            self.engine.lakehouse(),
            &table,
            &text,
            &source,
            Default::default(),
        )
        .await
        .map_err(to_status)?;
        tracing::info!(
            "{} ingested {} rows into bronze.{table} (batch {})",
            session.user,
            done.rows,
            done.batch_id
        );
        Ok(done.rows as i64)
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The Flight SQL schema of GetPrimaryKeys results.
fn primary_keys_schema() -> Schema {
    Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ])
}

/// The Flight SQL schema of GetImportedKeys, GetExportedKeys and GetCrossReference results.
fn foreign_keys_schema() -> Schema {
    let text = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    Schema::new(vec![
        text("pk_catalog_name", true),
        text("pk_db_schema_name", true),
        text("pk_table_name", false),
        text("pk_column_name", false),
        text("fk_catalog_name", true),
        text("fk_db_schema_name", true),
        text("fk_table_name", false),
        text("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        text("fk_key_name", true),
        text("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ])
}

fn empty(schema: Schema) -> Response<DoGetStream> {
    let schema = Arc::new(schema);
    one_batch(schema.clone(), Ok(RecordBatch::new_empty(schema)))
}
