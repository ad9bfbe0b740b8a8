//! Prepared statements, kept in the memory of the server that made them.

use std::collections::HashMap;
use std::sync::Mutex;

use arrow::array::RecordBatch;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use datafusion::common::ScalarValue;
use futures::TryStreamExt;
use tonic::Status;

/// At most this many prepared statements are kept open at once.
const MAX_PREPARED: usize = 10_000;

/// A prepared statement: its text, and the parameter values bound to it last.
#[derive(Clone)]
pub(super) struct Prepared {
    pub(super) sql: String,
    pub(super) parameters: Vec<ScalarValue>,
}

#[derive(Default)]
pub(super) struct PreparedStatements(Mutex<HashMap<Vec<u8>, Prepared>>);

impl PreparedStatements {
    fn statements(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Prepared>> {
        self.0
            .lock()
            .expect("the prepared statements' lock is never poisoned")
    }

    /// Keeps `sql` under a new handle.
    pub(super) fn open(&self, sql: String) -> Result<Vec<u8>, Status> {
        let mut statements = self.statements();
        if statements.len() >= MAX_PREPARED {
            return Err(Status::resource_exhausted(
                "too many prepared statements are open on this server: close some",
            ));
        }
        let handle = uuid::Uuid::new_v4().as_bytes().to_vec();
        statements.insert(
            handle.clone(),
            Prepared {
                sql,
                parameters: Vec::new(),
            },
        );
        Ok(handle)
    }

    pub(super) fn get(&self, handle: &[u8]) -> Result<Prepared, Status> {
        self.statements().get(handle).cloned().ok_or_else(not_found)
    }

    /// Binds the first row of the parameter batches the client sent to the statement.
    pub(super) async fn bind(
        &self,
        handle: &[u8],
        data: PeekableFlightDataStream,
    ) -> Result<(), Status> {
        self.get(handle)?;
        let data = data.map_err(|status| FlightError::Tonic(Box::new(status)));
        let batches: Vec<RecordBatch> =
            arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(data)
                .try_collect()
                .await
                .map_err(|error| {
                    Status::invalid_argument(format!("the parameters are not Arrow data: {error}"))
                })?;
        let parameters = match batches.iter().find(|batch| batch.num_rows() > 0) {
            None => Vec::new(),
            Some(batch) => batch
                .columns()
                .iter()
                .map(|column| ScalarValue::try_from_array(column, 0))
                .collect::<Result<_, _>>()
                .map_err(|error| Status::invalid_argument(format!("a parameter value: {error}")))?,
        };
        let mut statements = self.statements();
        let prepared = statements.get_mut(handle).ok_or_else(not_found)?;
        prepared.parameters = parameters;
        Ok(())
    }

    pub(super) fn close(&self, handle: &[u8]) {
        self.statements().remove(handle);
    }
}

fn not_found() -> Status {
    Status::not_found("no such prepared statement: it was closed, or never made here")
}
