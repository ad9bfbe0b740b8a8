//! `talkhouse.v1.ConversationService`.

use talkhouse_core::request::Checker;
use talkhouse_proto::v1;
use talkhouse_proto::v1::conversation_service_server::ConversationService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::{conversation, message, page_info, provenance};
use crate::convert::request::{
    cap, conversation_search, conversation_selection, session_code, tenant, zone,
};

#[tonic::async_trait]
impl ConversationService for DashboardApi {
    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn search_conversations(
        &self,
        request: Request<v1::SearchConversationsRequest>,
    ) -> Result<Response<v1::SearchConversationsResponse>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let search = conversation_search(&request, &self.config.limits, &mut checker);
        let (tenant, search) = valid(checker, tenant.zip(search))?;
        let answer = self
            .dashboard
            .search_conversations(tenant, &search, request.snapshot)
            .await
            .map_err(ServiceError::from)?;
        let provenance = provenance(&answer);
        let page = page_info(&answer.value);
        let zone = search.filter.window.zone;
        Ok(Response::new(v1::SearchConversationsResponse {
            content: answer
                .value
                .items
                .into_iter()
                .map(|row| conversation(row, zone))
                .collect(),
            page: Some(page),
            provenance,
        }))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_conversation(
        &self,
        request: Request<v1::GetConversationRequest>,
    ) -> Result<Response<v1::GetConversationResponse>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let code = session_code(&request.session_code, &mut checker);
        let zone = zone(&request.timezone, "timezone", &mut checker);
        let value = match (tenant, code, zone) {
            (Some(t), Some(c), Some(z)) => Some((t, c, z)),
            _ => None,
        };
        let (tenant, code, zone) = valid(checker, value)?;
        let answer = self
            .dashboard
            .transcript(tenant, &code)
            .await
            .map_err(ServiceError::from)?;
        let provenance = provenance(&answer);
        let Some(transcript) = answer.value else {
            return Err(
                ServiceError::NotFound(format!("no conversation {code:?} in this bot")).into(),
            );
        };
        Ok(Response::new(v1::GetConversationResponse {
            conversation: Some(conversation(transcript.conversation, zone)),
            derived: transcript.derived,
            messages: transcript
                .messages
                .into_iter()
                .map(|m| message(m, zone))
                .collect(),
            provenance,
        }))
    }

    async fn request_conversations_report(
        &self,
        request: Request<v1::ConversationsReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let selection = conversation_selection(&request, &self.config.limits, &mut checker);
        let cap = cap(request.cap, self.config.max_sample, &mut checker);
        valid(checker, tenant.zip(selection).zip(cap))?;
        Err(ServiceError::Unimplemented("report production is not available yet".into()).into())
    }

    async fn request_transcript_report(
        &self,
        request: Request<v1::TranscriptReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let code = session_code(&request.session_code, &mut checker);
        let zone = zone(&request.timezone, "timezone", &mut checker);
        valid(checker, tenant.zip(code).zip(zone))?;
        Err(ServiceError::Unimplemented("report production is not available yet".into()).into())
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn preview_conversations_report(
        &self,
        request: Request<v1::ConversationsReportRequest>,
    ) -> Result<Response<v1::ReportPreview>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let selection = conversation_selection(&request, &self.config.limits, &mut checker);
        let cap = cap(request.cap, self.config.max_sample, &mut checker);
        let ((tenant, selection), cap) = valid(checker, tenant.zip(selection).zip(cap))?;
        let answer = self
            .dashboard
            .count_conversations(tenant, &selection)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(v1::ReportPreview {
            estimate: answer.value.min(cap) as i64,
            provenance: provenance(&answer),
        }))
    }
}
