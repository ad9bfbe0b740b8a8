//! `IngestService.WriteEvents` and health through the real server and a real gRPC client.

use talkhouse_proto::v1::ingest_service_client::IngestServiceClient;
use talkhouse_proto::v1::{self, event::Kind};
use tonic::Code;
use tonic_types::StatusExt;

use super::support::*;

fn timestamp(rfc3339: &str) -> prost_types::Timestamp {
    let instant = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    }
}

fn proto_message(n: u32, sent_at: &str) -> v1::Event {
    v1::Event {
        kind: Some(Kind::Message(v1::Message {
            org_id: ORG.into(),
            env_id: ENV.into(),
            bot_id: BOT.into(),
            message_id: message_id(n),
            session_code: "s-1".into(),
            user_id: "user-1".into(),
            channel_uuid: CHANNEL.into(),
            sent_at: Some(timestamp(sent_at)),
            sender: v1::Sender::User as i32,
            content_type: v1::ContentType::Text as i32,
            text: "hello".into(),
            tags: vec!["sales".into()],
            ..Default::default()
        })),
    }
}

fn proto_conversation(session: &str) -> v1::Event {
    v1::Event {
        kind: Some(Kind::Conversation(v1::Conversation {
            org_id: ORG.into(),
            env_id: ENV.into(),
            bot_id: BOT.into(),
            session_code: session.into(),
            user_id: "user-1".into(),
            channel_uuid: CHANNEL.into(),
            started_at: Some(timestamp("2024-03-01T10:00:00Z")),
            updated_at: Some(timestamp("2024-03-01T10:00:00Z")),
            user_messages: Some(1),
            bot_messages: Some(0),
            ..Default::default()
        })),
    }
}

fn request(events: Vec<v1::Event>, key: &str) -> v1::WriteEventsRequest {
    v1::WriteEventsRequest {
        events,
        idempotency_key: key.into(),
    }
}

async fn stored_messages(data: &DataDir) -> usize {
    let engine = talkhouse_query::QueryEngine::new(data.table().await);
    let session = engine.session().await.unwrap();
    let batches = session
        .ctx
        .sql("SELECT * FROM messages")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test]
async fn batches_are_validated_stored_and_deduplicated() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut client = IngestServiceClient::new(server.channel().await);

    let answer = client
        .write_events(request(
            vec![
                proto_message(1, "2024-03-01T10:00:00Z"),
                proto_message(1, "2024-03-01T10:00:00Z"),
                proto_conversation("s-1"),
            ],
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.messages_written, 1);
    assert_eq!(answer.duplicate_messages, 1);
    assert_eq!(answer.conversations_written, 1);
    assert!(answer.table_version.is_some_and(|v| v >= 1));

    // A bad batch: every violation is named by its path, and nothing is stored.
    let mut bad_time = proto_message(2, "2024-03-01T10:00:00Z");
    let Some(Kind::Message(m)) = &mut bad_time.kind else {
        unreachable!()
    };
    m.sender = v1::Sender::Unspecified as i32;
    m.confidence = Some(-1.0);
    let status = client
        .write_events(request(
            vec![proto_message(3, "2024-03-01T10:00:00Z"), bad_time],
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations: Vec<String> = status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        violations,
        ["events[1].message.sender", "events[1].message.confidence"]
    );
    assert_eq!(stored_messages(&data).await, 1);

    let empty = client.write_events(request(vec![], "")).await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().contains("events"), "{}", empty.message());
    server.stop().await;
}

#[tokio::test]
async fn a_retried_key_is_stored_once_and_a_reused_key_is_already_exists() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut client = IngestServiceClient::new(server.channel().await);
    let batch = vec![
        proto_message(1, "2024-03-01T10:00:00Z"),
        proto_message(2, "2024-03-01T10:00:01Z"),
    ];

    let first = client
        .write_events(request(batch.clone(), "key-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.messages_written, first.replayed), (2, false));
    let retry = client
        .write_events(request(batch, "key-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((retry.messages_written, retry.replayed), (0, true));
    assert_eq!(retry.table_version, first.table_version);

    let status = client
        .write_events(request(
            vec![proto_message(3, "2024-03-01T10:00:00Z")],
            "key-1",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(stored_messages(&data).await, 2);

    let status = client
        .write_events(request(
            vec![proto_message(4, "2024-03-01T10:00:00Z")],
            &"k".repeat(201),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn health_reports_serving() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "talkhouse.v1.IngestService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.stop().await;
}
