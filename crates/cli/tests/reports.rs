//! Reports through the real server: every kind in every format read back and compared row by row
//! with the search answers; previews against row counts; the random sample recomputed and tested
//! for uniformity; formula injection; restarts while reports run; expiry; the command line.

mod files;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::report::{ExportType, ReportPolicy, RulesOverride, sample_rank, sample_seed};
use talkhouse_proto::v1;
use talkhouse_reports::ReportStore;
use talkhouse_server::{Authentication, ReportSettings, ServerConfig};
use talkhouse_storage::EventTable;
use tonic::Code;

use self::files::{Row, read_rows};
use crate::support::{
    BOT, Clients, DataDir, ENV, ORG, OTHER_BOT, RunningServer, bot_ref, conversation, jsonl,
    message, run_ok, talkhouse,
};

const ZONE: &str = "Asia/Kolkata";
const TYPES: [(v1::ExportType, ExportType); 4] = [
    (v1::ExportType::Csv, ExportType::Csv),
    (v1::ExportType::Xlsx, ExportType::Xlsx),
    (v1::ExportType::Jsonl, ExportType::Jsonl),
    (v1::ExportType::Parquet, ExportType::Parquet),
];

/// Generated traffic of two bots over `days` days.
async fn generated(
    days: u32,
    per_day: u32,
) -> (DataDir, Arc<EventTable>, Option<v1::BotRef>, Vec<String>) {
    let generator = Generator::new(GenerateConfig {
        seed: 7,
        bots: 2,
        days,
        until: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
        conversations_per_day: per_day,
    });
    let data = DataDir::new();
    let table = data.table().await;
    let events: Vec<Event> = generator.events().flatten().collect();
    table.write(events, None).await.unwrap();
    let bot = &generator.bots()[0];
    let channels = bot.channels.iter().map(|c| c.uuid.to_string()).collect();
    let bot = Some(v1::BotRef {
        org_id: bot.tenant.org_id.to_string(),
        env_id: bot.tenant.env_id.to_string(),
        bot_id: bot.tenant.bot_id.to_string(),
    });
    (data, table, bot, channels)
}

