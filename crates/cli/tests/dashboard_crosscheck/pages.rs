//! A page of each search, with a random sort, order and page, against the reference.

use std::collections::HashMap;

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use talkhouse_core::{Conversation, Message};
use talkhouse_proto::v1;

use super::Round;
use super::reference::nulls_last;
use crate::support::Clients;

pub async fn check_conversations(c: &mut Clients, round: &Round<'_>, rng: &mut ChaCha8Rng) {
    let Round {
        reference,
        query,
        bot: bot_ref,
        context,
        ..
    } = round;
    let current = reference.conversations_in(query, false);
    let sorts = [
        v1::ConversationSort::ConversationStartedAt,
        v1::ConversationSort::Satisfaction,
        v1::ConversationSort::UserMessages,
        v1::ConversationSort::FlowsTravelled,
        v1::ConversationSort::Duration,
    ];
    let sort = *sorts.choose(rng).unwrap();
    let ascending = rng.random_bool(0.5);
    let (page, size) = random_page(rng);
    let mut search = None;
    if rng.random_bool(0.25) && !current.is_empty() {
        let pick = current.choose(rng).unwrap();
        search = Some(match rng.random_range(0..3) {
            0 => (v1::SearchBy::SessionCode, pick.session_code.clone()),
            1 if pick.business_key.is_some() => (
                v1::SearchBy::BusinessKey,
                pick.business_key.clone().unwrap(),
            ),
            _ => (
                v1::SearchBy::Flow,
                pick.flows.first().cloned().unwrap_or_else(|| "x".into()),
            ),
        });
    }
    let answer = c
        .conversations
        .search_conversations(v1::SearchConversationsRequest {
            bot: bot_ref.clone(),
            filter: Some(query.filter()),
            search_by: search.as_ref().map_or(0, |s| s.0 as i32),
            search_term: search.as_ref().map_or(String::new(), |s| s.1.clone()),
            page: Some(page),
            size: Some(size),
            sort: sort as i32,
            order: if ascending {
                v1::SortOrder::Asc
            } else {
                v1::SortOrder::Desc
            } as i32,
            snapshot: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut matching: Vec<&Conversation> = current
        .iter()
        .copied()
        .filter(|c| match &search {
            None => true,
            Some((v1::SearchBy::SessionCode, term)) => &c.session_code == term,
            Some((v1::SearchBy::BusinessKey, term)) => c.business_key.as_ref() == Some(term),
            Some((_, term)) => c.flows.contains(term),
        })
        .collect();
    let key = |c: &Conversation| -> Option<i64> {
        match sort {
            v1::ConversationSort::Satisfaction => c.satisfaction.map(i64::from),
            v1::ConversationSort::UserMessages => Some(i64::from(c.user_messages)),
            v1::ConversationSort::FlowsTravelled => Some(c.flows.len() as i64),
            v1::ConversationSort::Duration => Some(
                (c.ended_at.unwrap_or(c.updated_at) - c.started_at)
                    .num_microseconds()
                    .unwrap(),
            ),
            _ => Some(c.started_at.timestamp_micros()),
        }
    };
    matching.sort_by(|a, b| {
        let by_key = nulls_last(key(a), key(b), ascending);
        let by_code = if ascending {
            a.session_code.as_bytes().cmp(b.session_code.as_bytes())
        } else {
            b.session_code.as_bytes().cmp(a.session_code.as_bytes())
        };
        by_key.then(by_code)
    });
    let expected: Vec<&str> = matching
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|c| c.session_code.as_str())
        .collect();
    let got: Vec<&str> = answer
        .content
        .iter()
        .map(|c| c.session_code.as_str())
        .collect();
    assert_eq!(
        got, expected,
        "{context} {sort:?} asc={ascending} {search:?}"
    );
    assert_eq!(
        answer.page.unwrap().total_elements,
        matching.len() as u64,
        "{context}"
    );
}

pub async fn check_messages(c: &mut Clients, round: &Round<'_>, rng: &mut ChaCha8Rng) {
    let Round {
        reference,
        query,
        bot: bot_ref,
        context,
        ..
    } = round;
    let current_messages = reference.messages_in(query, false);
    let (page, size) = random_page(rng);
    let sorts = [
        v1::MessageSort::MessageSentAt,
        v1::MessageSort::Confidence,
        v1::MessageSort::ConversationStartedAt,
    ];
    let sort = *sorts.choose(rng).unwrap();
    let ascending = rng.random_bool(0.5);
    let nlp: Vec<v1::NlpResponseFilter> = match rng.random_range(0..4) {
        0 => vec![v1::NlpResponseFilter::Found],
        1 => vec![v1::NlpResponseFilter::None],
        _ => vec![],
    };
    let answer = c
        .messages
        .search_messages(v1::SearchMessagesRequest {
            bot: bot_ref.clone(),
            filter: Some(query.filter()),
            page: Some(page),
            size: Some(size),
            sort: sort as i32,
            order: if ascending {
                v1::SortOrder::Asc
            } else {
                v1::SortOrder::Desc
            } as i32,
            nlp_response_filters: nlp.iter().map(|n| *n as i32).collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let started: HashMap<&str, i64> = reference
        .conversations
        .iter()
        .map(|c| (c.session_code.as_str(), c.started_at.timestamp_micros()))
        .collect();
    let mut matching: Vec<&Message> = current_messages
        .iter()
        .copied()
        .filter(|m| match nlp.first() {
            Some(v1::NlpResponseFilter::Found) => {
                m.nlp_response.map(|r| r.as_str()) == Some("FOUND")
            }
            Some(_) => m.nlp_response.map(|r| r.as_str()) == Some("NONE"),
            None => true,
        })
        .collect();
    let key = |m: &Message| -> Option<f64> {
        match sort {
            v1::MessageSort::Confidence => m.confidence,
            v1::MessageSort::ConversationStartedAt => {
                started.get(m.session_code.as_str()).map(|s| *s as f64)
            }
            _ => Some(m.sent_at.timestamp_micros() as f64),
        }
    };
    matching.sort_by(|a, b| {
        let by_key = nulls_last(key(a), key(b), ascending);
        let tie = (a.sent_at, a.message_id.to_string()).cmp(&(b.sent_at, b.message_id.to_string()));
        by_key.then(if ascending { tie } else { tie.reverse() })
    });
    let expected: Vec<String> = matching
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|m| m.message_id.to_string())
        .collect();
    let got: Vec<String> = answer
        .content
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    assert_eq!(got, expected, "{context} {sort:?} asc={ascending} {nlp:?}");
    assert_eq!(
        answer.page.unwrap().total_elements,
        matching.len() as u64,
        "{context}"
    );
}

/// Mostly the first pages; sometimes deep into the window or past its end.
fn random_page(rng: &mut impl rand::Rng) -> (i32, i32) {
    let page = match rng.random_range(0..4) {
        0 => rng.random_range(1..200),
        _ => rng.random_range(1..4),
    };
    (page, rng.random_range(1..16))
}
