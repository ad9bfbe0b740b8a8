//! The dashboard services: `DashboardService`, `AnalyticsService`, `ConversationService`,
//! `MessageService` and `ReportService`, and `AdminService`. Each handler validates the whole request (every wrong
//! field named), runs the query crate's plan for the bot, and converts the answer.

mod admin;
mod analytics;
mod conversation;
mod dashboard;
mod message;
mod report;

use std::sync::Arc;

pub use admin::AdminApi;

use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportPolicy, ReportRules, ReportSort, ReportSpec};
use talkhouse_core::request::{Checker, Limits};
use talkhouse_proto::v1;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_reports::Reports;

use crate::ServiceError;
use crate::convert::request::{export_type, report_sort, tenant};

/// What a deployment allows.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    pub limits: Limits,
    /// The largest report and the export types, per deployment and per bot.
    pub reports: ReportPolicy,
}

/// Shared by every dashboard service.
#[derive(Clone)]
pub struct DashboardApi {
    dashboard: Arc<Dashboard>,
    reports: Arc<Reports>,
    config: Arc<ServiceConfig>,
}

impl DashboardApi {
    pub fn new(dashboard: Arc<Dashboard>, reports: Arc<Reports>, config: ServiceConfig) -> Self {
        Self {
            dashboard,
            reports,
            config: Arc::new(config),
        }
    }

    /// The report rules of the request's bot; the deployment's when the bot is not valid (the
    /// request is then rejected for it anyway).
    fn report_rules(&self, tenant: Option<&Tenant>) -> ReportRules {
        match tenant {
            Some(tenant) => self.config.reports.rules(tenant.bot_id),
            None => self.config.reports.default.clone(),
        }
    }
}

/// A report (or preview) request as validated: its bot, what the report holds, and for a report
/// its export type.
type ReportRequest = (Tenant, ReportSpec, Option<ExportType>);

impl DashboardApi {
    /// Validates a conversations or messages report request: the bot, the `selection`, and the
    /// `(cap, sort, export_type)` under the bot's rules (the export type only `for_report`).
    fn report_request<S>(
        &self,
        bot: Option<&v1::BotRef>,
        (cap, sort, export): (Option<i64>, i32, i32),
        for_report: bool,
        selection: impl FnOnce(&Limits, &mut Checker) -> Option<S>,
        spec: fn(S, u64, ReportSort) -> ReportSpec,
    ) -> Result<ReportRequest, ServiceError> {
        let mut checker = Checker::new();
        let tenant = tenant(bot, &mut checker);
        let rules = self.report_rules(tenant.as_ref());
        let selection = selection(&self.config.limits, &mut checker);
        let cap = rules.check_cap(cap, &mut checker);
        let sort = report_sort(sort, &mut checker);
        let export_type = if for_report {
            export_type(export, &rules, &mut checker).map(Some)
        } else {
            Some(None)
        };
        let (((tenant, selection), (cap, sort)), export_type) = valid(
            checker,
            tenant.zip(selection).zip(cap.zip(sort)).zip(export_type),
        )?;
        Ok((tenant, spec(selection, cap, sort), export_type))
    }
}

/// The validated value, or INVALID_ARGUMENT with every violation.
fn valid<T>(checker: Checker, value: Option<T>) -> Result<T, ServiceError> {
    checker.finish(value).map_err(ServiceError::InvalidArgument)
}

/// The bot of a request, for tracing spans.
fn bot_id(bot: &Option<v1::BotRef>) -> &str {
    bot.as_ref().map_or("", |b| b.bot_id.as_str())
}
