//! Ad-hoc SQL for a caller who holds a grant: the same tables and views as `talkhouse sql`, with
//! only the rows the grant covers (see [`QueryEngine::session_of`]), read-only, under the same
//! memory budget and on the same query threads as every dashboard query.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use talkhouse_core::access::Grant;

use crate::budget::MemoryBudget;
use crate::{QueryEngine, QueryExecutor, Result};

/// Plans and runs statements for callers.
#[derive(Clone)]
pub struct SqlService {
    engine: QueryEngine,
    executor: QueryExecutor,
    memory_limit: Option<usize>,
}

/// A statement planned for one caller, on one snapshot.
pub struct Statement {
    ctx: SessionContext,
    plan: LogicalPlan,
}

/// Why a statement is refused before it runs.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("exactly one SQL statement is expected, got {0}")]
    StatementCount(usize),
    #[error("only queries are served: {0}")]
    NotAQuery(String),
    #[error("{0}")]
    Invalid(String),
}

impl SqlService {
    pub fn new(engine: QueryEngine, executor: QueryExecutor, memory_limit: Option<usize>) -> Self {
        Self {
            engine,
            executor,
            memory_limit,
        }
    }

    /// `sql` planned over the rows `grant` covers (every row when `None`). Data definition,
    /// data manipulation and session statements are refused.
    pub async fn plan(
        &self,
        grant: Option<&Grant>,
        sql: &str,
    ) -> Result<std::result::Result<Statement, Refused>> {
        let count = DFParser::parse_sql(sql).map(|s| s.len()).unwrap_or(1);
        if count != 1 {
            return Ok(Err(Refused::StatementCount(count)));
        }
        let session = self.engine.session_of(grant).await?;
        let state = session.ctx.state();
        let planning = tracing::info_span!("planning", statement = "sql");
        let plan =
            match tracing::Instrument::instrument(state.create_logical_plan(sql), planning).await {
                Ok(plan) => plan,
                Err(error) => return Ok(Err(Refused::Invalid(describe(&error)))),
            };
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        if let Err(error) = read_only.verify_plan(&plan) {
            return Ok(Err(Refused::NotAQuery(describe(&error))));
        }
        Ok(Ok(Statement {
            ctx: session.ctx,
            plan,
        }))
    }

    /// Each table and view a statement can name: its name, `TABLE` or `VIEW`, and its schema.
    pub async fn tables(
        &self,
        grant: Option<&Grant>,
    ) -> Result<Vec<(String, &'static str, Schema)>> {
        let session = self.engine.session_of(grant).await?;
        let mut tables = Vec::new();
        let names = std::iter::once(talkhouse_storage::schema::EVENTS_TABLE)
            .chain(crate::views::views().into_iter().map(|(name, _)| name));
        for name in names {
            let kind = match name == talkhouse_storage::schema::EVENTS_TABLE {
                true => "TABLE",
                false => "VIEW",
            };
            let table = session.ctx.table(name).await?;
            tables.push((name.to_string(), kind, table.schema().as_arrow().clone()));
        }
        Ok(tables)
    }

    /// The statement's rows, computed on the query threads under the memory budget.
    pub async fn stream(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        let Statement { ctx, plan } = statement;
        let frame = ctx.execute_logical_plan(plan).await?;
        let mut task = frame.task_ctx();
        if let Some(bytes) = self.memory_limit {
            let budget = MemoryBudget::new(&ctx, bytes)?;
            task = task
                .with_runtime(budget.runtime)
                .with_session_config(budget.config);
        }
        let planning = tracing::info_span!("planning", statement = "physical");
        let plan = tracing::Instrument::instrument(frame.create_physical_plan(), planning).await?;
        Ok(self.executor.stream(plan, Arc::new(task)))
    }
}

impl Statement {
    /// The schema of its rows, as they come out of its physical plan (a dictionary column may
    /// come out as its values); as planned while a placeholder has no value yet.
    pub async fn schema(&self) -> Result<SchemaRef> {
        if !self.plan.get_parameter_types()?.is_empty() {
            return Ok(Arc::new(self.plan.schema().as_arrow().clone()));
        }
        let physical = self.ctx.state().create_physical_plan(&self.plan).await?;
        Ok(physical.schema())
    }

    /// Its placeholders `$1`, `$2`… in order, each a nullable field of the type inferred for it
    /// (`Null` where none could be).
    pub fn parameters(&self) -> Result<Schema> {
        let types: HashMap<String, Option<DataType>> = self.plan.get_parameter_types()?;
        let mut names: Vec<&String> = types.keys().collect();
        names.sort_by_key(|name| {
            name.trim_start_matches('$')
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        Ok(Schema::new(
            names
                .into_iter()
                .map(|name| {
                    let data_type = types[name].clone().unwrap_or(DataType::Null);
                    Field::new(name.as_str(), data_type, true)
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The statement with its placeholders replaced by `values`, in order.
    pub fn bind(self, values: Vec<ScalarValue>) -> std::result::Result<Self, Refused> {
        let plan = self
            .plan
            .with_param_values(values)
            .map_err(|error| Refused::Invalid(describe(&error)))?;
        Ok(Self {
            ctx: self.ctx,
            plan,
        })
    }
}

/// DataFusion's own message, without the name of the layer that raised it.
fn describe(error: &DataFusionError) -> String {
    let text = error.to_string();
    for prefix in [
        "Error during planning: ",
        "SQL error: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "Invalid or Unsupported Configuration: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    text
}
