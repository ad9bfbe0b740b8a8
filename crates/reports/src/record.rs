//! The state of one report, as stored beside its file.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportKind, ReportSpec, ReportStatus};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub id: Uuid,
    pub tenant: Tenant,
    pub export_type: ExportType,
    /// What the report holds; its `parameters`.
    pub spec: ReportSpec,
    pub status: ReportStatus,
    /// The table version the report reads, pinned when it was requested.
    pub snapshot: u64,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// When it became READY or FAILED.
    pub finished_at: Option<DateTime<Utc>>,
    /// When a READY or FAILED report expires and its file is deleted.
    pub expires_at: Option<DateTime<Utc>>,
    pub row_count: u64,
    pub byte_size: u64,
    /// Why it FAILED.
    pub error: Option<String>,
    /// Times work on it started; a report interrupted too often is FAILED.
    pub attempts: u32,
}

impl ReportRecord {
    pub fn new(
        tenant: Tenant,
        spec: ReportSpec,
        export_type: ExportType,
        snapshot: u64,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            tenant,
            export_type,
            spec,
            status: ReportStatus::Pending,
            snapshot,
            requested_at: now,
            started_at: None,
            finished_at: None,
            expires_at: None,
            row_count: 0,
            byte_size: 0,
            error: None,
            attempts: 0,
        }
    }

    pub fn kind(&self) -> ReportKind {
        self.spec.kind()
    }

    /// The status at `now`: a finished report past its expiry is EXPIRED even before the sweeper
    /// has deleted its file.
    pub fn status_at(&self, now: DateTime<Utc>) -> ReportStatus {
        match (self.status, self.expires_at) {
            (ReportStatus::Ready | ReportStatus::Failed, Some(expiry)) if expiry <= now => {
                ReportStatus::Expired
            }
            (status, _) => status,
        }
    }

    /// The record as a client sees it at `now`.
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        self.status = self.status_at(now);
        self
    }

    /// The request's parameters as JSON.
    pub fn parameters(&self) -> String {
        serde_json::to_string(&self.spec).expect("a spec serializes")
    }

    /// Orders reports newest first (by request time, then id).
    pub fn sort_newest_first(records: &mut [ReportRecord]) {
        records.sort_by_key(|r| std::cmp::Reverse((r.requested_at, r.id)));
    }

    /// The name a download is saved under.
    pub fn file_name(&self) -> String {
        format!("report-{}.{}", self.id, self.export_type.extension())
    }
}
