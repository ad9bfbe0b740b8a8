//! The server against an independent reference: generated data around the 2018 daylight-saving
//! changes, many random requests, and every answer recomputed here row by row with chrono-tz (no
//! DataFusion, no talkhouse window code). Replay a failure with `TALKHOUSE_CROSSCHECK_SEED`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::{Conversation, Event, Message, Tenant};
use talkhouse_proto::v1;

use crate::support::{Clients, DataDir, RunningServer};

const ZONES: [&str; 12] = [
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "UTC",
    "Z",
    "+05:30",
    "-03:00",
    "+05:45",
    "-09:30",
];

const REQUESTS: usize = 40;

/// A zone as the reference reads it: straight from chrono-tz or a parsed offset.
#[derive(Clone, Copy)]
enum RefZone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl RefZone {
    fn parse(text: &str) -> Self {
        if text == "Z" {
            return RefZone::Fixed(FixedOffset::east_opt(0).unwrap());
        }
        if let Some(rest) = text.strip_prefix(['+', '-']) {
            let hours: i32 = rest[..2].parse().unwrap();
            let minutes: i32 = rest[3..].parse().unwrap();
            let seconds = (hours * 60 + minutes) * 60;
            let sign = if text.starts_with('-') { -1 } else { 1 };
            return RefZone::Fixed(FixedOffset::east_opt(sign * seconds).unwrap());
        }
        RefZone::Named(text.parse().unwrap())
    }

    /// Local date-time and offset (seconds) of an instant.
    fn local(&self, t: DateTime<Utc>) -> (NaiveDateTime, i32) {
        match self {
            RefZone::Named(tz) => {
                let local = tz.from_utc_datetime(&t.naive_utc());
                (local.naive_local(), local.offset().fix().local_minus_utc())
            }
            RefZone::Fixed(offset) => (
                t.with_timezone(offset).naive_local(),
                offset.local_minus_utc(),
            ),
        }
    }
}

/// One random request's filter, as the reference understands it.
#[derive(Clone, Debug)]
struct Query {
    zone_name: &'static str,
    start: NaiveDate,
    end: NaiveDate,
    start_hour: u32,
    end_hour: u32,
    channels: Vec<String>,
    tags: Vec<String>,
    untagged: bool,
}

impl Query {
    fn zone(&self) -> RefZone {
        RefZone::parse(self.zone_name)
    }

    fn hour_in(&self, hour: u32) -> bool {
        if self.start_hour <= self.end_hour {
            self.start_hour <= hour && hour <= self.end_hour
        } else {
            hour >= self.start_hour || hour <= self.end_hour
        }
    }

    fn in_window(&self, t: DateTime<Utc>) -> bool {
        let (local, _) = self.zone().local(t);
        self.start <= local.date() && local.date() <= self.end && self.hour_in(local.hour())
    }

    fn in_previous(&self, t: DateTime<Utc>) -> bool {
        let days = (self.end - self.start).num_days() + 1;
        let (local, _) = self.zone().local(t);
        let first = self.start - chrono::Duration::days(days);
        first <= local.date() && local.date() < self.start && self.hour_in(local.hour())
    }

    fn matches(&self, channel: &str, tags: &[String]) -> bool {
        (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
            && (self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t)))
            && (!self.untagged || tags.is_empty())
    }

    fn filter(&self) -> v1::Filter {
        v1::Filter {
            start_date: self.start.to_string(),
            end_date: self.end.to_string(),
            start_hour: Some(self.start_hour as i32),
            end_hour: Some(self.end_hour as i32),
            timezone: self.zone_name.to_string(),
            channel_uuids: self.channels.clone(),
            tags_name: self.tags.clone(),
            untagged: self.untagged,
        }
    }
}

/// One bot's data, resolved the way the contract says: first copy of a message wins, the
/// latest conversation version wins (ties: written later).
struct Reference {
    messages: Vec<Message>,
    conversations: Vec<Conversation>,
}

