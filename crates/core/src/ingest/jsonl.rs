//! The public ingest file format: one JSON object per line, `"kind": "message"` or
//! `"kind": "conversation"`, fields in snake_case, instants as RFC 3339 with offset.

use std::borrow::Cow;

use serde::Deserialize;

use super::{
    BatchError, ConversationInput, EventInput, FieldViolation, InstantInput, MessageInput,
    ViolationCollector, validate,
};
use crate::event::Event;

/// A JSON string: borrowed from the line, or owned when it held escapes. (serde makes a plain
/// `Cow<str>` field always owned.)
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The text of a field.
fn text(field: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    field.map(|text| text.0)
}

/// The texts of a list field; absent is empty.
fn texts(field: Option<Vec<Text<'_>>>) -> Vec<Cow<'_, str>> {
    field
        .unwrap_or_default()
        .into_iter()
        .map(|text| text.0)
        .collect()
}

/// Every field either kind may carry; which belong to which kind is checked after parsing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    org_id: Option<Text<'a>>,
    #[serde(borrow)]
    env_id: Option<Text<'a>>,
    #[serde(borrow)]
    bot_id: Option<Text<'a>>,
    #[serde(borrow)]
    session_code: Option<Text<'a>>,
    #[serde(borrow)]
    user_id: Option<Text<'a>>,
    #[serde(borrow)]
    business_key: Option<Text<'a>>,
    #[serde(borrow)]
    channel_uuid: Option<Text<'a>>,
    #[serde(borrow)]
    tags: Option<Vec<Text<'a>>>,
    // Messages.
    #[serde(borrow)]
    message_id: Option<Text<'a>>,
    #[serde(borrow)]
    channel_name: Option<Text<'a>>,
    #[serde(borrow)]
    channel_type: Option<Text<'a>>,
    #[serde(borrow)]
    sent_at: Option<Text<'a>>,
    #[serde(borrow)]
    sender: Option<Text<'a>>,
    #[serde(borrow)]
    content_type: Option<Text<'a>>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
    #[serde(borrow)]
    nlp_response: Option<Text<'a>>,
    #[serde(borrow)]
    nlp_response_type: Option<Text<'a>>,
    #[serde(borrow)]
    nlp_response_name: Option<Text<'a>>,
    confidence: Option<f64>,
    #[serde(borrow)]
    answer_name: Option<Text<'a>>,
    #[serde(borrow)]
    answer_text: Option<Text<'a>>,
    #[serde(borrow)]
    flow: Option<Text<'a>>,
    // Conversations.
    #[serde(borrow)]
    started_at: Option<Text<'a>>,
    #[serde(borrow)]
    ended_at: Option<Text<'a>>,
    #[serde(borrow)]
    updated_at: Option<Text<'a>>,
    satisfaction: Option<i64>,
    #[serde(borrow)]
    flows: Option<Vec<Text<'a>>>,
    user_messages: Option<i64>,
    bot_messages: Option<i64>,
}

/// Parses and validates a JSONL text; lines are numbered from `first_line`. Blank lines are
/// skipped. The whole text is rejected when any line is wrong.
pub fn parse_jsonl(text: &str, first_line: usize) -> Result<Vec<Event>, BatchError> {
    let mut events = Vec::new();
    let mut collector = ViolationCollector::default();
    for (offset, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let result = parse_jsonl_line(line).and_then(validate);
        match result {
            Ok(event) if collector.is_empty() => events.push(event),
            Ok(_) => {}
            Err(violations) => collector.add(first_line + offset, violations),
        }
    }
    collector.finish().map(|()| events)
}

