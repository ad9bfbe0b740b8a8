//! A statement's answer as Flight data: its schema as sent, the stream within the call's turn,
//! and errors as statuses in our words.

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::ProstMessageExt;
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use talkhouse_query::sql::{Refused, Statement};
use tonic::{Response, Status};

use super::DoGetStream;
use crate::guard::Turn;

/// The schema of a statement's answer as Flight sends it: dictionaries as their values.
pub(super) async fn sent_schema(statement: &Statement) -> Result<Schema, Status> {
    let schema = statement.schema().await.map_err(query_status)?;
    let encoder = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::empty());
    let sent = encoder.known_schema().expect("the schema was given");
    Ok(sent.as_ref().clone())
}

/// A FlightInfo whose one endpoint's ticket is `ticket`, for rows of `schema`.
pub(super) fn flight_info(
    schema: &Schema,
    ticket: impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(ticket.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|error| Status::internal(format!("the answer's schema: {error}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// One batch as Flight data.
pub(super) fn one_batch(batch: Result<RecordBatch, FlightError>) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .build(futures::stream::once(async move { batch }))
        .map_err(flight_status);
    Response::new(Box::pin(stream))
}

/// The stream of batches, ended with DEADLINE_EXCEEDED at the call's deadline; it holds the
/// call's admission slot until it ends.
pub(super) fn within_turn(
    batches: SendableRecordBatchStream,
    turn: Option<Turn>,
) -> impl Stream<Item = Result<RecordBatch, FlightError>> + Send {
    let held = turn.as_ref().map(Turn::hold);
    let deadline = turn.map(|turn| turn.deadline);
    futures::stream::unfold(Some((batches, held)), move |state| async move {
        let (mut batches, held) = state?;
        let next = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, batches.next()).await {
                Ok(next) => next,
                Err(_) => {
                    let status = Status::deadline_exceeded(
                        "the query did not finish before its deadline and was cancelled",
                    );
                    return Some((Err(FlightError::Tonic(Box::new(status))), None));
                }
            },
            None => batches.next().await,
        };
        match next? {
            Ok(batch) => Some((Ok(batch), Some((batches, held)))),
            Err(error) => Some((
                Err(FlightError::Tonic(Box::new(datafusion_status(&error)))),
                None,
            )),
        }
    })
}

pub(super) fn refused(refused: Refused) -> Status {
    Status::invalid_argument(format!("the statement is refused: {refused}"))
}

pub(super) fn query_status(error: talkhouse_query::Error) -> Status {
    match error {
        talkhouse_query::Error::Query(error) => datafusion_status(&error),
        other => Status::from(crate::ServiceError::from(other)),
    }
}

fn datafusion_status(error: &DataFusionError) -> Status {
    match error.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(
            "the query needs more memory than a query may use on this server",
        ),
        DataFusionError::Execution(message) => Status::invalid_argument(message.clone()),
        DataFusionError::ArrowError(error, _) => Status::invalid_argument(error.to_string()),
        other => {
            tracing::warn!(error = %other, "a Flight SQL query failed");
            Status::internal("the query failed")
        }
    }
}

pub(super) fn flight_status(error: FlightError) -> Status {
    match error {
        FlightError::Tonic(status) => *status,
        other => Status::internal(other.to_string()),
    }
}
