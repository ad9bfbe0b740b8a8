//! Validated events to an Arrow batch of the `events` table schema.
//!
//! One pass over the events appends to every column at once: the events are large structs, and a
//! pass per column would stream them through the cache 33 times.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, Datelike, Utc};
use talkhouse_core::{Conversation, Event, Message, Tenant};
use uuid::Uuid;

use crate::parallel;
use crate::rollup::{ROLLUP_COUNTS, ROLLUP_UNTAGGED, RollupCounts, RollupKey, UserRollupKey};
use crate::schema::{
    KIND_CONVERSATION, KIND_MESSAGE, KIND_ROLLUP, KIND_SUPERSEDED, KIND_USER_ROLLUP, month_of,
};
use crate::versions::{
    BatchVersions, ConversationVersion, LineSet, SUPERSEDED_AT_WRITE, SUPERSEDED_BATCH_LINE,
    SUPERSEDED_WRITTEN_AT, Superseding,
};
use crate::write::batch_files::LinedEvent;
use crate::{Error, Result};
use builders::{append_list, append_uuid, list_builder, micros};

mod builders;

/// The rollup rows a batch or a compaction writes.
#[derive(Debug, Default)]
pub struct RollupRows {
    pub buckets: Vec<(RollupKey, RollupCounts)>,
    /// User rollup rows and their conversation counts.
    pub users: Vec<(UserRollupKey, i64)>,
}

