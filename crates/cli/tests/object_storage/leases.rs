//! Leases on a bucket: one holder of many racing, and a dead holder's work taken over.

use std::time::{Duration, Instant};

use talkhouse_proto::v1;

use super::objects;
use crate::reports::client::{download, get, ready, request_messages};
use crate::reports::fixtures::{filter, generated_in, spawn_server};
use crate::support::s3::S3Server;
use crate::support::*;

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
            serve_on_any_port(&data)
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

/// Waits until the newest term of the lease `name` names the process `pid`.
async fn wait_for_holder(data: &DataDir, name: &str, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holders = lease_holders(data, name).await;
        if holders.last().is_some_and(|last| holder_pid(last) == pid) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} lease terms: {holders:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two servers on a bucket: the holder of the reports lease makes the reports requested on
/// either; killed in the middle of one, it leaves it to the other, which takes the lease over and
/// finishes it.
#[tokio::test(flavor = "multi_thread")]
async fn reports_requested_on_any_server_are_made_by_the_lease_holder_and_taken_over_when_it_dies()
{
    let s3 = S3Server::start();
    let (data, table, bot, _) = generated_in(DataDir::in_bucket(&s3), 20, 30).await;
    drop(table);
    let (mut maker, maker_address) = spawn_server(&data);
    wait_for_holder(&data, "reports", maker.id()).await;
    let (mut other, other_address) = spawn_server(&data);
    let mut on_maker = Clients::connect_to(&maker_address).await;
    let mut on_other = Clients::connect_to(&other_address).await;

    // Requested on the server that does not make reports, made by the one that does.
    let small = v1::MessagesReportRequest {
        bot: bot.clone(),
        filter: filter("2024-03-19", "2024-03-20"),
        export_type: v1::ExportType::Csv as i32,
        ..Default::default()
    };
    let id = request_messages(&mut on_other, small).await;
    ready(&mut on_other, &bot, &id).await;
    let file = download(&mut on_other, &bot, &id).await;
    assert!(!file.is_empty());
    assert_eq!(download(&mut on_maker, &bot, &id).await, file);

    // A long one, requested on the other server, is RUNNING on the maker when the maker dies.
    let long = v1::MessagesReportRequest {
        bot: bot.clone(),
        filter: filter("2024-03-01", "2024-03-20"),
        export_type: v1::ExportType::Xlsx as i32,
        ..Default::default()
    };
    let preview = on_other
        .messages
        .preview_messages_report(long.clone())
        .await
        .unwrap()
        .into_inner()
        .estimate;
    let id = request_messages(&mut on_other, long).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&mut on_other, &bot, &id).await.status != v1::ReportStatus::Running as i32 {
        assert!(Instant::now() < deadline, "the report never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    maker.kill().unwrap();
    maker.wait().unwrap();

    wait_for_holder(&data, "reports", other.id()).await;
    let report = ready(&mut on_other, &bot, &id).await;
    assert_eq!(report.row_count as i64, preview);
    let store = talkhouse_reports::ReportStore::at(&data.location()).unwrap();
    let stored = store.all().await.unwrap();
    let record = stored.iter().find(|r| r.id.to_string() == id).unwrap();
    assert_eq!(
        record.attempts, 2,
        "started on the maker, finished on the other"
    );
    assert!(
        store.queued().await.unwrap().is_empty(),
        "nothing is left to make"
    );
    other.kill().unwrap();
    other.wait().unwrap();
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
