//! Dashboard latency on a large dataset, against DuckDB on the same Parquet files.
//!
//! Run: `cargo bench -p talkhouse-cli --bench dashboard -- medium` (or `large`, or `small` for a
//! quick look). Generates the dataset once under `target/bench-data/{scale}` (reused by later
//! runs; ingest speed is measured when it is generated), compacts it (timed), starts the server in
//! this process and times, warm, every analytics endpoint for a 7-, 30- and 365-day window in
//! America/Sao_Paulo, the first and the 500th page of both searches and a transcript (p50/p95 of
//! repeated runs), then 32 concurrent clients. DuckDB (installed from PyPI by the benchmark) then
//! answers the same questions in SQL over exactly the live files of the snapshot the server read,
//! in the same run, and the ratio is printed per question. With `--s3`, the same questions are then
//! timed on a copy of the dataset in an S3-compatible server (see `dashboard/s3.rs`). Not a test:
//! nothing is asserted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use talkhouse_core::Event;
use talkhouse_core::generate::Generator;
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, ServerConfig};
use talkhouse_storage::{DataLocation, EventTable};
use tonic::transport::Channel;

#[path = "dashboard/dataset.rs"]
mod dataset;
mod peers;
mod process;
#[path = "dashboard/questions.rs"]
mod questions;
#[path = "dashboard/s3.rs"]
mod s3;
mod server;

/// The tests' S3 server (moto) and the Python packages it comes from.
#[allow(dead_code)]
#[path = "../crates/cli/tests/support/s3.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../crates/cli/tests/support/python.rs"]
mod python;

/// The repository's folder, as the tests' support modules above expect.
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use dataset::{Scale, UNTIL, generators, ingest, scale};
use process::{memory_mib, reset_peak_memory};
use questions::{Question, questions};

const RUNS: usize = 30;
const PEER_RUNS: usize = 5;
const CLIENTS: usize = 32;
const CONCURRENT_SECONDS: u64 = 10;
/// Commits before each of the "first answer after a commit" timings.
const COMMITS: usize = 10;

fn main() {
    // `TALKHOUSE_LOG=talkhouse_storage=debug` logs the phases of every write (duplicate lookup,
    // conversation lookup, encoding, commit) while the dataset is generated.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("TALKHOUSE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let name = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "medium".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let on_s3 = std::env::args().any(|a| a == "--s3");
    runtime.block_on(run(scale(&name), on_s3));
}

