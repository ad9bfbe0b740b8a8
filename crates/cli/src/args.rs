//! Command-line arguments. Every flag of `serve` is also read from a `TALKHOUSE_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod serve;

pub use serve::{AuthArgs, ClaimArgs, LimitArgs, QueryLimitArgs, ReportArgs, SecretArgs};

#[derive(Debug, Parser)]
#[command(
    name = "talkhouse",
    version,
    about = "Columnar analytics for chatbot conversations"
)]
pub struct Cli {
    /// Where the tables live: a folder, a file:// URL, or s3://bucket/prefix (credentials, region
    /// and endpoint from the AWS_* variables).
    #[arg(long, global = true, env = "TALKHOUSE_DATA", default_value = "./data")]
    pub data: String,

    /// Log progress and requests (`TALKHOUSE_LOG` sets a full filter, e.g. `debug`).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// How logs are written to stderr: `text` for people, `json` (one object per line) for log
    /// shippers.
    #[arg(
        long,
        global = true,
        env = "TALKHOUSE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (creates a demo dataset first when the data folder is empty).
    Serve(Box<ServeArgs>),
    /// Store JSONL event files (or stdin); each file is one all-or-nothing batch.
    Ingest(IngestArgs),
    /// Write a seeded demo dataset through the ingest path.
    Generate(GenerateArgs),
    /// Run SQL on the tables: one statement, a file, or an interactive shell.
    Sql(SqlArgs),
    /// Merge the small files ingest leaves into large sorted ones, in atomic commits of up to 64 partitions.
    Compact(CompactArgs),
    /// Delete the files no version within the retention window, and no report still to be made,
    /// reads.
    Vacuum(VacuumArgs),
    /// Erase a person: every session of one bot in which their user id or business key appears,
    /// in one commit, with the bot's earlier reports; `vacuum` then deletes the old files.
    Erase(EraseArgs),
    /// Delete the events older than each organization's or bot's retention period (a JSON
    /// file of rules), one commit per rule; `vacuum` then deletes the old files.
    Retain(RetainArgs),
    /// Mint a bearer token for development and tests, signed with the server's secret or key.
    Token(Box<TokenArgs>),
    /// List, inspect and download the reports stored in the data folder.
    #[command(subcommand)]
    Reports(ReportsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Reports newest first, optionally of one organization, environment or bot.
    List(ReportListArgs),
    /// One report's state as JSON.
    Get(ReportIdArgs),
    /// A READY report's file.
    Download(ReportDownloadArgs),
}

#[derive(Debug, Args)]
pub struct ReportListArgs {
    #[arg(long)]
    pub org: Option<uuid::Uuid>,
    #[arg(long)]
    pub env: Option<uuid::Uuid>,
    #[arg(long)]
    pub bot: Option<uuid::Uuid>,
    /// `table` for people, `json` (one object per line) for scripts.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportIdArgs {
    /// The report id.
    pub id: uuid::Uuid,
}

#[derive(Debug, Args)]
pub struct ReportDownloadArgs {
    /// The report id.
    pub id: uuid::Uuid,
    /// File to write; `-` is stdout. Defaults to the report's own file name.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "TALKHOUSE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Address of the same API as JSON over HTTP (the seed's REST paths), or `off`. Default: the
    /// gRPC address's port plus one (a free port when that is 0).
    #[arg(long, env = "TALKHOUSE_HTTP_LISTEN", value_parser = parse_http_listen)]
    pub http_listen: Option<HttpListen>,

    /// Do not create the demo dataset when the data folder is empty.
    #[arg(long, env = "TALKHOUSE_NO_DEMO")]
    pub no_demo: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub query_limits: QueryLimitArgs,

    #[command(flatten)]
    pub reports: ReportArgs,

    /// Answer traffic, accuracy and series from the event tables only, never from rollups
    /// (the answers are the same; for comparisons and diagnosis).
    #[arg(long, env = "TALKHOUSE_NO_ROLLUPS")]
    pub no_rollups: bool,

