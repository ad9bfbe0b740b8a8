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
        use talkhouse_reports::Error as Reports;
        match error {
            Reports::Busy(_) | Reports::OrganizationBusy(_) => {
                ServiceError::ResourceExhausted(error.to_string())
            }
            Reports::Query(error) => ServiceError::from(error),
            Reports::Storage(error) => ServiceError::from(error),
            Reports::DataFusion(error) => ServiceError::from(talkhouse_query::Error::Query(error)),
            Reports::Store(_)
            | Reports::Record(_)
            | Reports::Io(_)
            | Reports::Csv(_)
            | Reports::Xlsx(_)
            | Reports::Parquet(_)
            | Reports::Arrow(_) => ServiceError::Reports(error),
        }
    }
}

impl From<talkhouse_query::Error> for ServiceError {
    fn from(error: talkhouse_query::Error) -> Self {
        use talkhouse_query::Error as Query;
        match error {
            Query::Storage(error) => ServiceError::from(error),
            Query::Query(ref datafusion) if is_resources_exhausted(datafusion) => {
                tracing::warn!(%datafusion, "a query went over its memory budget");
                ServiceError::ResourceExhausted(
                    "the query needs more memory than it may use; narrow the filter".into(),
                )
            }
            Query::Query(_) | Query::UnexpectedColumn { .. } => ServiceError::Query(error),
        }
    }
}

/// Whether a DataFusion error, wherever it was wrapped, is a memory budget refusing more.
fn is_resources_exhausted(error: &datafusion::error::DataFusionError) -> bool {
    matches!(
        error.find_root(),
        datafusion::error::DataFusionError::ResourcesExhausted(_)
    )
}

impl From<talkhouse_storage::Error> for ServiceError {
    fn from(error: talkhouse_storage::Error) -> Self {
        use talkhouse_storage::Error as Storage;
        match error {
            Storage::IdempotencyKeyReused { key } => ServiceError::AlreadyExists(format!(
                "idempotency key {key:?} was already used for a different batch"
            )),
            Storage::SnapshotUnavailable { version } => {
                ServiceError::InvalidArgument(vec![FieldViolation::new(
                    "snapshot",
                    format!("table version {version} is not available; omit it to read the latest"),
                )])
            }
            Storage::InvalidLocation { .. }
            | Storage::UnsupportedFormat { .. }
            | Storage::Table(_)
            | Storage::Query(_)
            | Storage::Arrow(_)
            | Storage::Io(_)
            | Storage::ObjectStore(_) => ServiceError::Storage(error),
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

#[cfg(test)]
mod tests {
    use datafusion::error::DataFusionError;
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    fn query_error(error: DataFusionError) -> ServiceError {
        ServiceError::from(talkhouse_query::Error::Query(error))
    }

    #[test]
    fn every_kind_of_failure_has_its_code() {
        let exhausted = || DataFusionError::ResourcesExhausted("pool".into());
        let cases: Vec<(&str, ServiceError, Code)> = vec![
            (
                "bad field",
                ServiceError::InvalidArgument(vec![FieldViolation::new("filter", "is required")]),
                Code::InvalidArgument,
            ),
            (
                "no token",
                ServiceError::Unauthenticated(crate::auth::AuthError::Missing),
                Code::Unauthenticated,
            ),
            (
                "key reused",
                talkhouse_storage::Error::IdempotencyKeyReused { key: "k".into() }.into(),
                Code::AlreadyExists,
            ),
            (
                "old snapshot",
                talkhouse_storage::Error::SnapshotUnavailable { version: 3 }.into(),
                Code::InvalidArgument,
            ),
            (
                "old snapshot, through a query",
                talkhouse_query::Error::Storage(talkhouse_storage::Error::SnapshotUnavailable {
                    version: 3,
                })
                .into(),
                Code::InvalidArgument,
            ),
            (
                "over the memory budget",
                query_error(exhausted()),
                Code::ResourceExhausted,
            ),
            (
                "over the memory budget, wrapped",
                query_error(DataFusionError::Context(
                    "sorting".into(),
                    Box::new(exhausted()),
                )),
                Code::ResourceExhausted,
            ),
            (
                "over the memory budget in a report",
                talkhouse_reports::Error::DataFusion(exhausted()).into(),
                Code::ResourceExhausted,
            ),
            (
                "too many reports",
                talkhouse_reports::Error::OrganizationBusy(50).into(),
                Code::ResourceExhausted,
            ),
            (
                "unknown session",
                ServiceError::NotFound("no".into()),
                Code::NotFound,
            ),
            (
                "report not ready",
                ServiceError::FailedPrecondition("not ready".into()),
                Code::FailedPrecondition,
            ),
            (
                "a plan that failed",
                query_error(DataFusionError::Execution("secret detail".into())),
                Code::Internal,
            ),
            (
                "storage that failed",
                talkhouse_storage::Error::Io(std::io::Error::other("secret detail")).into(),
                Code::Internal,
            ),
        ];
        for (case, error, code) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{case}: {status:?}");
            if code == Code::Internal {
                assert!(status.message().starts_with("internal error, request id "));
                assert!(!status.message().contains("secret"), "{case}: {status:?}");
            }
        }
    }

    #[test]
    fn violations_are_listed_in_the_message_and_the_details() {
        let status = Status::from(ServiceError::InvalidArgument(vec![
            FieldViolation::new("filter.timezone", "must be an IANA name"),
            FieldViolation::new("", "the request is empty"),
        ]));
        assert_eq!(
            status.message(),
            "filter.timezone: must be an IANA name; the request is empty"
        );
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["filter.timezone", ""]);
    }
}
