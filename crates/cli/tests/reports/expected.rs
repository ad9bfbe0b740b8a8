//! Search answers as the rows a report must hold, and the comparison of both.

use super::*;

pub(super) fn local(timestamp: &Option<prost_types::Timestamp>) -> Value {
    match timestamp {
        None => Value::Null,
        Some(_) => {
            let zone: chrono_tz::Tz = ZONE.parse().unwrap();
            let t = crate::support::instant(timestamp).with_timezone(&zone);
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }
    }
}

pub(super) fn conversation_row(c: v1::ConversationSummary) -> Row {
    let mut row = Row::new();
    row.insert("session_code".into(), json!(c.session_code));
    row.insert("user_id".into(), json!(c.user_id));
    row.insert("business_key".into(), json!(c.business_key));
    row.insert("channel_uuid".into(), json!(c.channel_uuid));
    row.insert("started_at".into(), json!(c.started_at_local));
    row.insert("ended_at".into(), local(&c.ended_at));
    row.insert("updated_at".into(), local(&c.updated_at));
    row.insert("satisfaction".into(), json!(c.satisfaction.map(f64::from)));
    row.insert("flows".into(), json!(c.flows));
    row.insert("flows_travelled".into(), json!(c.flows_travelled as f64));
    row.insert("tags".into(), json!(c.tags));
    row.insert("user_messages".into(), json!(c.user_messages as f64));
    row.insert("bot_messages".into(), json!(c.bot_messages as f64));
    row.insert("duration_seconds".into(), json!(c.duration_seconds));
    row
}

pub(super) fn message_row(m: v1::MessageSummary) -> Row {
    let mut row = Row::new();
    row.insert("message_id".into(), json!(m.message_id));
    row.insert("session_code".into(), json!(m.session_code));
    row.insert("user_id".into(), json!(m.user_id));
    row.insert("business_key".into(), json!(m.business_key));
    row.insert("channel_uuid".into(), json!(m.channel_uuid));
    row.insert("channel_name".into(), json!(m.channel_name));
    row.insert("sent_at".into(), json!(m.sent_at_local));
    row.insert("sender".into(), json!(m.sender));
    row.insert("content_type".into(), json!(m.content_type));
    row.insert("text".into(), json!(m.text));
    row.insert("nlp_response".into(), json!(m.nlp_response));
    row.insert("nlp_response_type".into(), json!(m.nlp_response_type));
    row.insert("nlp_response_name".into(), json!(m.nlp_response_name));
    row.insert("confidence".into(), json!(m.confidence));
    row.insert("answer_name".into(), json!(m.answer_name));
    row.insert("answer_text".into(), json!(m.answer_text));
    row.insert("flow".into(), json!(m.flow));
    row.insert("tags".into(), json!(m.tags));
    row
}

/// What a CSV cell holds for a value: text a spreadsheet would run gets a leading `'`.
pub(super) fn as_in_csv(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|(key, value)| {
                    let value = match value.as_str() {
                        Some(text) => {
                            json!(talkhouse_core::report::neutralize_formula(text).into_owned())
                        }
                        None => value.clone(),
                    };
                    (key.clone(), value)
                })
                .collect()
        })
        .collect()
}

pub(super) fn assert_rows(context: &str, export: ExportType, actual: &[Row], expected: &[Row]) {
    let expected = if export == ExportType::Csv {
        as_in_csv(expected)
    } else {
        expected.to_vec()
    };
    assert_eq!(actual.len(), expected.len(), "{context}: row count");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(a, e, "{context}: row {i}");
    }
}
