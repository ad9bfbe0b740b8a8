//! `ListBots`: every bot with data, as a dashboard offers them to pick from.

use std::collections::BTreeSet;

use datafusion::error::DataFusionError;
use datafusion::prelude::{col, lit};
use talkhouse_core::Tenant;
use talkhouse_core::ingest::parse_uuid;

use crate::columns;
use crate::session::SnapshotSession;
use crate::{QueryExecutor, Result};

/// The bots of the rollup rows (written in the commit of every event, and partitioned by bot and
/// kind, so only the rollup files are read), of `org` when given, ordered.
pub(super) async fn bots(
    session: &SnapshotSession,
    executor: &QueryExecutor,
    org: Option<uuid::Uuid>,
) -> Result<BTreeSet<Tenant>> {
    let mut rollups = session.ctx.table("rollups").await?;
    if let Some(org) = org {
        rollups = rollups.filter(col("org_id").eq(lit(org.to_string())))?;
    }
    let distinct = rollups
        .select_columns(&["org_id", "env_id", "bot_id"])?
        .distinct()?;
    let batches = executor
        .handle()
        .spawn(distinct.collect())
        .await
        .map_err(|error| DataFusionError::ExecutionJoin(Box::new(error)))??;
    let mut bots = BTreeSet::new();
    for batch in &batches {
        let orgs = columns::strings(batch, "org_id")?;
        let envs = columns::strings(batch, "env_id")?;
        let bot_ids = columns::strings(batch, "bot_id")?;
        for ((org, env), bot) in orgs.iter().zip(&envs).zip(&bot_ids) {
            let id = |text: &Option<String>| text.as_deref().and_then(parse_uuid);
            if let (Some(org_id), Some(env_id), Some(bot_id)) = (id(org), id(env), id(bot)) {
                bots.insert(Tenant {
                    org_id,
                    env_id,
                    bot_id,
                });
            }
        }
    }
    Ok(bots)
}
