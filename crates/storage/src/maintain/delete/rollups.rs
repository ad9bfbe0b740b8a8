//! The rollups a deletion adjusts: what they counted of the deleted rows, taken out of the rollup
//! partitions of the buckets those rows were counted in.

use std::collections::{BTreeSet, HashMap};

use arrow::array::{Array, AsArray};
use chrono::DateTime;
use datafusion::prelude::{Expr, SessionContext};
use talkhouse_core::latest::Latest;
use talkhouse_core::{ContentType, NlpResponse, Sender, Tenant};

use super::DELETED;
use crate::maintain::compact::Partition;
use crate::maintain::session::summed_rollups;
use crate::read::scan::{self, int64s, tenant_at, tenant_columns, texts, uuid_at};
use crate::rollup::{Rollup, RollupCounts, StoredMessage, UserRollupKey, bucket_start};
use crate::schema::{
    EVENTS_TABLE, KIND_CONVERSATION, KIND_MESSAGE, KIND_ROLLUP, KIND_USER_ROLLUP, month_of,
};
use crate::versions::{ConversationVersion, latest_version_first};
use crate::write::encode::RollupRows;
use crate::{Error, Result};

/// What the rollups counted of the deleted rows: every deleted message, and the latest version
/// of every deleted session (all of a doomed session's versions go, so the latest among the
/// deleted is the one the counts hold).
pub(super) async fn retracted_counts(ctx: &SessionContext) -> Result<Rollup> {
    let mut rollup = Rollup::default();
    let messages = ctx
        .sql(&format!(
            "SELECT org_id, env_id, bot_id, sent_at, channel_uuid, tags, sender, content_type,
                    nlp_response
             FROM {DELETED} WHERE kind = '{KIND_MESSAGE}'"
        ))
        .await?
        .collect()
        .await?;
    for batch in &messages {
        let tenants = tenant_columns(batch, 0)?;
        let (sent_at, channel) = (int64s(batch, 3)?, texts(batch, 4)?);
        let tags = batch.column(5).as_list::<i32>();
        let (sender, content_type, nlp) = (texts(batch, 6)?, texts(batch, 7)?, texts(batch, 8)?);
        for row in 0..batch.num_rows() {
            let stored = (|| {
                Some(StoredMessage {
                    tenant: tenant_at(&tenants, row)?,
                    sent_at: DateTime::from_timestamp_micros(sent_at.value(row))?,
                    channel_uuid: uuid_at(&channel, row)?,
                    untagged: tags.value_length(row) == 0,
                    sender: Sender::parse(sender.value(row))?,
                    content_type: ContentType::parse(content_type.value(row))?,
                    nlp_response: match nlp.is_null(row) {
                        true => None,
                        false => Some(NlpResponse::parse(nlp.value(row))?),
                    },
                })
            })()
            .ok_or_else(|| unreadable("message"))?;
            rollup.retract_message(&stored);
        }
    }
    let latest = ctx
        .sql(&format!(
            "SELECT org_id, env_id, bot_id, started_at, channel_uuid, tags, user_id, updated_at,
                    written_at, batch_line
             FROM (SELECT *, ROW_NUMBER() OVER ({}) AS version_rank
                   FROM {DELETED} WHERE kind = '{KIND_CONVERSATION}')
             WHERE version_rank = 1",
            latest_version_first()
        ))
        .await?
        .collect()
        .await?;
    for batch in &latest {
        let tenants = tenant_columns(batch, 0)?;
        let (started_at, channel) = (int64s(batch, 3)?, texts(batch, 4)?);
        let tags = batch.column(5).as_list::<i32>();
        let user = texts(batch, 6)?;
        let order = (int64s(batch, 7)?, int64s(batch, 8)?, int64s(batch, 9)?);
        for row in 0..batch.num_rows() {
            let tenant = tenant_at(&tenants, row).ok_or_else(|| unreadable("conversation"))?;
            let version = ConversationVersion {
                started_at: started_at.value(row),
                channel_uuid: uuid_at(&channel, row).ok_or_else(|| unreadable("conversation"))?,
                user_id: user.value(row).to_string(),
                untagged: tags.value_length(row) == 0,
                order: Latest {
                    at: order.0.value(row),
                    written_at: order.1.value(row),
                    batch_line: order.2.value(row),
                },
            };
            rollup.retract_conversation(tenant, &version);
        }
    }
    Ok(rollup.without_zeros())
}

fn unreadable(kind: &str) -> Error {
    Error::Arrow(arrow::error::ArrowError::SchemaError(format!(
        "a deleted {kind} row has a value this build does not read"
    )))
}

/// The rollup and user rollup partitions of the buckets the retracted counts are in.
pub(super) fn rollup_partitions(retracted: &Rollup) -> Vec<Partition> {
    let partition = |kind: &str, tenant: &Tenant, bucket: i64| Partition {
        bot_id: tenant.bot_id.to_string(),
        kind: kind.to_string(),
        month: month_of(DateTime::from_timestamp_micros(bucket).unwrap_or_default()),
    };
    let buckets = retracted
        .rows()
        .into_iter()
        .map(|(key, _)| partition(KIND_ROLLUP, &key.tenant, key.bucket_start));
    let users = retracted.user_rows().into_iter().map(|(key, _)| {
        partition(
            KIND_USER_ROLLUP,
            &key.rollup.tenant,
            key.rollup.bucket_start,
        )
    });
    buckets
        .chain(users)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The rollup rows of `partitions` with the `retracted` counts taken out. A count below zero would
/// mean the rollups did not count what the table holds: the deletion stops rather than write it.
pub(super) async fn adjusted_rollups(
    ctx: &SessionContext,
    partitions: &[Partition],
    retracted: &Rollup,
) -> Result<RollupRows> {
    let stored = |kind: &'static str| async move {
        let of_kind: Vec<Expr> = partitions
            .iter()
            .filter(|p| p.kind == kind)
            .map(Partition::predicate)
            .collect();
        let rows = ctx
            .table(EVENTS_TABLE)
            .await?
            .filter(scan::any_of(of_kind))?;
        summed_rollups(ctx, rows).await
    };
    let mut buckets: HashMap<_, RollupCounts> = stored(KIND_ROLLUP)
        .await?
        .into_iter()
        .map(|(key, counts)| (key.rollup, counts))
        .collect();
    for (key, counts) in retracted.rows() {
        let sum = buckets.entry(key).or_default();
        for (total, count) in sum.0.iter_mut().zip(counts.0) {
            *total += count;
        }
    }
    let mut users: HashMap<UserRollupKey, i64> = stored(KIND_USER_ROLLUP)
        .await?
        .into_iter()
        .map(|(key, counts)| (key, counts.conversations()))
        .collect();
    for (key, count) in retracted.user_rows() {
        *users.entry(key).or_default() += count;
    }
    let negative =
        buckets.values().any(|c| c.0.iter().any(|n| *n < 0)) || users.values().any(|n| *n < 0);
    if negative {
        return Err(Error::Arrow(arrow::error::ArrowError::ComputeError(
            "the rollups do not count the rows being deleted; nothing was deleted".into(),
        )));
    }
    let mut buckets: Vec<_> = buckets.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    buckets.sort_by_key(|(key, _)| *key);
    let mut users: Vec<_> = users.into_iter().filter(|(_, n)| *n != 0).collect();
    users.sort();
    debug_assert!(
        buckets
            .iter()
            .all(|(key, _)| key.bucket_start == bucket_start(key.bucket_start))
    );
    Ok(RollupRows { buckets, users })
}
