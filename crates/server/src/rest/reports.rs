//! A report's download: the file streamed with its content type and file name. The other report
//! routes are plain endpoints ([`super::routes`]).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use talkhouse_proto::v1;

use super::endpoint::{Answer, Description, Ids, Route, Verb};
use super::error::RestError;
use super::params::Params;
use super::{Grpc, pairs, transcode};

/// The request naming one report of the bot; the route takes no parameter.
pub(super) fn report_request(ids: &Ids, _: &mut Params) -> v1::GetReportRequest {
    v1::GetReportRequest {
        bot: ids.bot(),
        report_id: ids.item.clone(),
    }
}

/// `GET …/reports/{reportId}/download`.
pub(super) struct Download {
    pub(super) path: &'static str,
}

impl Route for Download {
    fn handler(&self) -> MethodRouter<Grpc> {
        get(
            |State(grpc): State<Grpc>,
             Path(segments): Path<Vec<(String, String)>>,
             headers: HeaderMap,
             RawQuery(query): RawQuery| async move {
                let ids = Ids::from_path(segments);
                match download(&grpc, &headers, &ids, query).await {
                    Ok(response) => response,
                    Err(error) => error.into_response(),
                }
            },
        )
    }

    fn description(&self) -> Description {
        Description {
            verb: Verb::Get,
            path: self.path,
            grpc: ("ReportService", "DownloadReport"),
            summary: "The report's file, streamed with its content type and file name",
            parameters: Vec::new(),
            status: StatusCode::OK,
            answer: Answer::File,
        }
    }
}

/// The content type of an export.
pub(crate) fn content_type(export_type: v1::ExportType) -> &'static str {
    match export_type {
        v1::ExportType::Csv => "text/csv; charset=utf-8",
        v1::ExportType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        v1::ExportType::Jsonl => "application/x-ndjson",
        v1::ExportType::Parquet => "application/vnd.apache.parquet",
        v1::ExportType::Unspecified => "application/octet-stream",
    }
}

async fn download(
    grpc: &Grpc,
    headers: &HeaderMap,
    ids: &Ids,
    query: Option<String>,
) -> Result<Response, RestError> {
    let mut params = Params::new(pairs(query));
    let request = report_request(ids, &mut params);
    params.finish()?;
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
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(report.export_type())),
    );
    response_headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}
