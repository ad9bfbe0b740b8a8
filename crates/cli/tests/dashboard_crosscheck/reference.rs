//! The reference: one bot's data resolved the way the contract says, and every answer
//! recomputed per row with chrono-tz.

use std::collections::{BTreeSet, HashMap};

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use talkhouse_core::{Conversation, Event, Message, Tenant};
use talkhouse_proto::v1;

/// A zone as the reference reads it: straight from chrono-tz or a parsed offset.
#[derive(Clone, Copy)]
pub enum RefZone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl RefZone {
    pub fn parse(text: &str) -> Self {
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
    pub fn local(&self, t: DateTime<Utc>) -> (NaiveDateTime, i32) {
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
pub struct Query {
    pub zone_name: &'static str,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub start_hour: u32,
    pub end_hour: u32,
    pub channels: Vec<String>,
    pub tags: Vec<String>,
    pub untagged: bool,
}

impl Query {
    pub fn zone(&self) -> RefZone {
        RefZone::parse(self.zone_name)
    }

    pub fn hour_in(&self, hour: u32) -> bool {
        if self.start_hour <= self.end_hour {
            self.start_hour <= hour && hour <= self.end_hour
        } else {
            hour >= self.start_hour || hour <= self.end_hour
        }
    }

    pub fn in_window(&self, t: DateTime<Utc>) -> bool {
        let (local, _) = self.zone().local(t);
        self.start <= local.date() && local.date() <= self.end && self.hour_in(local.hour())
    }

    pub fn in_previous(&self, t: DateTime<Utc>) -> bool {
        let days = (self.end - self.start).num_days() + 1;
        let (local, _) = self.zone().local(t);
        let first = self.start - chrono::Duration::days(days);
        first <= local.date() && local.date() < self.start && self.hour_in(local.hour())
    }

    pub fn matches(&self, channel: &str, tags: &[String]) -> bool {
        (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
            && (self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t)))
            && (!self.untagged || tags.is_empty())
    }

    pub fn filter(&self) -> v1::Filter {
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
pub struct Reference {
    pub messages: Vec<Message>,
    pub conversations: Vec<Conversation>,
}

impl Reference {
    pub fn new(tenant: Tenant, batches: &[Vec<Event>]) -> Self {
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

    pub fn channels(&self, query: &Query) -> Vec<String> {
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

    pub fn conversations_in(&self, query: &Query, previous: bool) -> Vec<&Conversation> {
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

    pub fn messages_in(&self, query: &Query, previous: bool) -> Vec<&Message> {
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
/// The reference's bucket key of an instant, and the same key read from a server label.
pub fn bucket_key(granularity: v1::Granularity, local: NaiveDateTime, offset: i32) -> String {
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

pub fn label_key(granularity: v1::Granularity, label: &str) -> String {
    let parsed = DateTime::parse_from_rfc3339(label).unwrap();
    bucket_key(
        granularity,
        parsed.naive_local(),
        parsed.offset().local_minus_utc(),
    )
}

/// Compares sort keys in the requested direction; absent keys come last either way.
pub fn nulls_last<T: PartialOrd>(
    a: Option<T>,
    b: Option<T>,
    ascending: bool,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(x), Some(y)) if ascending => x.partial_cmp(&y).unwrap(),
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap(),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
