//! Tables in an S3-compatible bucket (moto's server, over real HTTP): every command on an
//! `s3://` location answers as it does on a folder, and writers racing for one log version never
//! both win.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use talkhouse_proto::v1;

use crate::reports::client::{download, ready, request_conversations};
use crate::reports::fixtures::{filter, small_set, spawn_server};
use crate::support::s3::S3Server;
use crate::support::{
    BOT, Clients, DataDir, ENV, ORG, bot_ref, repository, run_ok, spawn_serve, sql_rows, talkhouse,
};

const COUNTS: &str = "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind";
const VIEWS: &str = "SELECT (SELECT count(*) FROM messages) AS messages, \
                     (SELECT count(*) FROM conversations) AS conversations, \
                     (SELECT sum(user_messages) FROM conversations) AS user_messages";

/// Every object under `prefix` of the data location.
async fn objects(data: &DataDir, prefix: &str) -> BTreeSet<String> {
    let store = data.location().object_store().unwrap();
    store
        .list(Some(&prefix.into()))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

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

/// Two processes' tables on one prefix write at once, each retrying what another won: every
/// batch is stored exactly once and the log has no gap.
#[tokio::test(flavor = "multi_thread")]
async fn writers_racing_for_one_log_version_never_both_win() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let first = data.table().await;
    let second = data.table().await;
    const BATCHES: u32 = 6;
    let batch = |writer: u32, n: u32| {
        let id = writer * 1000 + n;
        let line = crate::support::message(id, &format!("S-{id}"), "2024-03-10T10:00:00Z");
        talkhouse_core::ingest::parse_jsonl(&crate::support::jsonl(&[line]), 1).unwrap()
    };
    let write_all = |table: std::sync::Arc<talkhouse_storage::EventTable>, writer: u32| async move {
        for n in 0..BATCHES {
            table.write(batch(writer, n), None).await.unwrap();
        }
    };
    tokio::join!(write_all(first.clone(), 1), write_all(second.clone(), 2));

    let rows = sql_rows(
        &data,
        "SELECT count(*), count(DISTINCT message_id) FROM messages",
    );
    assert_eq!(rows, vec![format!("{0},{0}", 2 * BATCHES)]);
    let log: Vec<String> = objects(&data, "events/_delta_log")
        .await
        .into_iter()
        .filter(|name| name.ends_with(".json"))
        .collect();
    let expected: Vec<String> = (0..=u64::from(2 * BATCHES))
        .map(|version| format!("events/_delta_log/{version:020}.json"))
        .collect();
    assert_eq!(log, expected);
}

/// The rows of the table as of `version`, or why they cannot be read.
async fn rows_at(table: &talkhouse_storage::EventTable, version: u64) -> Result<usize, String> {
    let snapshot = table
        .snapshot_at(version)
        .await
        .map_err(|e| e.to_string())?;
    let ctx = datafusion::prelude::SessionContext::new();
    snapshot.prepare_session(&ctx).map_err(|e| e.to_string())?;
    let frame = ctx
        .read_table(snapshot.provider.clone())
        .map_err(|e| e.to_string())?;
    frame.count().await.map_err(|e| e.to_string())
}

