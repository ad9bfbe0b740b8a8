//! CONTRACT §5 without authentication: each wrong request gets its code, and a bad field is named
//! in the `google.rpc.BadRequest` details.

use talkhouse_proto::v1;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::support::{BOT, Clients, DataDir, ENV, ORG, RunningServer, bot_ref, days};

fn analytics(filter: v1::Filter) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(filter),
    }
}

fn with(change: impl FnOnce(&mut v1::Filter)) -> v1::AnalyticsRequest {
    let mut filter = days("2024-03-01", "2024-03-31", "UTC");
    change(&mut filter);
    analytics(filter)
}

fn search(
    change: impl FnOnce(&mut v1::SearchConversationsRequest),
) -> v1::SearchConversationsRequest {
    let mut request = v1::SearchConversationsRequest {
        bot: bot_ref(ORG, ENV, BOT),
        filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
        ..Default::default()
    };
    change(&mut request);
    request
}

pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_contract_error_has_its_code_and_names_the_field() {
    let data = DataDir::new();
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;

    let traffic_cases: Vec<(&str, v1::AnalyticsRequest, &str)> = vec![
        (
            "malformed org uuid",
            v1::AnalyticsRequest {
                bot: bot_ref("not-a-uuid", ENV, BOT),
                filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            },
            "bot.org_id",
        ),
        (
            "malformed bot uuid",
            v1::AnalyticsRequest {
                bot: bot_ref(ORG, ENV, "0b00"),
                filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            },
            "bot.bot_id",
        ),
        (
            "missing bot",
            v1::AnalyticsRequest {
                bot: None,
                filter: Some(days("2024-03-01", "2024-03-01", "UTC")),
            },
            "bot",
        ),
        (
            "missing filter",
            v1::AnalyticsRequest {
                bot: bot_ref(ORG, ENV, BOT),
                filter: None,
            },
            "filter",
        ),
        (
            "malformed start date",
            with(|f| f.start_date = "2024-13-01".into()),
            "filter.start_date",
        ),
        (
            "missing end date",
            with(|f| f.end_date = String::new()),
            "filter.end_date",
        ),
        (
            "date-time without zone",
            with(|f| f.start_date = "2024-03-01T00:00:00".into()),
            "filter.start_date",
        ),
        (
            "hour above 23",
            with(|f| f.start_hour = Some(24)),
            "filter.start_hour",
        ),
        (
            "negative hour",
            with(|f| f.end_hour = Some(-1)),
            "filter.end_hour",
        ),
        (
            "unknown timezone",
            with(|f| f.timezone = "Mars/Olympus".into()),
            "filter.timezone",
        ),
        (
            "lower-case timezone",
            with(|f| f.timezone = "america/sao_paulo".into()),
            "filter.timezone",
        ),
        (
            "offset beyond 18 hours",
            with(|f| f.timezone = "+19:00".into()),
            "filter.timezone",
        ),
        (
            "end before start",
            with(|f| f.end_date = "2024-02-29".into()),
            "filter.end_date",
        ),
        (
            "range over 366 days",
            with(|f| {
                f.start_date = "2023-01-01".into();
                f.end_date = "2024-01-02".into();
            }),
            "filter.end_date",
        ),
        (
            "malformed channel",
            with(|f| f.channel_uuids = vec!["x".into()]),
            "filter.channel_uuids[0]",
        ),
        (
            "tags with untagged",
            with(|f| {
                f.tags_name = vec!["sales".into()];
                f.untagged = true;
            }),
            "filter.untagged",
        ),
    ];
    for (case, request, field) in traffic_cases {
        let status = c
            .analytics
            .get_conversation_traffic(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{case}");
        assert!(
            fields(&status).contains(&field.to_string()),
            "{case}: {:?}",
            fields(&status)
        );
    }

    let search_cases: Vec<(&str, v1::SearchConversationsRequest, &str)> = vec![
        ("page 0", search(|r| r.page = Some(0)), "page"),
        ("size 0", search(|r| r.size = Some(0)), "size"),
        (
            "size over the maximum",
            search(|r| r.size = Some(101)),
            "size",
        ),
        ("unknown sort", search(|r| r.sort = 99), "sort"),
        ("unknown order", search(|r| r.order = 7), "order"),
        (
            "term without field",
            search(|r| r.search_term = "A".into()),
            "search_by",
        ),
        (
            "field without term",
            search(|r| r.search_by = v1::SearchBy::Flow as i32),
            "search_term",
        ),
        (
            "snapshot not yet written",
            search(|r| r.snapshot = Some(99)),
            "snapshot",
        ),
    ];
    for (case, request, field) in search_cases {
        let status = c
            .conversations
            .search_conversations(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{case}");
        assert!(
            fields(&status).contains(&field.to_string()),
            "{case}: {:?}",
            fields(&status)
        );
    }

    // Reports and previews: cap beyond max_sample, bad confidence, bad NLP filter.
    let preview = |change: fn(&mut v1::MessagesReportRequest)| {
        let mut request = v1::MessagesReportRequest {
            bot: bot_ref(ORG, ENV, BOT),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            ..Default::default()
        };
        change(&mut request);
        request
    };
    let preview_cases: Vec<(&str, v1::MessagesReportRequest, &str)> = vec![
        (
            "cap over max_sample",
            preview(|r| r.cap = Some(10_001)),
            "cap",
        ),
        ("cap 0", preview(|r| r.cap = Some(0)), "cap"),
        (
            "confidence over 100",
            preview(|r| r.min_confidence = Some(100.5)),
            "min_confidence",
        ),
        (
            "negative margin",
            preview(|r| r.error_margin = Some(-1.0)),
            "error_margin",
        ),
        (
            "unspecified nlp filter",
            preview(|r| r.nlp_response_filters = vec![0]),
            "nlp_response_filters[0]",
        ),
    ];
    for (case, request, field) in preview_cases {
        let status = c
            .messages
            .preview_messages_report(request.clone())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{case}");
        assert!(
            fields(&status).contains(&field.to_string()),
            "{case}: {:?}",
            fields(&status)
        );
        let status = c
            .messages
            .request_messages_report(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{case} (request)");
    }

    // Unknown session code and report id: NOT_FOUND.
    let status = c
        .conversations
        .get_conversation(v1::GetConversationRequest {
            bot: bot_ref(ORG, ENV, BOT),
            session_code: "nope".into(),
            timezone: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = c
        .conversations
        .get_conversation(v1::GetConversationRequest {
            bot: bot_ref(ORG, ENV, BOT),
            session_code: String::new(),
            timezone: "+25:00".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["session_code", "timezone"]);
    let report = v1::GetReportRequest {
        bot: bot_ref(ORG, ENV, BOT),
        report_id: "00000000-0000-4000-8000-00000000beef".into(),
    };
    assert_eq!(
        c.reports
            .get_report(report.clone())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        c.reports.download_report(report).await.unwrap_err().code(),
        Code::NotFound
    );
    let status = c
        .reports
        .get_report(v1::GetReportRequest {
            bot: bot_ref(ORG, ENV, BOT),
            report_id: "42".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["report_id"]);
    let status = c
        .reports
        .list_reports(v1::ListReportsRequest {
            bot: bot_ref(ORG, ENV, BOT),
            page: Some(0),
            size: Some(0),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page", "size"]);

    // A report needs an export type; a preview does not.
    let status = c
        .messages
        .request_messages_report(preview(|_| {}))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["export_type"]);
    let status = c
        .messages
        .request_messages_report(preview(|r| r.export_type = 99))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["export_type"]);
    // An unknown report id and a transcript of an unknown session are NOT_FOUND.
    let status = c
        .reports
        .get_report(v1::GetReportRequest {
            bot: bot_ref(ORG, ENV, BOT),
            report_id: "00000000-0000-4000-8000-00000000a001".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = c
        .conversations
        .request_transcript_report(v1::TranscriptReportRequest {
            bot: bot_ref(ORG, ENV, BOT),
            session_code: "no-such-session".into(),
            timezone: "UTC".into(),
            export_type: v1::ExportType::Csv as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // The server still serves after all of that.
    let summary = c.summary(bot_ref(ORG, ENV, BOT)).await;
    assert!(!summary.has_data);
    server.stop().await;
}
