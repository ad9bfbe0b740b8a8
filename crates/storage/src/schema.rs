//! The `events` table: messages and conversation versions side by side, so that one ingest batch
//! holding both kinds is one atomic commit. `kind` tells them apart; the columns of the other kind
//! are null (free in Parquet). The views `messages`, `conversations`, `conversation_versions` and
//! `channels` of the query crate are what users see.
//!
//! Partitioned by `bot_id`, `kind` and `month` (the UTC month of `sent_at` or `started_at`), so a
//! query for one bot and one month opens only that bot's files of that month.

use chrono::{DateTime, Utc};
use deltalake_core::kernel::{ArrayType, DataType, StructField};

use crate::rollup::{ROLLUP_COUNTS, ROLLUP_UNTAGGED};
use crate::versions::{SUPERSEDED_AT_WRITE, SUPERSEDED_BATCH_LINE, SUPERSEDED_WRITTEN_AT};

pub const EVENTS_TABLE: &str = "events";

pub const KIND_MESSAGE: &str = "message";
pub const KIND_CONVERSATION: &str = "conversation";
/// Rollup rows (see [`crate::rollup`]): `sent_at` holds the bucket start, `channel_uuid` the
/// channel, and the `rollup_*` columns the dimension and the counts.
pub const KIND_ROLLUP: &str = "rollup";
/// User rollup rows (see [`crate::rollup`]): a rollup row's dimensions, the user in `user_id`, and
/// the user's latest conversation versions in `rollup_conversations`.
pub const KIND_USER_ROLLUP: &str = "user_rollup";
/// A stored conversation version a later batch superseded (see [`crate::versions`]): the
/// session's `org_id`, `env_id`, `bot_id`, `session_code`, `started_at` and `updated_at`, and its
/// `written_at` and `batch_line` in `superseded_written_at` and `superseded_batch_line`.
pub const KIND_SUPERSEDED: &str = "superseded";

pub const PARTITION_COLUMNS: [&str; 3] = ["bot_id", "kind", "month"];

/// The columns in storage order. Delta keeps min/max statistics for the first 32 columns, so the
/// columns queries filter on come first and long texts last.
pub fn delta_columns() -> Vec<StructField> {
    let string = |name: &str, nullable: bool| StructField::new(name, DataType::STRING, nullable);
    let timestamp = |name: &str| StructField::new(name, DataType::TIMESTAMP, true);
    let list = |name: &str| {
        StructField::new(
            name,
            DataType::Array(Box::new(ArrayType::new(DataType::STRING, false))),
            false,
        )
    };
    vec![
        string("org_id", false),
        string("env_id", false),
        string("bot_id", false),
        string("kind", false),
        string("month", false),
        string("session_code", false),
        timestamp("sent_at"),
        timestamp("started_at"),
        timestamp("updated_at"),
        timestamp("ended_at"),
        string("channel_uuid", false),
        string("user_id", false),
        string("message_id", true),
        string("sender", true),
        string("content_type", true),
        string("nlp_response", true),
        string("nlp_response_type", true),
        StructField::new("confidence", DataType::DOUBLE, true),
        StructField::new("satisfaction", DataType::INTEGER, true),
        StructField::new("user_messages", DataType::LONG, true),
        StructField::new("bot_messages", DataType::LONG, true),
        string("business_key", true),
        string("flow", true),
        string("nlp_response_name", true),
        string("channel_name", true),
        string("channel_type", true),
        string("answer_name", true),
        // When the batch was committed, and its position in the batch: the order of writing,
        // which breaks ties between conversation versions with equal `updated_at`.
        StructField::new("written_at", DataType::TIMESTAMP, false),
        StructField::new("batch_line", DataType::LONG, false),
        list("tags"),
        list("flows"),
        string("text", true),
        string("answer_text", true),
        StructField::new(ROLLUP_UNTAGGED, DataType::BOOLEAN, true),
    ]
    .into_iter()
    .chain(
        ROLLUP_COUNTS
            .iter()
            .map(|name| StructField::new(*name, DataType::LONG, true)),
    )
    .chain([
        StructField::new(SUPERSEDED_AT_WRITE, DataType::BOOLEAN, true),
        StructField::new(SUPERSEDED_WRITTEN_AT, DataType::TIMESTAMP, true),
        StructField::new(SUPERSEDED_BATCH_LINE, DataType::LONG, true),
    ])
    .collect()
}

/// The `month` partition value of an instant: its UTC year and month, `2024-03`.
pub fn month_of(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m").to_string()
}