/// Reads one line into an [`EventInput`], naming the field whose JSON type is wrong.
pub fn parse_jsonl_line(line: &str) -> Result<EventInput<'_>, Vec<FieldViolation>> {
    // serde would also read a struct from a JSON array; the format is objects only.
    if !line.trim_start().starts_with('{') {
        return Err(vec![FieldViolation::new("line", "must be a JSON object")]);
    }
    // The fast path parses without tracking paths; only a failure is parsed again to name the
    // field that caused it.
    let parsed: Line<'_> = match serde_json::from_str(line) {
        Ok(parsed) => parsed,
        Err(error) => return Err(vec![explain(line, error)]),
    };
    split_by_kind(parsed)
}

fn explain(line: &str, plain: serde_json::Error) -> FieldViolation {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    match serde_path_to_error::deserialize::<_, Line<'_>>(&mut deserializer) {
        Err(error) => json_violation(&error),
        Ok(_) => FieldViolation::new("line", format!("not a single JSON object: {plain}")),
    }
}

fn json_violation(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldViolation {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(name) = rest.split('`').next()
    {
        return FieldViolation::new(name, "is not a field of the ingest format");
    }
    // serde_json appends " at line 1 column N"; the line is ours to report.
    let description = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head);
    if path == "." || error.inner().is_syntax() || error.inner().is_eof() {
        FieldViolation::new("line", format!("not a valid JSON object: {description}"))
    } else {
        FieldViolation::new(path, description)
    }
}

