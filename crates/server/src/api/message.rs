//! `talkhouse.v1.MessageService`.

use talkhouse_core::report::ReportSpec;
use talkhouse_core::request::Checker;
use talkhouse_proto::v1;
use talkhouse_proto::v1::message_service_server::MessageService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::{message, page_info, provenance};
use crate::convert::request::{message_search, message_selection, tenant};

#[tonic::async_trait]
impl MessageService for DashboardApi {
    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn search_messages(
        &self,
        request: Request<v1::SearchMessagesRequest>,
    ) -> Result<Response<v1::SearchMessagesResponse>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let search = message_search(&request, &self.config.limits, &mut checker);
        let (tenant, search) = valid(checker, tenant.zip(search))?;
        let answer = self
            .dashboard
            .search_messages(tenant, &search, request.snapshot)
            .await
            .map_err(ServiceError::from)?;
        let provenance = provenance(&answer);
        let page = page_info(&answer.value);
        let zone = search.filter.window.zone;
        Ok(Response::new(v1::SearchMessagesResponse {
            content: answer
                .value
                .items
                .into_iter()
                .map(|row| message(row, zone))
                .collect(),
            page: Some(page),
            provenance,
        }))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn request_messages_report(
        &self,
        request: Request<v1::MessagesReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let (tenant, spec, export_type) = self.messages_report(request.get_ref(), true)?;
        let export_type = export_type.expect("checked for a report");
        self.create_report(tenant, spec, export_type).await
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn preview_messages_report(
        &self,
        request: Request<v1::MessagesReportRequest>,
    ) -> Result<Response<v1::ReportPreview>, Status> {
        let (tenant, spec, _) = self.messages_report(request.get_ref(), false)?;
        let ReportSpec::Messages { selection, cap, .. } = spec else {
            unreachable!("a messages report")
        };
        let answer = self
            .dashboard
            .count_messages(tenant, &selection)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(v1::ReportPreview {
            estimate: answer.value.min(cap) as i64,
            provenance: provenance(&answer),
        }))
    }
}

impl DashboardApi {
    /// The validated report (or preview) request; the export type only for a report.
    fn messages_report(
        &self,
        request: &v1::MessagesReportRequest,
        for_report: bool,
    ) -> Result<super::ReportRequest, ServiceError> {
        self.report_request(
            request.bot.as_ref(),
            (request.cap, request.sort, request.export_type),
            for_report,
            |limits, checker| message_selection(request, limits, checker),
            |selection, cap, sort| ReportSpec::Messages {
                selection,
                cap,
                sort,
            },
        )
    }
}
