//! `talkhouse sql`: statements from `-c`, a file, stdin, or an interactive shell, run on the
//! table itself or, with `--server`, by a server over Flight SQL.

mod output;
mod remote;
mod shell;

use std::io::{IsTerminal, Read};
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::sql::parser::DFParser;
use talkhouse_query::{QueryEngine, SnapshotSession};
use talkhouse_storage::{DataLocation, EventTable};

use crate::CliError;
use crate::args::{OutputFormat, SqlArgs};
pub use output::Output;

/// Where statements run.
pub enum Source {
    /// On the table, read from storage by this process.
    Table(QueryEngine),
    /// By a server, over Flight SQL.
    Server(remote::Remote),
}

impl Source {
    async fn open(data: &DataLocation, args: &SqlArgs) -> Result<Self, CliError> {
        match &args.server {
            Some(url) => {
                let token = match (&args.token, &args.token_file) {
                    (Some(token), _) => Some(token.clone()),
                    (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|e| {
                        CliError::Usage(format!("--token-file {}: {e}", path.display()))
                    })?),
                    (None, None) => None,
                };
                Ok(Source::Server(remote::Remote::connect(url, token).await?))
            }
            None => Ok(Source::Table(QueryEngine::new(Arc::new(
                EventTable::open(data).await?,
            )))),
        }
    }
}

pub async fn run(data: &DataLocation, args: SqlArgs) -> Result<(), CliError> {
    let mut source = Source::open(data, &args).await?;
    let sql = match (&args.command, &args.file) {
        (Some(sql), _) => Some(sql.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?,
        ),
        (None, None) if !args.interactive && !std::io::stdin().is_terminal() => {
            let mut sql = String::new();
            std::io::stdin().read_to_string(&mut sql)?;
            Some(sql)
        }
        (None, None) => None,
    };
    let output = Output::new(args.format, args.output.clone())?;
    match sql {
        Some(sql) => run_script(&mut source, &sql, &output).await,
        None => {
            if args.format == OutputFormat::Parquet {
                return Err(CliError::Usage(
                    "the interactive shell cannot write parquet".into(),
                ));
            }
            shell::run(&mut source, &output).await
        }
    }
}

/// Runs every statement of `sql` in order (on one snapshot of the table, or each by the server),
/// printing each result; stops at the first error.
pub async fn run_script(source: &mut Source, sql: &str, output: &Output) -> Result<(), CliError> {
    let statements = DFParser::parse_sql(sql)?;
    if statements.is_empty() {
        return Err(CliError::Usage("no SQL statement given".into()));
    }
    if output.format() == OutputFormat::Parquet && statements.len() > 1 {
        return Err(CliError::Usage(
            "--format parquet writes one statement's result".into(),
        ));
    }
    match source {
        Source::Table(engine) => {
            let session = engine.session().await?;
            for statement in statements {
                let batches = execute(&session, statement).await?;
                output.write(&batches)?;
            }
        }
        Source::Server(server) => {
            for statement in statements {
                let batches = server.query(&statement.to_string()).await?;
                output.write(&batches)?;
            }
        }
    }
    Ok(())
}

async fn execute(
    session: &SnapshotSession,
    statement: datafusion::sql::parser::Statement,
) -> Result<Vec<RecordBatch>, CliError> {
    let state = session.ctx.state();
    let plan = state.statement_to_plan(statement).await?;
    let frame = session.ctx.execute_logical_plan(plan).await?;
    Ok(frame.collect().await?)
}
