//! Arrow Flight SQL on the gRPC port, for ADBC, JDBC, DBeaver, pandas and Polars: statements and
//! prepared statements over the same tables and views as `talkhouse sql`, and the catalog calls.
//!
//! Every call passes the guard first (scope `sql`, the organization's share of the server, the
//! deadline). Each statement is planned anew for the grant of the call that runs it, in a session
//! whose `events` table holds only the rows that grant covers: whatever a statement names, it
//! reads nothing else. An `admin` token, or a server without tokens, reads every row. A streamed
//! answer keeps its call's admission slot until its last batch and stops at its deadline.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use talkhouse_core::access::{Grant, Scope};
use talkhouse_query::sql::{Refused, SqlService, Statement};
use tonic::{Request, Response, Status};

use crate::guard::{Caller, Turn};

/// The catalog and schema the tables are in, as `talkhouse sql` names them.
const CATALOG: &str = "talkhouse";
const SCHEMA: &str = "public";

/// At most this many prepared statements are kept open at once.
const MAX_PREPARED: usize = 10_000;

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// A prepared statement: its text, and the parameter values bound to it last.
#[derive(Clone)]
struct Prepared {
    sql: String,
    parameters: Vec<ScalarValue>,
}

#[derive(Clone)]
pub(crate) struct FlightSql {
    sql: SqlService,
    prepared: Arc<Mutex<HashMap<Vec<u8>, Prepared>>>,
    info: Arc<SqlInfoData>,
}

impl FlightSql {
    pub(crate) fn new(sql: SqlService) -> Self {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "talkhouse");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, 0);
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        Self {
            sql,
            prepared: Arc::default(),
            info: Arc::new(info.build().expect("the server's SQL info is well-formed")),
        }
    }

    /// The rows the call may read: `None` for every row.
    fn rows<T>(request: &Request<T>) -> Result<Option<Grant>, Status> {
        match request.extensions().get::<Caller>() {
            Some(Caller::Anyone) => Ok(None),
            Some(Caller::Granted(grant)) if grant.scopes.contains(&Scope::Admin) => Ok(None),
            Some(Caller::Granted(grant)) => Ok(Some(grant.clone())),
            None => Err(Status::internal("the call did not pass the guard")),
        }
    }

    /// `sql` planned for the call's grant, with `parameters` bound when there are any.
    async fn plan<T>(
        &self,
        request: &Request<T>,
        sql: &str,
        parameters: Vec<ScalarValue>,
    ) -> Result<Statement, Status> {
        let rows = Self::rows(request)?;
        let statement = self
            .sql
            .plan(rows.as_ref(), sql)
            .await
            .map_err(query_status)?
            .map_err(refused)?;
        if parameters.is_empty() {
            return Ok(statement);
        }
        statement.bind(parameters).map_err(refused)
    }

    /// The rows of `statement`, as Flight data, within the call's turn.
    async fn answer<T>(
        &self,
        request: &Request<T>,
        statement: Statement,
    ) -> Result<Response<DoGetStream>, Status> {
        let turn = request.extensions().get::<Turn>().cloned();
        let batches = self.sql.stream(statement).await.map_err(query_status)?;
        let schema = batches.schema();
        let batches = within_turn(batches, turn);
        let data = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(flight_status);
        Ok(Response::new(Box::pin(data)))
    }

    fn prepared(&self, handle: &[u8]) -> Result<Prepared, Status> {
        self.prepared
            .lock()
            .expect("the prepared statements' lock is never poisoned")
            .get(handle)
            .cloned()
            .ok_or_else(|| {
                Status::not_found("no such prepared statement: it was closed, or never made here")
            })
    }
}

/// The schema of a statement's answer as Flight sends it: dictionaries as their values.
async fn sent_schema(statement: &Statement) -> Result<Schema, Status> {
    let schema = statement.schema().await.map_err(query_status)?;
    let encoder = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::empty());
    let sent = encoder.known_schema().expect("the schema was given");
    Ok(sent.as_ref().clone())
}

/// A FlightInfo whose one endpoint's ticket is `ticket`, for rows of `schema`.
fn flight_info(
    schema: &Schema,
    ticket: impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(ticket.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|error| Status::internal(format!("the answer's schema: {error}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// One batch as Flight data.
fn one_batch(batch: Result<RecordBatch, FlightError>) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .build(futures::stream::once(async move { batch }))
        .map_err(flight_status);
    Response::new(Box::pin(stream))
}

/// The stream of batches, ended with DEADLINE_EXCEEDED at the call's deadline; it holds the
/// call's admission slot until it ends.
fn within_turn(
    batches: SendableRecordBatchStream,
    turn: Option<Turn>,
) -> impl Stream<Item = Result<RecordBatch, FlightError>> + Send {
    let held = turn.as_ref().map(Turn::hold);
    let deadline = turn.map(|turn| turn.deadline);
    futures::stream::unfold(Some((batches, held)), move |state| async move {
        let (mut batches, held) = state?;
        let next = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, batches.next()).await {
                Ok(next) => next,
                Err(_) => {
                    let status = Status::deadline_exceeded(
                        "the query did not finish before its deadline and was cancelled",
                    );
                    return Some((Err(FlightError::Tonic(Box::new(status))), None));
                }
            },
            None => batches.next().await,
        };
        match next? {
            Ok(batch) => Some((Ok(batch), Some((batches, held)))),
            Err(error) => Some((
                Err(FlightError::Tonic(Box::new(datafusion_status(&error)))),
                None,
            )),
        }
    })
}

fn refused(refused: Refused) -> Status {
    Status::invalid_argument(format!("the statement is refused: {refused}"))
}

fn query_status(error: talkhouse_query::Error) -> Status {
    match error {
        talkhouse_query::Error::Query(error) => datafusion_status(&error),
        other => Status::from(crate::ServiceError::from(other)),
    }
}

fn datafusion_status(error: &DataFusionError) -> Status {
    match error.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(
            "the query needs more memory than a query may use on this server",
        ),
        DataFusionError::Execution(message) => Status::invalid_argument(message.clone()),
        DataFusionError::ArrowError(error, _) => Status::invalid_argument(error.to_string()),
        other => {
            tracing::warn!(error = %other, "a Flight SQL query failed");
            Status::internal("the query failed")
        }
    }
}

