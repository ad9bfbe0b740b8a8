//! `talkhouse.v1.ReportService`. No report can be produced yet, so every bot's list is empty and
//! every id is unknown.

use std::pin::Pin;

use futures::Stream;
use talkhouse_core::ingest::parse_uuid;
use talkhouse_core::request::{Checker, Page};
use talkhouse_proto::v1;
use talkhouse_proto::v1::report_service_server::ReportService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, valid};
use crate::ServiceError;
use crate::convert::request::tenant;

pub const DEFAULT_REPORT_PAGE_SIZE: u32 = 5;
pub const MAX_REPORT_PAGE_SIZE: u32 = 100;

fn report_id(request: &v1::GetReportRequest) -> Result<uuid::Uuid, ServiceError> {
    let mut checker = Checker::new();
    let tenant = tenant(request.bot.as_ref(), &mut checker);
    let id = parse_uuid(&request.report_id);
    if id.is_none() {
        checker.violation("report_id", "must be a hyphenated UUID");
    }
    valid(checker, tenant.zip(id)).map(|(_, id)| id)
}

#[tonic::async_trait]
impl ReportService for DashboardApi {
    type DownloadReportStream =
        Pin<Box<dyn Stream<Item = Result<v1::ReportChunk, Status>> + Send + 'static>>;

    async fn list_reports(
        &self,
        request: Request<v1::ListReportsRequest>,
    ) -> Result<Response<v1::ListReportsResponse>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let page = Page::check(
            request.page,
            request.size,
            DEFAULT_REPORT_PAGE_SIZE,
            MAX_REPORT_PAGE_SIZE,
            &mut checker,
        );
        let (_, page) = valid(checker, tenant.zip(page))?;
        Ok(Response::new(v1::ListReportsResponse {
            content: Vec::new(),
            page: Some(v1::PageInfo {
                page: page.number,
                size: page.size,
                total_elements: 0,
                total_pages: 0,
            }),
        }))
    }

    async fn get_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let id = report_id(request.get_ref())?;
        Err(ServiceError::NotFound(format!("no report {id} in this bot")).into())
    }

    async fn download_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<Self::DownloadReportStream>, Status> {
        let id = report_id(request.get_ref())?;
        Err(ServiceError::NotFound(format!("no report {id} in this bot")).into())
    }
}