async fn run(scale: Scale, on_s3: bool) {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench-data")
        .join(scale.name);
    let location = DataLocation::local(&folder).unwrap();
    let ready = folder.join("READY");
    let table = Arc::new(EventTable::open(&location).await.unwrap());
    let [large, small] = generators(&scale);
    if ready.exists() {
        println!(
            "dataset {}: reused from {} ({})",
            scale.name,
            folder.display(),
            std::fs::read_to_string(&ready).unwrap_or_default().trim()
        );
    } else {
        let ingest = ingest(&table, [&large, &small]).await;
        let (writing, compacting) = (
            ingest.writing.as_secs_f64(),
            ingest.compacting.as_secs_f64(),
        );
        let line = format!(
            "{} messages ingested in {writing:.1} s of writes, {:.0} messages/s; \
             {} compaction rounds in between took {compacting:.1} s \
             ({:.0} messages/s counting them)",
            ingest.messages,
            ingest.messages as f64 / writing,
            ingest.rounds,
            ingest.messages as f64 / (writing + compacting),
        );
        println!("dataset {}: {line}", scale.name);
        let started = Instant::now();
        let outcome = table.compact(2, |_| {}).await.unwrap();
        let compaction = format!(
            "compaction: {} partitions, {} files into {}, {:.1} s",
            outcome.partitions.len(),
            outcome.files_before,
            outcome.files_after,
            started.elapsed().as_secs_f64()
        );
        println!("{compaction}");
        std::fs::write(&ready, format!("{line}; {compaction}\n")).unwrap();
    }

    let bot = large.bots()[0].tenant;
    let bot_ref = Some(v1::BotRef {
        org_id: bot.org_id.to_string(),
        env_id: bot.env_id.to_string(),
        bot_id: bot.bot_id.to_string(),
    });
    let files = table.live_file_uris().await.unwrap();
    let version = table.latest_version().await.unwrap();

    let (before, _) = memory_mib();
    reset_peak_memory();
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    // Every client below is of the same organization; the default admission (8 queries per
    // organization) would refuse most of the concurrent phase instead of measuring it.
    config.limits.max_concurrent = CLIENTS;
    config.limits.max_concurrent_per_tenant = CLIENTS;
    let server = server::start(&config, table.clone()).await;
    let channel = server.channel.clone();

    let until = NaiveDate::from_ymd_opt(UNTIL.0, UNTIL.1, UNTIL.2).unwrap();
    let questions = questions(&channel, &bot_ref, until).await;
    println!(
        "\nserver: snapshot {version}, {} live files; times in ms, {RUNS} warm runs each",
        files.len()
    );
    println!(
        "{:<44} {:>8} {:>8} {:>10}",
        "question", "p50", "p95", "served by"
    );
    let mut timings = Vec::new();
    for question in &questions {
        let mut times = Vec::new();
        let mut served_by = String::new();
        for run in 0..RUNS + 3 {
            let started = Instant::now();
            served_by = (question.call)(channel.clone()).await;
            if run >= 3 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let (p50, p95) = (percentile(&mut times, 0.5), percentile(&mut times, 0.95));
        println!(
            "{:<44} {p50:>8.2} {p95:>8.2} {served_by:>10}",
            question.name
        );
        timings.push((p50, p95, served_by));
    }
    println!("\nwith DuckDB on the same files:");
    let (_, peak_serving) = memory_mib();

    let concurrent = concurrent_clients(&channel, &questions).await;
    let (_, peak) = memory_mib();
    let mut after_commit =
        first_answers_after_commits(&table, &small, &channel, &questions[0]).await;
    server.stop().await;

    let peer = duckdb_times(&files, &questions);
    println!(
        "{:<44} {:>8} {:>8} {:>10} {:>10} {:>8}",
        "question", "p50", "p95", "served by", "duckdb p50", "ratio"
    );
    for (question, (p50, p95, served_by)) in questions.iter().zip(&timings) {
        let duck = peer.as_ref().and_then(|p| p.get(&question.name)).copied();
        let (duck_text, ratio) = match duck {
            Some(d) => (format!("{d:.1}"), format!("{:.1}x", d / p50)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<44} {p50:>8.2} {p95:>8.2} {served_by:>10} {duck_text:>10} {ratio:>8}",
            question.name
        );
    }
    println!(
        "\n{CLIENTS} concurrent clients for {CONCURRENT_SECONDS} s over the analytics questions: \
         {:.0} answered requests/s, p50 {:.1} ms, p99 {:.1} ms, {} failed",
        concurrent.0, concurrent.1, concurrent.2, concurrent.3
    );
    println!(
        "first answer after each of {COMMITS} one-message commits ({}): p50 {:.1} ms, max {:.1} ms",
        questions[0].name,
        percentile(&mut after_commit, 0.5),
        percentile(&mut after_commit, 1.0),
    );
    println!(
        "server process memory: {before:.0} MiB before serving, peak {peak_serving:.0} MiB over \
         the timed runs, {peak:.0} MiB with {CLIENTS} clients"
    );
    if on_s3 {
        let local: Vec<s3::Local> = questions
            .iter()
            .zip(&timings)
            .map(|(question, (p50, p95, _))| s3::Local {
                name: &question.name,
                p50: *p50,
                p95: *p95,
            })
            .collect();
        s3::compare(&folder, &table, &config, bot, until, &local).await;
    }
}

/// The time of the first answer to `question` after each of `COMMITS` commits of one new message
/// of a small bot: what a dashboard waits for under steady ingest, when a new snapshot's session,
/// channel list and `data_as_of` are built for it. The messages stay in the dataset (a few per
/// run); DuckDB reads the files listed before them.
async fn first_answers_after_commits(
    table: &EventTable,
    small: &Generator,
    channel: &Channel,
    question: &Question,
) -> Vec<f64> {
    let template = small
        .events()
        .next()
        .unwrap()
        .into_iter()
        .find(|e| matches!(e, Event::Message(_)))
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..COMMITS {
        let mut event = template.clone();
        if let Event::Message(message) = &mut event {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            message.message_id = uuid::Uuid::from_u128(now.as_nanos());
        }
        let outcome = table.write(vec![event], None).await.unwrap();
        assert_eq!(outcome.messages_written, 1);
        let started = Instant::now();
        let served_by = (question.call)(channel.clone()).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(
            matches!(served_by.as_str(), "rollups" | "events"),
            "{served_by}"
        );
    }
    times
}

fn percentile(times: &mut [f64], q: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    let index = ((times.len() as f64 - 1.0) * q).round() as usize;
    times[index]
}

/// (answered requests/s, p50 ms, p99 ms, failed requests) of `CLIENTS` clients each asking the
/// analytics questions in turn.
async fn concurrent_clients(channel: &Channel, questions: &[Question]) -> (f64, f64, f64, usize) {
    let questions: Vec<&Question> = questions.iter().filter(|q| q.analytics).collect();
    let deadline = Instant::now() + Duration::from_secs(CONCURRENT_SECONDS);
    let started = Instant::now();
    let mut times: Vec<f64> = Vec::new();
    let results = futures::future::join_all((0..CLIENTS).map(|client| {
        let channel = channel.clone();
        let questions = &questions;
        async move {
            let mut times = Vec::new();
            let mut next = client;
            let mut failed = 0;
            while Instant::now() < deadline {
                let started = Instant::now();
                let served_by = (questions[next % questions.len()].call)(channel.clone()).await;
                if matches!(served_by.as_str(), "rollups" | "events") {
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failed += 1;
                }
                next += 1;
            }
            (times, failed)
        }
    }))
    .await;
    let mut failed = 0;
    for (client, refused) in results {
        times.extend(client);
        failed += refused;
    }
    let rate = times.len() as f64 / started.elapsed().as_secs_f64();
    if times.is_empty() {
        return (0.0, f64::NAN, f64::NAN, failed);
    }
    (
        rate,
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.99),
        failed,
    )
}

