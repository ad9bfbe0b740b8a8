//! Validated events to an Arrow batch of the `events` table schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, Datelike, Utc};
use talkhouse_core::{Conversation, Event, Message};
use uuid::Uuid;

use crate::schema::{KIND_CONVERSATION, KIND_MESSAGE, month_of};
use crate::{Error, Result};

/// Encodes `events` (in batch order) into `schema`, every row stamped with `written_at`.
pub fn encode(events: &[&Event], schema: &SchemaRef, written_at: i64) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| column(field.name(), field.data_type(), events, written_at))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn message(event: &Event) -> Option<&Message> {
    match event {
        Event::Message(m) => Some(m),
        Event::Conversation(_) => None,
    }
}

fn conversation(event: &Event) -> Option<&Conversation> {
    match event {
        Event::Conversation(c) => Some(c),
        Event::Message(_) => None,
    }
}

fn strings<'a, S: AsRef<str> + 'a>(
    events: &'a [&Event],
    f: impl Fn(&'a Event) -> Option<S>,
) -> ArrayRef {
    Arc::new(events.iter().map(|e| f(e)).collect::<StringArray>())
}

/// UUIDs in canonical lower-case text, formatted without an allocation per row.
fn uuids(events: &[&Event], f: impl Fn(&Event) -> Option<Uuid>) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(events.len(), events.len() * 36);
    let mut buffer = Uuid::encode_buffer();
    for event in events {
        match f(event) {
            Some(uuid) => builder.append_value(uuid.hyphenated().encode_lower(&mut buffer)),
            None => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

/// The `month` partition values; a batch spans few months, so each is formatted once.
fn months(events: &[&Event]) -> ArrayRef {
    let mut cache: Vec<((i32, u32), String)> = Vec::new();
    let mut builder = StringBuilder::with_capacity(events.len(), events.len() * 7);
    for event in events {
        let time = event.time();
        let key = (time.year(), time.month());
        let index = match cache.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                cache.push((key, month_of(time)));
                cache.len() - 1
            }
        };
        builder.append_value(&cache[index].1);
    }
    Arc::new(builder.finish())
}

fn timestamps(data_type: &DataType, values: Vec<Option<i64>>) -> ArrayRef {
    let array = TimestampMicrosecondArray::from(values);
    match data_type {
        DataType::Timestamp(TimeUnit::Microsecond, Some(zone)) => {
            Arc::new(array.with_timezone(zone.clone()))
        }
        _ => Arc::new(array),
    }
}

fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

fn lists(data_type: &DataType, events: &[&Event], f: impl Fn(&Event) -> &[String]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    if let DataType::List(item) = data_type {
        builder = builder.with_field(item.clone());
    }
    for event in events {
        for item in f(event) {
            builder.values().append_value(item);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn column(
    name: &str,
    data_type: &DataType,
    events: &[&Event],
    written_at: i64,
) -> Result<ArrayRef> {
    Ok(match name {
        "org_id" => uuids(events, |e| Some(e.tenant().org_id)),
        "env_id" => uuids(events, |e| Some(e.tenant().env_id)),
        "bot_id" => uuids(events, |e| Some(e.tenant().bot_id)),
        "kind" => strings(events, |e| {
            Some(match e {
                Event::Message(_) => KIND_MESSAGE,
                Event::Conversation(_) => KIND_CONVERSATION,
            })
        }),
        "month" => months(events),
        "session_code" => strings(events, |e| {
            Some(match e {
                Event::Message(m) => m.session_code.as_str(),
                Event::Conversation(c) => c.session_code.as_str(),
            })
        }),
        "user_id" => strings(events, |e| {
            Some(match e {
                Event::Message(m) => m.user_id.as_str(),
                Event::Conversation(c) => c.user_id.as_str(),
            })
        }),
        "business_key" => strings(events, |e| match e {
            Event::Message(m) => m.business_key.as_deref(),
            Event::Conversation(c) => c.business_key.as_deref(),
        }),
        "channel_uuid" => uuids(events, |e| {
            Some(match e {
                Event::Message(m) => m.channel_uuid,
                Event::Conversation(c) => c.channel_uuid,
            })
        }),
        "tags" => lists(data_type, events, |e| match e {
            Event::Message(m) => &m.tags,
            Event::Conversation(c) => &c.tags,
        }),
        "message_id" => uuids(events, |e| message(e).map(|m| m.message_id)),
        "channel_name" => strings(events, |e| {
            message(e).and_then(|m| m.channel_name.as_deref())
        }),
        "channel_type" => strings(events, |e| {
            message(e).and_then(|m| m.channel_type.as_deref())
        }),
        "sent_at" => timestamps(
            data_type,
            events
                .iter()
                .map(|e| message(e).map(|m| micros(m.sent_at)))
                .collect(),
        ),
        "sender" => strings(events, |e| message(e).map(|m| m.sender.as_str())),
        "content_type" => strings(events, |e| message(e).map(|m| m.content_type.as_str())),
        "text" => strings(events, |e| message(e).map(|m| m.text.as_str())),
        "nlp_response" => strings(events, |e| {
            message(e).and_then(|m| m.nlp_response).map(|r| r.as_str())
        }),
        "nlp_response_type" => strings(events, |e| {
            message(e)
                .and_then(|m| m.nlp_response_type)
                .map(|r| r.as_str())
        }),
        "nlp_response_name" => strings(events, |e| {
            message(e).and_then(|m| m.nlp_response_name.as_deref())
        }),
        "confidence" => Arc::new(
            events
                .iter()
                .map(|e| message(e).and_then(|m| m.confidence))
                .collect::<Float64Array>(),
        ),
        "answer_name" => strings(events, |e| {
            message(e).and_then(|m| m.answer_name.as_deref())
        }),
        "answer_text" => strings(events, |e| {
            message(e).and_then(|m| m.answer_text.as_deref())
        }),
        "flow" => strings(events, |e| message(e).and_then(|m| m.flow.as_deref())),
        "started_at" => timestamps(
            data_type,
            events
                .iter()
                .map(|e| conversation(e).map(|c| micros(c.started_at)))
                .collect(),
        ),
        "ended_at" => timestamps(
            data_type,
            events
                .iter()
                .map(|e| conversation(e).and_then(|c| c.ended_at).map(micros))
                .collect(),
        ),
        "updated_at" => timestamps(
            data_type,
            events
                .iter()
                .map(|e| conversation(e).map(|c| micros(c.updated_at)))
                .collect(),
        ),
        "satisfaction" => Arc::new(
            events
                .iter()
                .map(|e| conversation(e).and_then(|c| c.satisfaction).map(i32::from))
                .collect::<Int32Array>(),
        ),
        "flows" => lists(data_type, events, |e| match e {
            Event::Conversation(c) => &c.flows,
            Event::Message(_) => &[],
        }),
        "user_messages" => Arc::new(
            events
                .iter()
                .map(|e| conversation(e).map(|c| i64::from(c.user_messages)))
                .collect::<Int64Array>(),
        ),
        "bot_messages" => Arc::new(
            events
                .iter()
                .map(|e| conversation(e).map(|c| i64::from(c.bot_messages)))
                .collect::<Int64Array>(),
        ),
        "written_at" => timestamps(data_type, vec![Some(written_at); events.len()]),
        "batch_line" => Arc::new(Int64Array::from_iter_values(0..events.len() as i64)),
        other => {
            return Err(Error::Arrow(arrow::error::ArrowError::SchemaError(
                format!("the events table has a column {other:?} this build does not know"),
            )));
        }
    })
}
