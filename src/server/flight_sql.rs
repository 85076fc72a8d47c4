//! `FlightSqlService` for cdrlake. Every call arrives with the caller's session (the
//! `middleware` put it there); every statement goes through the `policy` and runs in that
//! session (`statements`). Statement tickets carry the SQL itself and are checked and planned
//! again in DoGet; prepared statements live in the caller's session until closed. Results have
//! view types turned into Utf8/Binary, which every client can read.

use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow::record_batch::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionCancelQueryRequest, ActionCancelQueryResult,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, ActionEndSavepointRequest, ActionEndTransactionRequest,
    CommandGetCatalogs, CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys,
    CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementUpdate, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightDescriptor,
    FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket,
};
use datafusion::common::ScalarValue;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Auth, new_token};
use super::cancel::{self, Cancellations};
use super::middleware::{Caller, Peer};
use super::policy::Allowed;
use super::procedures::Procedure;
use super::query_log::QueryLog;
use super::session::{Prepared, Sessions};
use super::session_actions;
use super::sql_info::{SQL_INFO, XDBC_TYPES};
use super::statements::QueryLimits;
use crate::engine::Engine;
use crate::output::plain_schema;

pub type DoGetStream =
    Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send + 'static>>;

pub struct CdrlakeFlightSql {
    /// The privileged engine: the shared catalog, and the model runs a write is checked
    /// against. Client statements never run in it.
    pub(super) server: Arc<Engine>,
    pub(super) auth: Arc<Auth>,
    pub(super) sessions: Arc<Sessions>,
    pub(super) log: Arc<QueryLog>,
    pub(super) limits: QueryLimits,
    pub(super) slots: Arc<Semaphore>,
    pub(super) cancels: Arc<Cancellations>,
    /// The model project `CALL close_period` builds, if the server was given one.
    pub(super) project: Option<std::path::PathBuf>,
}

impl CdrlakeFlightSql {
    pub fn new(
        server: Arc<Engine>,
        auth: Arc<Auth>,
        sessions: Arc<Sessions>,
        log: Arc<QueryLog>,
        limits: QueryLimits,
        project: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            project,
            server,
            auth,
            sessions,
            log,
            slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            limits,
            cancels: Arc::default(),
        }
    }

    /// The batches of a DoPut, refused past the upload cap before they are all held.
    pub(super) async fn upload(
        &self,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<Vec<RecordBatch>, Status> {
        let cap = self.limits.max_upload;
        let mut received = 0usize;
        let stream = request.into_inner().map(move |data| {
            let data = data?;
            received += data.data_body.len() + data.data_header.len();
            if received > cap {
                return Err(Status::resource_exhausted(format!(
                    "upload larger than the server's limit of {} MiB: send it in smaller parts",
                    cap >> 20
                )));
            }
            Ok(data)
        });
        FlightRecordBatchStream::new_from_flight_data(stream.map_err(FlightError::from))
            .try_collect()
            .await
            .map_err(Status::from)
    }

    /// The SQL and parameters of the caller's prepared statement `handle`.
    fn prepared_sql(
        caller: &Caller,
        handle: &[u8],
    ) -> Result<(String, Option<Vec<ScalarValue>>), Status> {
        let handle = String::from_utf8_lossy(handle).into_owned();
        let prepared = caller.session.prepared();
        let p = prepared.get(&handle).ok_or_else(|| {
            Status::not_found(format!(
                "no prepared statement {handle} in this session (closed?)"
            ))
        })?;
        Ok((p.sql.clone(), p.params.clone()))
    }
}

