//! The one mapping from everything a handler can fail with to a `tonic::Status`.

use talkhouse_core::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Why a request failed, classified by who must act.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller sent something wrong; each violation names the field.
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),

    /// No usable bearer token.
    #[error(transparent)]
    Unauthenticated(crate::auth::AuthError),

    /// The token is valid but does not grant this method or this bot.
    #[error(transparent)]
    PermissionDenied(talkhouse_core::access::Denied),

    #[error("{0}")]
    AlreadyExists(String),

    /// An unknown session code or report id.
    #[error("{0}")]
    NotFound(String),

    /// The request is valid but the resource is not in a state to answer it (a report that is
    /// not READY).
    #[error("{0}")]
    FailedPrecondition(String),

    #[error("{0}")]
    Unimplemented(String),

    /// A query needed more memory, concurrency or request size than it may use.
    #[error("{0}")]
    ResourceExhausted(String),

    /// A query ran past its deadline and was cancelled.
    #[error("{0}")]
    DeadlineExceeded(String),

    #[error("storage")]
    Storage(#[source] talkhouse_storage::Error),

    #[error("query")]
    Query(#[source] talkhouse_query::Error),

    #[error("reports")]
    Reports(#[source] talkhouse_reports::Error),
}

impl From<talkhouse_reports::Error> for ServiceError {
    fn from(error: talkhouse_reports::Error) -> Self {
        match error {
            talkhouse_reports::Error::Busy(_) | talkhouse_reports::Error::OrganizationBusy(_) => {
                ServiceError::ResourceExhausted(error.to_string())
            }
            talkhouse_reports::Error::Query(error) => ServiceError::from(error),
            talkhouse_reports::Error::Storage(error) => ServiceError::from(error),
            other => ServiceError::Reports(other),
        }
    }
}

impl From<talkhouse_query::Error> for ServiceError {
    fn from(error: talkhouse_query::Error) -> Self {
        match error {
            talkhouse_query::Error::Storage(talkhouse_storage::Error::SnapshotUnavailable {
                version,
            }) => ServiceError::InvalidArgument(vec![FieldViolation::new(
                "snapshot",
                format!("table version {version} is not available; omit it to read the latest"),
            )]),
            talkhouse_query::Error::Query(error)
                if matches!(
                    error.find_root(),
                    datafusion::error::DataFusionError::ResourcesExhausted(_)
                ) =>
            {
                tracing::warn!(%error, "a query went over its memory budget");
                ServiceError::ResourceExhausted(
                    "the query needs more memory than it may use; narrow the filter".into(),
                )
            }
            other => ServiceError::Query(other),
        }
    }
}

impl From<talkhouse_storage::Error> for ServiceError {
    fn from(error: talkhouse_storage::Error) -> Self {
        match error {
            talkhouse_storage::Error::IdempotencyKeyReused { key } => ServiceError::AlreadyExists(
                format!("idempotency key {key:?} was already used for a different batch"),
            ),
            other => ServiceError::Storage(other),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::InvalidArgument(violations) => {
                let summary = violations
                    .iter()
                    .take(3)
                    .map(|v| match v.field.is_empty() {
                        true => v.description.clone(),
                        false => format!("{}: {}", v.field, v.description),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut details = ErrorDetails::new();
                for violation in violations {
                    details.add_bad_request_violation(violation.field, violation.description);
                }
                tracing::info!(%summary, "rejected an invalid request");
                Status::with_error_details(Code::InvalidArgument, summary, details)
            }
            ServiceError::Unauthenticated(error) => {
                tracing::info!(%error, "unauthenticated call");
                Status::unauthenticated(error.to_string())
            }
            ServiceError::PermissionDenied(denied) => {
                tracing::info!(%denied, "permission denied");
                Status::permission_denied(denied.to_string())
            }
            ServiceError::AlreadyExists(message) => {
                tracing::info!(%message, "conflict");
                Status::already_exists(message)
            }
            ServiceError::NotFound(message) => Status::not_found(message),
            ServiceError::FailedPrecondition(message) => Status::failed_precondition(message),
            ServiceError::Unimplemented(message) => Status::unimplemented(message),
            ServiceError::ResourceExhausted(message) => {
                tracing::warn!(%message, "resource exhausted");
                Status::resource_exhausted(message)
            }
            ServiceError::DeadlineExceeded(message) => Status::deadline_exceeded(message),
            ServiceError::Storage(source) => internal(&source),
            ServiceError::Query(source) => internal(&source),
            ServiceError::Reports(source) => internal(&source),
        }
    }
}

/// INTERNAL with a request id; the details go to the log only.
fn internal(source: &dyn std::error::Error) -> Status {
    let request_id = uuid::Uuid::new_v4();
    let mut chain = source.to_string();
    let mut cause = source.source();
    while let Some(error) = cause {
        chain.push_str(": ");
        chain.push_str(&error.to_string());
        cause = error.source();
    }
    tracing::error!(%request_id, error = %chain, "internal error");
    Status::internal(format!("internal error, request id {request_id}"))
}
