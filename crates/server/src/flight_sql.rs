//! Arrow Flight SQL on the gRPC port, for ADBC, JDBC, DBeaver, pandas and Polars: statements and
//! prepared statements over the same tables and views as `talkhouse sql`, and the catalog calls.
//!
//! Every call passes the guard first (scope `sql`, the organization's share of the server, the
//! deadline). Each statement is planned anew for the grant of the call that runs it, in a session
//! whose `events` table holds only the rows that grant covers: whatever a statement names, it
//! reads nothing else. An `admin` token, or a server without tokens, reads every row. A streamed
//! answer keeps its call's admission slot until its last batch and stops at its deadline.

mod answer;
mod prepared;

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{Action, FlightDescriptor, FlightInfo, IpcMessage, SchemaAsIpc, Ticket};
use datafusion::common::ScalarValue;
use futures::{Stream, TryStreamExt};
use talkhouse_core::access::{Grant, Scope};
use talkhouse_query::sql::{SqlService, Statement};
use tonic::{Request, Response, Status};

use crate::guard::{Caller, Turn};
use answer::{
    flight_info, flight_status, one_batch, query_status, refused, sent_schema, within_turn,
};
use prepared::PreparedStatements;

/// The catalog and schema the tables are in, as `talkhouse sql` names them.
const CATALOG: &str = "talkhouse";
const SCHEMA: &str = "public";

pub(crate) type DoGetStream =
    Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

#[derive(Clone)]
pub(crate) struct FlightSql {
    sql: SqlService,
    prepared: Arc<PreparedStatements>,
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
        let handle = self.prepared.open(query.query)?;
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
        let handle = query.prepared_statement_handle;
        self.prepared.bind(&handle, request.into_inner()).await?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let prepared = self.prepared.get(&query.prepared_statement_handle)?;
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
        let prepared = self.prepared.get(&query.prepared_statement_handle)?;
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
        self.prepared.close(&query.prepared_statement_handle);
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