impl Reference {
    fn new(tenant: Tenant, batches: &[Vec<Event>]) -> Self {
        let mut messages: Vec<Message> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut latest: HashMap<String, Conversation> = HashMap::new();
        for event in batches.iter().flatten() {
            match event {
                Event::Message(m) if m.tenant == tenant && seen.insert(m.message_id) => {
                    messages.push(m.clone())
                }
                Event::Conversation(c) if c.tenant == tenant => {
                    let newer = latest
                        .get(&c.session_code)
                        .is_none_or(|old| c.updated_at >= old.updated_at);
                    if newer {
                        latest.insert(c.session_code.clone(), c.clone());
                    }
                }
                _ => {}
            }
        }
        Self {
            messages,
            conversations: latest.into_values().collect(),
        }
    }

    fn channels(&self, query: &Query) -> Vec<String> {
        if !query.channels.is_empty() {
            return query.channels.clone();
        }
        let all: BTreeSet<String> = self
            .messages
            .iter()
            .map(|m| m.channel_uuid.to_string())
            .chain(
                self.conversations
                    .iter()
                    .map(|c| c.channel_uuid.to_string()),
            )
            .collect();
        all.into_iter().collect()
    }

    fn conversations_in(&self, query: &Query, previous: bool) -> Vec<&Conversation> {
        self.conversations
            .iter()
            .filter(|c| {
                let when = if previous {
                    query.in_previous(c.started_at)
                } else {
                    query.in_window(c.started_at)
                };
                when && query.matches(&c.channel_uuid.to_string(), &c.tags)
            })
            .collect()
    }

    fn messages_in(&self, query: &Query, previous: bool) -> Vec<&Message> {
        self.messages
            .iter()
            .filter(|m| {
                let when = if previous {
                    query.in_previous(m.sent_at)
                } else {
                    query.in_window(m.sent_at)
                };
                when && query.matches(&m.channel_uuid.to_string(), &m.tags)
            })
            .collect()
    }
}

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

/// The reference's bucket key of an instant, and the same key read from a server label.
fn bucket_key(granularity: v1::Granularity, local: NaiveDateTime, offset: i32) -> String {
    let date = local.date();
    match granularity {
        v1::Granularity::Hour => format!("{date}T{:02} {offset}", local.hour()),
        v1::Granularity::Day => date.to_string(),
        v1::Granularity::Week => (date
            - chrono::Duration::days(date.weekday().num_days_from_monday() as i64))
        .to_string(),
        _ => date.with_day(1).unwrap().to_string(),
    }
}

fn label_key(granularity: v1::Granularity, label: &str) -> String {
    let parsed = DateTime::parse_from_rfc3339(label).unwrap();
    bucket_key(
        granularity,
        parsed.naive_local(),
        parsed.offset().local_minus_utc(),
    )
}

