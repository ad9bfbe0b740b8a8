//! Vacuum on a bucket: what no kept version reads is deleted, the kept version stays readable.

use super::objects;
use crate::support::s3::S3Server;
use crate::support::*;

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

/// A page pinned to a version whose files vacuum deleted gets a clear refusal naming the version;
/// the latest answers on.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_a_vacuumed_version_is_told_the_version_is_gone() {
    use talkhouse_proto::v1;

    let s3 = S3Server::start();
    let data = DataDir::in_bucket(&s3);
    let batch = |first: u32| {
        let lines: Vec<_> = (first..first + 4)
            .map(|i| crate::support::message(i, "S-1", "2024-03-10T10:00:00Z"))
            .collect();
        let path = data.path().join(format!("batch-{first}.jsonl"));
        std::fs::write(&path, crate::support::jsonl(&lines)).unwrap();
        path
    };
    run_ok(talkhouse(&data).arg("ingest").arg(batch(0)));
    // Without copies of the files in a cache, and reading the log at every request.
    let (mut server, address) = spawn_serve(
        serve_on_any_port(&data)
            .args(["--file-cache-mib", "0", "--log-check-interval-ms", "0"])
            .stderr(std::process::Stdio::null()),
    );
    let mut c = Clients::connect_to(&address).await;
    let search = |snapshot: Option<u64>| v1::SearchMessagesRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-03-10", "2024-03-10", "UTC")),
        snapshot,
        ..Default::default()
    };
    let first = c
        .messages
        .search_messages(search(None))
        .await
        .unwrap()
        .into_inner();
    let pinned = first.provenance.unwrap().snapshot;
    assert_eq!(first.content.len(), 4);

    run_ok(talkhouse(&data).arg("ingest").arg(batch(10)));
    run_ok(talkhouse(&data).args(["compact", "--min-files", "1"]));
    run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0"]));

    let status = c
        .messages
        .search_messages(search(Some(pinned)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("table version {pinned} is not available")),
        "{}",
        status.message()
    );
    let latest = c
        .messages
        .search_messages(search(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(latest.content.len(), 8);
    server.kill().unwrap();
    server.wait().unwrap();
}