/// Vacuum deletes the files compaction replaced, except those of a version kept (a report still
/// to be made): that version stays readable, the others' files are gone from the bucket.
#[tokio::test(flavor = "multi_thread")]
async fn vacuum_deletes_what_no_kept_version_reads() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let table = data.table().await;
    let mut versions = Vec::new();
    for n in 0..3u32 {
        let lines: Vec<_> = (0..4)
            .map(|i| crate::support::message(n * 10 + i, "S-1", "2024-03-10T10:00:00Z"))
            .collect();
        let events =
            talkhouse_core::ingest::parse_jsonl(&crate::support::jsonl(&lines), 1).unwrap();
        table.write(events, None).await.unwrap();
        versions.push(table.latest_version().await.unwrap());
    }
    let (kept, dropped) = (versions[1], versions[2]);
    let rows_kept = rows_at(&table, kept).await.unwrap();
    let rows_dropped = rows_at(&table, dropped).await.unwrap();
    table.compact(1, |_| {}).await.unwrap();
    let latest = table.latest_version().await.unwrap();
    let rows_latest = rows_at(&table, latest).await.unwrap();
    let files_before = objects(&data, "events").await;

    let planned = table
        .vacuum(std::time::Duration::ZERO, &[kept], true)
        .await
        .unwrap();
    assert!(!planned.files.is_empty());
    assert_eq!(
        objects(&data, "events").await,
        files_before,
        "a dry run deletes nothing"
    );
    let done = table
        .vacuum(std::time::Duration::ZERO, &[kept], false)
        .await
        .unwrap();
    let mut deleted = done.files.clone();
    deleted.sort();
    let mut listed = planned.files.clone();
    listed.sort();
    assert_eq!(deleted, listed);

    let files_after = objects(&data, "events").await;
    for file in &deleted {
        assert!(
            !files_after.contains(&format!("events/{file}")),
            "{file} is still there"
        );
    }
    assert_eq!(rows_at(&table, kept).await.unwrap(), rows_kept);
    assert_eq!(rows_at(&table, latest).await.unwrap(), rows_latest);
    assert!(rows_dropped > rows_kept);
    let error = rows_at(&table, dropped)
        .await
        .expect_err("the version no one kept lost its files");
    assert!(!error.is_empty());

    // The command line, with no report still to be made, deletes the kept version's files too.
    let out = run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0", "--dry-run"]));
    assert!(
        out.contains("would delete") && !out.contains("would delete 0 files"),
        "{out}"
    );
    assert_eq!(rows_at(&table, kept).await.unwrap(), rows_kept);
    let out = run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0"]));
    assert!(out.contains("deleted"), "{out}");
    assert!(rows_at(&table, kept).await.is_err());
    assert_eq!(rows_at(&table, latest).await.unwrap(), rows_latest);
    let out = run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0", "--dry-run"]));
    assert!(out.contains("would delete 0 files"), "{out}");
}

/// The holder named by each term of the lease `name`, oldest first.
async fn lease_holders(data: &DataDir, name: &str) -> Vec<String> {
    use object_store::ObjectStoreExt;
    let store = data.location().object_store().unwrap();
    let mut holders = Vec::new();
    for path in objects(data, &format!("_leases/{name}")).await {
        let Ok(found) = store.get(&path.as_str().into()).await else {
            continue; // deleted as an old term since the listing
        };
        let term: serde_json::Value =
            serde_json::from_slice(&found.bytes().await.unwrap()).unwrap();
        holders.push(term["holder"].as_str().unwrap().to_string());
    }
    holders
}

/// The process id in a holder's name (`host:pid:random`).
fn holder_pid(holder: &str) -> u32 {
    holder.split(':').nth(1).unwrap().parse().unwrap()
}

