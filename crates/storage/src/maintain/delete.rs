//! Deleting rows for good, in one atomic commit: a person's sessions (erasure), or what is older
//! than a retention period, with the rollups that counted them adjusted in the same commit.
//!
//! A deletion is decided as whole sessions: every row of a doomed session goes (its messages, its
//! conversation versions, the rows naming its superseded versions). What stays of every other
//! session is untouched, so its latest version is what it was, and the rollups lose exactly the
//! deleted messages and each doomed session's latest version (decision 40). Retention also takes
//! the messages sent before its instant out of the sessions that stay.
//!
//! The commit rewrites the partitions holding deleted rows without them, and the rollup
//! partitions of the buckets they were counted in with their counts taken out (`replaceWhere` on
//! the partitions, as compaction does): a reader sees the table before or after, never between. A
//! process killed before the commit leaves only unreferenced files. The replaced files stay
//! readable to earlier versions until vacuum deletes them.

mod rollups;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::prelude::{Expr, SessionContext, cast, col, lit};
use deltalake_core::kernel::transaction::CommitProperties;
use talkhouse_core::Tenant;
use talkhouse_core::request::PersonKey;
use uuid::Uuid;

use crate::maintain::compact::{Partition, replace_partitions};
use crate::maintain::session::spilling_session;
use crate::read::scan::{self, int64s, texts};
use crate::schema::{EVENTS_TABLE, KIND_CONVERSATION, KIND_MESSAGE, KIND_SUPERSEDED};
use crate::versions::{BatchVersions, latest_version_first};
use crate::write::encode::encode_derived_rows;
use crate::{EventTable, Result};
use rollups::{adjusted_rollups, retracted_counts, rollup_partitions};

/// The commit metadata key of a deletion's summary (counts only: never what was deleted).
pub const DELETION_METADATA: &str = "talkhouse.deletion";

/// The tenants a retention period applies to: an organization's or one bot's, less those with a
/// period of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionScope {
    pub org_id: Uuid,
    /// One environment and bot of the organization; every one when `None`.
    pub bot: Option<(Uuid, Uuid)>,
    /// Bots of the organization left out.
    pub except: Vec<Tenant>,
}

impl RetentionScope {
    fn predicate(&self) -> Expr {
        let mut predicate = col("org_id").eq(lit(self.org_id.to_string()));
        if let Some((env_id, bot_id)) = self.bot {
            predicate = predicate.and(tenant_predicate(&Tenant {
                org_id: self.org_id,
                env_id,
                bot_id,
            }));
        }
        for tenant in &self.except {
            predicate = predicate.and(!tenant_predicate(tenant));
        }
        predicate
    }
}

/// What a deletion takes out of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Every session of `tenant` in which a message or conversation version carries the person's
    /// key.
    Person { tenant: Tenant, key: PersonKey },
    /// In the scope: the sessions whose latest version started before `before`, and the messages
    /// sent before it.
    OlderThan {
        scope: RetentionScope,
        before: DateTime<Utc>,
    },
}

impl Deletion {
    /// The rows the deletion may touch, as a filter the scan prunes partitions with.
    fn scope(&self) -> Expr {
        match self {
            Deletion::Person { tenant, .. } => tenant_predicate(tenant),
            Deletion::OlderThan { scope, .. } => scope.predicate(),
        }
    }
}

/// What a deletion did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeletionOutcome {
    /// The version that holds the deletion; `None` when there was nothing to delete.
    pub version: Option<u64>,
    pub sessions: u64,
    pub messages: u64,
    pub conversation_versions: u64,
    /// Partitions rewritten, rollup partitions included.
    pub partitions: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// The views a deletion's queries read, as they name them.
const SCOPED: &str = "deletion_scoped";
const DOOMED_SESSIONS: &str = "deletion_doomed_sessions";
const MARKED: &str = "deletion_marked";
const DELETED: &str = "deletion_deleted";
/// The column of [`MARKED`] that says whether a row goes.
const DOOMED: &str = "deletion_doomed";

