//! Events as a client sent them, before validation.

use chrono::{DateTime, Utc};

/// An instant as received: RFC 3339 text from a file, or an exact instant from gRPC.
#[derive(Debug, Clone, PartialEq)]
pub enum InstantInput {
    Text(String),
    Exact(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventInput {
    Message(MessageInput),
    Conversation(ConversationInput),
}

/// A message as received. `None` is an absent (or null) field; enumerations are their names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageInput {
    pub org_id: Option<String>,
    pub env_id: Option<String>,
    pub bot_id: Option<String>,
    pub message_id: Option<String>,
    pub session_code: Option<String>,
    pub user_id: Option<String>,
    pub business_key: Option<String>,
    pub channel_uuid: Option<String>,
    pub channel_name: Option<String>,
    pub channel_type: Option<String>,
    pub sent_at: Option<InstantInput>,
    pub sender: Option<String>,
    pub content_type: Option<String>,
    pub text: Option<String>,
    pub nlp_response: Option<String>,
    pub nlp_response_type: Option<String>,
    pub nlp_response_name: Option<String>,
    pub confidence: Option<f64>,
    pub answer_name: Option<String>,
    pub answer_text: Option<String>,
    pub flow: Option<String>,
    pub tags: Vec<String>,
}

/// A conversation version as received.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationInput {
    pub org_id: Option<String>,
    pub env_id: Option<String>,
    pub bot_id: Option<String>,
    pub session_code: Option<String>,
    pub user_id: Option<String>,
    pub business_key: Option<String>,
    pub channel_uuid: Option<String>,
    pub started_at: Option<InstantInput>,
    pub ended_at: Option<InstantInput>,
    pub updated_at: Option<InstantInput>,
    pub satisfaction: Option<i64>,
    pub flows: Vec<String>,
    pub tags: Vec<String>,
    pub user_messages: Option<i64>,
    pub bot_messages: Option<i64>,
}
