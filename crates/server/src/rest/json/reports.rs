//! Reports: one, a page of them, a request's answer and a preview.

use serde::Serialize;
use talkhouse_proto::v1;
use utoipa::ToSchema;

use super::{Provenance, instant, name};

page!(Reports of Report);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    report_id: String,
    kind: String,
    status: String,
    export_type: String,
    /// The request's parameters, as JSON.
    #[schema(value_type = Object)]
    parameters: serde_json::Value,
    requested_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    expires_at: Option<String>,
    row_count: u64,
    byte_size: u64,
    error: Option<String>,
    snapshot: u64,
    file_name: String,
}

impl From<v1::Report> for Report {
    fn from(r: v1::Report) -> Self {
        Self {
            kind: name(r.kind().as_str_name(), "REPORT_KIND_"),
            status: name(r.status().as_str_name(), "REPORT_STATUS_"),
            export_type: name(r.export_type().as_str_name(), "EXPORT_TYPE_"),
            parameters: serde_json::from_str(&r.parameters).unwrap_or(serde_json::Value::Null),
            requested_at: instant(r.requested_at),
            started_at: instant(r.started_at),
            finished_at: instant(r.finished_at),
            expires_at: instant(r.expires_at),
            row_count: r.row_count,
            byte_size: r.byte_size,
            error: Some(r.error).filter(|e| !e.is_empty()),
            snapshot: r.snapshot,
            file_name: r.file_name,
            report_id: r.report_id,
        }
    }
}

impl From<v1::ListReportsResponse> for Reports {
    fn from(r: v1::ListReportsResponse) -> Self {
        let content = r.content.into_iter().map(Report::from).collect();
        Self::new(content, r.page, None)
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportCreated {
    report_id: String,
}

impl From<v1::ReportCreated> for ReportCreated {
    fn from(r: v1::ReportCreated) -> Self {
        Self {
            report_id: r.report_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportPreview {
    estimate: i64,
    provenance: Provenance,
}

impl From<v1::ReportPreview> for ReportPreview {
    fn from(r: v1::ReportPreview) -> Self {
        Self {
            estimate: r.estimate,
            provenance: r.provenance.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Erasure {
    id: String,
    /// `user_id` or `business_key`: the kind of key erased, never its value.
    key: String,
    requested_by: String,
    requested_at: Option<String>,
    finished_at: Option<String>,
    /// The table version without the person's rows; absent when there were none.
    version: Option<i64>,
    sessions: i64,
    messages: i64,
    conversation_versions: i64,
    reports_deleted: i64,
}

impl From<v1::Erasure> for Erasure {
    fn from(e: v1::Erasure) -> Self {
        Self {
            id: e.id,
            key: e.key,
            requested_by: e.requested_by,
            requested_at: super::instant(e.requested_at),
            finished_at: super::instant(e.finished_at),
            version: e.version,
            sessions: e.sessions,
            messages: e.messages,
            conversation_versions: e.conversation_versions,
            reports_deleted: e.reports_deleted,
        }
    }
}
