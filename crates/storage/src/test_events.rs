//! Events for the unit tests of the write path.

use chrono::{DateTime, Utc};
use talkhouse_core::{Conversation, Event, Tenant};
use uuid::Uuid;

/// The tenant of bot `bot`, in an organization and environment of nil ids.
pub(crate) fn tenant(bot: u128) -> Tenant {
    Tenant {
        org_id: Uuid::nil(),
        env_id: Uuid::nil(),
        bot_id: Uuid::from_u128(bot),
    }
}

/// An untagged version of `session` by user `u`, with no messages.
pub(crate) fn conversation(
    tenant: Tenant,
    session: &str,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> Conversation {
    Conversation {
        tenant,
        session_code: session.into(),
        user_id: "u".into(),
        business_key: None,
        channel_uuid: Uuid::nil(),
        started_at,
        ended_at: None,
        updated_at,
        satisfaction: None,
        flows: vec![],
        tags: vec![],
        user_messages: 0,
        bot_messages: 0,
    }
}

/// [`conversation`] as an event.
pub(crate) fn conversation_event(
    tenant: Tenant,
    session: &str,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> Event {
    Event::Conversation(conversation(tenant, session, started_at, updated_at))
}
