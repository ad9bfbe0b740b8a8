//! Every dashboard endpoint against the checked-in fixture, with answers worked out by hand.
//!
//! Bot …01 of `tests/fixtures/small.jsonl` (UTC instants):
//! - session A, user u1, channel a1: record started 03-09 23:50, ended 03-10 00:10, rated 4,
//!   flows greeting → order-status, tag sales, 2 user messages; messages 01 (USER FOUND 95.5,
//!   03-09 23:50:00), 02 (BOT 23:50:05), 03 (USER NONE 30, 03-10 00:05:00), 04 (BOT 00:05:02).
//! - session B, user u2, channel a2: record started 03-10 14:00, open, last updated 14:02,
//!   flows greeting → billing, untagged, 2 user messages; messages 05 (USER IMAGE 14:00:00),
//!   06 (BOT 14:00:03), 07 (USER FOUND 88, 14:01:00; its copy is a duplicate).
//! - session C, user u1, channel a3: no record; message 08 (USER NONE 12, 03-11 08:00,
//!   tags support, vip).
//!
//! Bot …02 has session A with user u9 on 03-10.

use talkhouse_proto::v1;
use tonic::Code;

use crate::support::{Clients, RunningServer, bot_ref, days, instant, with_fixture};

const ORG: &str = "0a000000-0000-4000-8000-000000000001";
const ENV: &str = "0e000000-0000-4000-8000-000000000001";
const BOT1: &str = "0b000000-0000-4000-8000-000000000001";
const BOT2: &str = "0b000000-0000-4000-8000-000000000002";
const A1: &str = "c0000000-0000-4000-8000-0000000000a1";
const A2: &str = "c0000000-0000-4000-8000-0000000000a2";
const A3: &str = "c0000000-0000-4000-8000-0000000000a3";

fn request(filter: v1::Filter) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot_ref(ORG, ENV, BOT1),
        filter: Some(filter),
    }
}

fn message_ids(content: &[v1::MessageSummary]) -> Vec<String> {
    content
        .iter()
        .map(|m| m.message_id[m.message_id.len() - 2..].to_string())
        .collect()
}

fn sessions(content: &[v1::ConversationSummary]) -> Vec<&str> {
    content.iter().map(|c| c.session_code.as_str()).collect()
}