/// DuckDB's warm p50 per question, in ms, over exactly the snapshot's live files.
fn duckdb_times(
    files: &[String],
    questions: &[Question],
) -> Option<std::collections::HashMap<String, f64>> {
    let files: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix("file://").unwrap_or(f).to_string())
        .collect();
    let list = serde_json::to_string(&files).unwrap();
    let cases: Vec<(String, String)> = questions
        .iter()
        .map(|q| (q.name.clone(), q.sql.clone()))
        .collect();
    let cases = serde_json::to_string(&cases).unwrap();
    let script = format!(
        "import duckdb, time, json, statistics\n\
         con = duckdb.connect()\n\
         con.execute('SET enable_progress_bar = false')\n\
         files = json.loads({list:?})\n\
         con.execute('CREATE VIEW events AS SELECT * FROM read_parquet(' + repr(files) + ', hive_partitioning = true)')\n\
         out = {{}}\n\
         for name, sql in json.loads({cases:?}):\n\
         \x20   times = []\n\
         \x20   for run in range({runs}):\n\
         \x20       t = time.perf_counter()\n\
         \x20       for statement in sql.split('; '):\n\
         \x20           con.execute(statement).fetchall()\n\
         \x20       if run > 0: times.append((time.perf_counter() - t) * 1000)\n\
         \x20   out[name] = statistics.median(times)\n\
         print(json.dumps(out))\n",
        runs = PEER_RUNS + 1,
    );
    let printed = peers::python(&script)?;
    serde_json::from_str(&printed)
        .inspect_err(|error| eprintln!("duckdb answered {printed:?}: {error}"))
        .ok()
}
