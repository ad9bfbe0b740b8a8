//! The views over the `events` table, defined once in SQL.

use std::sync::LazyLock;

use talkhouse_core::latest::{MESSAGE_ORDER, latest_first_sql};

/// The columns of `conversations`. `duration_seconds` comes from whole microseconds, so equal
/// durations are equal doubles.
macro_rules! conversation_columns {
    () => {
        "
SELECT org_id, env_id, bot_id, session_code, user_id, business_key, channel_uuid, started_at,
       ended_at, updated_at, satisfaction, flows, tags, user_messages, bot_messages,
       cardinality(flows) AS flows_travelled,
       CAST(CAST(COALESCE(ended_at, updated_at) AS BIGINT) - CAST(started_at AS BIGINT) AS DOUBLE)
           / 1000000.0 AS duration_seconds"
    };
}

/// (name, SQL) of every view, in dependency order.
pub fn views() -> [(&'static str, &'static str); 5] {
    [
        ("messages", MESSAGES),
        ("conversation_versions", CONVERSATION_VERSIONS),
        ("conversations", CONVERSATIONS),
        ("channels", CHANNELS.as_str()),
        ("rollups", ROLLUPS),
    ]
}

/// The rollup rows, named after what they count.
const ROLLUPS: &str = "
SELECT org_id, env_id, bot_id, month, sent_at AS bucket_start, channel_uuid,
       rollup_untagged AS untagged, rollup_conversations AS conversations,
       rollup_user_messages AS user_messages, rollup_bot_messages AS bot_messages,
       rollup_found AS found, rollup_not_found AS not_found
FROM events WHERE kind = 'rollup'";

/// Columns pass through uncast: a filter on `bot_id` or `month` (the UTC month of `sent_at`) must
/// reach the scan to prune partitions.
const MESSAGES: &str = "
SELECT org_id, env_id, bot_id, month, message_id, session_code, user_id, business_key,
       channel_uuid, channel_name, channel_type, sent_at, sender, content_type, text,
       nlp_response, nlp_response_type, nlp_response_name, confidence, answer_name, answer_text,
       flow, tags, written_at
FROM events WHERE kind = 'message'";

/// Every conversation version written, with the columns of `conversations` and the order of
/// writing: a session's latest version is its first by [`talkhouse_storage::versions`]' ranking.
const CONVERSATION_VERSIONS: &str = concat!(
    conversation_columns!(),
    ", written_at, batch_line
FROM events WHERE kind = 'conversation'"
);

/// The latest version of each session, as the versions each batch supersedes record it (see
/// `talkhouse_storage::versions`): every version neither superseded at write nor named by a later
/// batch. Unlike a window over all versions, it lets a filter on `started_at` reach the scan, of
/// the versions and of the markers: a marker repeats the `started_at` of the version it names.
const CONVERSATIONS: &str = concat!(
    conversation_columns!(),
    "
FROM events AS version
WHERE version.kind = 'conversation' AND version.superseded_at_write = false
  AND NOT EXISTS (
    SELECT 1 FROM events AS superseded
    WHERE superseded.kind = 'superseded'
      AND superseded.bot_id = version.bot_id AND superseded.org_id = version.org_id
      AND superseded.env_id = version.env_id AND superseded.session_code = version.session_code
      AND superseded.started_at = version.started_at
      AND superseded.superseded_written_at = version.written_at
      AND superseded.superseded_batch_line = version.batch_line)"
);

/// Every channel of a bot's messages and latest conversations, named after its latest message
/// that carries a name (the first in [`MESSAGE_ORDER`], latest first). Aggregates rather than a
/// window: a bot has few channels, and a window would sort all of its messages.
static CHANNELS: LazyLock<String> = LazyLock::new(|| {
    let latest = latest_first_sql(&MESSAGE_ORDER);
    format!(
        "
WITH named AS (
    SELECT org_id, env_id, bot_id, channel_uuid,
           first_value(channel_name ORDER BY {latest}) AS channel_name,
           first_value(channel_type ORDER BY {latest}) AS channel_type
    FROM events WHERE kind = 'message' AND channel_name IS NOT NULL
    GROUP BY org_id, env_id, bot_id, channel_uuid),
seen AS (
    SELECT org_id, env_id, bot_id, channel_uuid FROM messages
    UNION
    SELECT org_id, env_id, bot_id, channel_uuid FROM conversations)
SELECT seen.org_id, seen.env_id, seen.bot_id, seen.channel_uuid,
       COALESCE(named.channel_name, '') AS channel_name, named.channel_type
FROM seen LEFT JOIN named
  ON named.org_id = seen.org_id AND named.env_id = seen.env_id
 AND named.bot_id = seen.bot_id AND named.channel_uuid = seen.channel_uuid"
    )
});
