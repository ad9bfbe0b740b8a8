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

/// A transcript is read from the files without the views (decision 25): its record and messages
/// are those the views give, for sessions spread over many ingest files and after compaction.
#[tokio::test]
async fn transcripts_read_from_the_files_equal_the_views() {
    use chrono::NaiveDate;
    use talkhouse_core::generate::{GenerateConfig, Generator};

    let data = DataDir::new();
    let generator = Generator::new(GenerateConfig {
        seed: 19,
        bots: 2,
        days: 6,
        until: NaiveDate::from_ymd_opt(2024, 3, 2).unwrap(),
        conversations_per_day: 40,
    });
    let table = data.table().await;
    for day in generator.events() {
        table.write(day, None).await.unwrap();
    }
    let tenant = generator.bots()[1].tenant;
    let bot = bot_ref(
        &tenant.org_id.to_string(),
        &tenant.env_id.to_string(),
        &tenant.bot_id.to_string(),
    );
    let of_bot = format!("bot_id = '{}'", tenant.bot_id);
    // Every 5th session of the bot, over six days and two months.
    let sessions: Vec<String> = sql_rows(
        &data,
        &format!("SELECT session_code FROM conversations WHERE {of_bot} ORDER BY session_code"),
    )
    .into_iter()
    .step_by(5)
    .collect();
    assert!(sessions.len() >= 25, "{} sessions", sessions.len());
    let listed = sessions
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let views = |data: &DataDir| {
        let records = sql_rows(
            data,
            &format!(
                "SELECT session_code, user_id, channel_uuid, CAST(started_at AS BIGINT), \
                 CAST(updated_at AS BIGINT), satisfaction, user_messages, bot_messages, \
                 CAST(duration_seconds * 1000000.0 AS BIGINT), array_to_string(flows, '|') \
                 FROM conversations \
                 WHERE {of_bot} AND session_code IN ({listed}) ORDER BY session_code"
            ),
        );
        let messages = sql_rows(
            data,
            &format!(
                "SELECT session_code, message_id FROM messages \
                 WHERE {of_bot} AND session_code IN ({listed}) \
                 ORDER BY session_code, sent_at, message_id"
            ),
        );
        (records, messages)
    };
    for compacted in [false, true] {
        if compacted {
            table.compact(2, |_| {}).await.unwrap();
        }
        let (records, messages) = views(&data);
        assert_eq!(records.len(), sessions.len());
        let server = RunningServer::start(data.table().await).await;
        let mut clients = Clients::connect(&server).await;
        let (mut got_records, mut got_messages) = (Vec::new(), Vec::new());
        for session in &sessions {
            let transcript = clients
                .conversations
                .get_conversation(v1::GetConversationRequest {
                    bot: bot.clone(),
                    session_code: session.clone(),
                    timezone: "UTC".into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(!transcript.derived, "{session}");
            let r = transcript.conversation.unwrap();
            let at = |t: &Option<prost_types::Timestamp>| instant(t).timestamp_micros();
            got_records.push(format!(
                "{},{},{},{},{},{},{},{},{},{}",
                r.session_code,
                r.user_id,
                r.channel_uuid,
                at(&r.started_at),
                at(&r.updated_at),
                r.satisfaction.map_or(String::new(), |s| s.to_string()),
                r.user_messages,
                r.bot_messages,
                (r.duration_seconds * 1_000_000.0) as i64,
                r.flows.join("|"),
            ));
            got_messages.extend(
                transcript
                    .messages
                    .iter()
                    .map(|m| format!("{session},{}", m.message_id)),
            );
        }
        assert_eq!(got_records, records, "compacted: {compacted}");
        assert_eq!(got_messages, messages, "compacted: {compacted}");
        server.stop().await;
    }
}
