//! The dashboard services: `DashboardService`, `AnalyticsService`, `ConversationService`,
//! `MessageService` and `ReportService`. Each handler validates the whole request (every wrong
//! field named), runs the query crate's plan for the bot, and converts the answer.

mod analytics;
mod conversation;
mod dashboard;
mod message;
mod report;

use std::sync::Arc;

use talkhouse_core::request::{Checker, Limits};
use talkhouse_proto::v1;
use talkhouse_query::dashboard::Dashboard;

use crate::ServiceError;

/// What a deployment allows.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub limits: Limits,
    /// Largest number of items a report may hold.
    pub max_sample: u64,
    /// Export types a report may be requested in.
    pub export_types: Vec<v1::ExportType>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_sample: 10_000,
            export_types: vec![
                v1::ExportType::Csv,
                v1::ExportType::Xlsx,
                v1::ExportType::Jsonl,
                v1::ExportType::Parquet,
            ],
        }
    }
}

/// Shared by every dashboard service.
#[derive(Clone)]
pub struct DashboardApi {
    dashboard: Arc<Dashboard>,
    config: Arc<ServiceConfig>,
}

impl DashboardApi {
    pub fn new(dashboard: Arc<Dashboard>, config: ServiceConfig) -> Self {
        Self {
            dashboard,
            config: Arc::new(config),
        }
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
