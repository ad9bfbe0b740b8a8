//! The questions the benchmark times: each dashboard call, and the SQL DuckDB answers it with.

use chrono::{Days, NaiveDate};
use talkhouse_core::window::{Zone, first_instant};
use talkhouse_proto::v1;
use tonic::transport::Channel;

pub const ZONE: &str = "America/Sao_Paulo";
pub const PAGE_SIZE: u32 = 20;

pub type Call = Box<
    dyn Fn(Channel) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>
        + Send
        + Sync,
>;

/// One timed question: the gRPC call (answering its provenance), and DuckDB's SQL for it.
pub struct Question {
    pub name: String,
    pub call: Call,
    pub sql: String,
    pub analytics: bool,
}

/// Who served an answer, or the status code of a refused call (the figures then say so).
pub fn outcome(answer: Result<Option<v1::Provenance>, tonic::Status>) -> String {
    match answer {
        Ok(provenance) => served(&provenance),
        Err(status) => format!("{:?}", status.code()),
    }
}

fn served(provenance: &Option<v1::Provenance>) -> String {
    match provenance.as_ref().map(|p| p.served_by()) {
        Some(v1::ServedBy::Rollups) => "rollups".into(),
        Some(v1::ServedBy::EventTables) => "events".into(),
        _ => "?".into(),
    }
}

/// The UTC instants (as DuckDB timestamp literals) of local midnight of `date` in the zone.
fn utc(date: NaiveDate) -> String {
    let zone = Zone::parse(ZONE).unwrap();
    format!(
        "TIMESTAMPTZ '{}'",
        first_instant(zone, date).format("%Y-%m-%d %H:%M:%S+00")
    )
}

