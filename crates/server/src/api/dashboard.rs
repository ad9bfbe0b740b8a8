//! `talkhouse.v1.DashboardService`.

use talkhouse_core::request::Checker;
use talkhouse_proto::v1;
use talkhouse_proto::v1::dashboard_service_server::DashboardService;
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::convert::answer::{export_type, provenance, timestamp};
use crate::convert::request::tenant;
use crate::guard::Caller;

impl DashboardApi {
    fn report_config(&self, bot: Option<&v1::BotRef>) -> Result<v1::ReportConfig, Status> {
        let mut checker = Checker::new();
        let tenant = tenant(bot, &mut checker);
        let tenant = valid(checker, tenant)?;
        let rules = self.report_rules(Some(&tenant));
        Ok(v1::ReportConfig {
            max_sample: rules.max_sample,
            available_export_types: rules
                .export_types
                .into_iter()
                .map(|t| export_type(t) as i32)
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl DashboardService for DashboardApi {
    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_summary(
        &self,
        request: Request<v1::GetSummaryRequest>,
    ) -> Result<Response<v1::GetSummaryResponse>, Status> {
        let request = request.into_inner();
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let tenant = valid(checker, tenant)?;
        let answer = self
            .dashboard
            .summary(tenant)
            .await
            .map_err(crate::ServiceError::from)?;
        let provenance = provenance(&answer);
        let summary = answer.value;
        Ok(Response::new(v1::GetSummaryResponse {
            has_data: summary.has_data,
            first_data_set: summary.first_data_set.map(timestamp),
            last_data_set: summary.last_data_set.map(timestamp),
            channels: summary
                .channels
                .into_iter()
                .map(|c| v1::Channel {
                    uuid: c.uuid,
                    name: c.name,
                    r#type: c.channel_type.unwrap_or_default(),
                })
                .collect(),
            provenance,
        }))
    }

    async fn list_bots(
        &self,
        request: Request<v1::ListBotsRequest>,
    ) -> Result<Response<v1::ListBotsResponse>, Status> {
        let caller = request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::internal("the call did not pass the guard"))?;
        let mut checker = Checker::new();
        let org = request.get_ref().org_id.as_str();
        let org = match org.is_empty() {
            true => Some(None),
            false => checker.uuid("org_id", org).map(Some),
        };
        let org = valid(checker, org)?;
        let bots = self
            .dashboard
            .bots(org)
            .await
            .map_err(crate::ServiceError::from)?;
        Ok(Response::new(v1::ListBotsResponse {
            bots: bots
                .into_iter()
                .filter(|tenant| caller.covers(tenant))
                .map(|tenant| v1::BotRef {
                    org_id: tenant.org_id.to_string(),
                    env_id: tenant.env_id.to_string(),
                    bot_id: tenant.bot_id.to_string(),
                })
                .collect(),
        }))
    }

    async fn get_conversation_report_config(
        &self,
        request: Request<v1::GetReportConfigRequest>,
    ) -> Result<Response<v1::ReportConfig>, Status> {
        Ok(Response::new(
            self.report_config(request.get_ref().bot.as_ref())?,
        ))
    }

    async fn get_message_report_config(
        &self,
        request: Request<v1::GetReportConfigRequest>,
    ) -> Result<Response<v1::ReportConfig>, Status> {
        Ok(Response::new(
            self.report_config(request.get_ref().bot.as_ref())?,
        ))
    }
}
