//! `talkhouse.v1.IngestService`.

use std::sync::Arc;

use talkhouse_core::FieldViolation;
use talkhouse_core::ingest::{ViolationCollector, validate};
use talkhouse_proto::v1;
use talkhouse_proto::v1::ingest_service_server::IngestService;
use talkhouse_storage::EventTable;
use tonic::{Request, Response, Status};

use crate::ServiceError;
use crate::convert::ingest::{event_input, kind_name};
use crate::metrics::Metrics;

/// Most events one `WriteEvents` call may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 100_000;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

pub struct IngestApi {
    table: Arc<EventTable>,
    metrics: Arc<Metrics>,
}

impl IngestApi {
    pub fn new(table: Arc<EventTable>, metrics: Arc<Metrics>) -> Self {
        Self { table, metrics }
    }
}

#[tonic::async_trait]
impl IngestService for IngestApi {
    #[tracing::instrument(skip_all, fields(events = request.get_ref().events.len()))]
    async fn write_events(
        &self,
        request: Request<v1::WriteEventsRequest>,
    ) -> Result<Response<v1::WriteEventsResponse>, Status> {
        let request = request.into_inner();
        let bytes = prost::Message::encoded_len(&request) as u64;
        let key = idempotency_key(&request.idempotency_key)?;
        let events = events(request.events)?;
        let outcome = self
            .table
            .write(events, key)
            .await
            .map_err(ServiceError::from)?;
        if !outcome.replayed {
            self.metrics.ingest(
                (outcome.messages_written + outcome.conversations_written) as u64,
                outcome.duplicate_messages as u64,
                bytes,
                1,
            );
        }
        tracing::info!(
            version = outcome.version,
            messages = outcome.messages_written,
            conversations = outcome.conversations_written,
            duplicates = outcome.duplicate_messages,
            replayed = outcome.replayed,
            "batch written"
        );
        Ok(Response::new(v1::WriteEventsResponse {
            table_version: outcome.version,
            messages_written: outcome.messages_written as u64,
            conversations_written: outcome.conversations_written as u64,
            duplicate_messages: outcome.duplicate_messages as u64,
            replayed: outcome.replayed,
        }))
    }
}

fn idempotency_key(key: &str) -> Result<Option<&str>, ServiceError> {
    if key.is_empty() {
        return Ok(None);
    }
    let chars = key.chars().count();
    if chars > MAX_IDEMPOTENCY_KEY_CHARS || key.chars().any(char::is_control) {
        return Err(ServiceError::InvalidArgument(vec![FieldViolation::new(
            "idempotency_key",
            format!("must be 1..{MAX_IDEMPOTENCY_KEY_CHARS} characters without control characters"),
        )]));
    }
    Ok(Some(key))
}

/// Converts and validates the whole batch, naming every bad field as `events[i].<kind>.<field>`.
fn events(events: Vec<v1::Event>) -> Result<Vec<talkhouse_core::Event>, ServiceError> {
    if events.is_empty() || events.len() > MAX_EVENTS_PER_BATCH {
        return Err(ServiceError::InvalidArgument(vec![FieldViolation::new(
            "events",
            format!(
                "must hold 1..{MAX_EVENTS_PER_BATCH} events, got {}",
                events.len()
            ),
        )]));
    }
    let mut valid = Vec::with_capacity(events.len());
    let mut collector = ViolationCollector::default();
    for (index, event) in events.into_iter().enumerate() {
        let prefix = match kind_name(&event) {
            "" => format!("events[{index}]"),
            kind => format!("events[{index}].{kind}"),
        };
        match event_input(event).and_then(validate) {
            Ok(event) if collector.is_empty() => valid.push(event),
            Ok(_) => {}
            Err(violations) => collector.add(
                index + 1,
                violations
                    .into_iter()
                    .map(|v| FieldViolation::new(format!("{prefix}.{}", v.field), v.description))
                    .collect(),
            ),
        }
    }
    match collector.finish() {
        Ok(()) => Ok(valid),
        Err(error) => Err(ServiceError::InvalidArgument(
            error.violations.into_iter().map(|v| v.violation).collect(),
        )),
    }
}
