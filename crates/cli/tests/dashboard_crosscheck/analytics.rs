//! Traffic boxes and accuracy against the reference.

use std::collections::BTreeSet;

use talkhouse_core::Message;
use talkhouse_proto::v1;

use super::Round;
use crate::support::Clients;

fn overview_of(response: &v1::TrafficResponse) -> (i64, i64) {
    let o = response.overview.as_ref().unwrap();
    (o.total, o.previous_total)
}

fn breakdown_of(response: &v1::TrafficResponse) -> Vec<(String, i64)> {
    response
        .breakdown
        .iter()
        .map(|b| (b.key.clone(), b.value))
        .collect()
}

pub async fn check(c: &mut Clients, round: &Round<'_>) {
    let Round {
        reference,
        query,
        bot: bot_ref,
        context,
        ..
    } = round;
    let analytics = v1::AnalyticsRequest {
        bot: bot_ref.clone(),
        filter: Some(query.filter()),
    };

    // Conversation traffic.
    let answer = c
        .analytics
        .get_conversation_traffic(analytics.clone())
        .await
        .unwrap()
        .into_inner();
    let current = reference.conversations_in(query, false);
    let previous = reference.conversations_in(query, true);
    assert_eq!(
        overview_of(&answer),
        (current.len() as i64, previous.len() as i64),
        "{context}"
    );
    let expected: Vec<(String, i64)> = reference
        .channels(query)
        .into_iter()
        .map(|ch| {
            let n = current
                .iter()
                .filter(|c| c.channel_uuid.to_string() == ch)
                .count() as i64;
            (ch, n)
        })
        .collect();
    assert_eq!(breakdown_of(&answer), expected, "{context}");

    // Message traffic.
    let answer = c
        .analytics
        .get_message_traffic(analytics.clone())
        .await
        .unwrap()
        .into_inner();
    let current_messages = reference.messages_in(query, false);
    let previous_messages = reference.messages_in(query, true);
    assert_eq!(
        overview_of(&answer),
        (
            current_messages.len() as i64,
            previous_messages.len() as i64
        ),
        "{context}"
    );
    let users = current_messages
        .iter()
        .filter(|m| m.sender.as_str() == "USER")
        .count() as i64;
    assert_eq!(
        breakdown_of(&answer),
        [
            ("USER".to_string(), users),
            ("BOT".to_string(), current_messages.len() as i64 - users)
        ],
        "{context}"
    );

    // Users, NEW when their first conversation ever started on or after start_date.
    let answer = c
        .analytics
        .get_user_traffic(analytics.clone())
        .await
        .unwrap()
        .into_inner();
    let current_users: BTreeSet<&str> = current.iter().map(|c| c.user_id.as_str()).collect();
    let previous_users: BTreeSet<&str> = previous.iter().map(|c| c.user_id.as_str()).collect();
    let new = current_users
        .iter()
        .filter(|user| {
            let first = reference
                .conversations
                .iter()
                .filter(|c| c.user_id == **user)
                .map(|c| c.started_at)
                .min()
                .unwrap();
            query.zone().local(first).0.date() >= query.start
        })
        .count() as i64;
    assert_eq!(
        overview_of(&answer),
        (current_users.len() as i64, previous_users.len() as i64),
        "{context}"
    );
    assert_eq!(
        breakdown_of(&answer),
        [
            ("NEW".to_string(), new),
            ("RETURNING".to_string(), current_users.len() as i64 - new)
        ],
        "{context}"
    );

    // Accuracy.
    let answer = c
        .analytics
        .get_accuracy(analytics.clone())
        .await
        .unwrap()
        .into_inner();
    let count = |messages: &[&Message], response: &str| {
        messages
            .iter()
            .filter(|m| {
                m.sender.as_str() == "USER"
                    && m.content_type.as_str() == "TEXT"
                    && m.nlp_response.map(|r| r.as_str()) == Some(response)
            })
            .count() as i64
    };
    assert_eq!(
        (
            answer.found,
            answer.not_found,
            answer.previous_found,
            answer.previous_not_found
        ),
        (
            count(&current_messages, "FOUND"),
            count(&current_messages, "NONE"),
            count(&previous_messages, "FOUND"),
            count(&previous_messages, "NONE")
        ),
        "{context}"
    );
}
