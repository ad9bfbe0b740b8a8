//! Answers follow the commit log, not a clock: a batch another process commits is in the server's
//! very next answer, with the snapshot, `data_as_of` and the channel list it brings.

use talkhouse_proto::v1;
use talkhouse_server::{Authentication, ServerConfig};

use super::support::*;

const NEW_CHANNEL: &str = "00000000-0000-4000-8000-0000000000c2";

#[tokio::test]
async fn a_batch_committed_by_another_process_is_in_the_next_answer() {
    let data = DataDir::new();
    let first = data.file(
        "first.jsonl",
        &jsonl(&[
            conversation("s-1", "2024-02-01T10:00:00Z", "2024-02-01T10:05:00Z", None),
            message(1, "s-1", "2024-02-01T10:00:00Z"),
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&first));
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let request = v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-02-01", "2024-02-01", "UTC")),
    };
    let traffic = |response: v1::TrafficResponse| {
        let provenance = response.provenance.unwrap();
        let channels: Vec<String> = response.breakdown.into_iter().map(|b| b.key).collect();
        (
            response.overview.unwrap().total,
            channels,
            provenance.snapshot,
            instant(&provenance.data_as_of),
        )
    };
    // Asked twice with nothing committed in between, the server answers the same snapshot.
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = c.analytics.get_conversation_traffic(request.clone()).await;
        answers.push(traffic(response.unwrap().into_inner()));
    }
    let before = answers[0].clone();
    assert_eq!(answers[1], before);
    assert_eq!((before.0, before.1.clone()), (1, vec![CHANNEL.to_string()]));

    let mut moved = conversation("s-2", "2024-02-01T12:00:00Z", "2024-02-01T12:30:00Z", None);
    moved["channel_uuid"] = serde_json::json!(NEW_CHANNEL);
    let mut newer = message(2, "s-2", "2024-02-01T12:30:00Z");
    newer["channel_uuid"] = serde_json::json!(NEW_CHANNEL);
    let second = data.file("second.jsonl", &jsonl(&[moved, newer]));
    run_ok(talkhouse(&data).arg("ingest").arg(&second));

    let (total, mut channels, snapshot, data_as_of) = traffic(
        c.analytics
            .get_conversation_traffic(request)
            .await
            .unwrap()
            .into_inner(),
    );
    channels.sort();
    assert_eq!(total, 2);
    assert_eq!(channels, vec![CHANNEL.to_string(), NEW_CHANNEL.to_string()]);
    assert_eq!(snapshot, before.2 + 1);
    assert_eq!(data_as_of.to_rfc3339(), "2024-02-01T12:30:00+00:00");
    server.stop().await;
}

const MOVED_AWAY: &str = "00000000-0000-4000-8000-0000000000c3";
const UNNAMED: &str = "00000000-0000-4000-8000-0000000000c4";

/// The bot as its summary shows it: the channels (uuid, name, type), then the first and the last
/// data set.
type Summary = (Vec<(String, String, String)>, String, String);

