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

/// Calls `service`'s `method` and answers its JSON shape `J`.
async fn answer<Q, A, J>(
    grpc: &Grpc,
    headers: &HeaderMap,
    service: &str,
    method: &str,
    request: Q,
) -> Response
where
    Q: prost::Message,
    A: prost::Message + Default,
    J: From<A> + Serialize,
{
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
    if let Err(error) = Params::new(pairs(query)).finish() {
        return error.into_response();
    }
    let request = v1::GetSummaryRequest { bot: bot(ids) };
    answer::<_, v1::GetSummaryResponse, json::Summary>(
        &grpc,
        &headers,
        "DashboardService",
        "GetSummary",
        request,
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
    if let Err(error) = Params::new(pairs(query)).finish() {
        return error.into_response();
    }
    let request = v1::GetReportConfigRequest { bot: bot(ids) };
    answer::<_, v1::ReportConfig, json::ReportConfig>(
        &grpc,
        &headers,
        "DashboardService",
        method,
        request,
    )
    .await
}

/// The bot and filter of an analytics request, or the 400 of its malformed parameters.
fn analytics_request(
    ids: (String, String, String),
    query: Option<String>,
) -> Result<v1::AnalyticsRequest, RestError> {
    let mut params = Params::new(pairs(query));
    let filter = params.filter();
    params.finish()?;
    Ok(v1::AnalyticsRequest {
        bot: bot(ids),
        filter: Some(filter),
    })
}

async fn traffic(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    method: &str,
) -> Response {
    match analytics_request(ids, query) {
        Ok(request) => {
            answer::<_, v1::TrafficResponse, json::Traffic>(
                &grpc,
                &headers,
                "AnalyticsService",
                method,
                request,
            )
            .await
        }
        Err(error) => error.into_response(),
    }
}

async fn accuracy(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match analytics_request(ids, query) {
        Ok(request) => {
            answer::<_, v1::AccuracyResponse, json::Accuracy>(
                &grpc,
                &headers,
                "AnalyticsService",
                "GetAccuracy",
                request,
            )
            .await
        }
        Err(error) => error.into_response(),
    }
}

async fn series(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    method: &str,
) -> Response {
    let mut params = Params::new(pairs(query));
    let filter = params.filter();
    let granularity = params.choice("granularity", &["HOUR", "DAY", "WEEK", "MONTH"]);
    if let Err(error) = params.finish() {
        return error.into_response();
    }
    let request = v1::SeriesRequest {
        bot: bot(ids),
        filter: Some(filter),
        granularity,
    };
    answer::<_, v1::SeriesResponse, json::Series>(
        &grpc,
        &headers,
        "AnalyticsService",
        method,
        request,
    )
    .await
}