pub async fn questions(
    channel: &Channel,
    bot: &Option<v1::BotRef>,
    until: NaiveDate,
) -> Vec<Question> {
    let bot_id = bot.as_ref().unwrap().bot_id.clone();
    let mut questions = Vec::new();
    let conversations = format!(
        "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY session_code \
         ORDER BY updated_at DESC, written_at DESC, batch_line DESC) AS rank \
         FROM events WHERE kind = 'conversation' AND bot_id = '{bot_id}') WHERE rank = 1)"
    );
    let messages = format!("(SELECT * FROM events WHERE kind = 'message' AND bot_id = '{bot_id}')");
    for days in [7u64, 30, 365] {
        let start = until - Days::new(days - 1);
        let previous = start - Days::new(days);
        let end = until + Days::new(1);
        let (s, p, e) = (utc(start), utc(previous), utc(end));
        let filter = v1::Filter {
            start_date: start.to_string(),
            end_date: until.to_string(),
            timezone: ZONE.into(),
            ..Default::default()
        };
        let request = v1::AnalyticsRequest {
            bot: bot.clone(),
            filter: Some(filter.clone()),
        };
        let period =
            |column: &str| format!("CASE WHEN {column} >= {s} THEN 0 ELSE 1 END AS period");
        let in_periods = |column: &str| format!("{column} >= {p} AND {column} < {e}");
        let local_day = |column: &str| format!("date_trunc('day', timezone('{ZONE}', {column}))");
        let analytics: [(&str, String); 7] = [
            (
                "conversation traffic",
                format!(
                    "SELECT {}, channel_uuid, count(*) FROM {conversations} WHERE {} GROUP BY ALL",
                    period("started_at"),
                    in_periods("started_at")
                ),
            ),
            (
                "message traffic",
                format!(
                    "SELECT {}, sender, count(*) FROM {messages} WHERE {} GROUP BY ALL",
                    period("sent_at"),
                    in_periods("sent_at")
                ),
            ),
            (
                "user traffic",
                format!(
                    "WITH c AS {conversations}, firsts AS (SELECT user_id, min(started_at) AS first \
                     FROM c GROUP BY user_id) \
                     SELECT period, first >= {s} AS new, count(*) FROM (SELECT DISTINCT {}, user_id \
                     FROM c WHERE {}) JOIN firsts USING (user_id) GROUP BY ALL",
                    period("started_at"),
                    in_periods("started_at")
                ),
            ),
            (
                "accuracy",
                format!(
                    "SELECT {}, nlp_response, count(*) FROM {messages} WHERE sender = 'USER' AND \
                     content_type = 'TEXT' AND nlp_response IN ('FOUND', 'NONE') AND {} GROUP BY ALL",
                    period("sent_at"),
                    in_periods("sent_at")
                ),
            ),
            (
                "conversation series",
                format!(
                    "SELECT {} AS day, channel_uuid, count(*) FROM {conversations} \
                     WHERE started_at >= {s} AND started_at < {e} GROUP BY ALL",
                    local_day("started_at")
                ),
            ),
            (
                "message series",
                format!(
                    "SELECT {} AS day, channel_uuid, count(*) FROM {messages} \
                     WHERE sent_at >= {s} AND sent_at < {e} GROUP BY ALL",
                    local_day("sent_at")
                ),
            ),
            (
                "user series",
                format!(
                    "SELECT {} AS day, channel_uuid, count(DISTINCT user_id) FROM {conversations} \
                     WHERE started_at >= {s} AND started_at < {e} GROUP BY ALL",
                    local_day("started_at")
                ),
            ),
        ];
        for (index, (name, sql)) in analytics.into_iter().enumerate() {
            let request = request.clone();
            let call: Call = Box::new(move |channel| {
                let request = request.clone();
                Box::pin(async move {
                    let mut client =
                        v1::analytics_service_client::AnalyticsServiceClient::new(channel);
                    let series = |_resource: u8| v1::SeriesRequest {
                        bot: request.bot.clone(),
                        filter: request.filter.clone(),
                        granularity: v1::Granularity::Day as i32,
                    };
                    match index {
                        0 => outcome(
                            client
                                .get_conversation_traffic(request)
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        1 => outcome(
                            client
                                .get_message_traffic(request)
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        2 => outcome(
                            client
                                .get_user_traffic(request)
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        3 => outcome(
                            client
                                .get_accuracy(request)
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        4 => outcome(
                            client
                                .get_conversation_series(series(0))
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        5 => outcome(
                            client
                                .get_message_series(series(1))
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                        _ => outcome(
                            client
                                .get_user_series(series(2))
                                .await
                                .map(|r| r.into_inner().provenance),
                        ),
                    }
                })
            });
            questions.push(Question {
                name: format!("{name}, {days} days"),
                call,
                sql,
                analytics: true,
            });
        }
    }

    // Searches over the 30 days before `until`: the first and the 500th page.
    let start = until - Days::new(29);
    let (s, e) = (utc(start), utc(until + Days::new(1)));
    for page in [1u32, 500] {
        let offset = (page - 1) * PAGE_SIZE;
        let filter = v1::Filter {
            start_date: start.to_string(),
            end_date: until.to_string(),
            timezone: ZONE.into(),
            ..Default::default()
        };
        let request = v1::SearchConversationsRequest {
            bot: bot.clone(),
            filter: Some(filter.clone()),
            page: Some(page as i32),
            size: Some(PAGE_SIZE as i32),
            ..Default::default()
        };
        questions.push(Question {
            name: format!("search conversations, page {page}"),
            call: Box::new(move |channel| {
                let request = request.clone();
                Box::pin(async move {
                    let mut client =
                        v1::conversation_service_client::ConversationServiceClient::new(channel);
                    outcome(client.search_conversations(request).await.map(|r| r.into_inner().provenance))
                })
            }),
            sql: format!(
                "SELECT (SELECT count(*) FROM {conversations} WHERE started_at >= {s} AND started_at < {e}), \
                 * FROM {conversations} WHERE started_at >= {s} AND started_at < {e} \
                 ORDER BY started_at DESC, session_code DESC LIMIT {PAGE_SIZE} OFFSET {offset}"
            ),
            analytics: false,
        });
        let request = v1::SearchMessagesRequest {
            bot: bot.clone(),
            filter: Some(filter),
            page: Some(page as i32),
            size: Some(PAGE_SIZE as i32),
            ..Default::default()
        };
        questions.push(Question {
            name: format!("search messages, page {page}"),
            call: Box::new(move |channel| {
                let request = request.clone();
                Box::pin(async move {
                    let mut client = v1::message_service_client::MessageServiceClient::new(channel);
                    outcome(
                        client
                            .search_messages(request)
                            .await
                            .map(|r| r.into_inner().provenance),
                    )
                })
            }),
            sql: format!(
                "SELECT (SELECT count(*) FROM {messages} WHERE sent_at >= {s} AND sent_at < {e}), \
                 * FROM {messages} WHERE sent_at >= {s} AND sent_at < {e} \
                 ORDER BY sent_at DESC, message_id DESC LIMIT {PAGE_SIZE} OFFSET {offset}"
            ),
            analytics: false,
        });
    }

    // A transcript of a session of the last day.
    let session = {
        let mut client =
            v1::conversation_service_client::ConversationServiceClient::new(channel.clone());
        client
            .search_conversations(v1::SearchConversationsRequest {
                bot: bot.clone(),
                filter: Some(v1::Filter {
                    start_date: until.to_string(),
                    end_date: until.to_string(),
                    timezone: ZONE.into(),
                    ..Default::default()
                }),
                page: Some(1),
                size: Some(1),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .content[0]
            .session_code
            .clone()
    };
    let request = v1::GetConversationRequest {
        bot: bot.clone(),
        session_code: session.clone(),
        timezone: ZONE.into(),
    };
    questions.push(Question {
        name: "transcript".into(),
        call: Box::new(move |channel| {
            let request = request.clone();
            Box::pin(async move {
                let mut client =
                    v1::conversation_service_client::ConversationServiceClient::new(channel);
                outcome(
                    client
                        .get_conversation(request)
                        .await
                        .map(|r| r.into_inner().provenance),
                )
            })
        }),
        sql: format!(
            "SELECT * FROM {conversations} WHERE session_code = '{session}'; \
             SELECT * FROM {messages} WHERE session_code = '{session}' ORDER BY sent_at, message_id"
        ),
        analytics: false,
    });
    questions
}
