//! Conversation and message rows out of answer batches.

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};

use crate::columns::{float64s, instants, int64s, string_lists, strings};
use crate::model::{ConversationRow, MessageRow};
use crate::{Error, Result};

fn required<T>(value: Option<T>, column: &str) -> Result<T> {
    value.ok_or_else(|| Error::UnexpectedColumn {
        column: column.to_string(),
        expected: "non-null",
    })
}

/// The columns [`conversations`] reads.
pub const CONVERSATION_ROW_COLUMNS: [&str; 12] = [
    "session_code",
    "user_id",
    "business_key",
    "channel_uuid",
    "started_at",
    "ended_at",
    "updated_at",
    "satisfaction",
    "flows",
    "tags",
    "user_messages",
    "bot_messages",
];

/// Seconds from `from` to `to` as the `conversations` view computes `duration_seconds`: whole
/// microseconds, divided once.
pub fn duration_seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to.timestamp_micros() - from.timestamp_micros()) as f64 / 1_000_000.0
}

pub fn conversations(batches: &[RecordBatch]) -> Result<Vec<ConversationRow>> {
    let mut rows = Vec::new();
    for batch in batches {
        let session_code = strings(batch, "session_code")?;
        let user_id = strings(batch, "user_id")?;
        let business_key = strings(batch, "business_key")?;
        let channel_uuid = strings(batch, "channel_uuid")?;
        let started_at = instants(batch, "started_at")?;
        let ended_at = instants(batch, "ended_at")?;
        let updated_at = instants(batch, "updated_at")?;
        let satisfaction = int64s(batch, "satisfaction")?;
        let flows = string_lists(batch, "flows")?;
        let tags = string_lists(batch, "tags")?;
        let user_messages = int64s(batch, "user_messages")?;
        let bot_messages = int64s(batch, "bot_messages")?;
        for i in 0..batch.num_rows() {
            let started_at = required(started_at[i], "started_at")?;
            let updated_at = required(updated_at[i], "updated_at")?;
            rows.push(ConversationRow {
                session_code: required(session_code[i].clone(), "session_code")?,
                user_id: required(user_id[i].clone(), "user_id")?,
                business_key: business_key[i].clone(),
                channel_uuid: required(channel_uuid[i].clone(), "channel_uuid")?,
                started_at,
                ended_at: ended_at[i],
                updated_at,
                satisfaction: satisfaction[i],
                flows: flows[i].clone(),
                tags: tags[i].clone(),
                user_messages: user_messages[i].unwrap_or(0),
                bot_messages: bot_messages[i].unwrap_or(0),
                duration_seconds: duration_seconds(started_at, ended_at[i].unwrap_or(updated_at)),
            });
        }
    }
    Ok(rows)
}

pub fn messages(batches: &[RecordBatch]) -> Result<Vec<MessageRow>> {
    let mut rows = Vec::new();
    for batch in batches {
        let text_columns = [
            "message_id",
            "session_code",
            "user_id",
            "business_key",
            "channel_uuid",
            "channel_name",
            "sender",
            "content_type",
            "text",
            "nlp_response",
            "nlp_response_type",
            "nlp_response_name",
            "answer_name",
            "answer_text",
            "flow",
        ];
        let texts: Vec<Vec<Option<String>>> = text_columns
            .iter()
            .map(|name| strings(batch, name))
            .collect::<Result<_>>()?;
        let sent_at = instants(batch, "sent_at")?;
        let confidence = float64s(batch, "confidence")?;
        let tags = string_lists(batch, "tags")?;
        for i in 0..batch.num_rows() {
            let text = |column: usize| texts[column][i].clone();
            rows.push(MessageRow {
                message_id: required(text(0), "message_id")?,
                session_code: required(text(1), "session_code")?,
                user_id: required(text(2), "user_id")?,
                business_key: text(3),
                channel_uuid: required(text(4), "channel_uuid")?,
                channel_name: text(5),
                sent_at: required(sent_at[i], "sent_at")?,
                sender: required(text(6), "sender")?,
                content_type: required(text(7), "content_type")?,
                text: text(8).unwrap_or_default(),
                nlp_response: text(9),
                nlp_response_type: text(10),
                nlp_response_name: text(11),
                confidence: confidence[i],
                answer_name: text(12),
                answer_text: text(13),
                flow: text(14),
                tags: tags[i].clone(),
            });
        }
    }
    Ok(rows)
}
