//! A query for one bot and one month opens no file of another bot or month: those files are
//! overwritten with garbage on disk and the query still answers.

use std::path::Path;

use super::support::*;

fn corrupt_parquet_under(folder: &Path) -> usize {
    let mut corrupted = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            corrupted += corrupt_parquet_under(&path);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            std::fs::write(&path, b"not a parquet file").unwrap();
            corrupted += 1;
        }
    }
    corrupted
}

#[test]
fn other_bots_and_months_are_never_opened() {
    let data = DataDir::new();
    let mut other_bot = message(3, "s-9", "2024-03-05T10:00:00Z");
    other_bot["bot_id"] = serde_json::json!(OTHER_BOT);
    let file = data.file(
        "events.jsonl",
        &jsonl(&[
            message(1, "s-1", "2024-02-10T10:00:00Z"),
            message(2, "s-2", "2024-03-05T10:00:00Z"),
            other_bot,
            conversation("s-2", "2024-03-05T10:00:00Z", "2024-03-05T10:00:00Z", None),
        ]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&file));

    let table = data.path().join("data/events");
    assert!(corrupt_parquet_under(&table.join(format!("bot_id={OTHER_BOT}"))) > 0);
    assert!(
        corrupt_parquet_under(&table.join(format!("bot_id={BOT}/kind=message/month=2024-02"))) > 0
    );

    let rows = sql_rows(
        &data,
        &format!(
            "SELECT message_id FROM events WHERE bot_id = '{BOT}' AND kind = 'message' AND month = '2024-03'"
        ),
    );
    assert_eq!(rows, [message_id(2)]);
    // Through the view, the instant range prunes by the files' statistics in the Delta log.
    let rows = sql_rows(
        &data,
        &format!(
            "SELECT message_id FROM messages WHERE bot_id = '{BOT}' \
             AND sent_at >= TIMESTAMP '2024-03-01T00:00:00Z' AND sent_at < TIMESTAMP '2024-04-01T00:00:00Z'"
        ),
    );
    assert_eq!(rows, [message_id(2)]);
    // And the garbage is really there: a query that reads every file fails.
    let output =
        run(talkhouse(&data).args(["sql", "-c", "SELECT message_id, length(text) FROM messages"]));
    assert!(!output.status.success());
}

/// Delta keeps timestamp statistics in milliseconds: a file whose latest instant is 0.7 ms past
/// the second has a recorded maximum 0.7 ms too early, and must still be read for a range that
/// starts in between.
#[test]
fn file_statistics_do_not_prune_sub_millisecond_instants() {
    let data = DataDir::new();
    let file = data.file(
        "events.jsonl",
        &jsonl(&[message(1, "s-1", "2024-03-05T10:00:00.000700Z")]),
    );
    run_ok(talkhouse(&data).arg("ingest").arg(&file));
    let rows = sql_rows(
        &data,
        &format!(
            "SELECT message_id FROM messages WHERE bot_id = '{BOT}' \
             AND sent_at >= TIMESTAMP '2024-03-05T10:00:00.000500Z'"
        ),
    );
    assert_eq!(rows, [message_id(1)]);
    let rows = sql_rows(
        &data,
        &format!(
            "SELECT message_id FROM messages WHERE bot_id = '{BOT}' \
             AND sent_at > TIMESTAMP '2024-03-05T10:00:00.000700Z'"
        ),
    );
    assert!(rows.is_empty(), "{rows:?}");
}

/// A session's transcript opens only the files whose `session_code` range holds it (the log's
/// string bounds are kept when no writer can have truncated them); a long code, whose bounds may
/// be truncated, is still found.
#[test]
fn a_session_opens_only_the_files_whose_session_codes_span_it() {
    let data = DataDir::new();
    let long = format!("s-3-{}", "x".repeat(40));
    for (n, session) in [
        (1, "s-1".to_string()),
        (2, "s-2".to_string()),
        (3, long.clone()),
    ] {
        let file = data.file(
            &format!("batch-{n}.jsonl"),
            &jsonl(&[message(n, &session, "2024-03-05T10:00:00Z")]),
        );
        run_ok(talkhouse(&data).arg("ingest").arg(&file));
    }
    let month = data.path().join(format!(
        "data/events/bot_id={BOT}/kind=message/month=2024-03"
    ));
    let files: Vec<_> = std::fs::read_dir(&month)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3, "one file per ingest: {files:?}");
    let session_of = |session: &str| {
        sql_rows(
            &data,
            &format!("SELECT message_id FROM messages WHERE session_code = '{session}'"),
        )
    };
    assert_eq!(session_of("s-1"), [message_id(1)]);
    let bounds = sql_rows(
        &data,
        "SELECT min(session_code), max(session_code) FROM messages",
    );
    assert_eq!(bounds, [format!("s-1,{long}")]);
    // The file holding `s-1` turns to garbage: `s-2` and the long code are still answered.
    for path in &files {
        if std::fs::read(path).unwrap().windows(3).any(|w| w == b"s-1") {
            std::fs::write(path, b"not a parquet file").unwrap();
        }
    }
    assert_eq!(session_of("s-2"), [message_id(2)]);
    assert_eq!(session_of(&long), [message_id(3)]);
    let output = run(talkhouse(&data).args(["sql", "-c", "SELECT message_id FROM messages"]));
    assert!(!output.status.success(), "the garbage is there");
}

