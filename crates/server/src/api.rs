//! The dashboard services: `DashboardService`, `AnalyticsService`, `ConversationService`,
//! `MessageService` and `ReportService`. Each handler validates the whole request (every wrong
//! field named), runs the query crate's plan for the bot, and converts the answer.

mod analytics;
mod conversation;
mod dashboard;
mod message;
mod report;

use std::sync::Arc;

use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportPolicy, ReportRules, ReportSort};
use talkhouse_core::request::{Checker, Limits};
use talkhouse_proto::v1;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_reports::Reports;

use crate::ServiceError;
use crate::convert::request::{export_type, report_sort};

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

/// What every report request carries beside its selection, validated.
struct ReportOptions {
    cap: u64,
    sort: ReportSort,
    /// Only for a report; a preview ignores it.
    export_type: Option<ExportType>,
}

impl DashboardApi {
    /// The `(cap, sort, export_type)` of a report or preview request, under its bot's rules.
    fn report_options(
        &self,
        tenant: Option<&Tenant>,
        (cap, sort, export): (Option<i64>, i32, i32),
        for_report: bool,
        checker: &mut Checker,
    ) -> Option<ReportOptions> {
        let rules = self.report_rules(tenant);
        let cap = rules.check_cap(cap, checker);
        let sort = report_sort(sort, checker);
        let export_type = if for_report {
            export_type(export, &rules, checker).map(Some)
        } else {
            Some(None)
        };
        Some(ReportOptions {
            cap: cap?,
            sort: sort?,
            export_type: export_type?,
        })
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
