//! `WriteEventsRequest` events to domain inputs; validation itself lives in the core crate.

use std::borrow::Cow;

use chrono::DateTime;
use talkhouse_core::FieldViolation;
use talkhouse_core::ingest::{ConversationInput, EventInput, InstantInput, MessageInput};
use talkhouse_proto::v1;

/// Converts one proto event; only a missing `kind` or an out-of-range timestamp fail here.
pub fn event_input(event: v1::Event) -> Result<EventInput<'static>, Vec<FieldViolation>> {
    match event.kind {
        Some(v1::event::Kind::Message(m)) => message(m).map(EventInput::Message),
        Some(v1::event::Kind::Conversation(c)) => conversation(c).map(EventInput::Conversation),
        None => Err(vec![FieldViolation::new(
            "kind",
            "must be a message or a conversation",
        )]),
    }
}

/// The proto field name of an event's kind, for violation paths (`events[3].message.sent_at`).
pub fn kind_name(event: &v1::Event) -> &'static str {
    match event.kind {
        Some(v1::event::Kind::Message(_)) => "message",
        Some(v1::event::Kind::Conversation(_)) => "conversation",
        None => "",
    }
}

fn required(text: String) -> Option<Cow<'static, str>> {
    (!text.is_empty()).then_some(Cow::Owned(text))
}

fn optional(text: Option<String>) -> Option<Cow<'static, str>> {
    text.map(Cow::Owned)
}

fn list(texts: Vec<String>) -> Vec<Cow<'static, str>> {
    texts.into_iter().map(Cow::Owned).collect()
}

fn instant(
    field: &str,
    timestamp: Option<prost_types::Timestamp>,
    violations: &mut Vec<FieldViolation>,
) -> Option<InstantInput<'static>> {
    let timestamp = timestamp?;
    let nanos = u32::try_from(timestamp.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000);
    match nanos.and_then(|n| DateTime::from_timestamp(timestamp.seconds, n)) {
        Some(instant) => Some(InstantInput::Exact(instant)),
        None => {
            violations.push(FieldViolation::new(field, "is not a valid timestamp"));
            None
        }
    }
}

/// An enum value's contract name (`USER`), or its number when the value is unknown, so that
/// validation reports it; `None` for UNSPECIFIED.
fn word(name: Option<&str>, number: i32, prefix: &str) -> Option<Cow<'static, str>> {
    if number == 0 {
        return None;
    }
    Some(match name {
        Some(name) => Cow::Owned(name.trim_start_matches(prefix).to_string()),
        None => Cow::Owned(format!("unknown value {number}")),
    })
}

fn message(m: v1::Message) -> Result<MessageInput<'static>, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let sent_at = instant("sent_at", m.sent_at, &mut violations);
    let sender = word(
        v1::Sender::try_from(m.sender).ok().map(|s| s.as_str_name()),
        m.sender,
        "SENDER_",
    );
    let content_type = word(
        v1::ContentType::try_from(m.content_type)
            .ok()
            .map(|s| s.as_str_name()),
        m.content_type,
        "CONTENT_TYPE_",
    );
    let nlp_response = word(
        v1::NlpResponse::try_from(m.nlp_response)
            .ok()
            .map(|s| s.as_str_name()),
        m.nlp_response,
        "NLP_RESPONSE_",
    );
    let nlp_response_type = word(
        v1::NlpResponseType::try_from(m.nlp_response_type)
            .ok()
            .map(|s| s.as_str_name()),
        m.nlp_response_type,
        "NLP_RESPONSE_TYPE_",
    );
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(MessageInput {
        org_id: required(m.org_id),
        env_id: required(m.env_id),
        bot_id: required(m.bot_id),
        message_id: required(m.message_id),
        session_code: required(m.session_code),
        user_id: required(m.user_id),
        business_key: optional(m.business_key),
        channel_uuid: required(m.channel_uuid),
        channel_name: optional(m.channel_name),
        channel_type: optional(m.channel_type),
        sent_at,
        sender,
        content_type,
        text: Some(Cow::Owned(m.text)),
        nlp_response,
        nlp_response_type,
        nlp_response_name: optional(m.nlp_response_name),
        confidence: m.confidence,
        answer_name: optional(m.answer_name),
        answer_text: optional(m.answer_text),
        flow: optional(m.flow),
        tags: list(m.tags),
    })
}

fn conversation(c: v1::Conversation) -> Result<ConversationInput<'static>, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let started_at = instant("started_at", c.started_at, &mut violations);
    let ended_at = instant("ended_at", c.ended_at, &mut violations);
    let updated_at = instant("updated_at", c.updated_at, &mut violations);
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(ConversationInput {
        org_id: required(c.org_id),
        env_id: required(c.env_id),
        bot_id: required(c.bot_id),
        session_code: required(c.session_code),
        user_id: required(c.user_id),
        business_key: optional(c.business_key),
        channel_uuid: required(c.channel_uuid),
        started_at,
        ended_at,
        updated_at,
        satisfaction: c.satisfaction.map(i64::from),
        flows: list(c.flows),
        tags: list(c.tags),
        user_messages: c.user_messages,
        bot_messages: c.bot_messages,
    })
}
