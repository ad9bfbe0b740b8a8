//! Helpers shared by the integration tests: data folders, the binary, fixtures, the server.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::{Value, json};
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, Server, ServerConfig};
use talkhouse_storage::{DataLocation, EventTable};
use tempfile::TempDir;
use tonic::transport::Channel;

pub mod browser;
pub mod python;
pub mod s3;

pub const ORG: &str = "00000000-0000-4000-8000-000000000001";
pub const ENV: &str = "00000000-0000-4000-8000-000000000002";
pub const BOT: &str = "00000000-0000-4000-8000-000000000003";
pub const OTHER_BOT: &str = "00000000-0000-4000-8000-000000000004";
pub const CHANNEL: &str = "00000000-0000-4000-8000-0000000000c1";

/// The root of the repository, where `tests/`, `README.md` and `benches/` live.
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A data folder holding the checked-in fixture `tests/fixtures/small.jsonl`, ingested by the CLI.
pub fn with_fixture() -> DataDir {
    let data = DataDir::new();
    run_ok(
        talkhouse(&data)
            .arg("ingest")
            .arg(repository().join("tests/fixtures/small.jsonl")),
    );
    data
}

/// A temporary data folder, or a fresh prefix of a bucket (with a temporary folder beside it
/// for other files).
pub struct DataDir {
    dir: TempDir,
    bucket: Option<BucketPrefix>,
}

/// A prefix of the test bucket and the variables that reach its server.
struct BucketPrefix {
    url: String,
    environment: Vec<(&'static str, String)>,
}

impl DataDir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
            bucket: None,
        }
    }

    /// A prefix of `server`'s bucket no other data folder uses.
    pub fn in_bucket(server: &s3::S3Server) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let name = dir
            .path()
            .file_name()
            .expect("a temporary folder has a name")
            .to_string_lossy()
            .to_lowercase();
        Self {
            bucket: Some(BucketPrefix {
                url: format!("s3://{}/{name}", s3::BUCKET),
                environment: server.environment().to_vec(),
            }),
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the folder's parent area (not inside the tables).
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write a fixture file");
        path
    }

    pub fn data(&self) -> String {
        match &self.bucket {
            Some(bucket) => bucket.url.clone(),
            None => self.dir.path().join("data").display().to_string(),
        }
    }

    /// The location of the tables, as this process reaches it.
    pub fn location(&self) -> DataLocation {
        let mut location = DataLocation::parse(&self.data()).expect("a data location");
        for (variable, value) in self.bucket.iter().flat_map(|b| &b.environment) {
            location = location.with_bucket_setting(variable, value);
        }
        location
    }

    pub async fn table(&self) -> Arc<EventTable> {
        let location = self.location();
        Arc::new(
            EventTable::open(&location)
                .await
                .expect("open the event table"),
        )
    }
}

/// The `talkhouse` binary with `--data` set to `data`.
pub fn talkhouse(data: &DataDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_talkhouse"));
    command
        .env_remove("TALKHOUSE_DATA")
        .env("NO_COLOR", "1")
        .envs(data.bucket.iter().flat_map(|b| b.environment.clone()))
        .arg("--data")
        .arg(data.data());
    command
}

/// `talkhouse serve` on 127.0.0.1:0, without authentication or demo data; more arguments may follow.
pub fn serve_on_any_port(data: &DataDir) -> Command {
    let mut command = talkhouse(data);
    command.args([
        "serve",
        "--dev-no-auth",
        "--no-demo",
        "--listen",
        "127.0.0.1:0",
    ]);
    command
}

/// Starts `talkhouse serve` (its arguments already on `command`) with stdout piped, and reads
/// the address it prints first.
pub fn spawn_serve(command: &mut Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("talkhouse listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, address)
}

/// As [`spawn_serve`], for a server that also serves HTTP: its gRPC address and its HTTP base URL.
pub fn spawn_serve_with_http(command: &mut Command) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| {
        let line = lines.next().expect("a line").unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .to_string()
    };
    let grpc = next("talkhouse listening on ");
    let http = next("talkhouse HTTP on ");
    (child, grpc, http)
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("the talkhouse binary runs")
}

