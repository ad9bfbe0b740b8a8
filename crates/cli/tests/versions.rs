//! Which version of a conversation wins (CONTRACT §2, §6 "Ingest").

use super::support::*;
use talkhouse_proto::v1;

#[tokio::test]
async fn the_latest_updated_at_wins_and_ties_go_to_the_later_write() {
    let data = DataDir::new();
    let mut moved = conversation("s-3", "2024-01-31T23:50:00Z", "2024-01-31T23:55:00Z", None);
    moved["user_messages"] = serde_json::json!(1);
    let first = data.file(
        "first.jsonl",
        &jsonl(&[
            conversation("s-1", "2024-02-01T10:00:00Z", "2024-02-01T10:00:00Z", None),
            conversation(
                "s-1",
                "2024-02-01T10:00:00Z",
                "2024-02-01T10:05:00Z",
                Some(3),
            ),
            // Equal updated_at within one batch: the later line wins.
            conversation(
                "s-2",
                "2024-02-01T11:00:00Z",
                "2024-02-01T11:30:00Z",
                Some(2),
            ),
            conversation(
                "s-2",
                "2024-02-01T11:00:00Z",
                "2024-02-01T11:30:00Z",
                Some(4),
            ),
            moved,
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&first));
    // A later batch: an older version of s-1 must not win; an equal one of s-2 must; s-3's start
    // moves into another month and the old month's version must disappear from `conversations`.
    let mut moved_again = conversation(
        "s-3",
        "2024-02-01T00:10:00Z",
        "2024-02-01T00:20:00Z",
        Some(5),
    );
    moved_again["user_messages"] = serde_json::json!(7);
    let second = data.file(
        "second.jsonl",
        &jsonl(&[
            conversation(
                "s-1",
                "2024-02-01T10:00:00Z",
                "2024-02-01T10:01:00Z",
                Some(1),
            ),
            conversation(
                "s-2",
                "2024-02-01T11:00:00Z",
                "2024-02-01T11:30:00Z",
                Some(5),
            ),
            moved_again,
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&second));

    let rows = sql_rows(
        &data,
        "SELECT session_code, satisfaction, CAST(started_at AS VARCHAR), user_messages \
         FROM conversations ORDER BY session_code",
    );
    assert_eq!(
        rows,
        [
            "s-1,3,2024-02-01T10:00:00Z,1",
            "s-2,5,2024-02-01T11:00:00Z,1",
            "s-3,5,2024-02-01T00:10:00Z,7",
        ]
    );
    assert_eq!(count(&data, "conversation_versions"), 8);

    // A transcript ranks the session's versions itself: it must pick the view's winner.
    let server = RunningServer::start(data.table().await).await;
    let mut clients = Clients::connect(&server).await;
    let mut records = Vec::new();
    for session in ["s-1", "s-2", "s-3"] {
        let transcript = clients
            .conversations
            .get_conversation(v1::GetConversationRequest {
                bot: bot_ref(ORG, ENV, BOT),
                session_code: session.into(),
                timezone: "UTC".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!transcript.derived, "{session}");
        let record = transcript.conversation.unwrap();
        records.push(format!(
            "{},{},{},{}",
            record.session_code,
            record.satisfaction.unwrap(),
            instant(&record.started_at).format("%Y-%m-%dT%H:%M:%SZ"),
            record.user_messages
        ));
    }
    assert_eq!(records, rows);
    server.stop().await;

    // Compaction rewrites both months in one commit but ranks each month's versions on its own:
    // the latest per session stays in each, s-3's January version beside its February one.
    run_ok(talkhouse(&data).args(["compact", "--min-files", "1"]));
    let compacted = sql_rows(
        &data,
        "SELECT session_code, satisfaction, CAST(started_at AS VARCHAR), user_messages \
         FROM conversations ORDER BY session_code",
    );
    assert_eq!(compacted, rows);
    assert_eq!(count(&data, "conversation_versions"), 4);
}
