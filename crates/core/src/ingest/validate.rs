//! Field rules of the ingest format (CONTRACT §2 and §6 "Ingest").

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ConversationInput, EventInput, FieldViolation, InstantInput, MessageInput};
use crate::event::{
    ContentType, Conversation, Event, Message, NlpResponse, NlpResponseType, Sender, Tenant,
};

pub const MAX_SESSION_CODE_CHARS: usize = 128;
/// User ids, business keys, names of channels, intents, answers, flows and tags.
pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_TEXT_CHARS: usize = 65_536;
pub const MAX_TAGS: usize = 64;
pub const MAX_FLOWS: usize = 1_000;

/// Validates one event, naming every field that breaks a rule.
pub fn validate(input: EventInput<'_>) -> Result<Event, Vec<FieldViolation>> {
    match input {
        EventInput::Message(m) => validate_message(m).map(Event::Message),
        EventInput::Conversation(c) => validate_conversation(c).map(Event::Conversation),
    }
}

fn validate_message(m: MessageInput<'_>) -> Result<Message, Vec<FieldViolation>> {
    let mut v = Checker::default();
    let tenant = v.tenant(m.org_id, m.env_id, m.bot_id);
    let message_id = v.uuid("message_id", m.message_id);
    let session_code = v.session_code(m.session_code);
    let user_id = v.required_name("user_id", m.user_id);
    let business_key = v.optional_name("business_key", m.business_key);
    let channel_uuid = v.uuid("channel_uuid", m.channel_uuid);
    let channel_name = v.optional_name("channel_name", m.channel_name);
    let channel_type = v.optional_name("channel_type", m.channel_type);
    let sent_at = v.required_instant("sent_at", m.sent_at);
    let sender = v.required_word("sender", m.sender, Sender::parse, Sender::names);
    let content_type = v.required_word(
        "content_type",
        m.content_type,
        ContentType::parse,
        ContentType::names,
    );
    let text = v.text("text", m.text).unwrap_or_default();
    let nlp_response = v.optional_word(
        "nlp_response",
        m.nlp_response,
        NlpResponse::parse,
        NlpResponse::names,
    );
    let nlp_response_type = v.optional_word(
        "nlp_response_type",
        m.nlp_response_type,
        NlpResponseType::parse,
        NlpResponseType::names,
    );
    let nlp_response_name = v.optional_name("nlp_response_name", m.nlp_response_name);
    let confidence = v.confidence(m.confidence);
    let answer_name = v.optional_name("answer_name", m.answer_name);
    let answer_text = v.text("answer_text", m.answer_text);
    let flow = v.optional_name("flow", m.flow);
    let tags = v.tags(m.tags);
    v.finish()?;
    Ok(Message {
        tenant: tenant.unwrap(),
        message_id: message_id.unwrap(),
        session_code: session_code.unwrap(),
        user_id: user_id.unwrap(),
        business_key,
        channel_uuid: channel_uuid.unwrap(),
        channel_name,
        channel_type,
        sent_at: sent_at.unwrap(),
        sender: sender.unwrap(),
        content_type: content_type.unwrap(),
        text,
        nlp_response,
        nlp_response_type,
        nlp_response_name,
        confidence,
        answer_name,
        answer_text,
        flow,
        tags,
    })
}

