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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::prelude::{Expr, SessionContext, cast, col, lit};
use deltalake_core::kernel::transaction::CommitProperties;
use talkhouse_core::latest::Latest;
use talkhouse_core::request::PersonKey;
use talkhouse_core::{ContentType, NlpResponse, Sender, Tenant};
use uuid::Uuid;

use crate::maintain::compact::{Partition, replace_partitions};
use crate::maintain::session::{spilling_session, summed_rollups};
use crate::read::scan::{self, int64s, tenant_at, tenant_columns, texts, uuid_at};
use crate::rollup::{Rollup, RollupCounts, StoredMessage, UserRollupKey, bucket_start};
use crate::schema::{
    EVENTS_TABLE, KIND_CONVERSATION, KIND_MESSAGE, KIND_ROLLUP, KIND_SUPERSEDED, KIND_USER_ROLLUP,
    month_of,
};
use crate::versions::{BatchVersions, ConversationVersion, latest_version_first};
use crate::write::encode::{RollupRows, encode_derived_rows};
use crate::{Error, EventTable, Result};

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

/// What the rollups counted of the deleted rows: every deleted message, and the latest version
/// of every deleted session (all of a doomed session's versions go, so the latest among the
/// deleted is the one the counts hold).
async fn retracted_counts(ctx: &SessionContext) -> Result<Rollup> {
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
fn rollup_partitions(retracted: &Rollup) -> Vec<Partition> {
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
async fn adjusted_rollups(
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
mod tests {
    use std::collections::HashSet;

    use chrono::NaiveDate;
    use talkhouse_core::Event;
    use talkhouse_core::generate::{GenerateConfig, Generator};

    use super::*;
    use crate::DataLocation;
    use crate::maintain::session::rows_of_kind;

    fn generator() -> Generator {
        Generator::new(GenerateConfig {
            seed: 5,
            bots: 2,
            days: 12,
            until: NaiveDate::from_ymd_opt(2024, 3, 3).unwrap(),
            conversations_per_day: 12,
        })
    }

    async fn table_of(days: &[Vec<Event>]) -> (tempfile::TempDir, EventTable) {
        let folder = tempfile::tempdir().unwrap();
        let table = EventTable::open(&DataLocation::local(folder.path()).unwrap())
            .await
            .unwrap();
        for day in days {
            table.write(day.clone(), None).await.unwrap();
        }
        (folder, table)
    }

    /// The summed rollup and user rollup rows of a table.
    async fn rollups(table: &EventTable) -> Vec<Vec<(UserRollupKey, RollupCounts)>> {
        let mut kinds = Vec::new();
        for kind in [KIND_ROLLUP, KIND_USER_ROLLUP] {
            let (ctx, rows) = rows_of_kind(table, kind).await;
            kinds.push(summed_rollups(&ctx, rows).await.unwrap());
        }
        kinds
    }

    /// Asserts the two tables' rollups are equal, showing the rows that differ.
    async fn assert_same_rollups(table: &EventTable, reference: &EventTable) {
        let (got, want) = (rollups(table).await, rollups(reference).await);
        for (got, want) in got.iter().zip(&want) {
            let got: HashMap<_, _> = got.iter().cloned().collect();
            let want: HashMap<_, _> = want.iter().cloned().collect();
            let differ: Vec<_> = got
                .keys()
                .chain(want.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|key| got.get(key) != want.get(key))
                .map(|key| {
                    (
                        key.rollup.bucket_start,
                        &key.user_id,
                        got.get(key),
                        want.get(key),
                    )
                })
                .take(5)
                .collect();
            assert!(
                differ.is_empty(),
                "rollups differ (bucket, user, got, want): {differ:?}"
            );
        }
    }

    async fn count(table: &EventTable, kind: &str) -> usize {
        let (_, rows) = rows_of_kind(table, kind).await;
        rows.count().await.unwrap()
    }

    /// `days` without every event of the sessions `doomed` picks (by tenant and session code).
    fn without_sessions(
        days: &[Vec<Event>],
        doomed: &HashSet<(Tenant, String)>,
        message_kept: impl Fn(&talkhouse_core::Message) -> bool,
    ) -> Vec<Vec<Event>> {
        days.iter()
            .map(|day| {
                day.iter()
                    .filter(|event| match event {
                        Event::Message(m) => {
                            !doomed.contains(&(m.tenant, m.session_code.clone())) && message_kept(m)
                        }
                        Event::Conversation(c) => {
                            !doomed.contains(&(c.tenant, c.session_code.clone()))
                        }
                    })
                    .cloned()
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn erasing_a_person_leaves_the_table_a_table_of_the_other_sessions_would_be() {
        let generator = generator();
        let days: Vec<Vec<Event>> = generator.events().collect();
        let tenant = generator.bots()[0].tenant;
        // The user with the most sessions of the first bot.
        let mut sessions_of: HashMap<String, HashSet<String>> = HashMap::new();
        for event in days.iter().flatten() {
            if let Event::Message(m) = event
                && m.tenant == tenant
            {
                sessions_of
                    .entry(m.user_id.clone())
                    .or_default()
                    .insert(m.session_code.clone());
            }
        }
        let (user, sessions) = sessions_of
            .into_iter()
            .max_by_key(|(user, s)| (s.len(), user.clone()))
            .unwrap();
        assert!(sessions.len() >= 2, "a user with several sessions");
        let doomed: HashSet<(Tenant, String)> =
            sessions.iter().map(|s| (tenant, s.clone())).collect();

        let (_folder, table) = table_of(&days).await;
        let messages_before = count(&table, KIND_MESSAGE).await;
        let outcome = table
            .delete(&Deletion::Person {
                tenant,
                key: PersonKey::UserId(user.clone()),
            })
            .await
            .unwrap();
        assert_eq!(outcome.sessions, sessions.len() as u64);
        assert!(outcome.messages > 0 && outcome.version.is_some());

        let expected = without_sessions(&days, &doomed, |_| true);
        let (_other, reference) = table_of(&expected).await;
        assert_same_rollups(&table, &reference).await;
        for kind in [KIND_MESSAGE, KIND_CONVERSATION] {
            assert_eq!(
                count(&table, kind).await,
                count(&reference, kind).await,
                "{kind}"
            );
        }
        assert_eq!(
            count(&table, KIND_MESSAGE).await,
            messages_before - outcome.messages as usize
        );
        // Nothing of the person is left, and erasing again finds nothing.
        let (_, rows) = rows_of_kind(&table, KIND_MESSAGE).await;
        let left = rows.filter(col("user_id").eq(lit(user.as_str()))).unwrap();
        assert_eq!(left.count().await.unwrap(), 0);
        let again = table
            .delete(&Deletion::Person {
                tenant,
                key: PersonKey::UserId(user),
            })
            .await
            .unwrap();
        assert_eq!(again.version, None);
        assert_eq!(again.messages, 0);
    }

    #[tokio::test]
    async fn retention_deletes_old_sessions_and_messages_of_its_scope_only() {
        let generator = generator();
        let days: Vec<Vec<Event>> = generator.events().collect();
        let (kept_bot, aged_bot) = (generator.bots()[1].tenant, generator.bots()[0].tenant);
        let before = DateTime::parse_from_rfc3339("2024-02-27T13:20:00Z")
            .unwrap()
            .to_utc();
        // The latest version of each session: greatest `updated_at`, the later one on a tie.
        let mut latest: HashMap<(Tenant, String), &talkhouse_core::Conversation> = HashMap::new();
        for event in days.iter().flatten() {
            if let Event::Conversation(c) = event {
                let key = (c.tenant, c.session_code.clone());
                if latest
                    .get(&key)
                    .is_none_or(|old| c.updated_at >= old.updated_at)
                {
                    latest.insert(key, c);
                }
            }
        }
        let doomed: HashSet<(Tenant, String)> = latest
            .iter()
            .filter(|((tenant, _), c)| *tenant == aged_bot && c.started_at < before)
            .map(|(key, _)| key.clone())
            .collect();
        assert!(!doomed.is_empty());

        let (_folder, table) = table_of(&days).await;
        let scope = RetentionScope {
            org_id: aged_bot.org_id,
            bot: None,
            except: if kept_bot.org_id == aged_bot.org_id {
                vec![kept_bot]
            } else {
                Vec::new()
            },
        };
        let outcome = table
            .delete(&Deletion::OlderThan { scope, before })
            .await
            .unwrap();
        assert_eq!(outcome.sessions, doomed.len() as u64);

        let expected = without_sessions(&days, &doomed, |m| {
            m.tenant != aged_bot || m.sent_at >= before
        });
        let (_other, reference) = table_of(&expected).await;
        assert_same_rollups(&table, &reference).await;
        for kind in [KIND_MESSAGE, KIND_CONVERSATION] {
            assert_eq!(
                count(&table, kind).await,
                count(&reference, kind).await,
                "{kind}"
            );
        }
    }
}
