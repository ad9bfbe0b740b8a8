//! A 1,000,000-message CSV report through the real server: rows per second from the request to
//! READY, and the server process's peak memory while it ran.
//!
//! Run: `cargo bench -p talkhouse-cli --bench reports` (release build). Stores exactly 1,000,000
//! messages of one bot (plus their conversation versions), starts the server in this process,
//! requests a messages report of all of them (NEWEST_FIRST, `max_sample` 1,000,000) and polls it.
//! As a peer, DuckDB (installed from PyPI by this benchmark) writes the same rows in the same
//! order to CSV from the same Parquet files, in the same run. Not a test: nothing is asserted.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::report::ReportRules;
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, ServerConfig};
use talkhouse_storage::{DataLocation, EventTable};

mod peers;
mod process;
mod server;

use process::{memory_mib, reset_peak_memory};

const MESSAGES: usize = 1_000_000;

/// The events of one bot, cut after exactly [`MESSAGES`] messages.
fn events() -> (Vec<Event>, Generator) {
    let generator = Generator::new(GenerateConfig {
        seed: 3,
        bots: 1,
        days: 120,
        until: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        conversations_per_day: 2_000,
    });
    let mut events = Vec::new();
    let mut messages = 0;
    'days: for day in generator.events() {
        for event in day {
            if matches!(event, Event::Message(_)) {
                if messages == MESSAGES {
                    break 'days;
                }
                messages += 1;
            }
            events.push(event);
        }
    }
    assert_eq!(messages, MESSAGES, "the generator made too few messages");
    (events, generator)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let work = tempfile::tempdir().expect("a temporary folder");
    let data = work.path().join("data");
    let location = DataLocation::local(&data).unwrap();
    let table = Arc::new(EventTable::open(&location).await.unwrap());
    let (events, generator) = events();
    let stored = events.len();
    table.write(events, None).await.unwrap();
    let bot = &generator.bots()[0].tenant;
    println!("stored {MESSAGES} messages ({stored} events) of one bot");

    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    config.services.reports.default = ReportRules {
        max_sample: MESSAGES as u64,
        ..ReportRules::default()
    };
    let server = server::start(&config, table).await;
    let channel = server.channel.clone();
    let mut messages = v1::message_service_client::MessageServiceClient::new(channel.clone());
    let mut reports = v1::report_service_client::ReportServiceClient::new(channel);
    let bot_ref = Some(v1::BotRef {
        org_id: bot.org_id.to_string(),
        env_id: bot.env_id.to_string(),
        bot_id: bot.bot_id.to_string(),
    });
    let request = v1::MessagesReportRequest {
        bot: bot_ref.clone(),
        filter: Some(v1::Filter {
            start_date: "2026-06-01".into(),
            end_date: "2026-11-30".into(),
            timezone: "America/Sao_Paulo".into(),
            ..Default::default()
        }),
        export_type: v1::ExportType::Csv as i32,
        ..Default::default()
    };
    let estimate = messages
        .preview_messages_report(request.clone())
        .await
        .unwrap()
        .into_inner()
        .estimate;
    println!("preview: {estimate} messages");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = memory_mib();
    reset_peak_memory();
    let started = Instant::now();
    let id = messages
        .request_messages_report(request)
        .await
        .unwrap()
        .into_inner()
        .report_id;
    let report = loop {
        let report = reports
            .get_report(v1::GetReportRequest {
                bot: bot_ref.clone(),
                report_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        match v1::ReportStatus::try_from(report.status).unwrap() {
            v1::ReportStatus::Ready => break report,
            v1::ReportStatus::Failed => panic!("the report failed: {}", report.error),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let (_, peak) = memory_mib();
    let rate = report.row_count as f64 / seconds;
    println!(
        "talkhouse CSV report: {} rows, {:.0} MiB, {seconds:.2} s, {rate:.0} rows/s",
        report.row_count,
        report.byte_size as f64 / 1048576.0
    );
    println!(
        "talkhouse process memory: {before:.0} MiB before the report, peak {peak:.0} MiB while it ran \
         (+{:.0} MiB)",
        peak - before
    );
    server.stop().await;

    let bot_id = bot.bot_id.to_string();
    match duckdb(work.path(), &data, &bot_id) {
        Some((peer_seconds, peer_rows, peer_peak)) => {
            println!(
                "duckdb COPY … ORDER BY … TO csv: {peer_rows} rows, {peer_seconds:.2} s, {:.0} \
                 rows/s, peak {peer_peak:.0} MiB",
                peer_rows as f64 / peer_seconds
            );
            println!(
                "ratio talkhouse/duckdb (rows/s): {:.2}x",
                peer_seconds / seconds
            );
        }
        None => println!("duckdb: not available; no ratio"),
    }
}

/// DuckDB writing the bot's messages, newest first, to CSV from the table's Parquet files.
/// Returns seconds, rows and its process's peak memory in MiB (VmHWM: `ru_maxrss` would carry
/// over this process's size through the fork).
fn duckdb(work: &Path, data: &Path, bot_id: &str) -> Option<(f64, u64, f64)> {
    let script = format!(
        "import duckdb, time\n\
         con = duckdb.connect()\n\
         con.execute('SET enable_progress_bar = false')\n\
         con.execute(\"SET TimeZone = 'America/Sao_Paulo'\")\n\
         t = time.perf_counter()\n\
         con.execute(\"\"\"COPY (SELECT message_id, session_code, user_id, business_key, channel_uuid,\n\
             channel_name, sent_at, sender, content_type, text, nlp_response, nlp_response_type,\n\
             nlp_response_name, confidence, answer_name, answer_text, flow, tags\n\
           FROM read_parquet('{data}/events/**/*.parquet', hive_partitioning = true)\n\
           WHERE kind = 'message' AND bot_id = '{bot_id}'\n\
           ORDER BY sent_at DESC, message_id DESC) TO '{out}' (HEADER, DELIMITER ',')\"\"\")\n\
         seconds = time.perf_counter() - t\n\
         rows = sum(1 for _ in open('{out}')) - 1\n\
         peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) / 1024\n\
         print(seconds, rows, peak)\n",
        data = data.display(),
        out = work.join("duckdb.csv").display(),
    );
    let printed = peers::python(&script)?;
    let fields: Vec<&str> = printed.split_whitespace().collect();
    match fields.as_slice() {
        [seconds, rows, peak] => Some((
            seconds.parse().ok()?,
            rows.parse().ok()?,
            peak.parse().ok()?,
        )),
        _ => {
            eprintln!("duckdb printed {printed:?}");
            None
        }
    }
}
