//! Writers racing over one prefix: two tables, and two servers with an ingest process.

use talkhouse_proto::v1;

use super::objects;
use crate::support::s3::S3Server;
use crate::support::*;

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
            serve_on_any_port(&data)
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
