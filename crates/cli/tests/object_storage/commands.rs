//! Every command on a bucket answers as on a folder; a report made on a bucket is read by another
//! server and by the command line.

use talkhouse_proto::v1;

use super::objects;
use crate::reports::client::{download, ready, request_conversations};
use crate::reports::fixtures::{filter, small_set, spawn_server};
use crate::support::s3::S3Server;
use crate::support::*;

const COUNTS: &str = "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind";
const VIEWS: &str = "SELECT (SELECT count(*) FROM messages) AS messages, \
                     (SELECT count(*) FROM conversations) AS conversations, \
                     (SELECT sum(user_messages) FROM conversations) AS user_messages";

#[tokio::test(flavor = "multi_thread")]
async fn every_command_works_on_a_bucket_as_on_a_folder() {
    let s3 = S3Server::start();
    let bucket = DataDir::in_bucket(&s3);
    let folder = DataDir::new();
    let fixture = repository().join("tests/fixtures/small.jsonl");

    // ingest and sql
    for data in [&bucket, &folder] {
        run_ok(talkhouse(data).arg("ingest").arg(&fixture));
    }
    let counts = sql_rows(&folder, COUNTS);
    assert!(counts.len() >= 3, "{counts:?}");
    assert_eq!(sql_rows(&bucket, COUNTS), counts);
    let log = objects(&bucket, "events/_delta_log").await;
    assert!(
        log.contains("events/_delta_log/00000000000000000001.json"),
        "{log:?}"
    );
    assert!(
        !bucket.path().join("data").exists(),
        "nothing is written to the local disk"
    );

    // The same file again: its messages are duplicates, its conversation versions newer ones.
    for data in [&bucket, &folder] {
        run_ok(talkhouse(data).arg("ingest").arg(&fixture));
    }
    let again = sql_rows(&folder, COUNTS);
    assert_ne!(again, counts);
    assert_eq!(sql_rows(&bucket, COUNTS), again);
    let messages = "SELECT count(*) FROM messages";
    assert_eq!(sql_rows(&bucket, messages), sql_rows(&folder, messages));
    let counts = again;

    // compact: the same answers, from files written to the bucket beside the old ones.
    let before = objects(&bucket, "events").await.len();
    let views = sql_rows(&bucket, VIEWS);
    for data in [&bucket, &folder] {
        let compacted = run_ok(talkhouse(data).args(["compact", "--min-files", "1"]));
        assert!(compacted.contains("compacted"), "{compacted}");
    }
    assert_eq!(sql_rows(&bucket, COUNTS), sql_rows(&folder, COUNTS));
    assert_ne!(
        sql_rows(&bucket, COUNTS),
        counts,
        "superseded versions are dropped"
    );
    assert_eq!(sql_rows(&bucket, VIEWS), views);
    assert!(objects(&bucket, "events").await.len() > before);

    // generate
    let generated = DataDir::in_bucket(&s3);
    run_ok(talkhouse(&generated).args(["generate", "--bots", "2", "--days", "3"]));
    let messages: u64 = sql_rows(&generated, "SELECT count(*) FROM messages")[0]
        .parse()
        .unwrap();
    assert!(messages > 0);

    // serve: the same answer from the bucket as from the folder.
    let bot = bot_ref(
        "0a000000-0000-4000-8000-000000000001",
        "0e000000-0000-4000-8000-000000000001",
        "0b000000-0000-4000-8000-000000000001",
    );
    let mut summaries = Vec::new();
    for data in [&bucket, &folder] {
        let (mut server, address) = spawn_server(data);
        let mut clients = Clients::connect_to(&address).await;
        let mut summary = clients.summary(bot.clone()).await;
        summary.provenance = None;
        summaries.push(summary);
        server.kill().unwrap();
        server.wait().unwrap();
    }
    assert!(summaries[0].has_data);
    assert_eq!(summaries[0], summaries[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_made_on_a_bucket_is_read_by_another_server_and_the_command_line() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    small_set(&data);
    let bot = bot_ref(ORG, ENV, BOT);
    let (mut server, address) = spawn_server(&data);
    let mut clients = Clients::connect_to(&address).await;
    let id = request_conversations(
        &mut clients,
        v1::ConversationsReportRequest {
            bot: bot.clone(),
            filter: filter("2024-03-09", "2024-03-11"),
            export_type: v1::ExportType::Csv as i32,
            ..Default::default()
        },
    )
    .await;
    ready(&mut clients, &bot, &id).await;
    let downloaded = download(&mut clients, &bot, &id).await;
    assert!(String::from_utf8_lossy(&downloaded).contains("S-1"));

    // Another server on the bucket lists, fetches and downloads it.
    let (mut other, other_address) = spawn_server(&data);
    let mut other_clients = Clients::connect_to(&other_address).await;
    let listed = other_clients
        .reports
        .list_reports(v1::ListReportsRequest {
            bot: bot.clone(),
            page: None,
            size: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.content.iter().any(|report| report.report_id == id));
    assert_eq!(ready(&mut other_clients, &bot, &id).await.report_id, id);
    assert_eq!(download(&mut other_clients, &bot, &id).await, downloaded);
    for server in [&mut server, &mut other] {
        server.kill().unwrap();
        server.wait().unwrap();
    }

    let stored = objects(&data, "").await;
    assert!(
        stored
            .iter()
            .any(|name| name.contains(&id) && !name.ends_with(".json")),
        "{stored:?}"
    );
    let listed = run_ok(talkhouse(&data).args(["reports", "list", "--bot", BOT]));
    assert!(listed.contains(&id) && listed.contains("READY"), "{listed}");
    let out = data.path().join("report.csv");
    run_ok(
        talkhouse(&data)
            .args(["reports", "download", &id, "--output"])
            .arg(&out),
    );
    assert_eq!(std::fs::read(&out).unwrap(), downloaded);
}

/// A server on a bucket reads its data files through local copies: the same answers as one
/// reading the bucket every time, and the copies are in the cache folder.
#[tokio::test(flavor = "multi_thread")]
async fn data_files_read_from_a_bucket_are_copied_to_the_file_cache() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    small_set(&data);
    let cache = tempfile::tempdir().unwrap();
    let serve = |cache: &[&str]| {
        spawn_serve(
            serve_on_any_port(&data)
                .args(cache)
                .stderr(std::process::Stdio::null()),
        )
    };
    let cache_dir = cache.path().to_str().unwrap();
    let (mut cached, cached_address) = serve(&["--file-cache-dir", cache_dir]);
    let (mut uncached, uncached_address) = serve(&["--file-cache-mib", "0"]);
    let search = || v1::SearchMessagesRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-03-09", "2024-03-11", "UTC")),
        ..Default::default()
    };
    // The data files each answer reads from the bucket.
    let mut answers = Vec::new();
    let mut data_files_read = Vec::new();
    for address in [&cached_address, &cached_address, &uncached_address] {
        let mut clients = Clients::connect_to(address).await;
        s3.record_requests();
        let answer = clients
            .messages
            .search_messages(search())
            .await
            .unwrap()
            .into_inner();
        answers.push(answer.content);
        let read = s3
            .recorded_requests()
            .into_iter()
            .filter(|(method, url)| {
                method == "GET" && url.contains(".parquet") && !url.contains("_delta_log")
            })
            .count();
        data_files_read.push(read);
    }
    assert!(!answers[0].is_empty());
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    assert!(data_files_read[0] > 0, "{data_files_read:?}");
    assert_eq!(data_files_read[1], 0, "the second answer reads copies");
    assert!(data_files_read[2] > 0, "{data_files_read:?}");
    let copies: Vec<_> = walk(cache.path())
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(!copies.is_empty(), "no copy in {}", cache.path().display());
    assert!(
        copies
            .iter()
            .all(|p| !p.to_string_lossy().contains("_delta_log")),
        "{copies:?}"
    );
    for server in [&mut cached, &mut uncached] {
        server.kill().unwrap();
        server.wait().unwrap();
    }
}

/// Every file under `folder`, at any depth.
fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
