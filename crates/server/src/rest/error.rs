//! The one JSON error body of the REST surface, made from the gRPC status the call got: the same
//! refusal, under the HTTP status a REST client expects.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;
use utoipa::ToSchema;

/// A refused REST call.
#[derive(Debug)]
pub(crate) struct RestError {
    status: StatusCode,
    body: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// The HTTP status, again.
    status: u16,
    /// Its reason phrase.
    error: &'static str,
    message: String,
    /// Each wrong field, named as the REST request names it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct Violation {
    pub field: String,
    pub message: String,
}

impl RestError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                status: status.as_u16(),
                error: status.canonical_reason().unwrap_or("Error"),
                message: message.into(),
                violations: Vec::new(),
            },
        }
    }

    /// 400 with every wrong field.
    pub(crate) fn invalid(violations: Vec<Violation>) -> Self {
        let message = violations
            .iter()
            .take(3)
            .map(|v| format!("{}: {}", v.field, v.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(StatusCode::BAD_REQUEST, message);
        error.body.violations = violations;
        error
    }

    /// 500 with a request id; the error itself goes to the log only.
    pub(crate) fn internal(error: &dyn std::error::Error) -> Self {
        let request_id = uuid::Uuid::new_v4();
        tracing::error!(%request_id, %error, "internal error on the REST surface");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error, request id {request_id}"),
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<tonic::Status> for RestError {
    fn from(status: tonic::Status) -> Self {
        let http = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound | Code::Unimplemented => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::FailedPrecondition => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if http == StatusCode::BAD_REQUEST
            && let Some(bad_request) = status.get_details_bad_request()
        {
            let violations = bad_request
                .field_violations
                .into_iter()
                .map(|v| Violation {
                    field: rest_field(&v.field),
                    message: v.description,
                })
                .collect();
            return Self::invalid(violations);
        }
        Self::new(http, status.message())
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A gRPC field path as the REST request names it: the bot's ids are path segments, the filter's
/// fields are query parameters, and names are camelCase.
pub(crate) fn rest_field(field: &str) -> String {
    match field {
        "bot" | "bot.bot_id" => return "botUUID".into(),
        "bot.org_id" | "org_id" => return "orgUUID".into(),
        "bot.env_id" => return "envUUID".into(),
        _ => {}
    }
    let field = field.strip_prefix("filter.").unwrap_or(field);
    let mut camel = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.extend(c.to_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    camel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_grpc_code_has_the_http_status_a_rest_client_expects() {
        for (code, status) in [
            (Code::InvalidArgument, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::FailedPrecondition, 422),
            (Code::ResourceExhausted, 429),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
        ] {
            let error = RestError::from(tonic::Status::new(code, "refused"));
            assert_eq!(error.status.as_u16(), status, "{code:?}");
            assert_eq!(error.body.status, status);
            assert_eq!(error.body.message, "refused");
        }
    }

    #[test]
    fn grpc_fields_are_named_as_rest_names_them() {
        assert_eq!(rest_field("bot.org_id"), "orgUUID");
        assert_eq!(rest_field("filter.start_date"), "startDate");
        assert_eq!(rest_field("filter.channel_uuids[2]"), "channelUuids[2]");
        assert_eq!(rest_field("search_term"), "searchTerm");
    }
}