/// Two servers compact one bucket's table every second: one of them holds the lease and does it;
/// when that one is killed, the other takes the lease over.
#[tokio::test(flavor = "multi_thread")]
async fn the_compaction_lease_passes_to_another_server_when_its_holder_dies() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    run_ok(
        talkhouse(&data)
            .arg("ingest")
            .arg(repository().join("tests/fixtures/small.jsonl")),
    );
    let serve = || {
        spawn_serve(
            talkhouse(&data)
                .args([
                    "serve",
                    "--dev-no-auth",
                    "--no-demo",
                    "--listen",
                    "127.0.0.1:0",
                ])
                .args(["--compact-interval-seconds", "1"])
                .args(["--vacuum-interval-seconds", "0"])
                .stderr(std::process::Stdio::null()),
        )
        .0
    };
    let mut servers = [serve(), serve()];
    let pids: Vec<u32> = servers.iter().map(std::process::Child::id).collect();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let wait_for = async |wanted: &dyn Fn(&[String]) -> bool| loop {
        let holders = lease_holders(&data, "compaction").await;
        if wanted(&holders) {
            return holders;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lease terms: {holders:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // A few renewals later, every term still names the same server.
    let holders = wait_for(&|holders| holders.len() >= 3).await;
    let holder = holders[0].clone();
    assert!(holders.iter().all(|h| *h == holder), "{holders:?}");
    let index = pids
        .iter()
        .position(|pid| *pid == holder_pid(&holder))
        .expect("a server of this test holds the lease");

    servers[index].kill().unwrap();
    servers[index].wait().unwrap();
    let other = pids[1 - index];
    let holders =
        wait_for(&|holders| holders.last().is_some_and(|last| holder_pid(last) == other)).await;
    assert_eq!(holder_pid(holders.last().unwrap()), other);
    let survivor = &mut servers[1 - index];
    survivor.kill().unwrap();
    survivor.wait().unwrap();
}

/// Put-if-absent on the bucket: of eight holders racing for a free lease, exactly one wins.
#[tokio::test(flavor = "multi_thread")]
async fn of_many_racing_for_a_lease_on_a_bucket_exactly_one_wins() {
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let racers: Vec<_> = (0..8)
        .map(|n| {
            talkhouse_storage::Lease::new(
                &data.location(),
                "race",
                &format!("racer-{n}"),
                std::time::Duration::from_secs(60),
            )
            .unwrap()
        })
        .collect();
    let won = futures::future::join_all(racers.iter().map(talkhouse_storage::Lease::hold)).await;
    let winners = won
        .into_iter()
        .filter(|held| *held.as_ref().unwrap())
        .count();
    assert_eq!(winners, 1);
    assert_eq!(lease_holders(&data, "race").await.len(), 1);
}

/// Two servers and a `talkhouse ingest` process write the same messages to one bucket at once,
/// round after round: every message is stored once, and both servers then answer alike.
#[tokio::test(flavor = "multi_thread")]
async fn two_servers_and_an_ingest_process_store_overlapping_batches_once() {
    const ROUNDS: u32 = 3;
    const MESSAGES: u32 = 300;
    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let serve = || {
        spawn_serve(
            talkhouse(&data)
                .args([
                    "serve",
                    "--dev-no-auth",
                    "--no-demo",
                    "--listen",
                    "127.0.0.1:0",
                ])
                .args([
                    "--compact-interval-seconds",
                    "0",
                    "--vacuum-interval-seconds",
                    "0",
                ])
                .stderr(std::process::Stdio::null()),
        )
    };
    let (mut first, first_address) = serve();
    let (mut second, second_address) = serve();
    let mut clients = [
        Clients::connect_to(&first_address).await,
        Clients::connect_to(&second_address).await,
    ];
    for round in 0..ROUNDS {
        let lines: Vec<serde_json::Value> = (round * MESSAGES + 1..=(round + 1) * MESSAGES)
            .map(|n| crate::support::message(n, &format!("s-{round}"), "2024-03-10T10:00:00Z"))
            .collect();
        let file = data.file(
            &format!("round-{round}.jsonl"),
            &crate::support::jsonl(&lines),
        );
        let events: Vec<v1::Event> = lines
            .iter()
            .map(crate::exactly_once::proto_message)
            .collect();
        let mut cli = talkhouse(&data);
        cli.arg("ingest").arg(&file);
        let cli = tokio::task::spawn_blocking(move || run_ok(&mut cli));
        let [a, b] = &mut clients;
        let request = || v1::WriteEventsRequest {
            events: events.clone(),
            idempotency_key: String::new(),
        };
        let (from_first, from_second) = tokio::join!(
            a.ingest.write_events(request()),
            b.ingest.write_events(request())
        );
        let (from_first, from_second) = (
            from_first.unwrap().into_inner(),
            from_second.unwrap().into_inner(),
        );
        let out = cli.await.unwrap();
        let stored: u64 = sql_rows(&data, "SELECT count(*) FROM messages")[0]
            .parse()
            .unwrap();
        assert_eq!(
            stored,
            u64::from((round + 1) * MESSAGES),
            "round {round}: {from_first:?} {from_second:?} {out}"
        );
    }

    // Past the log check interval, both servers answer from the same data.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let request = v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(crate::support::days("2024-03-01", "2024-03-31", "UTC")),
    };
    let mut answers = Vec::new();
    for client in &mut clients {
        let mut answer = client
            .analytics
            .get_message_traffic(request.clone())
            .await
            .unwrap()
            .into_inner();
        answer.provenance = None;
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0].overview.as_ref().map(|o| o.total),
        Some(i64::from(ROUNDS * MESSAGES)),
        "{:?}",
        answers[0]
    );
    for server in [&mut first, &mut second] {
        server.kill().unwrap();
        server.wait().unwrap();
    }
}
