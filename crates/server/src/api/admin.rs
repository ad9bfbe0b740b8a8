//! `AdminService`: operations on a bot's stored data, for the `admin` scope.

use std::sync::Arc;

use talkhouse_core::request::{Checker, ErasureInput, TenantInput};
use talkhouse_proto::v1;
use talkhouse_proto::v1::admin_service_server::AdminService;
use talkhouse_reports::erasure::{self, ErasureRecord};
use talkhouse_storage::EventTable;
use tonic::{Request, Response, Status};

use super::valid;
use crate::ServiceError;
use crate::convert::answer::timestamp;
use crate::guard::Caller;

#[derive(Clone)]
pub struct AdminApi {
    table: Arc<EventTable>,
}

impl AdminApi {
    pub fn new(table: Arc<EventTable>) -> Self {
        Self { table }
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn erase_person(
        &self,
        request: Request<v1::ErasePersonRequest>,
    ) -> Result<Response<v1::Erasure>, Status> {
        let caller = request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::internal("the call did not pass the guard"))?;
        let request = request.into_inner();
        let input = ErasureInput {
            bot: request
                .bot
                .map(|bot| TenantInput {
                    org_id: bot.org_id,
                    env_id: bot.env_id,
                    bot_id: bot.bot_id,
                })
                .unwrap_or_default(),
            user_id: request.user_id,
            business_key: request.business_key,
        };
        let mut checker = Checker::new();
        let checked = input.check(&mut checker);
        let (tenant, key) = valid(checker, checked)?;
        let record = erasure::erase_person(
            &self.table,
            self.table.location(),
            tenant,
            key,
            &caller.name(),
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(answer(record)))
    }
}

fn answer(record: ErasureRecord) -> v1::Erasure {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    v1::Erasure {
        id: record.id.to_string(),
        key: record.key,
        requested_by: record.requested_by,
        requested_at: Some(timestamp(record.requested_at)),
        finished_at: record.finished_at.map(timestamp),
        version: record.version.map(count),
        sessions: count(record.sessions),
        messages: count(record.messages),
        conversation_versions: count(record.conversation_versions),
        reports_deleted: count(record.reports_deleted),
    }
}
