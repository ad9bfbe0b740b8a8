//! Searches, transcripts, previews and the report configuration over the fixture.

use talkhouse_proto::v1;
use tonic::Code;

use super::*;
use crate::support::{bot_ref, days, instant};

/// Bot 01's conversation and message searches, their sorts and pages, transcripts, report
/// previews and the report configuration.
#[tokio::test]
async fn searches_transcripts_and_previews_answer_the_fixture_exactly() {
    let (_data, server, mut c) = serve_fixture().await;

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
