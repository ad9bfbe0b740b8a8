//! Events as a client sent them, before validation. Texts are borrowed from a JSON line where
//! they can be (most are UUIDs, instants and names of enumerations that validation parses without
//! keeping the text) and owned when a gRPC message brought them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// An instant as received: RFC 3339 text from a file, or an exact instant from gRPC.
#[derive(Debug, Clone, PartialEq)]
pub enum InstantInput<'a> {
    Text(Cow<'a, str>),
    Exact(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventInput<'a> {
    Message(MessageInput<'a>),
    Conversation(ConversationInput<'a>),
}

/// A message as received. `None` is an absent (or null) field; enumerations are their names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageInput<'a> {
    pub org_id: Option<Cow<'a, str>>,
    pub env_id: Option<Cow<'a, str>>,
    pub bot_id: Option<Cow<'a, str>>,
    pub message_id: Option<Cow<'a, str>>,
    pub session_code: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub business_key: Option<Cow<'a, str>>,
    pub channel_uuid: Option<Cow<'a, str>>,
    pub channel_name: Option<Cow<'a, str>>,
    pub channel_type: Option<Cow<'a, str>>,
    pub sent_at: Option<InstantInput<'a>>,
    pub sender: Option<Cow<'a, str>>,
    pub content_type: Option<Cow<'a, str>>,
    pub text: Option<Cow<'a, str>>,
    pub nlp_response: Option<Cow<'a, str>>,
    pub nlp_response_type: Option<Cow<'a, str>>,
    pub nlp_response_name: Option<Cow<'a, str>>,
    pub confidence: Option<f64>,
    pub answer_name: Option<Cow<'a, str>>,
    pub answer_text: Option<Cow<'a, str>>,
    pub flow: Option<Cow<'a, str>>,
    pub tags: Vec<Cow<'a, str>>,
}

/// A conversation version as received.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationInput<'a> {
    pub org_id: Option<Cow<'a, str>>,
    pub env_id: Option<Cow<'a, str>>,
    pub bot_id: Option<Cow<'a, str>>,
    pub session_code: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub business_key: Option<Cow<'a, str>>,
    pub channel_uuid: Option<Cow<'a, str>>,
    pub started_at: Option<InstantInput<'a>>,
    pub ended_at: Option<InstantInput<'a>>,
    pub updated_at: Option<InstantInput<'a>>,
    pub satisfaction: Option<i64>,
    pub flows: Vec<Cow<'a, str>>,
    pub tags: Vec<Cow<'a, str>>,
    pub user_messages: Option<i64>,
    pub bot_messages: Option<i64>,
}