#[tokio::test]
async fn every_endpoint_answers_the_fixture_exactly() {
    let data = with_fixture();
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;

    // Summary.
    let summary = c.summary(bot_ref(ORG, ENV, BOT1)).await;
    assert!(summary.has_data);
    assert_eq!(
        instant(&summary.first_data_set).to_rfc3339(),
        "2024-03-09T23:50:00+00:00"
    );
    assert_eq!(
        instant(&summary.last_data_set).to_rfc3339(),
        "2024-03-11T08:00:00+00:00"
    );
    let channels: Vec<(&str, &str)> = summary
        .channels
        .iter()
        .map(|c| (c.uuid.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(channels[0], (A1, "WhatsApp Business"));
    assert_eq!(
        channels.iter().map(|c| c.0).collect::<Vec<_>>(),
        [A1, A2, A3]
    );
    let provenance = summary.provenance.unwrap();
    assert_eq!(provenance.snapshot, 1);
    assert_eq!(
        instant(&provenance.data_as_of).to_rfc3339(),
        "2024-03-11T08:00:00+00:00"
    );
    assert!(provenance.rows_scanned > 0);

    // Another bot of the same org, or a bot with no data at all, sees none of bot 01.
    let empty = c
        .summary(bot_ref(ORG, ENV, "0b000000-0000-4000-8000-0000000000ff"))
        .await;
    assert!(!empty.has_data && empty.channels.is_empty() && empty.first_data_set.is_none());
    let wrong_env = c
        .summary(bot_ref(ORG, "0e000000-0000-4000-8000-000000000009", BOT1))
        .await;
    assert!(!wrong_env.has_data);

    // Conversation traffic, UTC, 03-10 against 03-09: B against A.
    let traffic = c
        .analytics
        .get_conversation_traffic(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (1, 1));
    assert!(!overview.increased);
    assert_eq!(overview.increase_percentage, Some(0.0));
    assert_eq!(
        instant(&overview.compared_start).to_rfc3339(),
        "2024-03-09T00:00:00+00:00"
    );
    assert_eq!(
        instant(&overview.compared_end).to_rfc3339(),
        "2024-03-09T23:59:59.999+00:00"
    );
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [(A1, 0), (A2, 1), (A3, 0)]);

    // At +01:00, A starts at 00:50 on 03-10: both in the window, none before.
    let traffic = c
        .analytics
        .get_conversation_traffic(request(days("2024-03-10", "2024-03-10", "+01:00")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 0));
    assert!(overview.increased);
    assert_eq!(overview.increase_percentage, None);
    assert_eq!(
        instant(&overview.compared_start).to_rfc3339(),
        "2024-03-08T23:00:00+00:00"
    );

    // A channel filter lists exactly the channels asked, in the order asked.
    let mut filter = days("2024-03-10", "2024-03-10", "UTC");
    filter.channel_uuids = vec![
        A2.into(),
        "c0000000-0000-4000-8000-0000000000ff".into(),
        A2.into(),
    ];
    let traffic = c
        .analytics
        .get_conversation_traffic(request(filter))
        .await
        .unwrap()
        .into_inner();
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(
        breakdown,
        [(A2, 1), ("c0000000-0000-4000-8000-0000000000ff", 0)]
    );

    // Message traffic: 03, 04, 05, 06, 07 on 03-10 against 01, 02.
    let traffic = c
        .analytics
        .get_message_traffic(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (5, 2));
    assert_eq!(overview.increase_percentage, Some(150.0));
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [("USER", 3), ("BOT", 2)]);

    // A wrapped hour window 22..0: only 03 and 04 on 03-10, 01 and 02 on 03-09.
    let mut filter = days("2024-03-10", "2024-03-10", "UTC");
    filter.start_hour = Some(22);
    filter.end_hour = Some(0);
    let overview = c
        .analytics
        .get_message_traffic(request(filter))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 2));

    // Tags: only messages tagged sales (01, 03); untagged: 02, 04, 05, 06, 07.
    let mut filter = days("2024-03-09", "2024-03-10", "UTC");
    filter.tags_name = vec!["sales".into()];
    let overview = c
        .analytics
        .get_message_traffic(request(filter.clone()))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!(overview.total, 2);
    filter.tags_name.clear();
    filter.untagged = true;
    let overview = c
        .analytics
        .get_message_traffic(request(filter))
        .await
        .unwrap()
        .into_inner()
        .overview
        .unwrap();
    assert_eq!(overview.total, 5);

    // Users: u1 and u2 both start on 03-09..03-10, both NEW.
    let traffic = c
        .analytics
        .get_user_traffic(request(days("2024-03-09", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    let overview = traffic.overview.unwrap();
    assert_eq!((overview.total, overview.previous_total), (2, 0));
    let breakdown: Vec<(&str, i64)> = traffic
        .breakdown
        .iter()
        .map(|b| (b.key.as_str(), b.value))
        .collect();
    assert_eq!(breakdown, [("NEW", 2), ("RETURNING", 0)]);

    // Accuracy on 03-10: 07 FOUND, 03 NONE (05 is an IMAGE) = 50; on 03-09: 01 FOUND = 100.
    let accuracy = c
        .analytics
        .get_accuracy(request(days("2024-03-10", "2024-03-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accuracy.accuracy, Some(50.0));
    assert_eq!(accuracy.previous_accuracy, Some(100.0));
    assert!(!accuracy.increased);
    assert_eq!(accuracy.increase_percentage, Some(-50.0));
    assert_eq!((accuracy.found, accuracy.not_found), (1, 1));
    let none = c
        .analytics
        .get_accuracy(request(days("2024-01-10", "2024-01-10", "UTC")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((none.accuracy, none.increase_percentage), (None, None));

    // Series: 2 days is HOUR by default; A in hour 23 of 03-09, B in hour 14 of 03-10.
    let series = c
        .analytics
        .get_conversation_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-10", "UTC")),
            granularity: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.granularity, v1::Granularity::Hour as i32);
    assert_eq!(series.buckets.len(), 48);
    assert_eq!(series.buckets[23].label, "2024-03-09T23:00:00+00:00");
    let mut a1 = vec![0; 48];
    a1[23] = 1;
    let mut a2 = vec![0; 48];
    a2[24 + 14] = 1;
    let datasets: Vec<(&str, &Vec<i64>)> = series
        .datasets
        .iter()
        .map(|d| (d.channel_uuid.as_str(), &d.data))
        .collect();
    assert_eq!(datasets, [(A1, &a1), (A2, &a2), (A3, &vec![0; 48])]);

    let series = c
        .analytics
        .get_message_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-11", "UTC")),
            granularity: v1::Granularity::Day as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let datasets: Vec<Vec<i64>> = series.datasets.iter().map(|d| d.data.clone()).collect();
    assert_eq!(datasets, [vec![2, 2, 0], vec![0, 3, 0], vec![0, 0, 1]]);

    // In Sao Paulo (-03:00) A is on 03-09 and u1's message 08 on 03-11.
    let series = c
        .analytics
        .get_user_series(v1::SeriesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-09", "2024-03-11", "America/Sao_Paulo")),
            granularity: v1::Granularity::Day as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.buckets[0].label, "2024-03-09T00:00:00-03:00");
    let datasets: Vec<Vec<i64>> = series.datasets.iter().map(|d| d.data.clone()).collect();
    assert_eq!(datasets, [vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 0]]);

    // Conversation search and its sorts.
    let search =
        |sort: v1::ConversationSort, order: v1::SortOrder| v1::SearchConversationsRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            sort: sort as i32,
            order: order as i32,
            ..Default::default()
        };
    use v1::ConversationSort as S;
    use v1::SortOrder as O;
    for (sort, order, expected) in [
        (S::Unspecified, O::Unspecified, ["B", "A"]),
        (S::ConversationStartedAt, O::Asc, ["A", "B"]),
        (S::Satisfaction, O::Desc, ["A", "B"]),
        (S::Satisfaction, O::Asc, ["A", "B"]),
        (S::UserMessages, O::Asc, ["A", "B"]),
        (S::UserMessages, O::Desc, ["B", "A"]),
        (S::Duration, O::Desc, ["A", "B"]),
        (S::FlowsTravelled, O::Asc, ["A", "B"]),
    ] {
        let answer = c
            .conversations
            .search_conversations(search(sort, order))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sessions(&answer.content), expected, "{sort:?} {order:?}");
    }
    let answer = c
        .conversations
        .search_conversations(search(S::Unspecified, O::Asc))
        .await
        .unwrap()
        .into_inner();
    let a = &answer.content[0];
    assert_eq!(a.duration_seconds, 1200.0);
    assert_eq!(a.flows_travelled, 2);
    assert_eq!(a.satisfaction, Some(4));
    assert_eq!(a.started_at_local, "2024-03-09T23:50:00+00:00");
    let b = &answer.content[1];
    assert_eq!(
        (b.duration_seconds, b.user_messages, b.ended_at),
        (120.0, 2, None)
    );

    for (by, term, expected) in [
        (v1::SearchBy::Flow, "billing", vec!["B"]),
        (v1::SearchBy::BusinessKey, "+5511900000001", vec!["A"]),
        (v1::SearchBy::SessionCode, "C", vec![]),
    ] {
        let mut request = search(S::Unspecified, O::Unspecified);
        request.search_by = by as i32;
        request.search_term = term.into();
        let answer = c
            .conversations
            .search_conversations(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sessions(&answer.content), expected, "{by:?}");
    }
    let mut request = search(S::Unspecified, O::Unspecified);
    request.filter.as_mut().unwrap().untagged = true;
    let answer = c
        .conversations
        .search_conversations(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sessions(&answer.content), ["B"]);

    // Pages: size 1 gives B then A; page 3 is empty with the totals.
    for (page, expected) in [(1, vec!["B"]), (2, vec!["A"]), (3, vec![])] {
        let mut request = search(S::Unspecified, O::Unspecified);
        request.page = Some(page);
        request.size = Some(1);
        let answer = c
            .conversations
            .search_conversations(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sessions(&answer.content), expected);
        let info = answer.page.unwrap();
        assert_eq!(
            (info.page, info.size, info.total_elements, info.total_pages),
            (page as u32, 1, 2, 2)
        );
    }

    // Message search: by confidence, absent confidences last; NLP filters; by conversation start.
    let search = |sort: v1::MessageSort, order: v1::SortOrder, nlp: Vec<v1::NlpResponseFilter>| {
        v1::SearchMessagesRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-10", "2024-03-11", "UTC")),
            sort: sort as i32,
            order: order as i32,
            nlp_response_filters: nlp.into_iter().map(|n| n as i32).collect(),
            ..Default::default()
        }
    };
    use v1::MessageSort as M;
    use v1::NlpResponseFilter as N;
    for (sort, order, nlp, expected) in [
        (
            M::Confidence,
            O::Desc,
            vec![],
            vec!["07", "03", "08", "06", "05", "04"],
        ),
        (
            M::Confidence,
            O::Asc,
            vec![],
            vec!["08", "03", "07", "04", "05", "06"],
        ),
        (M::Unspecified, O::Unspecified, vec![N::Found], vec!["07"]),
        (
            M::Unspecified,
            O::Unspecified,
            vec![N::None],
            vec!["08", "03"],
        ),
        (
            M::Unspecified,
            O::Unspecified,
            vec![N::None, N::All],
            vec!["08", "07", "06", "05", "04", "03"],
        ),
        (
            M::ConversationStartedAt,
            O::Asc,
            vec![],
            vec!["03", "04", "05", "06", "07", "08"],
        ),
        (
            M::ConversationStartedAt,
            O::Desc,
            vec![],
            vec!["07", "06", "05", "04", "03", "08"],
        ),
    ] {
        let answer = c
            .messages
            .search_messages(search(sort, order, nlp.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            message_ids(&answer.content),
            expected,
            "{sort:?} {order:?} {nlp:?}"
        );
    }
    let mut request = search(M::Unspecified, O::Unspecified, vec![]);
    request.search_by = v1::SearchBy::Flow as i32;
    request.search_term = "order-status".into();
    let answer = c
        .messages
        .search_messages(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message_ids(&answer.content), ["04", "03"]);

    // Transcripts.
    let get = |bot: &str, code: &str| v1::GetConversationRequest {
        bot: bot_ref(ORG, ENV, bot),
        session_code: code.into(),
        timezone: "America/Sao_Paulo".into(),
    };
    let a = c
        .conversations
        .get_conversation(get(BOT1, "A"))
        .await
        .unwrap()
        .into_inner();
    assert!(!a.derived);
    assert_eq!(message_ids(&a.messages), ["01", "02", "03", "04"]);
    assert_eq!(a.messages[0].sent_at_local, "2024-03-09T20:50:00-03:00");
    let derived = c
        .conversations
        .get_conversation(get(BOT1, "C"))
        .await
        .unwrap()
        .into_inner();
    assert!(derived.derived);
    let record = derived.conversation.unwrap();
    assert_eq!(
        (record.user_id.as_str(), record.channel_uuid.as_str()),
        ("u1", A3)
    );
    assert_eq!(
        instant(&record.started_at).to_rfc3339(),
        "2024-03-11T08:00:00+00:00"
    );
    assert_eq!((record.ended_at, record.satisfaction), (None, None));
    for (bot, code) in [(BOT1, "Z"), (BOT2, "B")] {
        let status = c
            .conversations
            .get_conversation(get(bot, code))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{bot} {code}");
    }
    let other = c
        .conversations
        .get_conversation(get(BOT2, "A"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.conversation.unwrap().user_id, "u9");

    // Previews: conversations with a user message of confidence ≥ 90 (A), ≥ 85 (A, B), capped.
    let preview =
        |min: Option<f64>, margin: Option<f64>, cap: Option<i64>| v1::ConversationsReportRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            min_confidence: min,
            error_margin: margin,
            cap,
            ..Default::default()
        };
    for (min, margin, cap, expected) in [
        (None, None, None, 2),
        (Some(90.0), None, None, 1),
        (Some(90.0), Some(5.0), None, 2),
        (Some(90.0), Some(5.0), Some(1), 1),
        (Some(99.0), None, None, 0),
    ] {
        let answer = c
            .conversations
            .preview_conversations_report(preview(min, margin, cap))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.estimate, expected, "{min:?} {margin:?} {cap:?}");
    }
    let answer = c
        .messages
        .preview_messages_report(v1::MessagesReportRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            filter: Some(days("2024-03-01", "2024-03-31", "UTC")),
            min_confidence: Some(80.0),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.estimate, 2); // 01 (95.5) and 07 (88)

    // Report configuration and the (still empty) report list.
    let config = c
        .dashboard
        .get_conversation_report_config(v1::GetReportConfigRequest {
            bot: bot_ref(ORG, ENV, BOT1),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(config.max_sample, 10_000);
    assert_eq!(config.available_export_types.len(), 4);
    let reports = c
        .reports
        .list_reports(v1::ListReportsRequest {
            bot: bot_ref(ORG, ENV, BOT1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reports.content.is_empty());
    assert_eq!(reports.page.unwrap().size, 5);

    server.stop().await;
}

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
