//! `talkhouse.v1.MessageService`.

use talkhouse_core::request::Checker;
use talkhouse_proto::v1;
use talkhouse_proto::v1::message_service_server::MessageService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::{message, page_info, provenance};
use crate::convert::request::{cap, message_search, message_selection, tenant};

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

    async fn request_messages_report(
        &self,
        request: Request<v1::MessagesReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let selection = message_selection(&request, &self.config.limits, &mut checker);
        let cap = cap(request.cap, self.config.max_sample, &mut checker);
        valid(checker, tenant.zip(selection).zip(cap))?;
        Err(ServiceError::Unimplemented("report production is not available yet".into()).into())
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn preview_messages_report(
        &self,
        request: Request<v1::MessagesReportRequest>,
    ) -> Result<Response<v1::ReportPreview>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let selection = message_selection(&request, &self.config.limits, &mut checker);
        let cap = cap(request.cap, self.config.max_sample, &mut checker);
        let ((tenant, selection), cap) = valid(checker, tenant.zip(selection).zip(cap))?;
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
