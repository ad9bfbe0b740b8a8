//! `talkhouse.v1.ConversationService`.

use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportSpec};
use talkhouse_core::request::Checker;
use talkhouse_proto::v1;
use talkhouse_proto::v1::conversation_service_server::ConversationService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::{conversation, message, page_info, provenance};
use crate::convert::request::{
    conversation_search, conversation_selection, export_type, session_code, tenant, zone,
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

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn request_conversations_report(
        &self,
        request: Request<v1::ConversationsReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let (tenant, spec, export_type) = self.conversations_report(request.get_ref(), true)?;
        let export_type = export_type.expect("checked for a report");
        self.create_report(tenant, spec, export_type).await
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn request_transcript_report(
        &self,
        request: Request<v1::TranscriptReportRequest>,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let rules = self.report_rules(tenant.as_ref());
        let code = session_code(&request.session_code, &mut checker);
        let zone = zone(&request.timezone, "timezone", &mut checker);
        let export_type = export_type(request.export_type, &rules, &mut checker);
        let ((tenant, (session_code, timezone)), export_type) =
            valid(checker, tenant.zip(code.zip(zone)).zip(export_type))?;
        let known = self
            .dashboard
            .has_session(tenant, &session_code)
            .await
            .map_err(ServiceError::from)?;
        if !known {
            return Err(ServiceError::NotFound(format!(
                "no conversation {session_code:?} in this bot"
            ))
            .into());
        }
        let spec = ReportSpec::Transcript {
            session_code,
            timezone,
        };
        self.create_report(tenant, spec, export_type).await
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn preview_conversations_report(
        &self,
        request: Request<v1::ConversationsReportRequest>,
    ) -> Result<Response<v1::ReportPreview>, Status> {
        let (tenant, spec, _) = self.conversations_report(request.get_ref(), false)?;
        let ReportSpec::Conversations { selection, cap, .. } = spec else {
            unreachable!("a conversations report")
        };
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

impl DashboardApi {
    /// The validated report (or preview) request; the export type only for a report.
    fn conversations_report(
        &self,
        request: &v1::ConversationsReportRequest,
        for_report: bool,
    ) -> Result<super::ReportRequest, ServiceError> {
        self.report_request(
            request.bot.as_ref(),
            (request.cap, request.sort, request.export_type),
            for_report,
            |limits, checker| conversation_selection(request, limits, checker),
            |selection, cap, sort| ReportSpec::Conversations {
                selection,
                cap,
                sort,
            },
        )
    }

    /// Stores and queues a report; answers its id.
    pub(super) async fn create_report(
        &self,
        tenant: Tenant,
        spec: ReportSpec,
        export_type: ExportType,
    ) -> Result<Response<v1::ReportCreated>, Status> {
        let record = self
            .reports
            .request(tenant, spec, export_type)
            .await
            .map_err(ServiceError::from)?;
        tracing::info!(report = %record.id, kind = ?record.kind(), "report requested");
        Ok(Response::new(v1::ReportCreated {
            report_id: record.id.to_string(),
        }))
    }
}