fn flight_status(error: FlightError) -> Status {
    match error {
        FlightError::Tonic(status) => *status,
        other => Status::internal(other.to_string()),
    }
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let statement = self.plan(&request, &query.query, Vec::new()).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        flight_info(
            &sent_schema(&statement).await?,
            ticket,
            request.into_inner(),
        )
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = std::str::from_utf8(&ticket.statement_handle)
            .map_err(|_| Status::invalid_argument("the ticket is not one this server gave"))?;
        let statement = self.plan(&request, sql, Vec::new()).await?;
        self.answer(&request, statement).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let statement = self.plan(&request, &query.query, Vec::new()).await?;
        let parameters = statement.parameters().map_err(query_status)?;
        let ipc = |schema: &Schema| -> Result<bytes::Bytes, Status> {
            let message: IpcMessage =
                SchemaAsIpc::new(schema, &arrow::ipc::writer::IpcWriteOptions::default())
                    .try_into()
                    .map_err(|error| Status::internal(format!("a schema: {error}")))?;
            Ok(message.0)
        };
        let handle = uuid::Uuid::new_v4().as_bytes().to_vec();
        {
            let mut prepared = self
                .prepared
                .lock()
                .expect("the prepared statements' lock is never poisoned");
            if prepared.len() >= MAX_PREPARED {
                return Err(Status::resource_exhausted(
                    "too many prepared statements are open on this server: close some",
                ));
            }
            prepared.insert(
                handle.clone(),
                Prepared {
                    sql: query.query,
                    parameters: Vec::new(),
                },
            );
        }
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema: ipc(&sent_schema(&statement).await?)?,
            parameter_schema: ipc(&parameters)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let handle = query.prepared_statement_handle.to_vec();
        self.prepared(&handle)?;
        let data = request
            .into_inner()
            .map_err(|status| FlightError::Tonic(Box::new(status)));
        let batches: Vec<RecordBatch> =
            arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(data)
                .try_collect()
                .await
                .map_err(|error| {
                    Status::invalid_argument(format!("the parameters are not Arrow data: {error}"))
                })?;
        let row = batches.iter().find(|batch| batch.num_rows() > 0);
        let parameters = match row {
            None => Vec::new(),
            Some(batch) => batch
                .columns()
                .iter()
                .map(|column| ScalarValue::try_from_array(column, 0))
                .collect::<Result<_, _>>()
                .map_err(|error| Status::invalid_argument(format!("a parameter value: {error}")))?,
        };
        if let Some(prepared) = self
            .prepared
            .lock()
            .expect("the prepared statements' lock is never poisoned")
            .get_mut(&handle)
        {
            prepared.parameters = parameters;
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.into()),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let prepared = self.prepared(&query.prepared_statement_handle)?;
        let statement = self
            .plan(&request, &prepared.sql, prepared.parameters)
            .await?;
        flight_info(&sent_schema(&statement).await?, query, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let prepared = self.prepared(&query.prepared_statement_handle)?;
        let statement = self
            .plan(&request, &prepared.sql, prepared.parameters)
            .await?;
        self.answer(&request, statement).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        self.prepared
            .lock()
            .expect("the prepared statements' lock is never poisoned")
            .remove(query.prepared_statement_handle.as_ref());
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        flight_info(&schema, query, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        Ok(one_batch(builder.build()))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, query, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        Ok(one_batch(builder.build()))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, query, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tables = self
            .sql
            .tables(Self::rows(&request)?.as_ref())
            .await
            .map_err(query_status)?;
        let mut builder = query.into_builder();
        for (name, kind, schema) in tables {
            builder
                .append(CATALOG, SCHEMA, name, kind, &schema)
                .map_err(|error| Status::internal(format!("a table's schema: {error}")))?;
        }
        Ok(one_batch(builder.build()))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = table_types().schema();
        flight_info(&schema, query, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(one_batch(Ok(table_types())))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.info).schema();
        flight_info(&schema, query, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(one_batch(query.into_builder(&self.info).build()))
    }

    async fn do_get_fallback(
        &self,
        _request: Request<Ticket>,
        message: Any,
    ) -> Result<Response<DoGetStream>, Status> {
        Err(Status::unimplemented(format!(
            "Flight SQL command {} is not served",
            message.type_url
        )))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The table types: `TABLE` (`events`) and `VIEW` (the others).
fn table_types() -> RecordBatch {
    let types = arrow::array::StringArray::from(vec!["TABLE", "VIEW"]);
    RecordBatch::try_from_iter([("table_type", Arc::new(types) as arrow::array::ArrayRef)])
        .expect("one string column")
}

/// The Flight service of `sql`, for the gRPC router.
pub(crate) fn service(
    sql: SqlService,
) -> arrow_flight::flight_service_server::FlightServiceServer<FlightSql> {
    arrow_flight::flight_service_server::FlightServiceServer::new(FlightSql::new(sql))
}
