//! Sessions pinned to one table snapshot.

use std::sync::Arc;

use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{Expr, col, lit};
use datafusion::prelude::{SessionConfig, SessionContext};
use talkhouse_core::access::{Allowed, Grant};
use talkhouse_storage::schema::EVENTS_TABLE;
use talkhouse_storage::{EventTable, Snapshot};

use crate::views::views;

/// Builds query sessions over the event table.
#[derive(Clone)]
pub struct QueryEngine {
    table: Arc<EventTable>,
    /// The session of the latest version seen: a snapshot never changes, so its session is
    /// reused until the log shows a newer commit.
    latest: Arc<tokio::sync::Mutex<Option<SnapshotSession>>>,
}

/// A DataFusion session that reads exactly one snapshot of the tables.
#[derive(Clone)]
pub struct SnapshotSession {
    pub ctx: SessionContext,
    pub snapshot: Snapshot,
}

impl QueryEngine {
    pub fn new(table: Arc<EventTable>) -> Self {
        Self {
            table,
            latest: Arc::default(),
        }
    }

    pub fn table(&self) -> &Arc<EventTable> {
        &self.table
    }

    /// A session over the latest committed version.
    pub async fn session(&self) -> talkhouse_storage::Result<SnapshotSession> {
        let version = self.table.latest_version().await?;
        let mut latest = self.latest.lock().await;
        if let Some(session) = latest.as_ref().filter(|s| s.snapshot.version == version) {
            return Ok(session.clone());
        }
        let snapshot = self.table.snapshot_at(version).await?;
        let session = Self::session_with(snapshot, self.table.runtime()).await?;
        *latest = Some(session.clone());
        Ok(session)
    }

    /// A session over the latest committed version in which the `events` table, and so every
    /// view over it, holds only the rows `grant` covers (every row when `None`). The restriction
    /// is a filter in the table's own plan: no statement can name the unrestricted table.
    pub async fn session_of(
        &self,
        grant: Option<&Grant>,
    ) -> talkhouse_storage::Result<SnapshotSession> {
        let latest = self.session().await?;
        let Some(grant) = grant else {
            return Ok(latest);
        };
        Self::build(latest.snapshot, self.table.runtime(), Some(grant)).await
    }

    /// A session over `version`, or over the latest committed version when `None`. A version
    /// equal to the latest reuses its session instead of replaying the log again.
    pub async fn session_at(
        &self,
        version: Option<u64>,
    ) -> talkhouse_storage::Result<SnapshotSession> {
        let Some(version) = version else {
            return self.session().await;
        };
        let latest = self.latest.lock().await.clone();
        if let Some(session) = latest.filter(|s| s.snapshot.version == version) {
            return Ok(session);
        }
        Self::session_with(self.table.snapshot_at(version).await?, self.table.runtime()).await
    }

    /// A session over the given snapshot, with a runtime of its own.
    pub async fn session_for(snapshot: Snapshot) -> talkhouse_storage::Result<SnapshotSession> {
        Self::session_with(snapshot, Arc::new(RuntimeEnv::default())).await
    }

    async fn session_with(
        snapshot: Snapshot,
        runtime: Arc<RuntimeEnv>,
    ) -> talkhouse_storage::Result<SnapshotSession> {
        Self::build(snapshot, runtime, None).await
    }

    async fn build(
        snapshot: Snapshot,
        runtime: Arc<RuntimeEnv>,
        grant: Option<&Grant>,
    ) -> talkhouse_storage::Result<SnapshotSession> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("talkhouse", "public")
            .with_create_default_catalog_and_schema(true);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        let ctx = SessionContext::new_with_state(state);
        snapshot.prepare_session(&ctx)?;
        register(&ctx, &snapshot, grant).map_err(talkhouse_storage::Error::Query)?;
        for (name, sql) in views() {
            let plan = ctx
                .sql(sql)
                .await
                .map_err(talkhouse_storage::Error::Query)?
                .into_unoptimized_plan();
            let view = datafusion::datasource::ViewTable::new(plan, Some(sql.to_string()));
            ctx.register_table(name, Arc::new(view))
                .map_err(talkhouse_storage::Error::Query)?;
        }
        Ok(SnapshotSession { ctx, snapshot })
    }
}

fn register(ctx: &SessionContext, snapshot: &Snapshot, grant: Option<&Grant>) -> Result<()> {
    let Some(grant) = grant else {
        ctx.register_table(EVENTS_TABLE, snapshot.provider.clone())?;
        return Ok(());
    };
    let plan = LogicalPlanBuilder::scan(
        EVENTS_TABLE,
        provider_as_source(snapshot.provider.clone()),
        None,
    )?
    .filter(granted(grant))?
    .build()?;
    ctx.register_table(EVENTS_TABLE, Arc::new(ViewTable::new(plan, None)))?;
    Ok(())
}

/// The rows of the grant's organization, environments and bots.
fn granted(grant: &Grant) -> Expr {
    let among = |column: &str, allowed: &Allowed| match allowed {
        Allowed::Any => lit(true),
        Allowed::Only(ids) => {
            col(column).in_list(ids.iter().map(|id| lit(id.to_string())).collect(), false)
        }
    };
    col("org_id")
        .eq(lit(grant.org_id.to_string()))
        .and(among("env_id", &grant.environments))
        .and(among("bot_id", &grant.bots))
}