/// Errors as gRPC statuses (`crate::error::status`).
pub(super) fn to_status(e: anyhow::Error) -> Status {
    crate::error::status(&e)
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

pub(super) fn one_batch(
    schema: SchemaRef,
    batch: Result<RecordBatch, FlightError>,
) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { batch }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

fn action_result(body: Vec<u8>) -> Response<<CdrlakeFlightSql as FlightService>::DoActionStream> {
    Response::new(Box::pin(futures::stream::once(async move {
        Ok(arrow_flight::Result { body: body.into() })
    })))
}

fn not_a_write(sql: &str) -> Status {
    let head: String = sql.trim().chars().take(40).collect();
    Status::invalid_argument(format!(
        "'{head}' is not a writing statement: updates run INSERT INTO, CREATE TABLE ... AS or DELETE FROM (queries go through CommandStatementQuery)"
    ))
}

#[tonic::async_trait]
impl FlightSqlService for CdrlakeFlightSql {
    type FlightService = CdrlakeFlightSql;

    /// HTTP Basic in, bearer token out (in the `authorization` header and the payload). The
    /// token names a new session of the user's own.
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
        let peer = request
            .extensions()
            .get::<Peer>()
            .map_or_else(|| "unknown".to_string(), |p| p.0.clone());
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let identity = self.auth.login(header, &peer).await?;
        let token = new_token();
        self.sessions.open(&token, &identity.user, identity.role)?;
        tracing::info!(
            "user {} logged in as {:?} from {peer}",
            identity.user,
            identity.role
        );
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
        let caller = self.caller(&request)?;
        let allowed = self.allowed(&caller, &query.query)?;
        if let Allowed::Set { .. } | Allowed::Reset { .. } = &allowed {
            self.apply_setting(&caller, &query.query, &allowed)?;
        }
        let (schema, _) = self.result_schema(&caller, &query.query, &allowed).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let ticket = TicketStatementQuery {
            statement_handle: cancel::statement_handle(&id, &query.query).into(),
        };
        if matches!(allowed, Allowed::Query) {
            self.cancels.register(&id);
        }
        let ticket = Ticket::new(ticket.as_any().encode_to_vec());
        Ok(Response::new(info(&schema, ticket)?))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let (id, sql) = match cancel::split_statement_handle(&ticket.statement_handle) {
            Some((id, sql)) => (id.to_string(), sql.to_string()),
            // A ticket made by hand: the SQL alone.
            None => {
                let sql = String::from_utf8(ticket.statement_handle.to_vec())
                    .map_err(|_| Status::invalid_argument("ticket is not UTF-8 SQL"))?;
                (uuid::Uuid::now_v7().to_string(), sql)
            }
        };
        self.execute(&caller, &sql, None, None, &id).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = self.caller(&request)?;
        let allowed = self.allowed(&caller, &query.query)?;
        let (dataset_schema, parameter_schema) = match &allowed {
            Allowed::Query => {
                let df = self.plan(&caller, &query.query, None).await?;
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
                        let t = parameters[*n].clone().unwrap_or(DataType::Utf8);
                        Field::new(n.as_str(), t, true)
                    })
                    .collect();
                let parameters = if fields.is_empty() {
                    Default::default()
                } else {
                    schema_bytes(&Schema::new(fields))?
                };
                (
                    schema_bytes(&plain_schema(df.schema().as_arrow()))?,
                    parameters,
                )
            }
            // Writes and settings are updates: no result set (the JDBC driver runs a prepared
            // statement with an empty dataset schema through DoPut, as executeUpdate) and no
            // parameters.
            Allowed::Write(_) | Allowed::Set { .. } | Allowed::Reset { .. } => {
                (Default::default(), Default::default())
            }
            call @ Allowed::Call(_) => {
                let (schema, _) = self.result_schema(&caller, &query.query, call).await?;
                (schema_bytes(&schema)?, Default::default())
            }
        };
        let handle = uuid::Uuid::new_v4().to_string();
        caller.session.prepared().insert(
            handle.clone(),
            Prepared {
                sql: query.query,
                params: None,
                planned: None,
            },
        );
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into_bytes().into(),
            dataset_schema,
            parameter_schema,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let caller = self.caller(&request)?;
        let batches = self.upload(request).await?;
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
        let mut prepared = caller.session.prepared();
        let statement = prepared
            .get_mut(&handle)
            .ok_or_else(|| Status::not_found(format!("no prepared statement {handle}")))?;
        statement.params = params;
        statement.planned = None;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(query.prepared_statement_handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request)?;
        let (sql, params) = Self::prepared_sql(&caller, &cmd.prepared_statement_handle)?;
        let ticket = Ticket::new(cmd.as_any().encode_to_vec());
        let allowed = self.allowed(&caller, &sql)?;
        if !matches!(allowed, Allowed::Query) {
            let (schema, _) = self.result_schema(&caller, &sql, &allowed).await?;
            return Ok(Response::new(info(&schema, ticket)?));
        }
        let df = self.plan_logged(&caller, &sql, params.as_ref()).await?;
        let handle = String::from_utf8_lossy(&cmd.prepared_statement_handle).into_owned();
        let schema = plain_schema(df.schema().as_arrow());
        if let Some(p) = caller.session.prepared().get_mut(&handle) {
            p.planned = Some(df);
        }
        self.cancels.register(&handle);
        Ok(Response::new(info(&schema, ticket)?))
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let (sql, params) = Self::prepared_sql(&caller, &cmd.prepared_statement_handle)?;
        let handle = String::from_utf8_lossy(&cmd.prepared_statement_handle).into_owned();
        let planned = caller
            .session
            .prepared()
            .get_mut(&handle)
            .and_then(|p| p.planned.take());
        self.execute(&caller, &sql, params.as_ref(), planned, &handle)
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

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        self.caller(&request)?;
        Err(no_transactions())
    }

    async fn do_action_end_transaction(
        &self,
        _query: ActionEndTransactionRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(no_transactions())
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        request: Request<Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        self.caller(&request)?;
        Err(no_transactions())
    }

    async fn do_action_end_savepoint(
        &self,
        _query: ActionEndSavepointRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(no_transactions())
    }

    /// Flight's CancelFlightInfo and the session actions; every other action is refused by name.
    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let caller = self.caller(&request)?;
        let action = request.into_inner();
        match action.r#type.as_str() {
            session_actions::SET_SESSION_OPTIONS => {
                return Ok(action_result(session_actions::set_options(
                    &caller,
                    &action.body,
                )?));
            }
            session_actions::GET_SESSION_OPTIONS => {
                return Ok(action_result(session_actions::get_options(&caller)));
            }
            session_actions::CLOSE_SESSION => {
                return Ok(action_result(session_actions::close(
                    &caller,
                    &self.sessions,
                )));
            }
            "CancelFlightInfo" => {}
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown action '{other}'"
                )));
            }
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
        Ok(action_result(body))
    }

    /// INSERT INTO, CREATE TABLE AS, DELETE: one Delta commit each; returns the rows affected.
    /// `SET` is accepted too (JDBC sends it as an update) and returns 0.
    async fn do_put_statement_update(
        &self,
        cmd: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let caller = self.caller(&request)?;
        self.update(&caller, &cmd.query).await
    }

    async fn do_put_prepared_statement_update(
        &self,
        cmd: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let caller = self.caller(&request)?;
        let (sql, _) = Self::prepared_sql(&caller, &cmd.prepared_statement_handle)?;
        self.update(&caller, &sql).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let caller = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        caller.session.prepared().remove(&handle);
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
        let role = self.caller(&request)?.session.role;
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
        let role = self.caller(&request)?.session.role;
        let catalog = self.server.catalog();
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
        let caller = self.caller(&request)?;
        let session = caller.session.clone();
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
        if let Err(reason) = self.writable("bronze", &table).await {
            return Err(Status::permission_denied(reason));
        }
        let options = cmd.table_definition_options.unwrap_or_default();
        let exists = self
            .server
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
        let batches = self.upload(request).await?;
        let Some(first) = batches.first() else {
            return Ok(0);
        };
        let data = arrow::compute::concat_batches(&first.schema(), &batches)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let text = crate::ingest::read::as_text(&data).map_err(to_status)?;
        let source = format!("flight:{}", session.user);
        let done = crate::ingest::ingest_batch(
            self.server.lakehouse(),
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

impl CdrlakeFlightSql {
    /// A statement sent as an update: a write, or a setting (0 rows).
    async fn update(&self, caller: &Caller, sql: &str) -> Result<i64, Status> {
        match self.allowed(caller, sql)? {
            Allowed::Write(write) => self.write(caller, sql, &write).await,
            Allowed::Call(procedure) => Ok(Procedure::affected(
                &self.call(caller, sql, &procedure).await?,
            )),
            allowed @ (Allowed::Set { .. } | Allowed::Reset { .. }) => {
                self.apply_setting(caller, sql, &allowed)?;
                Ok(0)
            }
            Allowed::Query => Err(not_a_write(sql)),
        }
    }
}

/// GetSqlInfo says so too (FLIGHT_SQL_SERVER_TRANSACTION none); JDBC asks only with autocommit off.
fn no_transactions() -> Status {
    Status::unimplemented(
        "cdrlake has no transactions: every statement commits on its own (one Delta commit per \
         write). Run statements without BEGIN/COMMIT; in JDBC keep auto-commit on",
    )
}