/// Compares sort keys in the requested direction; absent keys come last either way.
fn nulls_last<T: PartialOrd>(a: Option<T>, b: Option<T>, ascending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(x), Some(y)) if ascending => x.partial_cmp(&y).unwrap(),
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap(),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[tokio::test]
async fn the_server_agrees_with_a_plain_reference_on_random_requests() {
    let seed = std::env::var("TALKHOUSE_CROSSCHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("cross-check seed {seed} (replay with TALKHOUSE_CROSSCHECK_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // 50 days around the 2018 changes: Lord Howe 10-07, London 10-28, Sao Paulo and New York 11-04.
    let generator = Generator::new(GenerateConfig {
        seed,
        bots: 2,
        days: 50,
        until: NaiveDate::from_ymd_opt(2018, 11, 20).unwrap(),
        conversations_per_day: 10,
    });
    let data = DataDir::new();
    let table = data.table().await;
    let batches: Vec<Vec<Event>> = generator.events().collect();
    // One commit: few files keep the debug-build queries quick; versions still resolve in order.
    table.write(batches.concat(), None).await.unwrap();
    let bot = generator.bots()[0].clone();
    let reference = Reference::new(bot.tenant, &batches);
    assert!(reference.messages.len() > 500, "enough data to compare");
    let all_tags: Vec<String> = reference
        .messages
        .iter()
        .flat_map(|m| m.tags.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let channels: Vec<String> = bot.channels.iter().map(|c| c.uuid.to_string()).collect();

    let server = RunningServer::start(table).await;
    let mut c = Clients::connect(&server).await;
    let bot_ref = Some(v1::BotRef {
        org_id: bot.tenant.org_id.to_string(),
        env_id: bot.tenant.env_id.to_string(),
        bot_id: bot.tenant.bot_id.to_string(),
    });

    for round in 0..REQUESTS {
        let start = NaiveDate::from_ymd_opt(2018, 9, 28).unwrap()
            + chrono::Duration::days(rng.random_range(0..56));
        let length = if rng.random_bool(0.3) {
            rng.random_range(0..3)
        } else {
            rng.random_range(0..40)
        };
        let mut query = Query {
            zone_name: ZONES.choose(&mut rng).unwrap(),
            start,
            end: start + chrono::Duration::days(length),
            start_hour: if rng.random_bool(0.4) {
                0
            } else {
                rng.random_range(0..24)
            },
            end_hour: if rng.random_bool(0.4) {
                23
            } else {
                rng.random_range(0..24)
            },
            channels: Vec::new(),
            tags: Vec::new(),
            untagged: false,
        };
        if rng.random_bool(0.3) {
            let n = rng.random_range(1..=2);
            query.channels = channels.sample(&mut rng, n).cloned().collect();
            if rng.random_bool(0.2) {
                query
                    .channels
                    .push("c0ffee00-0000-4000-8000-000000000000".into());
            }
        }
        match rng.random_range(0..5) {
            0 => query.tags = all_tags.sample(&mut rng, 2).cloned().collect(),
            1 => query.untagged = true,
            _ => {}
        }
        let context = format!("round {round}: {query:?}");
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
        let current = reference.conversations_in(&query, false);
        let previous = reference.conversations_in(&query, true);
        assert_eq!(
            overview_of(&answer),
            (current.len() as i64, previous.len() as i64),
            "{context}"
        );
        let expected: Vec<(String, i64)> = reference
            .channels(&query)
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
        let current_messages = reference.messages_in(&query, false);
        let previous_messages = reference.messages_in(&query, true);
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

        // One series, of a random resource and granularity.
        let granularity = *[
            v1::Granularity::Hour,
            v1::Granularity::Day,
            v1::Granularity::Week,
            v1::Granularity::Month,
        ]
        .choose(&mut rng)
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
            let listed = reference.channels(&query);
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

        // A conversation page with a random sort, order and page.
        let sorts = [
            v1::ConversationSort::ConversationStartedAt,
            v1::ConversationSort::Satisfaction,
            v1::ConversationSort::UserMessages,
            v1::ConversationSort::FlowsTravelled,
            v1::ConversationSort::Duration,
        ];
        let sort = *sorts.choose(&mut rng).unwrap();
        let ascending = rng.random_bool(0.5);
        let (page, size) = (rng.random_range(1..4), rng.random_range(1..16));
        let mut search = None;
        if rng.random_bool(0.25) && !current.is_empty() {
            let pick = current.choose(&mut rng).unwrap();
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

        // A message page with a random sort, order, page and NLP filter.
        let sorts = [
            v1::MessageSort::MessageSentAt,
            v1::MessageSort::Confidence,
            v1::MessageSort::ConversationStartedAt,
        ];
        let sort = *sorts.choose(&mut rng).unwrap();
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
            let tie =
                (a.sent_at, a.message_id.to_string()).cmp(&(b.sent_at, b.message_id.to_string()));
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
    server.stop().await;
}
