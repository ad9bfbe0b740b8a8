//! The `talkhouse` command line: `serve`, `ingest`, `generate`, `sql`, `compact`, `vacuum`,
//! `erase`, `retain`, `token` and `reports`.
//!
//! The top of the dependency graph: it wires configuration into the server, storage and query
//! crates and prints errors plainly, with a non-zero exit code and no stack traces.

mod args;
mod auth;
mod background;
mod compact;
mod demo;
mod erase;
mod error;
mod generate;
mod ingest;
mod progress;
mod reports;
mod retain;
mod serve;
mod sql;
mod telemetry;
mod vacuum;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

/// Parses the command line and runs it; errors go to stderr.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return report(&CliError::Io(error)),
    };
    let telemetry = {
        let _entered = runtime.enter();
        telemetry::Telemetry::init(cli.verbose, cli.log_format)
    };
    let outcome = runtime.block_on(dispatch(cli));
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let data = talkhouse_storage::DataLocation::parse(&cli.data)?;
    match cli.command {
        Command::Serve(args) => serve::run(&data, *args).await,
        Command::Ingest(args) => ingest::run(&data, args).await,
        Command::Generate(args) => generate::run(&data, args).await,
        Command::Sql(args) => sql::run(&data, args).await,
        Command::Compact(args) => compact::run(&data, args).await,
        Command::Vacuum(args) => vacuum::run(&data, args).await,
        Command::Erase(args) => erase::run(&data, args).await,
        Command::Retain(args) => retain::run(&data, args).await,
        Command::Token(args) => auth::token(*args),
        Command::Reports(command) => reports::run(&data, command).await,
    }
}

fn report(error: &CliError) -> ExitCode {
    telemetry::error(&format!("error: {}", error::chain(error)));
    ExitCode::FAILURE
}