/// What every answer about the bot carries besides its own numbers: the summary, `data_as_of`,
/// and the rows the scans of a traffic answer read.
async fn bot_facts(c: &mut Clients) -> (Summary, String, u64) {
    // Asked first after a commit, and about a month without data: the rows it reads are those
    // that the channel list and `data_as_of` need, next to nothing for its own plan.
    let traffic = c
        .analytics
        .get_conversation_traffic(v1::AnalyticsRequest {
            bot: bot_ref(ORG, ENV, BOT),
            filter: Some(days("2024-03-01", "2024-03-01", "UTC")),
        })
        .await
        .unwrap()
        .into_inner();
    let provenance = traffic.provenance.unwrap();
    let summary = c.summary(bot_ref(ORG, ENV, BOT)).await;
    let channels = summary
        .channels
        .into_iter()
        .map(|c| (c.uuid, c.name, c.r#type))
        .collect();
    let first = instant(&summary.first_data_set).to_rfc3339();
    let last = instant(&summary.last_data_set).to_rfc3339();
    (
        (channels, first, last),
        instant(&provenance.data_as_of).to_rfc3339(),
        provenance.rows_scanned,
    )
}

/// The channel list and `data_as_of` of a new snapshot are combined from what each live file
/// holds, read once per file: the first answer after a commit reads the commit's rows, not the
/// bot's history. A server that reads everything through the views (no rollups) agrees after
/// each commit, after a channel is renamed, after a conversation moves away from its only
/// channel, and after compaction rewrites every file.
#[tokio::test]
async fn the_first_answer_after_a_commit_reads_only_the_new_files() {
    let data = DataDir::new();
    let mut history = Vec::new();
    for n in 0..2_000u32 {
        let session = format!("s-{}", n / 10);
        let sent_at = format!("2024-02-{:02}T{:02}:{:02}:00Z", 1 + n % 9, n % 24, n % 60);
        if n % 10 == 0 {
            history.push(conversation(&session, &sent_at, &sent_at, None));
        }
        history.push(message(n + 1, &session, &sent_at));
    }
    let mut moving = conversation(
        "s-moving",
        "2024-02-03T08:00:00Z",
        "2024-02-03T08:00:00Z",
        None,
    );
    moving["channel_uuid"] = serde_json::json!(MOVED_AWAY);
    history.push(moving);
    // A record without messages starts before every message.
    let first = "2024-01-31T23:59:59.000500Z";
    history.push(conversation("s-early", first, first, None));
    run_ok(
        talkhouse(&data)
            .arg("ingest")
            .arg(data.file("history.jsonl", &jsonl(&history))),
    );

    let files = RunningServer::start(data.table().await).await;
    let mut views_config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    views_config.use_rollups = false;
    let views = RunningServer::start_with(views_config, data.table().await).await;
    let (mut by_files, mut by_views) = (
        Clients::connect(&files).await,
        Clients::connect(&views).await,
    );

    let ((channels, first, last), data_as_of, cold_rows) = bot_facts(&mut by_files).await;
    assert_eq!(
        (first.as_str(), last.as_str()),
        (
            "2024-01-31T23:59:59.000500+00:00",
            "2024-02-09T23:59:00+00:00"
        )
    );
    assert_eq!(
        channels,
        [
            (CHANNEL.into(), "WhatsApp".into(), "WHATSAPP".into()),
            (MOVED_AWAY.into(), String::new(), String::new()),
        ]
    );
    assert_eq!(data_as_of, "2024-02-09T23:59:00+00:00");
    assert!(
        cold_rows > 2_000,
        "the first answer reads every file: {cold_rows}"
    );
    let expected = bot_facts(&mut by_views).await;
    assert_eq!(
        (&(channels, first, last), &data_as_of),
        (&expected.0, &expected.1)
    );

    // A later message renames the channel (an even later one carries no name), a message is
    // the only one of a channel and names none, and the only conversation of MOVED_AWAY moves
    // to CHANNEL.
    let mut renamed = message(5_001, "s-1", "2024-02-20T10:00:00.000700Z");
    renamed["channel_name"] = serde_json::json!("WhatsApp Business");
    renamed["channel_type"] = serde_json::json!("WHATSAPP_BUSINESS");
    let mut unnamed = message(5_002, "s-2", "2024-02-20T09:00:00Z");
    unnamed["channel_uuid"] = serde_json::json!(UNNAMED);
    unnamed["channel_name"] = serde_json::Value::Null;
    let mut latest_unnamed = message(5_003, "s-1", "2024-02-20T10:00:00.000900Z");
    latest_unnamed["channel_name"] = serde_json::Value::Null;
    let moved = conversation(
        "s-moving",
        "2024-02-03T08:00:00Z",
        "2024-02-04T08:00:00Z",
        None,
    );

    // A record starts after every message, and the earliest one moves to a later start.
    let last = "2024-02-25T08:07:06.123456Z";
    let late = conversation("s-late", last, last, None);
    let early_moved = conversation("s-early", "2024-02-02T00:00:00Z", last, None);
    let update = jsonl(&[renamed, unnamed, latest_unnamed, moved, late, early_moved]);
    run_ok(
        talkhouse(&data)
            .arg("ingest")
            .arg(data.file("update.jsonl", &update)),
    );

    let after_commit = bot_facts(&mut by_files).await;
    let ((channels, first, last), data_as_of, rows) = after_commit.clone();
    assert_eq!(
        (first.as_str(), last.as_str()),
        (
            "2024-02-01T00:00:00+00:00",
            "2024-02-25T08:07:06.123456+00:00"
        )
    );
    assert_eq!(
        channels,
        [
            (
                CHANNEL.into(),
                "WhatsApp Business".into(),
                "WHATSAPP_BUSINESS".into()
            ),
            (UNNAMED.into(), String::new(), String::new()),
        ]
    );
    assert_eq!(data_as_of, "2024-02-25T08:07:06.123456+00:00");
    assert!(
        rows < 50,
        "after a commit of 6 events, an answer reads {rows} rows (the first read {cold_rows})"
    );
    let expected = bot_facts(&mut by_views).await;
    let summary = (channels, first, last);
    assert_eq!((&summary, &data_as_of), (&expected.0, &expected.1));

    run_ok(talkhouse(&data).arg("compact"));
    let (summary, data_as_of, _) = bot_facts(&mut by_files).await;
    assert_eq!((&summary, &data_as_of), (&after_commit.0, &after_commit.1));
    let expected = bot_facts(&mut by_views).await;
    assert_eq!((&summary, &data_as_of), (&expected.0, &expected.1));
    files.stop().await;
    views.stop().await;
}
