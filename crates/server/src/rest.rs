//! The dashboard API as JSON over HTTP, on the seed's paths (`/org/{orgUUID}/env/{envUUID}/bot/
//! {botUUID}/…`). Each route reads its path and query into the gRPC request and calls the gRPC
//! method in process, through the same guard ([`transcode`]): one access decision, one
//! validation, one answer, shaped as JSON ([`json`]). Errors are one JSON body ([`error`]). The
//! routes are data ([`routes`]), so the OpenAPI document ([`openapi`]) describes exactly what the
//! router serves. The dashboard page ([`crate::page`]) is served beside them.

mod endpoint;
mod error;
mod json;
mod openapi;
mod params;
mod reports;
mod routes;
mod transcode;

use axum::Router;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use tonic::service::Routes;

use std::sync::Arc;

use crate::guard::Guard;
use crate::metrics::Metrics;
use error::RestError;

/// The gRPC services behind the guard, as the REST routes call them.
pub(crate) type Grpc = Guard<Routes>;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Where the metrics are served, in Prometheus' text format.
pub const METRICS_PATH: &str = "/metrics";

/// Every REST route the server serves, as (method, path template).
pub fn rest_routes() -> Vec<(&'static str, &'static str)> {
    routes::routes()
        .iter()
        .map(|route| {
            let description = route.description();
            (description.verb.name(), description.path)
        })
        .collect()
}

pub(crate) fn router(grpc: Grpc, metrics: Arc<Metrics>) -> Router {
    let routes = routes::routes();
    let descriptions: Vec<_> = routes.iter().map(|route| route.description()).collect();
    let document = openapi::document(&descriptions);
    let mut router = crate::page::router()
        .route(
            OPENAPI_PATH,
            get(move || {
                let document = document.clone();
                async move { Json(document) }
            }),
        )
        .route(
            METRICS_PATH,
            get(move || {
                let metrics = metrics.clone();
                async move {
                    let text = metrics.encode().await;
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
    for (route, description) in routes.iter().zip(&descriptions) {
        router = router.route(description.path, route.handler());
    }
    router
        .fallback(async || RestError::not_found("no such path").into_response())
        .method_not_allowed_fallback(async || {
            RestError::new(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "this path takes another method",
            )
            .into_response()
        })
        .with_state(grpc)
}

/// The query's name/value pairs, decoded.
fn pairs(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
