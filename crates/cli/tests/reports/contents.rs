//! What a report holds: rows equal to the search answers in every format, exactly the
//! previewed count, a reproducible uniform sample, and no formula a spreadsheet would run.

use super::*;

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
