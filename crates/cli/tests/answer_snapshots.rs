//! Every endpoint group's gRPC answer over the checked-in fixture, as reviewed snapshots
//! (`tests/snapshots/`). Ids, instants and what varies between runs (elapsed time, bytes read)
//! are redacted, so a snapshot changes only when an answer's shape or numbers do.
//!
//! A changed answer fails the test and leaves a `.snap.new` beside the snapshot: review it with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo nextest run answer_snapshots` and read
//! the diff) before committing it. The numbers themselves are worked out by hand in
//! `dashboard_fixture.rs`.

use talkhouse_proto::v1;

use crate::support::{Clients, RunningServer, bot_ref, days, with_fixture};

const ORG: &str = "0a000000-0000-4000-8000-000000000001";
const ENV: &str = "0e000000-0000-4000-8000-000000000001";
const BOT1: &str = "0b000000-0000-4000-8000-000000000001";

/// What differs between runs or would hide a real change among ids: redacted in every snapshot.
fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[id]",
        ),
        (r"seconds: -?\d+,", "seconds: [redacted],"),
        (r"nanos: \d+,", "nanos: [redacted],"),
        (r"bytes_scanned: \d+,", "bytes_scanned: [redacted],"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings
}

fn window() -> v1::Filter {
    days("2024-03-09", "2024-03-11", "America/Sao_Paulo")
}

#[tokio::test]
async fn every_endpoint_group_answers_as_reviewed() {
    let data = with_fixture();
    let server = RunningServer::start(data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let bot = bot_ref(ORG, ENV, BOT1);
    let analytics = v1::AnalyticsRequest {
        bot: bot.clone(),
        filter: Some(window()),
    };
    let series = |granularity: v1::Granularity| v1::SeriesRequest {
        bot: bot.clone(),
        filter: Some(window()),
        granularity: granularity as i32,
    };
    let _settings = redactions().bind_to_scope();

    insta::assert_debug_snapshot!("summary", c.summary(bot.clone()).await);
    let config = v1::GetReportConfigRequest { bot: bot.clone() };
    insta::assert_debug_snapshot!(
        "conversation_report_config",
        c.dashboard
            .get_conversation_report_config(config)
            .await
            .unwrap()
            .into_inner()
    );

    let a = &mut c.analytics;
    insta::assert_debug_snapshot!(
        "conversation_traffic",
        a.get_conversation_traffic(analytics.clone())
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "message_traffic",
        a.get_message_traffic(analytics.clone())
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "user_traffic",
        a.get_user_traffic(analytics.clone())
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "accuracy",
        a.get_accuracy(analytics.clone())
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "conversation_series_by_day",
        a.get_conversation_series(series(v1::Granularity::Day))
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "message_series_by_hour",
        a.get_message_series(series(v1::Granularity::Hour))
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "user_series_by_day",
        a.get_user_series(series(v1::Granularity::Day))
            .await
            .unwrap()
            .into_inner()
    );

    insta::assert_debug_snapshot!(
        "conversation_search",
        c.conversations
            .search_conversations(v1::SearchConversationsRequest {
                bot: bot.clone(),
                filter: Some(window()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "transcript",
        c.conversations
            .get_conversation(v1::GetConversationRequest {
                bot: bot.clone(),
                session_code: "A".into(),
                timezone: "America/Sao_Paulo".into(),
            })
            .await
            .unwrap()
            .into_inner()
    );
    insta::assert_debug_snapshot!(
        "message_search",
        c.messages
            .search_messages(v1::SearchMessagesRequest {
                bot: bot.clone(),
                filter: Some(window()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    );
    server.stop().await;
}
