//! Command-line arguments. Every flag of `serve` is also read from a `TALKHOUSE_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "talkhouse",
    version,
    about = "Columnar analytics for chatbot conversations"
)]
pub struct Cli {
    /// Data folder (or file:// URL) holding the tables.
    #[arg(long, global = true, env = "TALKHOUSE_DATA", default_value = "./data")]
    pub data: String,

    /// Log progress and requests (`TALKHOUSE_LOG` sets a full filter, e.g. `debug`).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (creates a demo dataset first when the data folder is empty).
    Serve(ServeArgs),
    /// Store JSONL event files (or stdin); each file is one all-or-nothing batch.
    Ingest(IngestArgs),
    /// Write a seeded demo dataset through the ingest path.
    Generate(GenerateArgs),
    /// Run SQL on the tables: one statement, a file, or an interactive shell.
    Sql(SqlArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "TALKHOUSE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Do not create the demo dataset when the data folder is empty.
    #[arg(long, env = "TALKHOUSE_NO_DEMO")]
    pub no_demo: bool,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a request may ask for.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Most local days a request's date range may hold, counting both ends.
    #[arg(long, env = "TALKHOUSE_MAX_RANGE_DAYS", default_value_t = 366)]
    pub max_range_days: u64,

    /// Largest page of a conversation or message search.
    #[arg(long, env = "TALKHOUSE_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u32,

    /// Largest number of items a report may hold (`max_sample`).
    #[arg(long, env = "TALKHOUSE_REPORT_MAX_SAMPLE", default_value_t = 10_000)]
    pub report_max_sample: u64,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// JSONL files; `-` or none reads stdin.
    pub files: Vec<PathBuf>,

    /// Store the batch once even when the command is retried (one input only).
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Random seed: the same seed and dates give the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of bots, spread over organizations and environments.
    #[arg(long, default_value_t = 6)]
    pub bots: usize,
    /// Number of days of traffic, ending with --until.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The last day generated (a local date in each bot's zone).
    #[arg(long, default_value = "2026-11-01")]
    pub until: NaiveDate,
    /// Conversations a weekday for the busiest bot; the others get fewer.
    #[arg(long, default_value_t = 120)]
    pub conversations_per_day: u32,

    /// Write the events to this JSONL file in the ingest format (`-` for stdout) instead of
    /// storing them.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Run this SQL (one or more statements separated by `;`).
    #[arg(short, long, conflicts_with = "file")]
    pub command: Option<String>,

    /// Run the SQL in this file.
    pub file: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Write results to this file instead of stdout (required for parquet).
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// Start the interactive shell even when stdin is not a terminal (for scripts driving it).
    #[arg(long, conflicts_with_all = ["command", "file"])]
    pub interactive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
}