/// Ten messages of [`BOT`] in two sessions, some of them text a spreadsheet would run.
pub const HOSTILE_TEXTS: [&str; 5] = ["=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "=HYPERLINK(\"x\")"];

fn small_set(data: &DataDir) {
    let mut lines = Vec::new();
    for n in 0..10u32 {
        let session = if n < 5 { "S-1" } else { "S-2" };
        let mut m = message(n, session, &format!("2024-03-10T0{}:15:00Z", n % 10));
        if let Some(text) = HOSTILE_TEXTS.get(n as usize) {
            m["text"] = json!(text);
        }
        if n == 7 {
            m["business_key"] = json!("=cmd|' /C calc'!A0");
        }
        m["confidence"] = json!(50.0 + f64::from(n) * 5.0);
        lines.push(m);
    }
    let mut first = conversation(
        "S-1",
        "2024-03-10T00:15:00Z",
        "2024-03-10T05:00:00Z",
        Some(5),
    );
    first["business_key"] = json!("@SUM(1)");
    lines.push(first);
    lines.push(conversation(
        "S-2",
        "2024-03-10T05:15:00Z",
        "2024-03-10T10:00:00Z",
        None,
    ));
    let path = data.file("small.jsonl", &jsonl(&lines));
    run_ok(talkhouse(data).arg("ingest").arg(path));
}

fn filter(start: &str, end: &str) -> Option<v1::Filter> {
    Some(v1::Filter {
        start_date: start.into(),
        end_date: end.into(),
        timezone: ZONE.into(),
        ..Default::default()
    })
}

/// Polls until the report is READY; panics when it FAILED.
async fn ready(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> v1::Report {
    for _ in 0..1200 {
        let report = get(c, bot, id).await;
        match v1::ReportStatus::try_from(report.status).unwrap() {
            v1::ReportStatus::Ready => return report,
            v1::ReportStatus::Failed => panic!("report {id} failed: {}", report.error),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("report {id} did not finish within a minute");
}

async fn get(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> v1::Report {
    c.reports
        .get_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The whole file; every chunk is at most 64 KiB.
async fn download(c: &mut Clients, bot: &Option<v1::BotRef>, id: &str) -> Vec<u8> {
    let mut stream = c
        .reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        assert!(
            chunk.data.len() <= 64 * 1024,
            "a chunk of {}",
            chunk.data.len()
        );
        bytes.extend_from_slice(&chunk.data);
    }
    bytes
}

async fn request_conversations(c: &mut Clients, request: v1::ConversationsReportRequest) -> String {
    c.conversations
        .request_conversations_report(request)
        .await
        .unwrap()
        .into_inner()
        .report_id
}

async fn request_messages(c: &mut Clients, request: v1::MessagesReportRequest) -> String {
    c.messages
        .request_messages_report(request)
        .await
        .unwrap()
        .into_inner()
        .report_id
}

fn local(timestamp: &Option<prost_types::Timestamp>) -> Value {
    match timestamp {
        None => Value::Null,
        Some(_) => {
            let zone: chrono_tz::Tz = ZONE.parse().unwrap();
            let t = crate::support::instant(timestamp).with_timezone(&zone);
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }
    }
}

fn conversation_row(c: v1::ConversationSummary) -> Row {
    let mut row = Row::new();
    row.insert("session_code".into(), json!(c.session_code));
    row.insert("user_id".into(), json!(c.user_id));
    row.insert("business_key".into(), json!(c.business_key));
    row.insert("channel_uuid".into(), json!(c.channel_uuid));
    row.insert("started_at".into(), json!(c.started_at_local));
    row.insert("ended_at".into(), local(&c.ended_at));
    row.insert("updated_at".into(), local(&c.updated_at));
    row.insert("satisfaction".into(), json!(c.satisfaction.map(f64::from)));
    row.insert("flows".into(), json!(c.flows));
    row.insert("flows_travelled".into(), json!(c.flows_travelled as f64));
    row.insert("tags".into(), json!(c.tags));
    row.insert("user_messages".into(), json!(c.user_messages as f64));
    row.insert("bot_messages".into(), json!(c.bot_messages as f64));
    row.insert("duration_seconds".into(), json!(c.duration_seconds));
    row
}

fn message_row(m: v1::MessageSummary) -> Row {
    let mut row = Row::new();
    row.insert("message_id".into(), json!(m.message_id));
    row.insert("session_code".into(), json!(m.session_code));
    row.insert("user_id".into(), json!(m.user_id));
    row.insert("business_key".into(), json!(m.business_key));
    row.insert("channel_uuid".into(), json!(m.channel_uuid));
    row.insert("channel_name".into(), json!(m.channel_name));
    row.insert("sent_at".into(), json!(m.sent_at_local));
    row.insert("sender".into(), json!(m.sender));
    row.insert("content_type".into(), json!(m.content_type));
    row.insert("text".into(), json!(m.text));
    row.insert("nlp_response".into(), json!(m.nlp_response));
    row.insert("nlp_response_type".into(), json!(m.nlp_response_type));
    row.insert("nlp_response_name".into(), json!(m.nlp_response_name));
    row.insert("confidence".into(), json!(m.confidence));
    row.insert("answer_name".into(), json!(m.answer_name));
    row.insert("answer_text".into(), json!(m.answer_text));
    row.insert("flow".into(), json!(m.flow));
    row.insert("tags".into(), json!(m.tags));
    row
}

/// Every page of the conversation search, newest first.
async fn searched_conversations(
    c: &mut Clients,
    bot: &Option<v1::BotRef>,
    filter: &Option<v1::Filter>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for page in 1.. {
        let answer = c
            .conversations
            .search_conversations(v1::SearchConversationsRequest {
                bot: bot.clone(),
                filter: filter.clone(),
                page: Some(page),
                size: Some(100),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if answer.content.is_empty() {
            break;
        }
        rows.extend(answer.content.into_iter().map(conversation_row));
    }
    rows
}

/// Every page of the message search, newest first.
async fn searched_messages(
    c: &mut Clients,
    bot: &Option<v1::BotRef>,
    filter: &Option<v1::Filter>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for page in 1.. {
        let answer = c
            .messages
            .search_messages(v1::SearchMessagesRequest {
                bot: bot.clone(),
                filter: filter.clone(),
                page: Some(page),
                size: Some(100),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if answer.content.is_empty() {
            break;
        }
        rows.extend(answer.content.into_iter().map(message_row));
    }
    rows
}

/// What a CSV cell holds for a value: text a spreadsheet would run gets a leading `'`.
fn as_in_csv(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|(key, value)| {
                    let value = match value.as_str() {
                        Some(text) => {
                            json!(talkhouse_core::report::neutralize_formula(text).into_owned())
                        }
                        None => value.clone(),
                    };
                    (key.clone(), value)
                })
                .collect()
        })
        .collect()
}

fn assert_rows(context: &str, export: ExportType, actual: &[Row], expected: &[Row]) {
    let expected = if export == ExportType::Csv {
        as_in_csv(expected)
    } else {
        expected.to_vec()
    };
    assert_eq!(actual.len(), expected.len(), "{context}: row count");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(a, e, "{context}: row {i}");
    }
}

#[tokio::test]
async fn every_kind_in_every_format_holds_the_rows_the_search_answers() {
    let (_data, table, bot, _) = generated(6, 12).await;
    let server = RunningServer::start(table).await;
    let mut c = Clients::connect(&server).await;
    // Half-hour zone, and an hour window wrapping past midnight.
    let mut window = filter("2024-03-15", "2024-03-20");
    if let Some(f) = window.as_mut() {
        f.start_hour = Some(20);
        f.end_hour = Some(3);
    }
    let conversations = searched_conversations(&mut c, &bot, &window).await;
    let messages = searched_messages(&mut c, &bot, &window).await;
    assert!(
        conversations.len() > 20 && messages.len() > 100,
        "enough data"
    );
    let session = conversations[0]["session_code"]
        .as_str()
        .unwrap()
        .to_string();
    let transcript: Vec<Row> = c
        .conversations
        .get_conversation(v1::GetConversationRequest {
            bot: bot.clone(),
            session_code: session.clone(),
            timezone: ZONE.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .messages
        .into_iter()
        .map(message_row)
        .collect();
    assert!(!transcript.is_empty());

    for (proto_type, export) in TYPES {
        let id = request_conversations(
            &mut c,
            v1::ConversationsReportRequest {
                bot: bot.clone(),
                filter: window.clone(),
                export_type: proto_type as i32,
                ..Default::default()
            },
        )
        .await;
        let report = ready(&mut c, &bot, &id).await;
        assert_eq!(report.kind, v1::ReportKind::Conversations as i32);
        assert_eq!(report.row_count, conversations.len() as u64);
        let bytes = download(&mut c, &bot, &id).await;
        assert_eq!(report.byte_size, bytes.len() as u64);
        let rows = read_rows(export, &bytes, ZONE);
        assert_rows(
            &format!("conversations {export:?}"),
            export,
            &rows,
            &conversations,
        );

        let id = request_messages(
            &mut c,
            v1::MessagesReportRequest {
                bot: bot.clone(),
                filter: window.clone(),
                export_type: proto_type as i32,
                ..Default::default()
            },
        )
        .await;
        let report = ready(&mut c, &bot, &id).await;
        assert_eq!(report.row_count, messages.len() as u64);
        let rows = read_rows(export, &download(&mut c, &bot, &id).await, ZONE);
        assert_rows(&format!("messages {export:?}"), export, &rows, &messages);

        let id = c
            .conversations
            .request_transcript_report(v1::TranscriptReportRequest {
                bot: bot.clone(),
                session_code: session.clone(),
                timezone: ZONE.into(),
                export_type: proto_type as i32,
            })
            .await
            .unwrap()
            .into_inner()
            .report_id;
        let report = ready(&mut c, &bot, &id).await;
        assert_eq!(report.kind, v1::ReportKind::Transcript as i32);
        let rows = read_rows(export, &download(&mut c, &bot, &id).await, ZONE);
        assert_rows(
            &format!("transcript {export:?}"),
            export,
            &rows,
            &transcript,
        );
    }

    // OLDEST_FIRST with a cap is the other end of the same order.
    let id = request_messages(
        &mut c,
        v1::MessagesReportRequest {
            bot: bot.clone(),
            filter: window.clone(),
            cap: Some(7),
            sort: v1::ReportSort::OldestFirst as i32,
            export_type: v1::ExportType::Jsonl as i32,
            ..Default::default()
        },
    )
    .await;
    ready(&mut c, &bot, &id).await;
    let rows = read_rows(ExportType::Jsonl, &download(&mut c, &bot, &id).await, ZONE);
    let oldest: Vec<Row> = messages.iter().rev().take(7).cloned().collect();
    assert_rows("oldest first, cap 7", ExportType::Jsonl, &rows, &oldest);
    server.stop().await;
}

#[tokio::test]
async fn a_preview_counts_exactly_the_rows_of_its_report() {
    let seed = std::env::var("TALKHOUSE_REPORT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("report seed {seed} (replay with TALKHOUSE_REPORT_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (_data, table, bot, channels) = generated(10, 8).await;
    let server = RunningServer::start(table).await;
    let mut c = Clients::connect(&server).await;
    let zones = [
        "America/Sao_Paulo",
        "Asia/Kolkata",
        "UTC",
        "-03:00",
        "Australia/Lord_Howe",
    ];
    let sorts = [
        v1::ReportSort::NewestFirst,
        v1::ReportSort::OldestFirst,
        v1::ReportSort::RandomSample,
    ];
    let mut nonzero = 0;
    for round in 0..16 {
        let start = NaiveDate::from_ymd_opt(2024, 3, 9).unwrap()
            + chrono::Duration::days(rng.random_range(0..12));
        let end = start + chrono::Duration::days(rng.random_range(0..6));
        let mut filter = v1::Filter {
            start_date: start.to_string(),
            end_date: end.to_string(),
            timezone: (*zones.choose(&mut rng).unwrap()).into(),
            ..Default::default()
        };
        if rng.random_bool(0.5) {
            filter.start_hour = Some(rng.random_range(0..24));
            filter.end_hour = Some(rng.random_range(0..24));
        }
        if rng.random_bool(0.3) {
            filter.channel_uuids = vec![channels.choose(&mut rng).unwrap().clone()];
        }
        let cap = rng.random_bool(0.5).then(|| rng.random_range(1..60));
        let min_confidence = rng.random_bool(0.4).then(|| rng.random_range(0.0..100.0));
        let error_margin = rng.random_bool(0.5).then(|| rng.random_range(0.0..20.0));
        let sort = *sorts.choose(&mut rng).unwrap() as i32;
        let context = format!(
            "round {round}: {filter:?} cap {cap:?} confidence {min_confidence:?} margin {error_margin:?}"
        );
        let (estimate, id) = if round % 2 == 0 {
            let request = v1::ConversationsReportRequest {
                bot: bot.clone(),
                filter: Some(filter),
                cap,
                sort,
                min_confidence,
                error_margin,
                export_type: v1::ExportType::Jsonl as i32,
                ..Default::default()
            };
            let preview = c
                .conversations
                .preview_conversations_report(request.clone())
                .await
                .unwrap()
                .into_inner();
            (
                preview.estimate,
                request_conversations(&mut c, request).await,
            )
        } else {
            let nlp = [
                vec![],
                vec![v1::NlpResponseFilter::Found as i32],
                vec![v1::NlpResponseFilter::None as i32],
            ];
            let request = v1::MessagesReportRequest {
                bot: bot.clone(),
                filter: Some(filter),
                cap,
                sort,
                min_confidence,
                error_margin,
                nlp_response_filters: nlp.choose(&mut rng).unwrap().clone(),
                export_type: v1::ExportType::Jsonl as i32,
                ..Default::default()
            };
            let preview = c
                .messages
                .preview_messages_report(request.clone())
                .await
                .unwrap()
                .into_inner();
            (preview.estimate, request_messages(&mut c, request).await)
        };
        let report = ready(&mut c, &bot, &id).await;
        let rows = read_rows(ExportType::Jsonl, &download(&mut c, &bot, &id).await, ZONE);
        assert_eq!(report.row_count as i64, estimate, "{context}");
        assert_eq!(rows.len() as i64, estimate, "{context}");
        if estimate > 0 {
            nonzero += 1;
        }
    }
    assert!(
        nonzero >= 4,
        "most rounds select something ({nonzero} of 16)"
    );
    server.stop().await;
}

/// χ² with 9 degrees of freedom exceeds this with probability 0.0001 for a uniform sampler (a
/// sampler that keeps picking the same 3 of the 10 items scores about 350).
const CHI_SQUARE_9_DOF_P0001: f64 = 33.720;

#[tokio::test]
async fn a_random_sample_is_reproducible_from_its_id_and_uniform() {
    let data = DataDir::new();
    small_set(&data);
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT);
    let all = searched_messages(&mut c, &bot, &filter("2024-03-09", "2024-03-11")).await;
    let ids: Vec<String> = all
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 10);
    let (reports, cap) = (50, 3);
    let mut chosen: BTreeMap<String, u32> = ids.iter().map(|id| (id.clone(), 0)).collect();
    for _ in 0..reports {
        let id = request_messages(
            &mut c,
            v1::MessagesReportRequest {
                bot: bot.clone(),
                filter: filter("2024-03-09", "2024-03-11"),
                cap: Some(cap),
                sort: v1::ReportSort::RandomSample as i32,
                export_type: v1::ExportType::Csv as i32,
                ..Default::default()
            },
        )
        .await;
        ready(&mut c, &bot, &id).await;
        let rows = read_rows(ExportType::Csv, &download(&mut c, &bot, &id).await, ZONE);
        let sampled: Vec<String> = rows
            .iter()
            .map(|r| r["message_id"].as_str().unwrap().to_string())
            .collect();
        // Anyone with the report id recomputes the sample, in its order.
        let seed = sample_seed(id.parse().unwrap());
        let mut expected = ids.clone();
        expected.sort_by_key(|key| (sample_rank(seed, key), key.clone()));
        expected.truncate(cap as usize);
        assert_eq!(sampled, expected, "report {id}");
        for id in sampled {
            *chosen.get_mut(&id).unwrap() += 1;
        }
    }
    let expected = f64::from(reports) * cap as f64 / ids.len() as f64;
    let chi_square: f64 = chosen
        .values()
        .map(|&n| (f64::from(n) - expected).powi(2) / expected)
        .sum();
    eprintln!("random sample: counts {chosen:?}, chi-square {chi_square:.2}");
    assert!(
        chi_square < CHI_SQUARE_9_DOF_P0001,
        "chi-square {chi_square:.2} over {chosen:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn text_that_a_spreadsheet_would_run_stays_text() {
    let data = DataDir::new();
    small_set(&data);
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT);
    let window = filter("2024-03-09", "2024-03-11");
    let mut files = BTreeMap::new();
    for (proto_type, export) in TYPES {
        let id = request_messages(
            &mut c,
            v1::MessagesReportRequest {
                bot: bot.clone(),
                filter: window.clone(),
                export_type: proto_type as i32,
                ..Default::default()
            },
        )
        .await;
        ready(&mut c, &bot, &id).await;
        files.insert(format!("{export:?}"), download(&mut c, &bot, &id).await);
    }
    // CSV: every hostile cell starts with a quote, so a spreadsheet shows it as text.
    let csv = String::from_utf8(files["Csv"].clone()).unwrap();
    for text in HOSTILE_TEXTS {
        let field = if text.contains('"') {
            format!("\"'{}\"", text.replace('"', "\"\""))
        } else {
            format!("'{text}")
        };
        assert!(csv.contains(&field), "{text} is not neutralized in:\n{csv}");
    }
    assert!(csv.contains("'=cmd|' /C calc'!A0"), "business key:\n{csv}");
    for line in csv.lines() {
        for field in line.split(',') {
            assert!(
                !matches!(field.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@')),
                "a field starts like a formula: {field} in {line}"
            );
        }
    }
    // XLSX: the texts are string cells, exactly as sent, and the sheet holds no formula.
    let formulas = files::xlsx_formulas(&files["Xlsx"]);
    assert!(formulas.is_empty(), "formulas: {formulas:?}");
    let strings = files::xlsx_strings(&files["Xlsx"]);
    for text in HOSTILE_TEXTS {
        assert!(
            strings.contains(&text.to_string()),
            "{text} is not a string cell"
        );
    }
    // JSONL and Parquet keep the text exactly.
    for export in [ExportType::Jsonl, ExportType::Parquet] {
        let rows = read_rows(export, &files[&format!("{export:?}")], ZONE);
        let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        for text in HOSTILE_TEXTS {
            assert!(texts.contains(&text), "{export:?} lost {text}");
        }
    }
    server.stop().await;
}

fn config(reports: ReportSettings) -> ServerConfig {
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    config.reports = reports;
    config
}

#[tokio::test]
async fn reports_interrupted_by_a_restart_are_resumed() {
    let (data, table, bot, _) = generated(20, 30).await;
    let settings = ReportSettings {
        workers: 1,
        max_unfinished_per_org: 3,
        ..ReportSettings::default()
    };
    let server = RunningServer::start_with(config(settings), table.clone()).await;
    let mut c = Clients::connect(&server).await;
    let window = filter("2024-03-01", "2024-03-20");
    let request = |export: v1::ExportType| v1::MessagesReportRequest {
        bot: bot.clone(),
        filter: window.clone(),
        export_type: export as i32,
        ..Default::default()
    };
    let preview = c
        .messages
        .preview_messages_report(request(v1::ExportType::Xlsx))
        .await
        .unwrap()
        .into_inner()
        .estimate;
    assert!(
        preview > 2_000,
        "a report long enough to interrupt ({preview})"
    );
    let mut ids = Vec::new();
    for export in [
        v1::ExportType::Xlsx,
        v1::ExportType::Csv,
        v1::ExportType::Parquet,
    ] {
        ids.push(request_messages(&mut c, request(export)).await);
    }
    // The organization's share of the queue is full.
    let status = c
        .messages
        .request_messages_report(request(v1::ExportType::Csv))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // A file is downloadable only once READY.
    let status = c
        .reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: ids[2].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("PENDING"), "{}", status.message());
    // Stop as soon as the first report is RUNNING: the others are still PENDING behind it.
    for _ in 0..600 {
        if get(&mut c, &bot, &ids[0]).await.status == v1::ReportStatus::Running as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop().await;

    let store = ReportStore::at(table.location()).unwrap();
    let stored = store.all().await.unwrap();
    let status = |id: &str| {
        let record = stored.iter().find(|r| r.id.to_string() == id).unwrap();
        (record.status, record.attempts)
    };
    use talkhouse_core::report::ReportStatus;
    assert_eq!(status(&ids[0]), (ReportStatus::Running, 1), "left RUNNING");
    assert_eq!(status(&ids[1]), (ReportStatus::Pending, 0), "left PENDING");

    // A report interrupted too often is FAILED with the reason, not tried forever.
    let mut stubborn = stored
        .iter()
        .find(|r| r.id.to_string() == ids[2])
        .unwrap()
        .clone();
    stubborn.status = ReportStatus::Running;
    stubborn.attempts = talkhouse_reports::MAX_ATTEMPTS;
    store.put(&stubborn).await.unwrap();

    let server = RunningServer::start_with(config(settings), data.table().await).await;
    let mut c = Clients::connect(&server).await;
    for id in &ids[..2] {
        let report = ready(&mut c, &bot, id).await;
        assert_eq!(report.row_count as i64, preview, "report {id}");
    }
    let rows = read_rows(
        ExportType::Csv,
        &download(&mut c, &bot, &ids[1]).await,
        ZONE,
    );
    assert_eq!(rows.len() as i64, preview);
    let failed = get(&mut c, &bot, &ids[2]).await;
    assert_eq!(failed.status, v1::ReportStatus::Failed as i32);
    assert!(failed.error.contains("interrupted"), "{}", failed.error);
    let status = c
        .reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: ids[2].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    server.stop().await;
    drop(data);
}

#[tokio::test]
async fn reports_expire_and_their_files_are_deleted() {
    let data = DataDir::new();
    small_set(&data);
    let settings = ReportSettings {
        time_to_live: Duration::from_secs(2),
        sweep_interval: Duration::from_millis(200),
        ..ReportSettings::default()
    };
    let table = data.table().await;
    let server = RunningServer::start_with(config(settings), table.clone()).await;
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT);
    let id = request_messages(
        &mut c,
        v1::MessagesReportRequest {
            bot: bot.clone(),
            filter: filter("2024-03-09", "2024-03-11"),
            export_type: v1::ExportType::Csv as i32,
            ..Default::default()
        },
    )
    .await;
    let report = ready(&mut c, &bot, &id).await;
    assert!(report.expires_at.is_some());
    assert!(!download(&mut c, &bot, &id).await.is_empty());
    let file = data
        .path()
        .join(format!("data/reports/{ORG}/{ENV}/{BOT}/{id}/data.csv"));
    assert!(file.exists(), "{}", file.display());
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(
        get(&mut c, &bot, &id).await.status,
        v1::ReportStatus::Expired as i32
    );
    assert!(!file.exists(), "the sweep deleted {}", file.display());
    let status = c
        .reports
        .download_report(v1::GetReportRequest {
            bot: bot.clone(),
            report_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("EXPIRED"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn reports_are_listed_per_bot_under_the_bot_rules_and_on_the_command_line() {
    let data = DataDir::new();
    small_set(&data);
    let mut config = config(ReportSettings::default());
    let mut policy = ReportPolicy::default();
    policy.bots.insert(
        OTHER_BOT.parse().unwrap(),
        RulesOverride {
            max_sample: Some(3),
            export_types: Some(vec![ExportType::Csv]),
        },
    );
    config.services.reports = policy;
    let server = RunningServer::start_with(config, data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT);
    let other = bot_ref(ORG, ENV, OTHER_BOT);

    // The bot's own rules: max_sample and export types.
    let rules = c
        .dashboard
        .get_message_report_config(v1::GetReportConfigRequest { bot: other.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rules.max_sample, 3);
    assert_eq!(rules.available_export_types, [v1::ExportType::Csv as i32]);
    let status = c
        .messages
        .request_messages_report(v1::MessagesReportRequest {
            bot: other.clone(),
            filter: filter("2024-03-09", "2024-03-11"),
            cap: Some(4),
            export_type: v1::ExportType::Xlsx as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = crate::dashboard_errors::fields(&status);
    assert_eq!(fields, ["cap", "export_type"]);

    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            request_conversations(
                &mut c,
                v1::ConversationsReportRequest {
                    bot: bot.clone(),
                    filter: filter("2024-03-09", "2024-03-11"),
                    export_type: v1::ExportType::Csv as i32,
                    ..Default::default()
                },
            )
            .await,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for id in &ids {
        ready(&mut c, &bot, id).await;
    }
    let list = |page: Option<i32>, bot: &Option<v1::BotRef>| v1::ListReportsRequest {
        bot: bot.clone(),
        page,
        size: None,
    };
    let first = c
        .reports
        .list_reports(list(None, &bot))
        .await
        .unwrap()
        .into_inner();
    let second = c
        .reports
        .list_reports(list(Some(2), &bot))
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<String> = first
        .content
        .iter()
        .chain(&second.content)
        .map(|r| r.report_id.clone())
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(first.content.len(), 5, "size 5 by default");
    assert_eq!(listed, newest_first);
    let page = first.page.unwrap();
    assert_eq!((page.total_elements, page.total_pages), (7, 2));
    assert!(
        first.content[0]
            .parameters
            .contains("\"kind\":\"CONVERSATIONS\"")
    );

    // Another bot neither lists nor finds them.
    let others = c
        .reports
        .list_reports(list(None, &other))
        .await
        .unwrap()
        .into_inner();
    assert!(others.content.is_empty());
    let status = c
        .reports
        .get_report(v1::GetReportRequest {
            bot: other.clone(),
            report_id: ids[0].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let downloaded = download(&mut c, &bot, &ids[0]).await;
    server.stop().await;

    // The command line reads the same reports from storage.
    let listed = run_ok(talkhouse(&data).args(["reports", "list", "--format", "json"]));
    assert_eq!(listed.lines().count(), 7, "{listed}");
    let table = run_ok(talkhouse(&data).args(["reports", "list", "--bot", BOT]));
    assert!(
        table.contains(&ids[0]) && table.contains("READY"),
        "{table}"
    );
    let record: Value =
        serde_json::from_str(&run_ok(talkhouse(&data).args(["reports", "get", &ids[0]]))).unwrap();
    assert_eq!(record["status"], "READY");
    let out = data.path().join("report.csv");
    run_ok(
        talkhouse(&data)
            .args(["reports", "download", &ids[0], "--output"])
            .arg(&out),
    );
    assert_eq!(std::fs::read(&out).unwrap(), downloaded);
    let stderr = crate::support::run_fails(talkhouse(&data).args([
        "reports",
        "get",
        "00000000-0000-4000-8000-00000000dead",
    ]));
    assert!(stderr.contains("no report"), "{stderr}");
}

/// `talkhouse serve` on 127.0.0.1:0 in its own process; its address.
fn spawn_server(data: &DataDir) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = talkhouse(data)
        .args([
            "serve",
            "--dev-no-auth",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--report-workers", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("talkhouse listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, address)
}

async fn connect(address: &str) -> Clients {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Clients::with_channel(channel)
}

#[tokio::test]
async fn a_report_running_when_the_server_is_killed_is_finished_after_the_restart() {
    let (data, table, bot, _) = generated(20, 30).await;
    drop(table);
    let (mut server, address) = spawn_server(&data);
    let mut c = connect(&address).await;
    let request = v1::MessagesReportRequest {
        bot: bot.clone(),
        filter: filter("2024-03-01", "2024-03-20"),
        export_type: v1::ExportType::Xlsx as i32,
        ..Default::default()
    };
    let preview = c
        .messages
        .preview_messages_report(request.clone())
        .await
        .unwrap()
        .into_inner()
        .estimate;
    let id = request_messages(&mut c, request).await;
    let mut running = false;
    for _ in 0..1000 {
        if get(&mut c, &bot, &id).await.status == v1::ReportStatus::Running as i32 {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(running, "the report started");
    server.kill().unwrap();
    server.wait().unwrap();
    drop(c);

    let store =
        ReportStore::at(&talkhouse_storage::DataLocation::parse(&data.data()).unwrap()).unwrap();
    let record = store.all().await.unwrap().pop().unwrap();
    assert_eq!(
        (record.status, record.attempts, record.row_count),
        (talkhouse_core::report::ReportStatus::Running, 1, 0),
        "SIGKILL left the report RUNNING"
    );

    let (mut server, address) = spawn_server(&data);
    let mut c = connect(&address).await;
    let report = ready(&mut c, &bot, &id).await;
    assert_eq!(report.row_count as i64, preview);
    let rows = read_rows(ExportType::Xlsx, &download(&mut c, &bot, &id).await, ZONE);
    assert_eq!(rows.len() as i64, preview);
    server.kill().unwrap();
    server.wait().unwrap();
}