    /// Seconds between background compactions; 0 never compacts. One server at a time compacts,
    /// under a lease in the data location.
    #[arg(
        long,
        env = "TALKHOUSE_COMPACT_INTERVAL_SECONDS",
        default_value_t = 300
    )]
    pub compact_interval_seconds: u64,

    /// A partition is compacted once it holds this many files.
    #[arg(long, env = "TALKHOUSE_COMPACT_MIN_FILES", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(2..))]
    pub compact_min_files: u64,

    /// How often, in milliseconds, the server reads the log for commits of other processes (each
    /// read is a request to the store; a commit of this server is seen at once). Default: on
    /// every request for a folder, every 1,000 ms for a bucket.
    #[arg(long, env = "TALKHOUSE_LOG_CHECK_INTERVAL_MS")]
    pub log_check_interval_ms: Option<u64>,

    /// On a bucket, the data files read are copied to local disk, at most this many MiB of them
    /// (the least recently read deleted first); 0 reads every file from the bucket each time.
    #[arg(long, env = "TALKHOUSE_FILE_CACHE_MIB", default_value_t = 4096)]
    pub file_cache_mib: u64,

    /// Folder of the file cache, kept across restarts. Default: a temporary folder deleted at
    /// exit.
    #[arg(long, env = "TALKHOUSE_FILE_CACHE_DIR")]
    pub file_cache_dir: Option<std::path::PathBuf>,

    /// Seconds between background vacuums; 0 never vacuums.
    #[arg(
        long,
        env = "TALKHOUSE_VACUUM_INTERVAL_SECONDS",
        default_value_t = 3600
    )]
    pub vacuum_interval_seconds: u64,

    /// The background vacuum keeps the files every version committed within this many hours
    /// reads.
    #[arg(long, env = "TALKHOUSE_VACUUM_RETENTION_HOURS", default_value_t = 168)]
    pub vacuum_retention_hours: u64,

    /// Retention rules (see `talkhouse retain --help`), applied in the background; without it
    /// nothing ages out.
    #[arg(long, env = "TALKHOUSE_RETENTION_CONFIG")]
    pub retention_config: Option<std::path::PathBuf>,

    /// Seconds between background retention rounds.
    #[arg(
        long,
        env = "TALKHOUSE_RETENTION_INTERVAL_SECONDS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub retention_interval_seconds: u64,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// A partition is rewritten when it holds at least this many files; 1 rewrites every
    /// partition, into the file layout of this release.
    #[arg(long, default_value_t = 2, value_parser = parse_min_files)]
    pub min_files: usize,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Keep the files every version committed within this many hours reads.
    #[arg(long, default_value_t = 168)]
    pub retention_hours: u64,

    /// List the files that would be deleted, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RetainArgs {
    /// The retention rules:
    /// `{"rules": [{"orgId": "…", "days": 365}, {"orgId": "…", "envId": "…", "botId": "…", "days": 30}]}`
    /// (a bot's own rule wins over its organization's).
    #[arg(long)]
    pub config: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The bot's organization UUID.
    #[arg(long)]
    pub org: String,
    /// The bot's environment UUID.
    #[arg(long)]
    pub env: String,
    /// The bot UUID.
    #[arg(long)]
    pub bot: String,
    /// The person's `user_id`.
    #[arg(long, group = "person", required_unless_present = "business_key")]
    pub user: Option<String>,
    /// The person's `business_key` (a phone number, a customer number).
    #[arg(long, group = "person")]
    pub business_key: Option<String>,
    /// Who asks, for the erasure record [default: the USER variable]
    #[arg(long)]
    pub by: Option<String>,
}

fn parse_min_files(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not a whole number of at least 1")),
    }
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The organization UUID.
    #[arg(long)]
    pub org: String,

    /// Environment UUIDs, or `*` for all.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub environments: Vec<String>,

    /// Bot UUIDs, or `*` for all.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub bots: Vec<String>,

    /// Scopes granted: read, report, ingest, sql, admin.
    #[arg(long, value_delimiter = ',', default_value = "read")]
    pub scopes: Vec<String>,

    /// How long the token is valid: seconds, or a number with s, m, h or d.
    #[arg(long, default_value = "12h")]
    pub ttl: String,

    /// The `sub` claim.
    #[arg(long, default_value = "talkhouse-dev")]
    pub subject: String,

    /// Sign RS256 or ES256 with this PKCS#8 private key (PEM) instead of the HS256 secret.
    #[arg(long, requires = "algorithm")]
    pub private_key: Option<PathBuf>,

    /// Algorithm of --private-key.
    #[arg(long, value_enum)]
    pub algorithm: Option<KeyAlgorithm>,

    /// The `kid` header, for servers verifying with a JWKS.
    #[arg(long)]
    pub key_id: Option<String>,

    /// The `iss` claim.
    #[arg(long)]
    pub issuer: Option<String>,

    /// The `aud` claim.
    #[arg(long)]
    pub audience: Option<String>,

    #[command(flatten)]
    pub secret: SecretArgs,

    #[command(flatten)]
    pub claims: ClaimArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    Rs256,
    Es256,
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

    /// Run the statements on this talkhouse server over Flight SQL (http://HOST:PORT or
    /// grpc://HOST:PORT) instead of reading the table from --data; they see the rows the token
    /// grants.
    #[arg(long, env = "TALKHOUSE_SERVER")]
    pub server: Option<String>,

    /// The bearer token sent to --server (it needs scope `sql`).
    #[arg(
        long,
        env = "TALKHOUSE_TOKEN",
        requires = "server",
        conflicts_with = "token_file",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// A file holding the bearer token sent to --server.
    #[arg(long, requires = "server")]
    pub token_file: Option<PathBuf>,
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

/// Where the HTTP surface listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListen {
    Off,
    At(SocketAddr),
}

impl HttpListen {
    /// The address to bind, given the gRPC address: beside it unless set.
    pub fn address(setting: Option<Self>, grpc: SocketAddr) -> Option<SocketAddr> {
        match setting {
            Some(Self::Off) => None,
            Some(Self::At(address)) => Some(address),
            None => {
                let port = match grpc.port() {
                    0 => 0,
                    port => port.checked_add(1)?,
                };
                Some(SocketAddr::new(grpc.ip(), port))
            }
        }
    }
}

fn parse_http_listen(text: &str) -> Result<HttpListen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(HttpListen::Off);
    }
    text.parse()
        .map(HttpListen::At)
        .map_err(|_| format!("{text:?} is neither an address (127.0.0.1:50052) nor off"))
}
