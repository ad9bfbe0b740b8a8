//! The rules of each field of an ingest line, case by case.

use super::*;

fn message() -> MessageInput<'static> {
    MessageInput {
        org_id: Some("00000000-0000-4000-8000-000000000001".into()),
        env_id: Some("00000000-0000-4000-8000-000000000002".into()),
        bot_id: Some("00000000-0000-4000-8000-000000000003".into()),
        message_id: Some("00000000-0000-4000-8000-0000000000aa".into()),
        session_code: Some("s-1".into()),
        user_id: Some("u-1".into()),
        channel_uuid: Some("00000000-0000-4000-8000-0000000000cc".into()),
        sent_at: Some(InstantInput::Text(
            "2024-03-10T01:30:00.1234567-03:00".into(),
        )),
        sender: Some("USER".into()),
        content_type: Some("TEXT".into()),
        ..Default::default()
    }
}

fn conversation() -> ConversationInput<'static> {
    ConversationInput {
        org_id: Some("00000000-0000-4000-8000-000000000001".into()),
        env_id: Some("00000000-0000-4000-8000-000000000002".into()),
        bot_id: Some("00000000-0000-4000-8000-000000000003".into()),
        session_code: Some("s".into()),
        user_id: Some("u".into()),
        channel_uuid: Some("00000000-0000-4000-8000-0000000000cc".into()),
        started_at: Some(InstantInput::Text("2024-01-01T00:00:00Z".into())),
        updated_at: Some(InstantInput::Text("2024-01-01T00:00:00Z".into())),
        user_messages: Some(1),
        bot_messages: Some(1),
        ..Default::default()
    }
}

fn fields(result: Result<Event, Vec<FieldViolation>>) -> Vec<String> {
    result.unwrap_err().into_iter().map(|v| v.field).collect()
}

#[test]
fn a_valid_message_is_normalised_to_utc_microseconds() {
    let Event::Message(m) = validate(EventInput::Message(message())).unwrap() else {
        panic!("not a message")
    };
    assert_eq!(m.sent_at.to_rfc3339(), "2024-03-10T04:30:00.123456+00:00");
    assert_eq!(m.text, "");
    assert!(m.tags.is_empty());
}

#[test]
fn every_bad_field_is_named() {
    let mut m = message();
    m.org_id = Some("not-a-uuid".into());
    m.session_code = Some("".into());
    m.sent_at = Some(InstantInput::Text("2024-03-10 01:30".into()));
    m.sender = Some("user".into());
    m.confidence = Some(100.5);
    m.tags = vec!["ok".into(), "".into()];
    m.user_id = None;
    assert_eq!(
        fields(validate(EventInput::Message(m))),
        [
            "org_id",
            "session_code",
            "user_id",
            "sent_at",
            "sender",
            "confidence",
            "tags[1]"
        ]
    );
}

#[test]
fn lengths_count_characters_not_bytes() {
    let mut m = message();
    m.session_code = Some("é".repeat(MAX_SESSION_CODE_CHARS).into());
    assert!(validate(EventInput::Message(m.clone())).is_ok());
    m.session_code = Some("é".repeat(MAX_SESSION_CODE_CHARS + 1).into());
    assert_eq!(fields(validate(EventInput::Message(m))), ["session_code"]);
}

#[test]
fn conversation_order_of_instants_is_checked() {
    let c = ConversationInput {
        started_at: Some(InstantInput::Text("2024-01-02T00:00:00Z".into())),
        ended_at: Some(InstantInput::Text("2024-01-01T00:00:00Z".into())),
        satisfaction: Some(6),
        user_messages: Some(-1),
        bot_messages: Some(0),
        ..conversation()
    };
    assert_eq!(
        fields(validate(EventInput::Conversation(c))),
        ["ended_at", "updated_at", "satisfaction", "user_messages"]
    );
}

#[test]
fn uuids_must_be_hyphenated() {
    assert!(parse_uuid("123e4567-e89b-12d3-a456-426614174000").is_some());
    assert!(parse_uuid("123E4567-E89B-12D3-A456-426614174000").is_some());
    assert!(parse_uuid("123e4567e89b12d3a456426614174000").is_none());
    assert!(parse_uuid("{123e4567-e89b-12d3-a456-426614174000}").is_none());
}

#[test]
fn repeated_tags_count_once_but_flows_keep_their_path() {
    let c = ConversationInput {
        flows: vec!["a".into(), "b".into(), "a".into()],
        tags: vec!["x".into(), "x".into()],
        ..conversation()
    };
    let Event::Conversation(c) = validate(EventInput::Conversation(c)).unwrap() else {
        panic!()
    };
    assert_eq!(c.flows, ["a", "b", "a"]);
    assert_eq!(c.tags, ["x"]);
}
