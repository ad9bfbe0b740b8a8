//! One series, of a random resource and granularity, against the reference.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use talkhouse_proto::v1;

use super::Round;
use super::reference::{bucket_key, label_key};
use crate::support::Clients;

pub async fn check(c: &mut Clients, round: &Round<'_>, rng: &mut ChaCha8Rng) {
    let Round {
        reference,
        query,
        bot: bot_ref,
        context,
        ..
    } = round;
    let length = round.length;
    let current = reference.conversations_in(query, false);
    let current_messages = reference.messages_in(query, false);
    let granularity = *[
        v1::Granularity::Hour,
        v1::Granularity::Day,
        v1::Granularity::Week,
        v1::Granularity::Month,
    ]
    .choose(rng)
    .unwrap();
    if granularity != v1::Granularity::Hour || length < 10 {
        let resource = rng.random_range(0..3);
        let request = v1::SeriesRequest {
            bot: bot_ref.clone(),
            filter: Some(query.filter()),
            granularity: granularity as i32,
        };
        let answer = match resource {
            0 => c.analytics.get_conversation_series(request).await,
            1 => c.analytics.get_message_series(request).await,
            _ => c.analytics.get_user_series(request).await,
        }
        .unwrap()
        .into_inner();
        let keys: Vec<String> = answer
            .buckets
            .iter()
            .map(|b| label_key(granularity, &b.label))
            .collect();
        let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
        for dataset in &answer.datasets {
            for (key, value) in keys.iter().zip(&dataset.data) {
                if *value != 0 {
                    *got.entry((dataset.channel_uuid.clone(), key.clone()))
                        .or_default() += value;
                }
            }
        }
        let listed = reference.channels(query);
        let zone = query.zone();
        let mut expected: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let items: Vec<(String, DateTime<Utc>, String)> = match resource {
            1 => current_messages
                .iter()
                .map(|m| {
                    (
                        m.channel_uuid.to_string(),
                        m.sent_at,
                        m.message_id.to_string(),
                    )
                })
                .collect(),
            0 => current
                .iter()
                .map(|c| {
                    (
                        c.channel_uuid.to_string(),
                        c.started_at,
                        c.session_code.clone(),
                    )
                })
                .collect(),
            _ => current
                .iter()
                .map(|c| (c.channel_uuid.to_string(), c.started_at, c.user_id.clone()))
                .collect(),
        };
        for (channel, at, id) in items {
            if listed.contains(&channel) {
                let (local, offset) = zone.local(at);
                expected
                    .entry((channel, bucket_key(granularity, local, offset)))
                    .or_default()
                    .insert(id);
            }
        }
        let expected: BTreeMap<(String, String), i64> = expected
            .into_iter()
            .map(|(k, ids)| (k, ids.len() as i64))
            .collect();
        assert_eq!(
            got, expected,
            "{context} {granularity:?} resource {resource}"
        );
        let datasets: Vec<&str> = answer
            .datasets
            .iter()
            .map(|d| d.channel_uuid.as_str())
            .collect();
        assert_eq!(datasets, listed, "{context}");
        if granularity == v1::Granularity::Day {
            assert_eq!(answer.buckets.len() as i64, length + 1, "{context}");
        }
    }
}