impl EventTable {
    /// Deletes what `deletion` names in one commit, the rollups adjusted in it.
    pub async fn delete(&self, deletion: &Deletion) -> Result<DeletionOutcome> {
        let span = tracing::info_span!(
            "deletion",
            version = tracing::field::Empty,
            sessions = tracing::field::Empty,
            messages = tracing::field::Empty,
        );
        let outcome =
            tracing::Instrument::instrument(self.delete_in_one_commit(deletion), span.clone())
                .await?;
        span.record("version", outcome.version);
        span.record("sessions", outcome.sessions);
        span.record("messages", outcome.messages);
        if outcome.version.is_some() {
            self.activity_counters()
                .deletion(outcome.sessions, outcome.messages);
        }
        Ok(outcome)
    }

    async fn delete_in_one_commit(&self, deletion: &Deletion) -> Result<DeletionOutcome> {
        let started = Instant::now();
        // This process's ingest waits: a batch looked up before the deletion must not commit
        // after it.
        let mut writer = self.writer().await;
        let table = self.fresh_table().await?;
        let ctx = spilling_session(&table, self.file_statistics()).await?;
        let events = ctx.table(EVENTS_TABLE).await?;
        ctx.register_table(SCOPED, events.clone().filter(deletion.scope())?.into_view())?;
        register_doomed_sessions(&ctx, deletion).await?;
        let old_messages = match deletion {
            Deletion::Person { .. } => lit(false),
            Deletion::OlderThan { scope, before } => col("kind")
                .eq(lit(KIND_MESSAGE))
                .and(col("sent_at").lt(instant(*before)))
                .and(scope.predicate()),
        };
        let marked = ctx
            .sql(&format!(
                "SELECT e.*, (e.kind IN ('{KIND_MESSAGE}', '{KIND_CONVERSATION}', '{KIND_SUPERSEDED}')
                              AND d.session_code IS NOT NULL) AS {DOOMED}
                 FROM {EVENTS_TABLE} e LEFT JOIN {DOOMED_SESSIONS} d
                   ON e.org_id = d.org_id AND e.env_id = d.env_id AND e.bot_id = d.bot_id
                  AND e.session_code = d.session_code"
            ))
            .await?;
        let marked = marked.with_column(DOOMED, col(DOOMED).or(old_messages))?;
        ctx.register_table(MARKED, marked.clone().into_view())?;
        let deleted = marked.filter(deletion.scope())?.filter(col(DOOMED))?;
        ctx.register_table(DELETED, deleted.into_view())?;

        let mut outcome = count_deleted(&ctx).await?;
        let event_partitions = partitions_of(&ctx).await?;
        if event_partitions.is_empty() {
            outcome.elapsed = started.elapsed();
            return Ok(outcome);
        }
        let retracted = retracted_counts(&ctx).await?;
        let rollup_partitions = rollup_partitions(&retracted);
        let rows = adjusted_rollups(&ctx, &rollup_partitions, &retracted).await?;

        let schema = table.snapshot()?.snapshot().arrow_schema();
        let written_at = writer.next_written_at();
        let derived =
            encode_derived_rows(0, &BatchVersions::default(), &rows, &schema, written_at)?;
        let in_event_partitions =
            scan::any_of(event_partitions.iter().map(Partition::predicate).collect());
        let partitions: Vec<Partition> = event_partitions
            .into_iter()
            .chain(rollup_partitions)
            .collect();
        let in_partitions = scan::any_of(partitions.iter().map(Partition::predicate).collect());
        let columns: Vec<Expr> = schema.fields().iter().map(|f| col(f.name())).collect();
        // The rollup partitions are written whole from `derived`.
        let kept = ctx
            .table(MARKED)
            .await?
            .filter(in_event_partitions)?
            .filter(!col(DOOMED))?
            .select(columns)?
            .sort(vec![
                col("kind").sort(true, true),
                col("sent_at").sort(true, true),
                col("started_at").sort(true, true),
                col("session_code").sort(true, true),
            ])?;
        let input = kept.clone().union(like(&ctx, derived, &kept)?)?;

        outcome.partitions = partitions.len() as u64;
        let summary =
            serde_json::to_value(&outcome).map_err(deltalake_core::DeltaTableError::from)?;
        let commit =
            CommitProperties::default().with_metadata([(DELETION_METADATA.to_string(), summary)]);
        let committed = replace_partitions(table, &ctx, input, in_partitions, commit).await?;
        outcome.version = committed.version();
        writer.table = committed;
        drop(writer);
        self.expect_commit().await;
        outcome.elapsed = started.elapsed();
        Ok(outcome)
    }
}