/// The writer looks up the stored versions of a batch's sessions bot by bot: a file of one bot
/// whose session codes lie between those of another bot in the same batch is not opened.
#[test]
fn the_version_lookup_opens_only_the_files_holding_each_bots_own_sessions() {
    let data = DataDir::new();
    let version = |bot: &str, session: &str, satisfaction: u8| {
        let mut c = conversation(
            session,
            "2024-03-05T10:00:00Z",
            "2024-03-05T10:00:00Z",
            Some(satisfaction),
        );
        c["bot_id"] = serde_json::json!(bot);
        c["updated_at"] = serde_json::json!(format!("2024-03-05T10:{satisfaction:02}:00Z"));
        c
    };
    for (n, session) in [(1, "s-50"), (2, "s-99")] {
        let file = data.file(
            &format!("other-{n}.jsonl"),
            &jsonl(&[version(OTHER_BOT, session, 1)]),
        );
        run_ok(talkhouse(&data).arg("ingest").arg(&file));
    }
    let month = data.path().join(format!(
        "data/events/bot_id={OTHER_BOT}/kind=conversation/month=2024-03"
    ));
    let mut corrupted = 0;
    for entry in std::fs::read_dir(&month).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::read(&path)
            .unwrap()
            .windows(4)
            .any(|w| w == b"s-50")
        {
            std::fs::write(&path, b"not a parquet file").unwrap();
            corrupted += 1;
        }
    }
    assert_eq!(corrupted, 1);

    // 25 sessions of one bot (more than DataFusion prunes with an IN list), from s-00 to s-24,
    // and a newer version of the other bot's s-99: one range over both bots would span s-50.
    let mut batch: Vec<_> = (0..25)
        .map(|n| version(BOT, &format!("s-{n:02}"), 2))
        .collect();
    batch.push(version(OTHER_BOT, "s-99", 5));
    let file = data.file("both.jsonl", &jsonl(&batch));
    run_ok(talkhouse(&data).arg("ingest").arg(&file));

    let rows = sql_rows(
        &data,
        &format!(
            "SELECT satisfaction FROM conversations WHERE bot_id = '{OTHER_BOT}' \
             AND session_code = 's-99'"
        ),
    );
    assert_eq!(
        rows,
        ["5"],
        "the stored version of s-99 was found and superseded"
    );
    let output =
        run(talkhouse(&data).args(["sql", "-c", "SELECT count(*) FROM conversation_versions"]));
    assert!(!output.status.success(), "the garbage is there");
}

/// Compacted files keep data pages of at most 1,024 rows with page statistics on
/// `session_code`, so a transcript decodes the few pages holding its session, not the month.
#[tokio::test]
async fn a_transcript_of_a_compacted_month_decodes_only_the_pages_of_its_session() {
    use chrono::NaiveDate;
    use talkhouse_core::generate::{GenerateConfig, Generator};
    use talkhouse_proto::v1;

    let data = DataDir::new();
    let generator = Generator::new(GenerateConfig {
        seed: 7,
        bots: 1,
        days: 8,
        until: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
        conversations_per_day: 1000,
    });
    let table = data.table().await;
    for day in generator.events() {
        table.write(day, None).await.unwrap();
    }
    table.compact(2, |_| {}).await.unwrap();
    let tenant = generator.bots()[0].tenant;
    let in_month =
        "bot_id = '{bot}' AND month = '2026-03'".replace("{bot}", &tenant.bot_id.to_string());
    let messages_in_month: u64 = sql_rows(
        &data,
        &format!("SELECT count(*) FROM messages WHERE {in_month}"),
    )[0]
    .parse()
    .unwrap();
    assert!(messages_in_month > 20_000, "{messages_in_month} messages");
    let session = &sql_rows(
        &data,
        &format!(
            "SELECT session_code FROM conversations WHERE bot_id = '{}' \
             AND started_at >= TIMESTAMP '2026-03-10T00:00:00Z' \
             ORDER BY session_code LIMIT 1 OFFSET 1000",
            tenant.bot_id
        ),
    )[0];
    let expected = sql_rows(
        &data,
        &format!(
            "SELECT message_id FROM messages WHERE {in_month} AND session_code = '{session}' \
             ORDER BY sent_at, message_id"
        ),
    );
    assert!(!expected.is_empty());

    let server = RunningServer::start(table.clone()).await;
    let mut clients = Clients::connect(&server).await;
    let request = v1::GetConversationRequest {
        bot: bot_ref(
            &tenant.org_id.to_string(),
            &tenant.env_id.to_string(),
            &tenant.bot_id.to_string(),
        ),
        session_code: session.clone(),
        timezone: "Asia/Kolkata".into(),
    };
    // The first answer about a bot also reads what each of its files holds, for every answer's
    // provenance; the second reads only the transcript.
    for _ in 0..2 {
        clients
            .conversations
            .get_conversation(request.clone())
            .await
            .unwrap();
    }
    let transcript = clients
        .conversations
        .get_conversation(request)
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = transcript
        .messages
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    assert_eq!(ids, expected);
    let rows_scanned = transcript.provenance.unwrap().rows_scanned;
    // The session's version pages and message pages: a few of 1,024 rows, where one page of the
    // Parquet default holds 20,000. Pages are sorted by time, not by session, so a page whose
    // rows span sessions of two days holds the code within its bounds too: 5 to 7 pages were
    // read in different runs, of the month's 70.
    assert!(rows_scanned <= 8 * 1024, "{rows_scanned} rows scanned");
    // Each file read has its page index in the metadata cache: decoded once, not on every open.
    let cached = table
        .runtime()
        .cache_manager
        .get_file_metadata_cache()
        .list_entries();
    let message_files: Vec<_> = cached
        .iter()
        .filter(|(path, _)| path.as_ref().contains("kind=message"))
        .collect();
    assert!(!message_files.is_empty());
    for (path, entry) in message_files {
        let info = entry.value.file_metadata.extra_info();
        assert_eq!(
            info.get("page_index").map(String::as_str),
            Some("true"),
            "{path}"
        );
    }
    server.stop().await;
}
