//! A pinned snapshot pages through the same data while events arrive.

use talkhouse_proto::v1;
use tonic::Code;

use super::*;
use crate::support::{bot_ref, days};

#[tokio::test]
async fn a_snapshot_pages_through_the_same_data_while_events_arrive() {
    let data = with_fixture();
    let table = data.table().await;
    let server = RunningServer::start(table.clone()).await;
    let mut c = Clients::connect(&server).await;
    let request = |snapshot: Option<u64>| v1::SearchConversationsRequest {
        bot: bot_ref(ORG, ENV, BOT1),
        filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
        size: Some(1),
        snapshot,
        ..Default::default()
    };
    let first = c
        .conversations
        .search_conversations(request(None))
        .await
        .unwrap()
        .into_inner();
    let snapshot = first.provenance.unwrap().snapshot;
    assert_eq!(first.page.unwrap().total_elements, 2);

    let line = crate::support::jsonl(&[serde_json::json!({
        "kind": "conversation", "org_id": ORG, "env_id": ENV, "bot_id": BOT1,
        "session_code": "D", "user_id": "u1", "channel_uuid": A1,
        "started_at": "2024-03-12T10:00:00Z", "updated_at": "2024-03-12T10:00:00Z",
        "user_messages": 1, "bot_messages": 1
    })]);
    let events = talkhouse_core::ingest::parse_jsonl(&line, 1).unwrap();
    table.write(events, None).await.unwrap();

    let pinned = c
        .conversations
        .search_conversations(request(Some(snapshot)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pinned.page.unwrap().total_elements, 2);
    assert_eq!(sessions(&pinned.content), ["B"]);
    assert_eq!(pinned.provenance.unwrap().snapshot, snapshot);
    let latest = c
        .conversations
        .search_conversations(request(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(latest.page.unwrap().total_elements, 3);
    assert_eq!(sessions(&latest.content), ["D"]);
    assert!(latest.provenance.unwrap().snapshot > snapshot);

    // u1 is RETURNING on 03-12: their first conversation started on 03-09.
    let users = c
        .analytics
        .get_user_traffic(request_for(days("2024-03-12", "2024-03-12", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let breakdown: Vec<(&str, i64)> = users
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [("NEW", 0), ("RETURNING", 1)]);

    let status = c
        .conversations
        .search_conversations(request(Some(snapshot + 100)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    server.stop().await;
}

fn request_for(filter: v1::Filter) -> v1::AnalyticsRequest {
    request(filter)
}
