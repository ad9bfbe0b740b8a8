//! The searches as Spring-style pages, and the transcript.

use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;

use super::{Provenance, instant};

/// A page as the platform's sibling APIs (Spring) give it; `number` counts from 0 as Spring's
/// does, while the request's `page` counts from 1. One type per item, so that each has a schema of
/// its own name.
macro_rules! page {
    ($page:ident of $item:ty) => {
        #[derive(Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $page {
            content: Vec<$item>,
            total_elements: u64,
            total_pages: u64,
            number: u32,
            size: u32,
            first: bool,
            last: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            provenance: Option<Provenance>,
        }

        impl $page {
            fn new(
                content: Vec<$item>,
                page: Option<v1::PageInfo>,
                provenance: Option<Provenance>,
            ) -> Self {
                let page = page.unwrap_or_default();
                let number = page.page.saturating_sub(1);
                Self {
                    content,
                    total_elements: page.total_elements,
                    total_pages: page.total_pages,
                    number,
                    size: page.size,
                    first: number == 0,
                    last: u64::from(page.page) >= page.total_pages,
                    provenance,
                }
            }
        }
    };
}

page!(Conversations of Conversation);
page!(Messages of Message);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversation {
    session_code: String,
    user_id: String,
    business_key: Option<String>,
    channel_uuid: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    updated_at: Option<String>,
    satisfaction: Option<i32>,
    flows: Vec<String>,
    flows_travelled: i64,
    tags: Vec<String>,
    user_messages: i64,
    bot_messages: i64,
    duration_seconds: f64,
    started_at_local: String,
}

impl From<v1::ConversationSummary> for Conversation {
    fn from(c: v1::ConversationSummary) -> Self {
        Self {
            session_code: c.session_code,
            user_id: c.user_id,
            business_key: c.business_key,
            channel_uuid: c.channel_uuid,
            started_at: instant(c.started_at),
            ended_at: instant(c.ended_at),
            updated_at: instant(c.updated_at),
            satisfaction: c.satisfaction,
            flows: c.flows,
            flows_travelled: c.flows_travelled,
            tags: c.tags,
            user_messages: c.user_messages,
            bot_messages: c.bot_messages,
            duration_seconds: c.duration_seconds,
            started_at_local: c.started_at_local,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    message_id: String,
    session_code: String,
    user_id: String,
    business_key: Option<String>,
    channel_uuid: String,
    channel_name: Option<String>,
    sent_at: Option<String>,
    sent_at_local: String,
    sender: String,
    content_type: String,
    text: String,
    nlp_response: Option<String>,
    nlp_response_type: Option<String>,
    nlp_response_name: Option<String>,
    confidence: Option<f64>,
    answer_name: Option<String>,
    answer_text: Option<String>,
    flow: Option<String>,
    tags: Vec<String>,
}

impl From<v1::MessageSummary> for Message {
    fn from(m: v1::MessageSummary) -> Self {
        Self {
            message_id: m.message_id,
            session_code: m.session_code,
            user_id: m.user_id,
            business_key: m.business_key,
            channel_uuid: m.channel_uuid,
            channel_name: m.channel_name,
            sent_at: instant(m.sent_at),
            sent_at_local: m.sent_at_local,
            sender: m.sender,
            content_type: m.content_type,
            text: m.text,
            nlp_response: m.nlp_response,
            nlp_response_type: m.nlp_response_type,
            nlp_response_name: m.nlp_response_name,
            confidence: m.confidence,
            answer_name: m.answer_name,
            answer_text: m.answer_text,
            flow: m.flow,
            tags: m.tags,
        }
    }
}

impl From<v1::SearchConversationsResponse> for Conversations {
    fn from(r: v1::SearchConversationsResponse) -> Self {
        let content = r.content.into_iter().map(Conversation::from).collect();
        Self::new(content, r.page, Some(r.provenance.into()))
    }
}

impl From<v1::SearchMessagesResponse> for Messages {
    fn from(r: v1::SearchMessagesResponse) -> Self {
        let content = r.content.into_iter().map(Message::from).collect();
        Self::new(content, r.page, Some(r.provenance.into()))
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Transcript {
    conversation: Option<Conversation>,
    /// True when the conversation record is derived from the messages (none was stored).
    derived: bool,
    messages: Vec<Message>,
    provenance: Provenance,
}

impl From<v1::GetConversationResponse> for Transcript {
    fn from(t: v1::GetConversationResponse) -> Self {
        Self {
            conversation: t.conversation.map(Conversation::from),
            derived: t.derived,
            messages: t.messages.into_iter().map(Message::from).collect(),
            provenance: t.provenance.into(),
        }
    }
}
