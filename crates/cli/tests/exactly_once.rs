//! Exactly-once per tenant, whatever the month or the writer: a message id is a duplicate only
//! within its tenant (org, env, bot), over the tenant's whole history, and two writers storing
//! the same messages at once store them once.

use serde_json::Value;
use talkhouse_proto::v1;

use super::support::*;

const OTHER_ORG: &str = "00000000-0000-4000-8000-0000000000a1";
const OTHER_ENV: &str = "00000000-0000-4000-8000-0000000000a2";

async fn message_total(clients: &mut Clients, org: &str, env: &str, day: &str) -> i64 {
    clients
        .analytics
        .get_message_traffic(v1::AnalyticsRequest {
            bot: bot_ref(org, env, BOT),
            filter: Some(days(day, day, "UTC")),
        })
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap()
        .total
}

#[tokio::test]
async fn two_tenants_sharing_a_bot_uuid_each_keep_their_message() {
    let data = DataDir::new();
    let first = message(1, "s-1", "2024-03-10T10:00:00Z");
    let file = data.file(
        "two-tenants.jsonl",
        &jsonl(&[
            first.clone(),
            in_tenant(first.clone(), OTHER_ORG, OTHER_ENV, BOT),
        ]),
    );
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert!(out.contains("0 duplicate messages skipped"), "{out}");
    // Sent again, both are duplicates of their own tenant's copy.
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&file));
    assert!(out.contains("2 duplicate messages skipped"), "{out}");
    assert_eq!(count(&data, "messages"), 2);

    let server = RunningServer::start(data.table().await).await;
    let mut clients = Clients::connect(&server).await;
    for (org, env) in [(ORG, ENV), (OTHER_ORG, OTHER_ENV)] {
        assert_eq!(message_total(&mut clients, org, env, "2024-03-10").await, 1);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_message_sent_again_in_another_month_is_a_duplicate() {
    let data = DataDir::new();
    let january = data.file(
        "january.jsonl",
        &jsonl(&[message(1, "s-1", "2024-01-31T23:30:00Z")]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&january));
    // The same id with a corrected clock, in February, beside a new message.
    let february = data.file(
        "february.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-02-01T00:30:00Z"),
            message(2, "s-1", "2024-02-01T00:31:00Z"),
        ]),
    );
    let out = run_ok(talkhouse(&data).arg("ingest").arg(&february));
    assert!(out.contains("1 duplicate messages skipped"), "{out}");
    assert_eq!(count(&data, "messages"), 2);

    // One long-lived writer: the ids it has seen, then files it has not read, then compaction.
    let writer = data.table().await;
    let write = |lines: Vec<Value>| {
        let writer = writer.clone();
        async move {
            let events = talkhouse_core::ingest::parse_jsonl(&jsonl(&lines), 1).unwrap();
            let outcome = writer.write(events, None).await.unwrap();
            (outcome.messages_written, outcome.duplicate_messages)
        }
    };
    assert_eq!(
        write(vec![
            message(2, "s-1", "2023-12-01T00:00:00Z"),
            message(3, "s-1", "2024-03-01T00:00:00Z"),
        ])
        .await,
        (1, 1)
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&january));
    run_ok(talkhouse(&data).args(["compact"]));
    assert_eq!(
        write(vec![
            message(3, "s-1", "2025-06-01T00:00:00Z"),
            message(1, "s-1", "2025-06-01T00:00:00Z"),
            message(4, "s-1", "2025-06-01T00:00:00Z"),
        ])
        .await,
        (1, 2)
    );
    assert_eq!(count(&data, "messages"), 4);
    let server = RunningServer::start(data.table().await).await;
    let mut clients = Clients::connect(&server).await;
    assert_eq!(message_total(&mut clients, ORG, ENV, "2024-02-01").await, 1);
    assert_eq!(message_total(&mut clients, ORG, ENV, "2024-01-31").await, 1);
    server.stop().await;
}

/// The server's `WriteEvents` and a `talkhouse ingest` process write the same messages at once.
#[tokio::test]
async fn two_writers_storing_the_same_messages_at_once_store_them_once() {
    const ROUNDS: u32 = 3;
    const MESSAGES: u32 = 5_000;
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut clients = Clients::connect(&server).await;
    for round in 0..ROUNDS {
        let ids = round * MESSAGES + 1..=(round + 1) * MESSAGES;
        let lines: Vec<Value> = ids
            .map(|n| message(n, &format!("s-{round}"), "2024-03-10T10:00:00Z"))
            .collect();
        let file = data.file(&format!("round-{round}.jsonl"), &jsonl(&lines));
        let events: Vec<v1::Event> = lines.iter().map(proto_message).collect();
        let mut cli = talkhouse(&data);
        cli.arg("ingest").arg(&file);
        let cli = tokio::task::spawn_blocking(move || run_ok(&mut cli));
        let written = clients
            .ingest
            .write_events(v1::WriteEventsRequest {
                events,
                idempotency_key: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let out = cli.await.unwrap();
        let stored = count(&data, "messages");
        assert_eq!(
            stored,
            u64::from((round + 1) * MESSAGES),
            "round {round}: the server wrote {written:?}, the CLI said {out}"
        );
    }
    server.stop().await;
}

/// A message line of the ingest format as the gRPC message.
pub(crate) fn proto_message(line: &Value) -> v1::Event {
    let text = |key: &str| line[key].as_str().unwrap().to_string();
    let sent_at = chrono::DateTime::parse_from_rfc3339(&text("sent_at")).unwrap();
    v1::Event {
        kind: Some(v1::event::Kind::Message(v1::Message {
            org_id: text("org_id"),
            env_id: text("env_id"),
            bot_id: text("bot_id"),
            message_id: text("message_id"),
            session_code: text("session_code"),
            user_id: text("user_id"),
            channel_uuid: text("channel_uuid"),
            sent_at: Some(prost_types::Timestamp {
                seconds: sent_at.timestamp(),
                nanos: 0,
            }),
            sender: v1::Sender::User as i32,
            content_type: v1::ContentType::Text as i32,
            text: text("text"),
            ..Default::default()
        })),
    }
}

/// Two writers of one data folder (two processes, as far as the table can tell) commit the same
/// batch at once, five times over: each message is stored once, and one of them says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_of_one_table_store_a_batch_once() {
    let data = DataDir::new();
    let (first, second) = (data.table().await, data.table().await);
    for round in 0..5u32 {
        let lines: Vec<Value> = (round * 100 + 1..=(round + 1) * 100)
            .map(|n| message(n, "s-1", "2024-03-10T10:00:00Z"))
            .collect();
        let events = talkhouse_core::ingest::parse_jsonl(&jsonl(&lines), 1).unwrap();
        let (a, b) = tokio::join!(
            first.write(events.clone(), None),
            second.write(events, None)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.messages_written + b.messages_written, 100, "{a:?} {b:?}");
        assert_eq!(
            a.duplicate_messages + b.duplicate_messages,
            100,
            "{a:?} {b:?}"
        );
    }
    assert_eq!(count(&data, "messages"), 500);
}
