//! The two event kinds of the contract (§2): immutable messages and versioned conversations.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// The owner of every event: organization, environment and bot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub struct Tenant {
    pub org_id: Uuid,
    pub env_id: Uuid,
    pub bot_id: Uuid,
}

/// One message of a conversation. Written once; a second copy with the same id is a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub tenant: Tenant,
    pub message_id: Uuid,
    pub session_code: String,
    pub user_id: String,
    pub business_key: Option<String>,
    pub channel_uuid: Uuid,
    pub channel_name: Option<String>,
    pub channel_type: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub sender: Sender,
    pub content_type: ContentType,
    pub text: String,
    pub nlp_response: Option<NlpResponse>,
    pub nlp_response_type: Option<NlpResponseType>,
    pub nlp_response_name: Option<String>,
    pub confidence: Option<f64>,
    pub answer_name: Option<String>,
    pub answer_text: Option<String>,
    pub flow: Option<String>,
    pub tags: Vec<String>,
}

/// One version of a conversation record; the version with the greatest `updated_at` wins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    pub tenant: Tenant,
    pub session_code: String,
    pub user_id: String,
    pub business_key: Option<String>,
    pub channel_uuid: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub satisfaction: Option<u8>,
    pub flows: Vec<String>,
    pub tags: Vec<String>,
    pub user_messages: u32,
    pub bot_messages: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Message(Message),
    Conversation(Conversation),
}

impl Event {
    pub fn tenant(&self) -> Tenant {
        match self {
            Event::Message(m) => m.tenant,
            Event::Conversation(c) => c.tenant,
        }
    }

    /// The instant that places the event in time: `sent_at` or `started_at`.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::Message(m) => m.sent_at,
            Event::Conversation(c) => c.started_at,
        }
    }
}

/// Declares a closed vocabulary stored and exchanged as its upper-case name.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted names, for error messages.
            pub fn names() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// Who sent a message.
    Sender { User = "USER", Bot = "BOT" }
);
vocabulary!(
    /// What a message carries; only TEXT user messages are NLP-evaluated.
    ContentType {
        Text = "TEXT",
        Image = "IMAGE",
        Audio = "AUDIO",
        Video = "VIDEO",
        Document = "DOCUMENT",
        Location = "LOCATION",
        Other = "OTHER",
    }
);
vocabulary!(
    /// The outcome of evaluating a user message.
    NlpResponse { Found = "FOUND", None = "NONE" }
);
vocabulary!(
    /// What matched when the NLP response is FOUND.
    NlpResponseType {
        Intent = "INTENT",
        Entity = "ENTITY",
        Document = "DOCUMENT",
        Question = "QUESTION",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_and_rejects_other_spellings() {
        for sender in Sender::ALL {
            assert_eq!(Sender::parse(sender.as_str()), Some(*sender));
        }
        assert_eq!(ContentType::parse("TEXT"), Some(ContentType::Text));
        assert_eq!(ContentType::parse("text"), None);
        assert_eq!(NlpResponse::names(), "FOUND, NONE");
    }
}