fn validate_conversation(c: ConversationInput<'_>) -> Result<Conversation, Vec<FieldViolation>> {
    let mut v = Checker::default();
    let tenant = v.tenant(c.org_id, c.env_id, c.bot_id);
    let session_code = v.session_code(c.session_code);
    let user_id = v.required_name("user_id", c.user_id);
    let business_key = v.optional_name("business_key", c.business_key);
    let channel_uuid = v.uuid("channel_uuid", c.channel_uuid);
    let started_at = v.required_instant("started_at", c.started_at);
    let ended_at = v.optional_instant("ended_at", c.ended_at);
    let updated_at = v.required_instant("updated_at", c.updated_at);
    if let (Some(start), Some(end)) = (started_at, ended_at)
        && end < start
    {
        v.fail("ended_at", "must not be before started_at");
    }
    if let (Some(start), Some(update)) = (started_at, updated_at)
        && update < start
    {
        v.fail("updated_at", "must not be before started_at");
    }
    let satisfaction = match c.satisfaction {
        None => None,
        Some(s @ 1..=5) => Some(s as u8),
        Some(s) => {
            v.fail(
                "satisfaction",
                format!("must be an integer from 1 to 5, got {s}"),
            );
            None
        }
    };
    let flows = v.names_list("flows", c.flows, MAX_FLOWS, false);
    let tags = v.tags(c.tags);
    let user_messages = v.count("user_messages", c.user_messages);
    let bot_messages = v.count("bot_messages", c.bot_messages);
    v.finish()?;
    Ok(Conversation {
        tenant: tenant.unwrap(),
        session_code: session_code.unwrap(),
        user_id: user_id.unwrap(),
        business_key,
        channel_uuid: channel_uuid.unwrap(),
        started_at: started_at.unwrap(),
        ended_at,
        updated_at: updated_at.unwrap(),
        satisfaction,
        flows,
        tags,
        user_messages: user_messages.unwrap(),
        bot_messages: bot_messages.unwrap(),
    })
}