/// The rows of one tenant.
fn tenant_predicate(tenant: &Tenant) -> Expr {
    col("org_id")
        .eq(lit(tenant.org_id.to_string()))
        .and(col("env_id").eq(lit(tenant.env_id.to_string())))
        .and(col("bot_id").eq(lit(tenant.bot_id.to_string())))
}

/// An instant as the table's timestamps hold it.
fn instant(at: DateTime<Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(at.timestamp_micros()),
        Some("UTC".into()),
    ))
}

/// Registers the sessions that go, in memory: few for a person, and a retention round's are
/// read once.
async fn register_doomed_sessions(ctx: &SessionContext, deletion: &Deletion) -> Result<()> {
    let session = ["org_id", "env_id", "bot_id", "session_code"];
    let sessions: DataFrame = match deletion {
        Deletion::Person { key, .. } => ctx
            .table(SCOPED)
            .await?
            .filter(
                col("kind")
                    .in_list(vec![lit(KIND_MESSAGE), lit(KIND_CONVERSATION)], false)
                    .and(col(key.column()).eq(lit(key.value()))),
            )?
            .select_columns(&session)?
            .distinct()?,
        Deletion::OlderThan { before, .. } => ctx
            .sql(&format!(
                "SELECT org_id, env_id, bot_id, session_code, started_at FROM (
                     SELECT org_id, env_id, bot_id, session_code, started_at,
                            ROW_NUMBER() OVER ({}) AS version_rank
                     FROM {SCOPED} WHERE kind = '{KIND_CONVERSATION}')
                 WHERE version_rank = 1",
                latest_version_first()
            ))
            .await?
            .filter(col("started_at").lt(instant(*before)))?
            .select_columns(&session)?,
    };
    let schema = Arc::new(sessions.schema().as_arrow().clone());
    let batches = sessions.collect().await?;
    ctx.register_table(
        DOOMED_SESSIONS,
        Arc::new(MemTable::try_new(schema, vec![batches])?),
    )?;
    Ok(())
}

/// How many sessions (of the doomed ones), messages and conversation versions go.
async fn count_deleted(ctx: &SessionContext) -> Result<DeletionOutcome> {
    let batches = ctx
        .sql(&format!(
            "SELECT (SELECT COUNT(*) FROM {DOOMED_SESSIONS}),
                    COUNT(CASE WHEN kind = '{KIND_MESSAGE}' THEN 1 END),
                    COUNT(CASE WHEN kind = '{KIND_CONVERSATION}' THEN 1 END)
             FROM {DELETED}"
        ))
        .await?
        .collect()
        .await?;
    let count = |index| -> Result<u64> {
        Ok(batches
            .first()
            .map(|batch| int64s(batch, index).map(|column| column.value(0).max(0) as u64))
            .transpose()?
            .unwrap_or(0))
    };
    Ok(DeletionOutcome {
        sessions: count(0)?,
        messages: count(1)?,
        conversation_versions: count(2)?,
        ..DeletionOutcome::default()
    })
}

/// The partitions holding deleted rows.
async fn partitions_of(ctx: &SessionContext) -> Result<Vec<Partition>> {
    let batches = ctx
        .sql(&format!(
            "SELECT DISTINCT bot_id, kind, month FROM {DELETED}"
        ))
        .await?
        .collect()
        .await?;
    let mut partitions = BTreeSet::new();
    for batch in batches {
        let (bot, kind, month) = (texts(&batch, 0)?, texts(&batch, 1)?, texts(&batch, 2)?);
        for row in 0..batch.num_rows() {
            partitions.insert(Partition {
                bot_id: bot.value(row).to_string(),
                kind: kind.value(row).to_string(),
                month: month.value(row).to_string(),
            });
        }
    }
    Ok(partitions.into_iter().collect())
}

/// `batch` as a plan with the column types of `like`: the rows a session reads of the table have
/// plain strings, the encoder's batch the table's own types.
fn like(ctx: &SessionContext, batch: RecordBatch, like: &DataFrame) -> Result<DataFrame> {
    let columns: Vec<Expr> = like
        .schema()
        .fields()
        .iter()
        .map(|field| cast(col(field.name()), field.data_type().clone()).alias(field.name()))
        .collect();
    Ok(ctx.read_batch(batch)?.select(columns)?)
}

#[cfg(test)]
mod tests;
