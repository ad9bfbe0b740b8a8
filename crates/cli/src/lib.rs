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
mod vacuum;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

/// Parses the command line and runs it; errors go to stderr.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return report(&CliError::Io(error)),
    };
    match runtime.block_on(dispatch(cli)) {
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
    eprintln!("error: {}", error::chain(error));
    ExitCode::FAILURE
}

fn init_tracing(verbose: bool) {
    // The Delta kernel logs "No files in log segment" as an error when a table has no new
    // commits; deltalake handles it, so it is not shown.
    let default = if verbose {
        "info,buoyant_kernel::snapshot::builder=off"
    } else {
        "warn,buoyant_kernel::snapshot::builder=off"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TALKHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
