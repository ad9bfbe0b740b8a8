//! `talkhouse sql --server URL`: statements run by a talkhouse server over Flight SQL, with a
//! bearer token, so no storage credentials are needed here.

use arrow::array::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
use arrow_flight::{FlightDescriptor, Ticket};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use tonic::transport::{Channel, Endpoint};

use crate::CliError;
use crate::error::chain;

/// A server's Flight SQL service, and the token sent with each call.
pub struct Remote {
    client: FlightServiceClient<Channel>,
    authorization: Option<tonic::metadata::AsciiMetadataValue>,
}

impl Remote {
    /// Connects to `url`: `http://host:port`, or `grpc://host:port` as ADBC writes it.
    pub async fn connect(url: &str, token: Option<String>) -> Result<Self, CliError> {
        let address = match url.strip_prefix("grpc://") {
            Some(rest) => format!("http://{rest}"),
            None => url.to_string(),
        };
        if !address.starts_with("http://") {
            return Err(CliError::Usage(format!(
                "--server {url:?}: give http://HOST:PORT or grpc://HOST:PORT (TLS is not built in)"
            )));
        }
        let endpoint = Endpoint::from_shared(address)
            .map_err(|_| CliError::Usage(format!("--server {url:?} is not a URL")))?;
        let channel = endpoint.connect().await.map_err(|error| {
            CliError::Usage(format!("--server {url}: cannot connect: {}", chain(&error)))
        })?;
        let authorization = token
            .map(|token| format!("Bearer {}", token.trim()).parse())
            .transpose()
            .map_err(|_| CliError::Usage("--token holds characters a header cannot".into()))?;
        Ok(Self {
            client: FlightServiceClient::new(channel),
            authorization,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }

    /// The rows of one statement.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<RecordBatch>, CliError> {
        let command = CommandStatementQuery {
            query: sql.to_string(),
            transaction_id: None,
        };
        let descriptor = FlightDescriptor::new_cmd(command.as_any().encode_to_vec());
        let info = self
            .client
            .get_flight_info(self.request(descriptor))
            .await
            .map_err(refused)?
            .into_inner();
        let mut batches = Vec::new();
        for endpoint in info.endpoint {
            let ticket: Ticket = endpoint.ticket.ok_or_else(|| {
                CliError::Usage("the server gave an endpoint without a ticket".into())
            })?;
            let data = self
                .client
                .do_get(self.request(ticket))
                .await
                .map_err(refused)?
                .into_inner()
                .map_err(|status| FlightError::Tonic(Box::new(status)));
            let stream = FlightRecordBatchStream::new_from_flight_data(data.boxed());
            let answer: Vec<RecordBatch> =
                stream.try_collect().await.map_err(|error| match error {
                    FlightError::Tonic(status) => refused(*status),
                    other => CliError::Usage(format!("the server's answer: {other}")),
                })?;
            batches.extend(answer);
        }
        Ok(batches)
    }
}

/// The server's refusal in its own words.
fn refused(status: tonic::Status) -> CliError {
    CliError::Usage(format!("the server refused: {}", status.message()))
}
