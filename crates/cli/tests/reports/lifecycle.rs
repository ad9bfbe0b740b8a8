//! A report's life: resumed after a stop or a kill, expired, listed per bot under the bot's
//! rules, and read on the command line.

use super::*;

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
    let status = download_refused(&mut c, &bot, &ids[2]).await;
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
    let status = download_refused(&mut c, &bot, &ids[2]).await;
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
    let status = download_refused(&mut c, &bot, &id).await;
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

#[tokio::test]
async fn a_report_running_when_the_server_is_killed_is_finished_after_the_restart() {
    let (data, table, bot, _) = generated(20, 30).await;
    drop(table);
    let (mut server, address) = spawn_server(&data);
    let mut c = Clients::connect_to(&address).await;
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
    let mut c = Clients::connect_to(&address).await;
    let report = ready(&mut c, &bot, &id).await;
    assert_eq!(report.row_count as i64, preview);
    let rows = read_rows(ExportType::Xlsx, &download(&mut c, &bot, &id).await, ZONE);
    assert_eq!(rows.len() as i64, preview);
    server.kill().unwrap();
    server.wait().unwrap();
}
