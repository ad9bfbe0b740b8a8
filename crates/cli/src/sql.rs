//! `talkhouse sql`: statements from `-c`, a file, stdin, or an interactive shell.

mod output;
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

pub async fn run(data: &DataLocation, args: SqlArgs) -> Result<(), CliError> {
    let table = Arc::new(EventTable::open(data).await?);
    let engine = QueryEngine::new(table);
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
        Some(sql) => {
            let session = engine.session().await?;
            run_script(&session, &sql, &output).await
        }
        None => {
            if args.format == OutputFormat::Parquet {
                return Err(CliError::Usage(
                    "the interactive shell cannot write parquet".into(),
                ));
            }
            shell::run(&engine, &output).await
        }
    }
}

/// Runs every statement of `sql` in order, printing each result; stops at the first error.
pub async fn run_script(
    session: &SnapshotSession,
    sql: &str,
    output: &Output,
) -> Result<(), CliError> {
    let statements = DFParser::parse_sql(sql)?;
    if statements.is_empty() {
        return Err(CliError::Usage("no SQL statement given".into()));
    }
    if output.format() == OutputFormat::Parquet && statements.len() > 1 {
        return Err(CliError::Usage(
            "--format parquet writes one statement's result".into(),
        ));
    }
    for statement in statements {
        let batches = execute(session, statement).await?;
        output.write(&batches)?;
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