/// Encodes `events` at their batch lines, every row stamped with `written_at`.
pub fn encode_events(
    events: &[LinedEvent<'_>],
    superseded_at_write: &LineSet,
    schema: &SchemaRef,
    written_at: i64,
) -> Result<RecordBatch> {
    let mut columns = Columns::new(events.len(), schema);
    for (line, event) in events {
        columns.append(event, *line, superseded_at_write.contains(line));
    }
    columns.finish_batch(schema, written_at)
}

/// [`encode_events`] on every core: one batch per core for a large batch, in the order of
/// `events`.
pub fn encode_events_in_parallel(
    events: &[LinedEvent<'_>],
    superseded_at_write: &LineSet,
    schema: &SchemaRef,
    written_at: i64,
) -> Result<Vec<RecordBatch>> {
    parallel::in_parts(events, |part| {
        encode_events(part, superseded_at_write, schema, written_at)
    })
    .into_iter()
    .collect()
}

/// Encodes a batch's `rollups`, then the stored versions its `versions` supersede, the first row
/// at `first_line` (the line after the batch's events), every row stamped with `written_at`.
pub fn encode_derived_rows(
    first_line: i64,
    versions: &BatchVersions,
    rollups: &RollupRows,
    schema: &SchemaRef,
    written_at: i64,
) -> Result<RecordBatch> {
    let superseded: Vec<_> = versions.superseded_stored().collect();
    let rows = rollups.buckets.len() + rollups.users.len() + superseded.len();
    let mut columns = Columns::new(rows, schema);
    let mut line = first_line;
    for (key, counts) in &rollups.buckets {
        columns.append_rollup(KIND_ROLLUP, key, "", counts, line);
        line += 1;
    }
    for (key, conversations) in &rollups.users {
        let counts = RollupCounts::of_conversations(*conversations);
        columns.append_rollup(KIND_USER_ROLLUP, &key.rollup, &key.user_id, &counts, line);
        line += 1;
    }
    for (session, old) in superseded {
        columns.append_superseded(session, old, line);
        line += 1;
    }
    columns.finish_batch(schema, written_at)
}

struct Columns {
    rows: usize,
    uuid_buffer: [u8; 45],
    months: Vec<((i32, u32), String)>,
    org_id: StringBuilder,
    env_id: StringBuilder,
    bot_id: StringBuilder,
    kind: StringBuilder,
    month: StringBuilder,
    session_code: StringBuilder,
    user_id: StringBuilder,
    business_key: StringBuilder,
    channel_uuid: StringBuilder,
    tags: ListBuilder<StringBuilder>,
    message_id: StringBuilder,
    channel_name: StringBuilder,
    channel_type: StringBuilder,
    sent_at: TimestampMicrosecondBuilder,
    sender: StringBuilder,
    content_type: StringBuilder,
    text: StringBuilder,
    nlp_response: StringBuilder,
    nlp_response_type: StringBuilder,
    nlp_response_name: StringBuilder,
    confidence: Float64Builder,
    answer_name: StringBuilder,
    answer_text: StringBuilder,
    flow: StringBuilder,
    started_at: TimestampMicrosecondBuilder,
    ended_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    satisfaction: Int32Builder,
    flows: ListBuilder<StringBuilder>,
    user_messages: Int64Builder,
    bot_messages: Int64Builder,
    batch_line: Int64Builder,
    rollup_untagged: BooleanBuilder,
    rollup_counts: [Int64Builder; 5],
    superseded_at_write: BooleanBuilder,
    superseded_written_at: TimestampMicrosecondBuilder,
    superseded_batch_line: Int64Builder,
}

impl Columns {
    fn new(rows: usize, schema: &SchemaRef) -> Self {
        let strings =
            |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        let times = || TimestampMicrosecondBuilder::with_capacity(rows);
        Self {
            rows,
            uuid_buffer: Uuid::encode_buffer(),
            months: Vec::new(),
            org_id: strings(36),
            env_id: strings(36),
            bot_id: strings(36),
            kind: strings(12),
            month: strings(7),
            session_code: strings(24),
            user_id: strings(24),
            business_key: strings(16),
            channel_uuid: strings(36),
            tags: list_builder(schema, "tags", rows),
            message_id: strings(36),
            channel_name: strings(12),
            channel_type: strings(8),
            sent_at: times(),
            sender: strings(4),
            content_type: strings(4),
            text: strings(32),
            nlp_response: strings(5),
            nlp_response_type: strings(6),
            nlp_response_name: strings(12),
            confidence: Float64Builder::with_capacity(rows),
            answer_name: strings(12),
            answer_text: strings(24),
            flow: strings(12),
            started_at: times(),
            ended_at: times(),
            updated_at: times(),
            satisfaction: Int32Builder::with_capacity(rows),
            flows: list_builder(schema, "flows", rows),
            user_messages: Int64Builder::with_capacity(rows),
            bot_messages: Int64Builder::with_capacity(rows),
            batch_line: Int64Builder::with_capacity(rows),
            rollup_untagged: BooleanBuilder::with_capacity(rows),
            rollup_counts: std::array::from_fn(|_| Int64Builder::with_capacity(rows)),
            superseded_at_write: BooleanBuilder::with_capacity(rows),
            superseded_written_at: times(),
            superseded_batch_line: Int64Builder::with_capacity(rows),
        }
    }

    /// An event row; `superseded` says whether a newer version of a conversation is already
    /// known.
    fn append(&mut self, event: &Event, line: i64, superseded: bool) {
        let tenant = event.tenant();
        self.append_tenant(tenant);
        self.append_month(event.time());
        self.batch_line.append_value(line);
        self.append_no_rollup();
        self.superseded_written_at.append_null();
        self.superseded_batch_line.append_null();
        match event {
            Event::Message(m) => self.append_message(m),
            Event::Conversation(c) => self.append_conversation(c, superseded),
        }
    }

    /// A message's own columns, the conversation columns empty.
    fn append_message(&mut self, m: &Message) {
        self.superseded_at_write.append_null();
        self.kind.append_value(KIND_MESSAGE);
        self.session_code.append_value(&m.session_code);
        self.user_id.append_value(&m.user_id);
        self.business_key.append_option(m.business_key.as_deref());
        append_uuid(
            &mut self.channel_uuid,
            &mut self.uuid_buffer,
            Some(m.channel_uuid),
        );
        append_list(&mut self.tags, &m.tags);
        append_uuid(
            &mut self.message_id,
            &mut self.uuid_buffer,
            Some(m.message_id),
        );
        self.channel_name.append_option(m.channel_name.as_deref());
        self.channel_type.append_option(m.channel_type.as_deref());
        self.sent_at.append_value(micros(m.sent_at));
        self.sender.append_value(m.sender.as_str());
        self.content_type.append_value(m.content_type.as_str());
        self.text.append_value(&m.text);
        self.nlp_response
            .append_option(m.nlp_response.map(|r| r.as_str()));
        self.nlp_response_type
            .append_option(m.nlp_response_type.map(|r| r.as_str()));
        self.nlp_response_name
            .append_option(m.nlp_response_name.as_deref());
        self.confidence.append_option(m.confidence);
        self.answer_name.append_option(m.answer_name.as_deref());
        self.answer_text.append_option(m.answer_text.as_deref());
        self.flow.append_option(m.flow.as_deref());
        self.started_at.append_null();
        self.ended_at.append_null();
        self.updated_at.append_null();
        self.satisfaction.append_null();
        append_list(&mut self.flows, &[]);
        self.user_messages.append_null();
        self.bot_messages.append_null();
    }

    /// A conversation version's own columns, the message columns empty; `superseded` says
    /// whether a newer version is already known.
    fn append_conversation(&mut self, c: &Conversation, superseded: bool) {
        self.superseded_at_write.append_value(superseded);
        self.kind.append_value(KIND_CONVERSATION);
        self.session_code.append_value(&c.session_code);
        self.user_id.append_value(&c.user_id);
        self.business_key.append_option(c.business_key.as_deref());
        append_uuid(
            &mut self.channel_uuid,
            &mut self.uuid_buffer,
            Some(c.channel_uuid),
        );
        append_list(&mut self.tags, &c.tags);
        append_uuid(&mut self.message_id, &mut self.uuid_buffer, None);
        self.channel_name.append_null();
        self.channel_type.append_null();
        self.sent_at.append_null();
        self.sender.append_null();
        self.content_type.append_null();
        self.text.append_null();
        self.nlp_response.append_null();
        self.nlp_response_type.append_null();
        self.nlp_response_name.append_null();
        self.confidence.append_null();
        self.answer_name.append_null();
        self.answer_text.append_null();
        self.flow.append_null();
        self.started_at.append_value(micros(c.started_at));
        self.ended_at.append_option(c.ended_at.map(micros));
        self.updated_at.append_value(micros(c.updated_at));
        self.satisfaction
            .append_option(c.satisfaction.map(i32::from));
        append_list(&mut self.flows, &c.flows);
        self.user_messages.append_value(i64::from(c.user_messages));
        self.bot_messages.append_value(i64::from(c.bot_messages));
    }

    /// A rollup row of `kind`: its dimensions in the event columns they mean, every other column
    /// empty.
    fn append_rollup(
        &mut self,
        kind: &str,
        key: &RollupKey,
        user_id: &str,
        counts: &RollupCounts,
        line: i64,
    ) {
        self.append_tenant(key.tenant);
        self.append_no_supersession();
        let bucket = DateTime::from_timestamp_micros(key.bucket_start).unwrap_or_default();
        self.append_month(bucket);
        self.batch_line.append_value(line);
        self.kind.append_value(kind);
        self.session_code.append_value("");
        self.user_id.append_value(user_id);
        self.business_key.append_null();
        append_uuid(
            &mut self.channel_uuid,
            &mut self.uuid_buffer,
            Some(key.channel_uuid),
        );
        self.sent_at.append_value(key.bucket_start);
        self.started_at.append_null();
        self.updated_at.append_null();
        self.append_no_event_fields();
        self.rollup_untagged.append_value(key.untagged);
        for (builder, count) in self.rollup_counts.iter_mut().zip(counts.0) {
            builder.append_value(count);
        }
    }

    /// A stored conversation version the batch supersedes: its session, and the `written_at` and
    /// `batch_line` that name it.
    fn append_superseded(&mut self, session: &Superseding, old: &ConversationVersion, line: i64) {
        self.append_tenant(session.tenant);
        let started = DateTime::from_timestamp_micros(old.started_at).unwrap_or_default();
        self.append_month(started);
        self.batch_line.append_value(line);
        self.kind.append_value(KIND_SUPERSEDED);
        self.session_code.append_value(&session.session_code);
        self.user_id.append_value("");
        self.business_key.append_null();
        append_uuid(
            &mut self.channel_uuid,
            &mut self.uuid_buffer,
            Some(old.channel_uuid),
        );
        self.sent_at.append_null();
        self.started_at.append_value(old.started_at);
        self.updated_at.append_value(old.order.at);
        self.append_no_event_fields();
        self.append_no_rollup();
        self.superseded_at_write.append_null();
        self.superseded_written_at
            .append_value(old.order.written_at);
        self.superseded_batch_line
            .append_value(old.order.batch_line);
    }

    fn append_tenant(&mut self, tenant: Tenant) {
        append_uuid(&mut self.org_id, &mut self.uuid_buffer, Some(tenant.org_id));
        append_uuid(&mut self.env_id, &mut self.uuid_buffer, Some(tenant.env_id));
        append_uuid(&mut self.bot_id, &mut self.uuid_buffer, Some(tenant.bot_id));
    }

    /// Nulls (and empty lists) in the columns of messages and conversations other than the keys
    /// and times every row kind sets itself.
    fn append_no_event_fields(&mut self) {
        append_list(&mut self.tags, &[]);
        append_list(&mut self.flows, &[]);
        for builder in [
            &mut self.message_id,
            &mut self.channel_name,
            &mut self.channel_type,
            &mut self.sender,
            &mut self.content_type,
            &mut self.text,
            &mut self.nlp_response,
            &mut self.nlp_response_type,
            &mut self.nlp_response_name,
            &mut self.answer_name,
            &mut self.answer_text,
            &mut self.flow,
        ] {
            builder.append_null();
        }
        self.confidence.append_null();
        self.ended_at.append_null();
        self.satisfaction.append_null();
        self.user_messages.append_null();
        self.bot_messages.append_null();
    }

    fn append_no_rollup(&mut self) {
        self.rollup_untagged.append_null();
        for builder in &mut self.rollup_counts {
            builder.append_null();
        }
    }

    fn append_no_supersession(&mut self) {
        self.superseded_at_write.append_null();
        self.superseded_written_at.append_null();
        self.superseded_batch_line.append_null();
    }

    /// A batch spans few months, so each partition value is formatted once.
    fn append_month(&mut self, time: DateTime<Utc>) {
        let key = (time.year(), time.month());
        let index = match self.months.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                self.months.push((key, month_of(time)));
                self.months.len() - 1
            }
        };
        self.month.append_value(&self.months[index].1);
    }

    fn finish_batch(mut self, schema: &SchemaRef, written_at: i64) -> Result<RecordBatch> {
        let arrays = schema
            .fields()
            .iter()
            .map(|field| self.finish(field.name(), field.data_type(), written_at))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }

    fn finish(&mut self, name: &str, data_type: &DataType, written_at: i64) -> Result<ArrayRef> {
        let time = |builder: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            let array = builder.finish();
            match data_type {
                DataType::Timestamp(TimeUnit::Microsecond, Some(zone)) => {
                    Arc::new(array.with_timezone(zone.clone()))
                }
                _ => Arc::new(array),
            }
        };
        Ok(match name {
            "org_id" => Arc::new(self.org_id.finish()),
            "env_id" => Arc::new(self.env_id.finish()),
            "bot_id" => Arc::new(self.bot_id.finish()),
            "kind" => Arc::new(self.kind.finish()),
            "month" => Arc::new(self.month.finish()),
            "session_code" => Arc::new(self.session_code.finish()),
            "user_id" => Arc::new(self.user_id.finish()),
            "business_key" => Arc::new(self.business_key.finish()),
            "channel_uuid" => Arc::new(self.channel_uuid.finish()),
            "tags" => Arc::new(self.tags.finish()),
            "message_id" => Arc::new(self.message_id.finish()),
            "channel_name" => Arc::new(self.channel_name.finish()),
            "channel_type" => Arc::new(self.channel_type.finish()),
            "sent_at" => time(&mut self.sent_at),
            "sender" => Arc::new(self.sender.finish()),
            "content_type" => Arc::new(self.content_type.finish()),
            "text" => Arc::new(self.text.finish()),
            "nlp_response" => Arc::new(self.nlp_response.finish()),
            "nlp_response_type" => Arc::new(self.nlp_response_type.finish()),
            "nlp_response_name" => Arc::new(self.nlp_response_name.finish()),
            "confidence" => Arc::new(self.confidence.finish()),
            "answer_name" => Arc::new(self.answer_name.finish()),
            "answer_text" => Arc::new(self.answer_text.finish()),
            "flow" => Arc::new(self.flow.finish()),
            "started_at" => time(&mut self.started_at),
            "ended_at" => time(&mut self.ended_at),
            "updated_at" => time(&mut self.updated_at),
            "satisfaction" => Arc::new(self.satisfaction.finish()),
            "flows" => Arc::new(self.flows.finish()),
            "user_messages" => Arc::new(self.user_messages.finish()),
            "bot_messages" => Arc::new(self.bot_messages.finish()),
            "batch_line" => Arc::new(self.batch_line.finish()),
            ROLLUP_UNTAGGED => Arc::new(self.rollup_untagged.finish()),
            other if ROLLUP_COUNTS.contains(&other) => {
                let index = ROLLUP_COUNTS.iter().position(|n| *n == other).unwrap_or(0);
                Arc::new(self.rollup_counts[index].finish())
            }
            SUPERSEDED_AT_WRITE => Arc::new(self.superseded_at_write.finish()),
            SUPERSEDED_WRITTEN_AT => time(&mut self.superseded_written_at),
            SUPERSEDED_BATCH_LINE => Arc::new(self.superseded_batch_line.finish()),
            "written_at" => {
                let mut builder = TimestampMicrosecondBuilder::with_capacity(self.rows);
                builder.append_value_n(written_at, self.rows);
                time(&mut builder)
            }
            other => {
                return Err(Error::Arrow(arrow::error::ArrowError::SchemaError(
                    format!("the events table has a column {other:?} this build does not know"),
                )));
            }
        })
    }
}