fn split_by_kind(line: Line<'_>) -> Result<EventInput<'_>, Vec<FieldViolation>> {
    match line.kind.as_ref().map(|kind| kind.0.as_ref()) {
        Some("message") => into_message(line),
        Some("conversation") => into_conversation(line),
        Some(other) => Err(vec![FieldViolation::new(
            "kind",
            format!("must be \"message\" or \"conversation\", got {other:?}"),
        )]),
        None => Err(vec![FieldViolation::new("kind", "is required")]),
    }
}

fn present_fields(pairs: &[(&'static str, bool)], kind: &str) -> Vec<FieldViolation> {
    pairs
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| FieldViolation::new(*name, format!("is not a field of a {kind}")))
        .collect()
}

fn into_message(line: Line<'_>) -> Result<EventInput<'_>, Vec<FieldViolation>> {
    let foreign = present_fields(
        &[
            ("started_at", line.started_at.is_some()),
            ("ended_at", line.ended_at.is_some()),
            ("updated_at", line.updated_at.is_some()),
            ("satisfaction", line.satisfaction.is_some()),
            ("flows", line.flows.is_some()),
            ("user_messages", line.user_messages.is_some()),
            ("bot_messages", line.bot_messages.is_some()),
        ],
        "message",
    );
    if !foreign.is_empty() {
        return Err(foreign);
    }
    Ok(EventInput::Message(MessageInput {
        org_id: text(line.org_id),
        env_id: text(line.env_id),
        bot_id: text(line.bot_id),
        message_id: text(line.message_id),
        session_code: text(line.session_code),
        user_id: text(line.user_id),
        business_key: text(line.business_key),
        channel_uuid: text(line.channel_uuid),
        channel_name: text(line.channel_name),
        channel_type: text(line.channel_type),
        sent_at: text(line.sent_at).map(InstantInput::Text),
        sender: text(line.sender),
        content_type: text(line.content_type),
        text: text(line.text),
        nlp_response: text(line.nlp_response),
        nlp_response_type: text(line.nlp_response_type),
        nlp_response_name: text(line.nlp_response_name),
        confidence: line.confidence,
        answer_name: text(line.answer_name),
        answer_text: text(line.answer_text),
        flow: text(line.flow),
        tags: texts(line.tags),
    }))
}

fn into_conversation(line: Line<'_>) -> Result<EventInput<'_>, Vec<FieldViolation>> {
    let foreign = present_fields(
        &[
            ("message_id", line.message_id.is_some()),
            ("channel_name", line.channel_name.is_some()),
            ("channel_type", line.channel_type.is_some()),
            ("sent_at", line.sent_at.is_some()),
            ("sender", line.sender.is_some()),
            ("content_type", line.content_type.is_some()),
            ("text", line.text.is_some()),
            ("nlp_response", line.nlp_response.is_some()),
            ("nlp_response_type", line.nlp_response_type.is_some()),
            ("nlp_response_name", line.nlp_response_name.is_some()),
            ("confidence", line.confidence.is_some()),
            ("answer_name", line.answer_name.is_some()),
            ("answer_text", line.answer_text.is_some()),
            ("flow", line.flow.is_some()),
        ],
        "conversation",
    );
    if !foreign.is_empty() {
        return Err(foreign);
    }
    Ok(EventInput::Conversation(ConversationInput {
        org_id: text(line.org_id),
        env_id: text(line.env_id),
        bot_id: text(line.bot_id),
        session_code: text(line.session_code),
        user_id: text(line.user_id),
        business_key: text(line.business_key),
        channel_uuid: text(line.channel_uuid),
        started_at: text(line.started_at).map(InstantInput::Text),
        ended_at: text(line.ended_at).map(InstantInput::Text),
        updated_at: text(line.updated_at).map(InstantInput::Text),
        satisfaction: line.satisfaction,
        flows: texts(line.flows),
        tags: texts(line.tags),
        user_messages: line.user_messages,
        bot_messages: line.bot_messages,
    }))
}

/// Writes an event as one line of the ingest format (without the line end).
pub fn to_jsonl_line(event: &Event) -> String {
    use serde_json::{Map, Value, json};
    let instant = |i: chrono::DateTime<chrono::Utc>| {
        Value::String(i.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let mut line = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            line.insert(key.to_string(), value);
        }
    };
    let tenant = event.tenant();
    put(
        "kind",
        json!(match event {
            Event::Message(_) => "message",
            Event::Conversation(_) => "conversation",
        }),
    );
    put("org_id", json!(tenant.org_id));
    put("env_id", json!(tenant.env_id));
    put("bot_id", json!(tenant.bot_id));
    match event {
        Event::Message(m) => {
            put("message_id", json!(m.message_id));
            put("session_code", json!(m.session_code));
            put("user_id", json!(m.user_id));
            put("business_key", json!(m.business_key));
            put("channel_uuid", json!(m.channel_uuid));
            put("channel_name", json!(m.channel_name));
            put("channel_type", json!(m.channel_type));
            put("sent_at", instant(m.sent_at));
            put("sender", json!(m.sender.as_str()));
            put("content_type", json!(m.content_type.as_str()));
            put("text", json!(m.text));
            put("nlp_response", json!(m.nlp_response.map(|r| r.as_str())));
            put(
                "nlp_response_type",
                json!(m.nlp_response_type.map(|r| r.as_str())),
            );
            put("nlp_response_name", json!(m.nlp_response_name));
            put("confidence", json!(m.confidence));
            put("answer_name", json!(m.answer_name));
            put("answer_text", json!(m.answer_text));
            put("flow", json!(m.flow));
            put("tags", json!(m.tags));
        }
        Event::Conversation(c) => {
            put("session_code", json!(c.session_code));
            put("user_id", json!(c.user_id));
            put("business_key", json!(c.business_key));
            put("channel_uuid", json!(c.channel_uuid));
            put("started_at", instant(c.started_at));
            put("ended_at", c.ended_at.map_or(Value::Null, instant));
            put("updated_at", instant(c.updated_at));
            put("satisfaction", json!(c.satisfaction));
            put("flows", json!(c.flows));
            put("tags", json!(c.tags));
            put("user_messages", json!(c.user_messages));
            put("bot_messages", json!(c.bot_messages));
        }
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"kind":"message","org_id":"00000000-0000-4000-8000-000000000001","env_id":"00000000-0000-4000-8000-000000000002","bot_id":"00000000-0000-4000-8000-000000000003","message_id":"00000000-0000-4000-8000-0000000000aa","session_code":"s-1","user_id":"u-1","channel_uuid":"00000000-0000-4000-8000-0000000000cc","sent_at":"2024-01-01T10:00:00Z","sender":"USER","content_type":"TEXT","text":"hi","confidence":87,"tags":null,"business_key":null}"#;

    fn first_violation(line: &str) -> (usize, String, String) {
        let error = parse_jsonl(line, 7).unwrap_err();
        let v = &error.violations[0];
        (
            v.line,
            v.violation.field.clone(),
            v.violation.description.clone(),
        )
    }

    #[test]
    fn a_message_line_parses_with_nulls_as_absent() {
        let events = parse_jsonl(&format!("{MESSAGE}\n\n{MESSAGE}\n"), 1).unwrap();
        assert_eq!(events.len(), 2);
        let Event::Message(m) = &events[0] else {
            panic!()
        };
        assert_eq!(m.confidence, Some(87.0));
        assert_eq!(m.business_key, None);
    }

    #[test]
    fn texts_are_borrowed_from_the_line_unless_they_hold_escapes() {
        let line = MESSAGE.replace(r#""text":"hi""#, r#""text":"say \"hi\"""#);
        let Ok(EventInput::Message(m)) = parse_jsonl_line(&line) else {
            panic!("a message")
        };
        assert!(matches!(m.org_id, Some(Cow::Borrowed(_))));
        assert!(matches!(
            m.sent_at,
            Some(InstantInput::Text(Cow::Borrowed(_)))
        ));
        assert_eq!(m.text, Some(Cow::<str>::Owned(r#"say "hi""#.into())));
        assert!(matches!(m.text, Some(Cow::Owned(_))));
    }

    #[test]
    fn a_wrong_json_type_names_the_field_and_line() {
        let line = MESSAGE.replace(r#""confidence":87"#, r#""confidence":"high""#);
        let (line_no, field, description) = first_violation(&line);
        assert_eq!((line_no, field.as_str()), (7, "confidence"));
        assert!(description.contains("invalid type"), "{description}");
    }

    #[test]
    fn unknown_and_foreign_fields_are_rejected() {
        let line = MESSAGE.replace(r#""text":"hi""#, r#""txt":"hi""#);
        assert_eq!(first_violation(&line).1, "txt");
        let line = MESSAGE.replace(r#""text":"hi""#, r#""satisfaction":3"#);
        assert_eq!(first_violation(&line).1, "satisfaction");
    }

    #[test]
    fn broken_json_and_missing_kind_are_reported() {
        assert_eq!(first_violation("{\"kind\":").1, "line");
        assert_eq!(first_violation("[1,2]").1, "line");
        assert_eq!(
            first_violation(&MESSAGE.replace(r#""kind":"message","#, "")).1,
            "kind"
        );
        assert_eq!(first_violation(&format!("{MESSAGE} {{}}")).1, "line");
    }

    #[test]
    fn written_lines_read_back_as_the_same_events() {
        use crate::generate::{GenerateConfig, Generator};
        let generator = Generator::new(GenerateConfig {
            seed: 5,
            bots: 2,
            days: 2,
            until: chrono::NaiveDate::from_ymd_opt(2024, 10, 27).unwrap(),
            conversations_per_day: 20,
        });
        let events: Vec<Event> = generator.events().flatten().collect();
        let text: String = events.iter().map(|e| to_jsonl_line(e) + "\n").collect();
        assert_eq!(parse_jsonl(&text, 1).unwrap(), events);
    }

    #[test]
    fn violations_of_many_lines_are_all_listed() {
        let bad = MESSAGE.replace("USER", "ROBOT");
        let error = parse_jsonl(&format!("{MESSAGE}\n{bad}\n{MESSAGE}\n{bad}"), 1).unwrap_err();
        let lines: Vec<usize> = error.violations.iter().map(|v| v.line).collect();
        assert_eq!(lines, [2, 4]);
    }
}
