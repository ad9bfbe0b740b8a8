//! The answers of the dashboard endpoints, before conversion to protobuf, and what each was
//! computed from.

use std::time::Duration;

use chrono::{DateTime, Utc};
use talkhouse_core::request::{Page, increase_percentage, increased};
use talkhouse_core::window::{Bucket, Granularity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub uuid: String,
    pub name: String,
    pub channel_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub has_data: bool,
    pub first_data_set: Option<DateTime<Utc>>,
    pub last_data_set: Option<DateTime<Utc>>,
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub total: i64,
    pub previous_total: i64,
    pub compared_start: DateTime<Utc>,
    pub compared_end: DateTime<Utc>,
}

impl Overview {
    pub fn increased(&self) -> bool {
        self.total > self.previous_total
    }

    pub fn increase_percentage(&self) -> Option<f64> {
        increase_percentage(Some(self.total as f64), Some(self.previous_total as f64))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownItem {
    pub key: String,
    pub label: String,
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub overview: Overview,
    pub breakdown: Vec<BreakdownItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    pub found: i64,
    pub not_found: i64,
    pub previous_found: i64,
    pub previous_not_found: i64,
    pub compared_start: DateTime<Utc>,
    pub compared_end: DateTime<Utc>,
}

impl Accuracy {
    fn rate(found: i64, not_found: i64) -> Option<f64> {
        let evaluated = found + not_found;
        (evaluated > 0).then(|| found as f64 / evaluated as f64 * 100.0)
    }

    pub fn accuracy(&self) -> Option<f64> {
        Self::rate(self.found, self.not_found)
    }

    pub fn previous_accuracy(&self) -> Option<f64> {
        Self::rate(self.previous_found, self.previous_not_found)
    }

    pub fn increased(&self) -> bool {
        increased(self.accuracy(), self.previous_accuracy())
    }

    pub fn increase_percentage(&self) -> Option<f64> {
        increase_percentage(self.accuracy(), self.previous_accuracy())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub channel_uuid: String,
    pub channel_name: String,
    pub data: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesAnswer {
    pub granularity: Granularity,
    pub buckets: Vec<Bucket>,
    pub datasets: Vec<Dataset>,
}

/// The latest version of a conversation record.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub session_code: String,
    pub user_id: String,
    pub business_key: Option<String>,
    pub channel_uuid: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub satisfaction: Option<i64>,
    pub flows: Vec<String>,
    pub tags: Vec<String>,
    pub user_messages: i64,
    pub bot_messages: i64,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub message_id: String,
    pub session_code: String,
    pub user_id: String,
    pub business_key: Option<String>,
    pub channel_uuid: String,
    pub channel_name: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub sender: String,
    pub content_type: String,
    pub text: String,
    pub nlp_response: Option<String>,
    pub nlp_response_type: Option<String>,
    pub nlp_response_name: Option<String>,
    pub confidence: Option<f64>,
    pub answer_name: Option<String>,
    pub answer_text: Option<String>,
    pub flow: Option<String>,
    pub tags: Vec<String>,
}

/// One page of a list and the total over all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub page: Page,
    pub total: u64,
}

/// A conversation and its messages in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub conversation: ConversationRow,
    /// The session has messages but no conversation record; `conversation` comes from them.
    pub derived: bool,
    pub messages: Vec<MessageRow>,
}

/// How an answer was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    EventTables,
    /// The rollup rows of the same snapshot (see `talkhouse_storage::rollup`).
    Rollups,
}

/// What an answer was computed from, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub snapshot: u64,
    /// The newest event instant of the bot in the snapshot.
    pub data_as_of: Option<DateTime<Utc>>,
    pub served_by: ServedBy,
    pub rows_scanned: u64,
    pub bytes_scanned: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    pub provenance: Provenance,
}
