//! `GetSummary`, and the newest event instant every answer's provenance carries.

use chrono::{DateTime, Utc};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::prelude::col;

use super::{Run, Summary, columns, predicates};
use crate::Result;

pub(super) async fn summary(run: &mut Run) -> Result<Summary> {
    let messages = run.messages().await?.aggregate(
        vec![],
        vec![
            min(col("sent_at")).alias("first"),
            max(col("sent_at")).alias("last"),
        ],
    )?;
    let conversations = run.conversations().await?.aggregate(
        vec![],
        vec![
            min(col("started_at")).alias("first"),
            max(col("started_at")).alias("last"),
        ],
    )?;
    let mut first: Option<DateTime<Utc>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    for df in [messages, conversations] {
        for batch in run.collect(df).await? {
            for value in columns::instants(&batch, "first")?.into_iter().flatten() {
                first = Some(first.map_or(value, |f| f.min(value)));
            }
            for value in columns::instants(&batch, "last")?.into_iter().flatten() {
                last = Some(last.map_or(value, |l| l.max(value)));
            }
        }
    }
    Ok(Summary {
        has_data: first.is_some(),
        first_data_set: first,
        last_data_set: last,
        channels: run.channels().await?,
    })
}

/// The latest `sent_at` of the bot's messages or `updated_at` of its conversation versions.
pub(super) async fn newest_event(run: &mut Run) -> Result<Option<DateTime<Utc>>> {
    let messages = run
        .messages()
        .await?
        .aggregate(vec![], vec![max(col("sent_at")).alias("newest")])?;
    let versions = run
        .ctx
        .table("conversation_versions")
        .await?
        .filter(predicates::tenant(&run.tenant))?
        .aggregate(vec![], vec![max(col("updated_at")).alias("newest")])?;
    let mut newest: Option<DateTime<Utc>> = None;
    for df in [messages, versions] {
        for batch in run.collect(df).await? {
            for value in columns::instants(&batch, "newest")?.into_iter().flatten() {
                newest = Some(newest.map_or(value, |n| n.max(value)));
            }
        }
    }
    Ok(newest)
}