/// Runs with `input` on stdin; returns everything the command printed.
pub fn run_with_stdin(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the talkhouse binary runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs and expects success; returns stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "command failed: {command:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs and expects failure; returns stderr, after checking that nothing panicked.
pub fn run_fails(command: &mut Command) -> String {
    let output = run(command);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit code 1: {command:?}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    stderr
}

/// One query's result as CSV without its header line.
pub fn sql_rows(data: &DataDir, query: &str) -> Vec<String> {
    let out = run_ok(talkhouse(data).args(["sql", "--format", "csv", "-c", query]));
    out.lines().skip(1).map(str::to_string).collect()
}

pub fn count(data: &DataDir, view: &str) -> u64 {
    sql_rows(data, &format!("SELECT count(*) FROM {view}"))[0]
        .parse()
        .expect("a count")
}

pub fn message_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

pub fn message(n: u32, session: &str, sent_at: &str) -> Value {
    json!({
        "kind": "message", "org_id": ORG, "env_id": ENV, "bot_id": BOT,
        "message_id": message_id(n), "session_code": session, "user_id": "user-1",
        "channel_uuid": CHANNEL, "channel_name": "WhatsApp", "channel_type": "WHATSAPP",
        "sent_at": sent_at, "sender": "USER", "content_type": "TEXT", "text": format!("message {n}"),
        "nlp_response": "FOUND", "nlp_response_type": "INTENT", "nlp_response_name": "greeting",
        "confidence": 91.5, "tags": ["sales"]
    })
}

pub fn conversation(
    session: &str,
    started_at: &str,
    updated_at: &str,
    satisfaction: Option<u8>,
) -> Value {
    json!({
        "kind": "conversation", "org_id": ORG, "env_id": ENV, "bot_id": BOT,
        "session_code": session, "user_id": "user-1", "channel_uuid": CHANNEL,
        "started_at": started_at, "updated_at": updated_at, "satisfaction": satisfaction,
        "flows": ["greeting"], "tags": [], "user_messages": 1, "bot_messages": 1
    })
}

/// `line` (an event) moved to another tenant.
pub fn in_tenant(mut line: Value, org: &str, env: &str, bot: &str) -> Value {
    line["org_id"] = org.into();
    line["env_id"] = env.into();
    line["bot_id"] = bot.into();
    line
}

pub fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// The real server on 127.0.0.1:0, stopped when dropped.
pub struct RunningServer {
    pub address: std::net::SocketAddr,
    /// The HTTP listener's, when the config asked for one.
    pub http_address: Option<std::net::SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Without authentication, as in development.
    pub async fn start(table: Arc<EventTable>) -> Self {
        Self::start_with(
            ServerConfig::new(
                "127.0.0.1:0".parse().unwrap(),
                Authentication::DisabledForDevelopment,
            ),
            table,
        )
        .await
    }

    pub async fn start_with(config: ServerConfig, table: Arc<EventTable>) -> Self {
        let server = Server::bind(&config, table)
            .await
            .expect("bind 127.0.0.1:0");
        let address = server.local_addr().unwrap();
        let http_address = server.local_http_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        Self {
            address,
            http_address,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .expect("connect to the server")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("the server stops cleanly");
        }
    }
}

/// A client of every talkhouse service, over one connection to the server.
pub struct Clients {
    pub dashboard: v1::dashboard_service_client::DashboardServiceClient<Channel>,
    pub analytics: v1::analytics_service_client::AnalyticsServiceClient<Channel>,
    pub conversations: v1::conversation_service_client::ConversationServiceClient<Channel>,
    pub messages: v1::message_service_client::MessageServiceClient<Channel>,
    pub reports: v1::report_service_client::ReportServiceClient<Channel>,
    pub ingest: v1::ingest_service_client::IngestServiceClient<Channel>,
    pub admin: v1::admin_service_client::AdminServiceClient<Channel>,
}

impl Clients {
    pub async fn connect(server: &RunningServer) -> Self {
        Self::with_channel(server.channel().await)
    }

    /// Clients of a server at `address` (host:port).
    pub async fn connect_to(address: &str) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .expect("connect to the server");
        Self::with_channel(channel)
    }

    /// The summary of a bot, which must be answered.
    pub async fn summary(&mut self, bot: Option<v1::BotRef>) -> v1::GetSummaryResponse {
        self.dashboard
            .get_summary(v1::GetSummaryRequest { bot })
            .await
            .expect("a summary")
            .into_inner()
    }

    fn with_channel(channel: Channel) -> Self {
        Self {
            dashboard: v1::dashboard_service_client::DashboardServiceClient::new(channel.clone()),
            analytics: v1::analytics_service_client::AnalyticsServiceClient::new(channel.clone()),
            conversations: v1::conversation_service_client::ConversationServiceClient::new(
                channel.clone(),
            ),
            messages: v1::message_service_client::MessageServiceClient::new(channel.clone()),
            reports: v1::report_service_client::ReportServiceClient::new(channel.clone()),
            ingest: v1::ingest_service_client::IngestServiceClient::new(channel.clone()),
            admin: v1::admin_service_client::AdminServiceClient::new(channel),
        }
    }
}

pub fn bot_ref(org: &str, env: &str, bot: &str) -> Option<v1::BotRef> {
    Some(v1::BotRef {
        org_id: org.into(),
        env_id: env.into(),
        bot_id: bot.into(),
    })
}

/// A filter over whole days in `timezone`.
pub fn days(start: &str, end: &str, timezone: &str) -> v1::Filter {
    v1::Filter {
        start_date: start.into(),
        end_date: end.into(),
        timezone: timezone.into(),
        ..Default::default()
    }
}

pub fn instant(timestamp: &Option<prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    let t = timestamp.as_ref().expect("a timestamp");
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).expect("a valid timestamp")
}
