//! The report routes: request and preview (`POST`, parameters in a JSON body or the query), list,
//! get, and download (the file streamed with its content type and file name).

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use talkhouse_proto::v1;

use super::error::RestError;
use super::params::{EXPORT_TYPES, NLP_RESPONSES, Params, REPORT_SORTS, SEARCH_BY, bot};
use super::{BotPath, Grpc, json, pairs, query_params, respond, transcode};

/// The parameters of the query and of the JSON body, together.
fn params(query: Option<String>, body: &[u8]) -> Result<Params, RestError> {
    let mut params = Params::from_json(body)?;
    params.extend(pairs(query));
    Ok(params)
}

fn conversations_request(
    ids: (String, String, String),
    params: &mut Params,
) -> v1::ConversationsReportRequest {
    v1::ConversationsReportRequest {
        bot: bot(ids),
        filter: Some(params.filter()),
        cap: params.number("cap"),
        sort: params.choice("sort", &REPORT_SORTS),
        filter_field: params.choice("filterField", &SEARCH_BY),
        filter_value: params.text("filterValue").unwrap_or_default(),
        min_confidence: params.number("minConfidence"),
        error_margin: params.number("errorMargin"),
        export_type: params.choice("exportType", &EXPORT_TYPES),
    }
}

fn messages_request(
    ids: (String, String, String),
    params: &mut Params,
) -> v1::MessagesReportRequest {
    v1::MessagesReportRequest {
        bot: bot(ids),
        filter: Some(params.filter()),
        cap: params.number("cap"),
        sort: params.choice("sort", &REPORT_SORTS),
        filter_field: params.choice("filterField", &SEARCH_BY),
        filter_value: params.text("filterValue").unwrap_or_default(),
        min_confidence: params.number("minConfidence"),
        error_margin: params.number("errorMargin"),
        nlp_response_filters: params.choices("nlpResponseFilters", &NLP_RESPONSES),
        export_type: params.choice("exportType", &EXPORT_TYPES),
    }
}

/// A report accepted for production: 202 with its id.
fn accepted(response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.status = StatusCode::ACCEPTED;
    Response::from_parts(parts, body)
}

pub(super) async fn request_conversations(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    accepted(
        respond::<_, v1::ReportCreated, json::ReportCreated>(
            &grpc,
            &headers,
            params(query, &body),
            ("ConversationService", "RequestConversationsReport"),
            |params| conversations_request(ids, params),
        )
        .await,
    )
}

pub(super) async fn preview_conversations(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    respond::<_, v1::ReportPreview, json::ReportPreview>(
        &grpc,
        &headers,
        params(query, &body),
        ("ConversationService", "PreviewConversationsReport"),
        |params| conversations_request(ids, params),
    )
    .await
}

pub(super) async fn request_messages(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    accepted(
        respond::<_, v1::ReportCreated, json::ReportCreated>(
            &grpc,
            &headers,
            params(query, &body),
            ("MessageService", "RequestMessagesReport"),
            |params| messages_request(ids, params),
        )
        .await,
    )
}

pub(super) async fn preview_messages(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    respond::<_, v1::ReportPreview, json::ReportPreview>(
        &grpc,
        &headers,
        params(query, &body),
        ("MessageService", "PreviewMessagesReport"),
        |params| messages_request(ids, params),
    )
    .await
}

pub(super) async fn request_transcript(
    State(grpc): State<Grpc>,
    Path((org, env, bot_id, session_code)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    accepted(
        respond::<_, v1::ReportCreated, json::ReportCreated>(
            &grpc,
            &headers,
            params(query, &body),
            ("ConversationService", "RequestTranscriptReport"),
            |params| v1::TranscriptReportRequest {
                bot: bot((org, env, bot_id)),
                session_code,
                timezone: params.text("timezone").unwrap_or_default(),
                export_type: params.choice("exportType", &EXPORT_TYPES),
            },
        )
        .await,
    )
}

pub(super) async fn list(
    State(grpc): State<Grpc>,
    Path(ids): BotPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::ListReportsResponse, json::Reports>(
        &grpc,
        &headers,
        query_params(query),
        ("ReportService", "ListReports"),
        |params| v1::ListReportsRequest {
            bot: bot(ids),
            page: params.number("page"),
            size: params.number("size"),
        },
    )
    .await
}

pub(super) async fn get(
    State(grpc): State<Grpc>,
    Path((org, env, bot_id, report_id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond::<_, v1::Report, json::Report>(
        &grpc,
        &headers,
        query_params(query),
        ("ReportService", "GetReport"),
        |_| v1::GetReportRequest {
            bot: bot((org, env, bot_id)),
            report_id,
        },
    )
    .await
}

fn report_request(
    (org, env, bot_id, report_id): (String, String, String, String),
    query: Option<String>,
) -> Result<v1::GetReportRequest, RestError> {
    Params::new(pairs(query)).finish()?;
    Ok(v1::GetReportRequest {
        bot: bot((org, env, bot_id)),
        report_id,
    })
}

pub(super) async fn download(
    State(grpc): State<Grpc>,
    Path(ids): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match download_file(&grpc, &headers, ids, query).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn download_file(
    grpc: &Grpc,
    headers: &HeaderMap,
    ids: (String, String, String, String),
    query: Option<String>,
) -> Result<Response, RestError> {
    let request = report_request(ids, query)?;
    let report: v1::Report = transcode::call(
        grpc,
        "/talkhouse.v1.ReportService/GetReport",
        headers,
        request.clone(),
    )
    .await?;
    let chunks = transcode::stream::<_, v1::ReportChunk>(
        grpc,
        "/talkhouse.v1.ReportService/DownloadReport",
        headers,
        request,
    )
    .await?;
    let content_type = match report.export_type() {
        v1::ExportType::Csv => "text/csv; charset=utf-8",
        v1::ExportType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        v1::ExportType::Jsonl => "application/x-ndjson",
        v1::ExportType::Parquet => "application/vnd.apache.parquet",
        v1::ExportType::Unspecified => "application/octet-stream",
    };
    let file_name: String = report
        .file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .map_err(|error| RestError::internal(&error))?;
    let body = Body::from_stream(chunks.map(|chunk| chunk.map(|c| c.data)));
    let mut response = Response::new(body);
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}
