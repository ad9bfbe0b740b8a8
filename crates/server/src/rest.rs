//! The dashboard API as JSON over HTTP, on the seed's paths (`/org/{orgUUID}/env/{envUUID}/bot/
//! {botUUID}/…`). Each route reads its path and query into the gRPC request and calls the gRPC
//! method in process, through the same guard ([`transcode`]): one access decision, one
//! validation, one answer, shaped as JSON ([`json`]). Errors are one JSON body ([`error`]).

mod error;
mod json;
mod lists;
mod params;
mod reports;
mod transcode;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use http::HeaderMap;
use serde::Serialize;
use talkhouse_proto::v1;
use tonic::service::Routes;

use crate::guard::Guard;
use error::RestError;
use params::{Params, bot};

/// The gRPC services behind the guard, as the REST routes call them.
pub(crate) type Grpc = Guard<Routes>;

/// The bot's ids from the path.
type BotPath = Path<(String, String, String)>;

const BOT: &str = "/org/{orgUUID}/env/{envUUID}/bot/{botUUID}";

/// Every REST route, as (method, path); the router serves exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/dashboard/summary"),
    ("GET", "/conversations/report_configurations"),
    ("GET", "/messages/report_configurations"),
    ("GET", "/dashboard/conversations"),
    ("GET", "/dashboard/messages"),
    ("GET", "/dashboard/users"),
    ("GET", "/dashboard/accuracy"),
    ("GET", "/dashboard/conversations/series"),
    ("GET", "/dashboard/messages/series"),
    ("GET", "/dashboard/users/series"),
    ("GET", "/conversations"),
    ("GET", "/conversations/{sessionCode}"),
    ("POST", "/conversations/report"),
    ("POST", "/conversations/report/preview"),
    ("POST", "/conversations/{sessionCode}/report"),
    ("GET", "/messages"),
    ("POST", "/messages/report"),
    ("POST", "/messages/report/preview"),
    ("GET", "/reports"),
    ("GET", "/reports/{reportId}"),
    ("GET", "/reports/{reportId}/download"),
];

pub(crate) fn router(grpc: Grpc) -> Router {
    let path = |route: &str| format!("{BOT}{route}");
    Router::new()
        .route(&path("/dashboard/summary"), get(summary))
        .route(
            &path("/conversations/report_configurations"),
            get(|s, p, h, q| report_config(s, p, h, q, "GetConversationReportConfig")),
        )
        .route(
            &path("/messages/report_configurations"),
            get(|s, p, h, q| report_config(s, p, h, q, "GetMessageReportConfig")),
        )
        .route(
            &path("/dashboard/conversations"),
            get(|s, p, h, q| traffic(s, p, h, q, "GetConversationTraffic")),
        )
        .route(
            &path("/dashboard/messages"),
            get(|s, p, h, q| traffic(s, p, h, q, "GetMessageTraffic")),
        )
        .route(
            &path("/dashboard/users"),
            get(|s, p, h, q| traffic(s, p, h, q, "GetUserTraffic")),
        )
        .route(&path("/dashboard/accuracy"), get(accuracy))
        .route(
            &path("/dashboard/conversations/series"),
            get(|s, p, h, q| series(s, p, h, q, "GetConversationSeries")),
        )
        .route(
            &path("/dashboard/messages/series"),
            get(|s, p, h, q| series(s, p, h, q, "GetMessageSeries")),
        )
        .route(
            &path("/dashboard/users/series"),
            get(|s, p, h, q| series(s, p, h, q, "GetUserSeries")),
        )
        .route(&path("/conversations"), get(lists::conversations))
        .route(
            &path("/conversations/{sessionCode}"),
            get(lists::transcript),
        )
        .route(
            &path("/conversations/report"),
            post(reports::request_conversations),
        )
        .route(
            &path("/conversations/report/preview"),
            post(reports::preview_conversations),
        )
        .route(
            &path("/conversations/{sessionCode}/report"),
            post(reports::request_transcript),
        )
        .route(&path("/messages"), get(lists::messages))
        .route(&path("/messages/report"), post(reports::request_messages))
        .route(
            &path("/messages/report/preview"),
            post(reports::preview_messages),
        )
        .route(&path("/reports"), get(reports::list))
        .route(&path("/reports/{reportId}"), get(reports::get))
        .route(
            &path("/reports/{reportId}/download"),
            get(reports::download),
        )
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

/// The parameters of a query.
fn query_params(query: Option<String>) -> Result<Params, RestError> {
    Ok(Params::new(pairs(query)))
}

/// Answers a REST call: `build` reads the parameters into the gRPC request, they are checked
/// (every malformed or unknown one named), `method` of `service` answers, and its answer is shaped
/// as `J`.
async fn respond<Q, A, J>(
    grpc: &Grpc,
    headers: &HeaderMap,
    params: Result<Params, RestError>,
    (service, method): (&str, &str),
    build: impl FnOnce(&mut Params) -> Q,
) -> Response
where
    Q: prost::Message,
    A: prost::Message + Default,
    J: From<A> + Serialize,
{
    let mut params = match params {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let request = build(&mut params);
    if let Err(error) = params.finish() {
        return error.into_response();
    }
    let path = format!("/talkhouse.v1.{service}/{method}");
    match transcode::call::<Q, A>(grpc, &path, headers, request).await {
        Ok(answer) => Json(J::from(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn summary(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::GetSummaryResponse, json::Summary>(
        &grpc,
        &headers,
        query_params(query),
        ("DashboardService", "GetSummary"),
        |_| v1::GetSummaryRequest { bot: bot(ids) },
    )
    .await
}

async fn report_config(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    method: &str,
) -> Response {
    respond::<_, v1::ReportConfig, json::ReportConfig>(
        &grpc,
        &headers,
        query_params(query),
        ("DashboardService", method),
        |_| v1::GetReportConfigRequest { bot: bot(ids) },
    )
    .await
}

fn analytics_request(ids: (String, String, String), params: &mut Params) -> v1::AnalyticsRequest {
    v1::AnalyticsRequest {
        bot: bot(ids),
        filter: Some(params.filter()),
    }
}

async fn traffic(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    method: &str,
) -> Response {
    respond::<_, v1::TrafficResponse, json::Traffic>(
        &grpc,
        &headers,
        query_params(query),
        ("AnalyticsService", method),
        |params| analytics_request(ids, params),
    )
    .await
}

async fn accuracy(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::AccuracyResponse, json::Accuracy>(
        &grpc,
        &headers,
        query_params(query),
        ("AnalyticsService", "GetAccuracy"),
        |params| analytics_request(ids, params),
    )
    .await
}

async fn series(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    method: &str,
) -> Response {
    respond::<_, v1::SeriesResponse, json::Series>(
        &grpc,
        &headers,
        query_params(query),
        ("AnalyticsService", method),
        |params| v1::SeriesRequest {
            bot: bot(ids),
            filter: Some(params.filter()),
            granularity: params.choice("granularity", &["HOUR", "DAY", "WEEK", "MONTH"]),
        },
    )
    .await
}
