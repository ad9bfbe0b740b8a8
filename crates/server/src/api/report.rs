//! `talkhouse.v1.ReportService`: a bot's reports, their state and their files. A report is
//! looked up under the bot the request names, so one bot's id never finds another's report.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use talkhouse_core::Tenant;
use talkhouse_core::ingest::parse_uuid;
use talkhouse_core::request::{Checker, Page};
use talkhouse_proto::v1;
use talkhouse_proto::v1::report_service_server::ReportService;
use talkhouse_reports::Download;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::report;
use crate::convert::request::tenant;

pub const DEFAULT_REPORT_PAGE_SIZE: u32 = 5;
pub const MAX_REPORT_PAGE_SIZE: u32 = 100;

fn report_id(request: &v1::GetReportRequest) -> Result<(Tenant, uuid::Uuid), ServiceError> {
    let mut checker = Checker::new();
    let tenant = tenant(request.bot.as_ref(), &mut checker);
    let id = parse_uuid(&request.report_id);
    if id.is_none() {
        checker.violation("report_id", "must be a hyphenated UUID");
    }
    valid(checker, tenant.zip(id))
}

fn not_found(id: uuid::Uuid) -> ServiceError {
    ServiceError::NotFound(format!("no report {id} in this bot"))
}

#[tonic::async_trait]
impl ReportService for DashboardApi {
    type DownloadReportStream =
        Pin<Box<dyn Stream<Item = Result<v1::ReportChunk, Status>> + Send + 'static>>;

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
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
        let (tenant, page) = valid(checker, tenant.zip(page))?;
        let (records, total) = self
            .reports
            .list(&tenant, page)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(v1::ListReportsResponse {
            content: records.into_iter().map(report).collect(),
            page: Some(v1::PageInfo {
                page: page.number,
                size: page.size,
                total_elements: total,
                total_pages: page.count_for(total),
            }),
        }))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let (tenant, id) = report_id(request.get_ref())?;
        match self
            .reports
            .get(&tenant, id)
            .await
            .map_err(ServiceError::from)?
        {
            Some(record) => Ok(Response::new(report(record))),
            None => Err(not_found(id).into()),
        }
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn download_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<Self::DownloadReportStream>, Status> {
        let (tenant, id) = report_id(request.get_ref())?;
        let download = self
            .reports
            .download(&tenant, id)
            .await
            .map_err(ServiceError::from)?;
        match download {
            Download::NotFound => Err(not_found(id).into()),
            Download::NotReady(status) => Err(ServiceError::FailedPrecondition(format!(
                "report {id} is {}, not READY; its file can be downloaded once it is READY",
                status.as_str()
            ))
            .into()),
            Download::Ready(chunks) => {
                let chunks = chunks.map(|chunk| {
                    chunk
                        .map(|data| v1::ReportChunk { data })
                        .map_err(|error| Status::from(ServiceError::from(error)))
                });
                Ok(Response::new(Box::pin(chunks)))
            }
        }
    }
}