/// Accumulates violations while each field is checked, so one pass reports them all.
#[derive(Default)]
struct Checker {
    violations: Vec<FieldViolation>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(self.violations)
        }
    }

    fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.fail(field, "is required");
        }
        value
    }

    fn tenant(
        &mut self,
        org_id: Option<Cow<'_, str>>,
        env_id: Option<Cow<'_, str>>,
        bot_id: Option<Cow<'_, str>>,
    ) -> Option<Tenant> {
        let org_id = self.uuid("org_id", org_id);
        let env_id = self.uuid("env_id", env_id);
        let bot_id = self.uuid("bot_id", bot_id);
        Some(Tenant {
            org_id: org_id?,
            env_id: env_id?,
            bot_id: bot_id?,
        })
    }

    fn uuid(&mut self, field: &str, value: Option<Cow<'_, str>>) -> Option<Uuid> {
        let text = self.required(field, value)?;
        match parse_uuid(&text) {
            Some(uuid) => Some(uuid),
            None => {
                self.fail(
                    field,
                    format!(
                        "must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got {text:?}"
                    ),
                );
                None
            }
        }
    }

    fn session_code(&mut self, value: Option<Cow<'_, str>>) -> Option<String> {
        let text = self.required("session_code", value)?;
        let text = self.length("session_code", text, 1, MAX_SESSION_CODE_CHARS)?;
        self.printable("session_code", text)
    }

    fn required_name(&mut self, field: &str, value: Option<Cow<'_, str>>) -> Option<String> {
        let text = self.required(field, value)?;
        let text = self.length(field, text, 1, MAX_NAME_CHARS)?;
        self.printable(field, text)
    }

    fn optional_name(&mut self, field: &str, value: Option<Cow<'_, str>>) -> Option<String> {
        let text = self.length(field, value?, 0, MAX_NAME_CHARS)?;
        self.printable(field, text)
    }

    /// Identifiers and names hold no control characters (NUL, line breaks, escapes), as
    /// idempotency keys; free text may.
    fn printable(&mut self, field: &str, text: String) -> Option<String> {
        // Control characters are below 0x20, 0x7f, or (C1) start with 0xc2 in UTF-8.
        let suspect = text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2);
        if suspect && text.chars().any(char::is_control) {
            self.fail(field, "must not hold control characters");
            return None;
        }
        Some(text)
    }

    fn text(&mut self, field: &str, value: Option<Cow<'_, str>>) -> Option<String> {
        self.length(field, value?, 0, MAX_TEXT_CHARS)
    }

    fn length(
        &mut self,
        field: &str,
        text: Cow<'_, str>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        // Byte length bounds the character count from above, so most strings skip the count.
        if text.len() >= min && text.len() <= max {
            return Some(text.into_owned());
        }
        let chars = text.chars().count();
        if chars < min {
            self.fail(field, "must not be empty");
            None
        } else if chars > max {
            self.fail(
                field,
                format!("must be at most {max} characters, got {chars}"),
            );
            None
        } else {
            Some(text.into_owned())
        }
    }

    fn required_instant(
        &mut self,
        field: &str,
        value: Option<InstantInput<'_>>,
    ) -> Option<DateTime<Utc>> {
        let value = self.required(field, value)?;
        self.instant(field, value)
    }

    fn optional_instant(
        &mut self,
        field: &str,
        value: Option<InstantInput<'_>>,
    ) -> Option<DateTime<Utc>> {
        self.instant(field, value?)
    }

    fn instant(&mut self, field: &str, value: InstantInput<'_>) -> Option<DateTime<Utc>> {
        let instant = match value {
            InstantInput::Exact(instant) => instant,
            InstantInput::Text(text) => match crate::instant::parse_rfc3339(&text) {
                Some(instant) => instant.with_timezone(&Utc),
                None => {
                    self.fail(
                        field,
                        format!("must be an RFC 3339 date-time with offset, like 2024-05-01T13:45:00Z, got {text:?}"),
                    );
                    return None;
                }
            },
        };
        if !crate::instant::in_span(instant) {
            self.fail(field, crate::instant::SPAN);
            return None;
        }
        let micros = instant.timestamp_micros();
        // Storage keeps microseconds; finer digits are dropped, as every reader would.
        DateTime::from_timestamp_micros(micros)
    }

    fn required_word<T>(
        &mut self,
        field: &str,
        value: Option<Cow<'_, str>>,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Option<T> {
        let text = self.required(field, value)?;
        self.word(field, text, parse, names)
    }

    fn optional_word<T>(
        &mut self,
        field: &str,
        value: Option<Cow<'_, str>>,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Option<T> {
        self.word(field, value?, parse, names)
    }

    fn word<T>(
        &mut self,
        field: &str,
        text: Cow<'_, str>,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Option<T> {
        let parsed = parse(&text);
        if parsed.is_none() {
            self.fail(field, format!("must be one of {}, got {text:?}", names()));
        }
        parsed
    }

    fn confidence(&mut self, value: Option<f64>) -> Option<f64> {
        let confidence = value?;
        if confidence.is_finite() && (0.0..=100.0).contains(&confidence) {
            Some(confidence)
        } else {
            self.fail(
                "confidence",
                format!("must be a number from 0 to 100, got {confidence}"),
            );
            None
        }
    }

    fn count(&mut self, field: &str, value: Option<i64>) -> Option<u32> {
        let count = self.required(field, value)?;
        match u32::try_from(count) {
            Ok(count) => Some(count),
            Err(_) => {
                self.fail(
                    field,
                    format!("must be a whole number from 0 to {}, got {count}", u32::MAX),
                );
                None
            }
        }
    }

    fn tags(&mut self, tags: Vec<Cow<'_, str>>) -> Vec<String> {
        self.names_list("tags", tags, MAX_TAGS, true)
    }

    /// Checks a list of names; `distinct` drops repeats (tags are a set, flows a path).
    fn names_list(
        &mut self,
        field: &str,
        items: Vec<Cow<'_, str>>,
        max: usize,
        distinct: bool,
    ) -> Vec<String> {
        if items.len() > max {
            self.fail(
                field,
                format!("must hold at most {max} items, got {}", items.len()),
            );
            return Vec::new();
        }
        let mut kept: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let name = format!("{field}[{index}]");
            let Some(item) = self
                .length(&name, item, 1, MAX_NAME_CHARS)
                .and_then(|item| self.printable(&name, item))
            else {
                continue;
            };
            if !distinct || !kept.contains(&item) {
                kept.push(item);
            }
        }
        kept
    }
}

/// Accepts the canonical hyphenated form only (either case) and normalises it to lower case.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

#[cfg(test)]
mod tests;
