//! One request's run: its snapshot and session, its bot, where its plans run, its memory
//! budget, and what its scans read.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::max;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionContext, col};
use object_store::path::Path;
use talkhouse_core::Tenant;
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;
use talkhouse_storage::{SessionRows, Snapshot};
use tracing::Instrument;

use super::caches::BotCaches;
use super::predicates;
use crate::budget::MemoryBudget;
use crate::columns;
use crate::index::{self, BotFacts, RollupIndex, Source, UserIndex};
use crate::model::{Answer, Channel, Provenance, ServedBy};
use crate::{QueryExecutor, Result, SnapshotSession};

/// Files whose rows are read at the same time.
const FILES_AT_ONCE: usize = 4;

/// The number of rows of `df`, as the one row of column `n`.
pub(super) fn counted(df: DataFrame) -> Result<DataFrame> {
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::prelude::lit;
    Ok(df.aggregate(vec![], vec![count(lit(1)).alias("n")])?)
}

/// The answer of [`counted`].
pub(super) fn count_in(batches: &[RecordBatch]) -> Result<u64> {
    Ok(batches
        .first()
        .map(|b| columns::int64s(b, "n"))
        .transpose()?
        .and_then(|n| n.first().copied().flatten())
        .unwrap_or(0) as u64)
}

/// One request's session: a snapshot, a bot, and what its scans read so far.
pub(super) struct Run {
    ctx: SessionContext,
    /// Where its plans run.
    executor: QueryExecutor,
    /// The request's own memory budget, shared by all its plans; `None` is unbounded.
    budget: Option<MemoryBudget>,
    snapshot: Snapshot,
    /// Whether this run may read rollups.
    rollups: bool,
    served_by: ServedBy,
    caches: Arc<BotCaches>,
    tenant: Tenant,
    rows_scanned: u64,
    bytes_scanned: u64,
    started: Instant,
}

impl Run {
    pub(super) fn new(
        session: SnapshotSession,
        executor: QueryExecutor,
        memory_limit: Option<usize>,
        use_rollups: bool,
        caches: Arc<BotCaches>,
        tenant: Tenant,
    ) -> Result<Self> {
        let budget = memory_limit
            .map(|bytes| MemoryBudget::new(&session.ctx, bytes))
            .transpose()?;
        Ok(Self {
            ctx: session.ctx,
            executor,
            budget,
            rollups: use_rollups,
            snapshot: session.snapshot,
            served_by: ServedBy::EventTables,
            caches,
            tenant,
            rows_scanned: 0,
            bytes_scanned: 0,
            started: Instant::now(),
        })
    }

    /// `value` with what it was computed from and what it cost.
    pub(super) async fn answer<T>(mut self, value: T) -> Result<Answer<T>> {
        let data_as_of = self.data_as_of().await?;
        Ok(Answer {
            value,
            provenance: Provenance {
                snapshot: self.snapshot.version,
                data_as_of,
                served_by: self.served_by,
                rows_scanned: self.rows_scanned,
                bytes_scanned: self.bytes_scanned,
                elapsed: self.started.elapsed(),
            },
        })
    }

    /// The bot's rows of a view.
    async fn of_bot(&self, view: &str) -> Result<DataFrame> {
        Ok(self
            .ctx
            .table(view)
            .await?
            .filter(predicates::tenant(&self.tenant))?)
    }

    /// The bot's messages.
    pub(super) async fn messages(&self) -> Result<DataFrame> {
        self.of_bot("messages").await
    }

    /// The latest versions of the bot's conversation records.
    pub(super) async fn conversations(&self) -> Result<DataFrame> {
        self.of_bot("conversations").await
    }

    /// Every version of the bot's conversation records.
    pub(super) async fn conversation_versions(&self) -> Result<DataFrame> {
        self.of_bot("conversation_versions").await
    }

    /// The bot's channels, ordered by uuid.
    pub(super) async fn channels(&mut self) -> Result<Vec<Channel>> {
        if let Some(facts) = self.bot_facts().await? {
            return Ok(facts.channels.clone());
        }
        if let Some(known) = self.caches.channels.get(self.snapshot.version, self.tenant) {
            return Ok(known);
        }
        let df = self
            .of_bot("channels")
            .await?
            .sort(vec![col("channel_uuid").sort(true, false)])?;
        let mut channels = Vec::new();
        for batch in self.collect(df).await? {
            let uuids = columns::strings(&batch, "channel_uuid")?;
            let names = columns::strings(&batch, "channel_name")?;
            let types = columns::strings(&batch, "channel_type")?;
            for ((uuid, name), channel_type) in uuids.into_iter().zip(names).zip(types) {
                channels.push(Channel {
                    uuid: uuid.unwrap_or_default(),
                    name: name.unwrap_or_default(),
                    channel_type,
                });
            }
        }
        self.caches
            .channels
            .insert(self.snapshot.version, self.tenant, channels.clone());
        Ok(channels)
    }

    /// The newest event instant of the bot.
    pub(super) async fn data_as_of(&mut self) -> Result<Option<DateTime<Utc>>> {
        if let Some(facts) = self.bot_facts().await? {
            return Ok(facts.newest);
        }
        if let Some(known) = self
            .caches
            .data_as_of
            .get(self.snapshot.version, self.tenant)
        {
            return Ok(known);
        }
        let (rows, bytes) = (self.rows_scanned, self.bytes_scanned);
        let newest = self.newest_event().await?;
        (self.rows_scanned, self.bytes_scanned) = (rows, bytes);
        self.caches
            .data_as_of
            .insert(self.snapshot.version, self.tenant, newest);
        Ok(newest)
    }

    /// The latest `sent_at` of the bot's messages or `updated_at` of its conversation versions,
    /// from the views.
    async fn newest_event(&mut self) -> Result<Option<DateTime<Utc>>> {
        let messages = self
            .messages()
            .await?
            .aggregate(vec![], vec![max(col("sent_at")).alias("newest")])?;
        let versions = self
            .conversation_versions()
            .await?
            .aggregate(vec![], vec![max(col("updated_at")).alias("newest")])?;
        let mut newest: Option<DateTime<Utc>> = None;
        for df in [messages, versions] {
            for batch in self.collect(df).await? {
                for value in columns::instants(&batch, "newest")?.into_iter().flatten() {
                    newest = Some(newest.map_or(value, |n| n.max(value)));
                }
            }
        }
        Ok(newest)
    }

    /// The bot's facts from those of its live files, cached for the snapshot; `None` where the
    /// table lacks rollups or the run may not use them (answers then come from the views over
    /// all of the bot's events).
    pub(super) async fn bot_facts(&mut self) -> Result<Option<Arc<BotFacts>>> {
        if !self.rollups {
            return Ok(None);
        }
        self.caches.clone().indexes.bot_facts(self).await
    }

    /// The bot's rollup index when it answers `filter` over `classifier` (see
    /// [`index::answers`]); `None` where the run may not use rollups or the snapshot is not read
    /// file by file.
    pub(super) async fn rollup_index(
        &mut self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> Result<Option<Arc<RollupIndex>>> {
        if !self.rollups || !index::answers(filter, classifier, None) {
            return Ok(None);
        }
        let span = tracing::info_span!("index", index = "rollups");
        self.caches
            .clone()
            .indexes
            .rollups(self)
            .instrument(span)
            .await
    }

    /// The bot's user index when it answers `filter` over `classifier`, with NEW from `since`
    /// if asked; `None` where the run may not use rollups or the snapshot is not read file by
    /// file.
    pub(super) async fn user_index(
        &mut self,
        filter: &Filter,
        classifier: &Classifier,
        since: Option<i64>,
    ) -> Result<Option<Arc<UserIndex>>> {
        if !self.rollups || !index::answers(filter, classifier, since) {
            return Ok(None);
        }
        let span = tracing::info_span!("index", index = "users");
        self.caches
            .clone()
            .indexes
            .users(self)
            .instrument(span)
            .await
    }

    /// Marks the answer as computed from the indexes, and passes `value` on.
    pub(super) fn answered_by_index<T>(&mut self, value: T) -> T {
        self.served_by = ServedBy::Rollups;
        value
    }

    /// The session's rows of `kind` read straight from the files that may hold it; `None` when
    /// the snapshot is not read file by file.
    pub(super) async fn session_rows(
        &self,
        kind: &str,
        session_code: &str,
        columns: &[&str],
    ) -> Result<Option<SessionRows>> {
        let runtime = self.ctx.runtime_env();
        let read = self
            .snapshot
            .session_rows(&runtime, &self.tenant, kind, session_code, columns)
            .await;
        Ok(read.transpose()?)
    }

    /// The batches of `read`, with what reading them cost added to the run.
    pub(super) fn add_read(&mut self, read: SessionRows) -> Vec<RecordBatch> {
        self.rows_scanned += read.rows_read;
        self.bytes_scanned += read.bytes_read;
        read.batches
    }

    /// The channels an answer lists: those asked for, in the order asked, or every channel of
    /// the bot by uuid.
    pub(super) async fn listed_channels(&mut self, filter: &Filter) -> Result<Vec<Channel>> {
        let known = self.channels().await?;
        if filter.channels.is_empty() {
            return Ok(known);
        }
        Ok(filter
            .channels
            .iter()
            .map(|uuid| {
                let uuid = uuid.to_string();
                known
                    .iter()
                    .find(|c| c.uuid == uuid)
                    .cloned()
                    .unwrap_or(Channel {
                        uuid,
                        name: String::new(),
                        channel_type: None,
                    })
            })
            .collect())
    }

    /// Runs a plan and adds what its scans read to the run.
    pub(super) async fn collect(&mut self, df: DataFrame) -> Result<Vec<RecordBatch>> {
        let mut answers = self.collect_all(vec![df]).await?;
        Ok(answers.pop().unwrap_or_default())
    }

    /// Runs independent plans a few at a time (each reading one file, say) and adds what their
    /// scans read to the run.
    async fn collect_few_at_a_time(
        &mut self,
        dfs: Vec<DataFrame>,
    ) -> Result<Vec<Vec<RecordBatch>>> {
        let mut answers = Vec::with_capacity(dfs.len());
        let mut dfs = dfs.into_iter().peekable();
        while dfs.peek().is_some() {
            let group = dfs.by_ref().take(FILES_AT_ONCE).collect();
            answers.extend(self.collect_all(group).await?);
        }
        Ok(answers)
    }

    /// Runs independent plans at the same time, each planned and run on a task of its own (so
    /// that planning, too, uses every core), and adds what their scans read to the run. Dropping
    /// the future aborts the tasks.
    pub(super) async fn collect_all(
        &mut self,
        dfs: Vec<DataFrame>,
    ) -> Result<Vec<Vec<RecordBatch>>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, df) in dfs.into_iter().enumerate() {
            let task = Arc::new(self.task(&df));
            let plan_and_run = async move {
                let plan = df
                    .create_physical_plan()
                    .instrument(tracing::info_span!("planning"))
                    .await?;
                let execution = tracing::info_span!(
                    "execution",
                    rows = tracing::field::Empty,
                    bytes_scanned = tracing::field::Empty
                );
                let batches = datafusion::physical_plan::collect(plan.clone(), task)
                    .instrument(execution.clone())
                    .await?;
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                execution.record("rows", rows);
                execution.record("bytes_scanned", scanned(&plan).1);
                Ok::<_, DataFusionError>((index, plan, batches))
            };
            tasks.spawn_on(plan_and_run.in_current_span(), self.executor.handle());
        }
        let mut answers = vec![Vec::new(); tasks.len()];
        while let Some(done) = tasks.join_next().await {
            let (index, plan, batches) = done
                .map_err(|error| DataFusionError::ExecutionJoin(Box::new(error)))?
                .map_err(|error| self.read_error(error))?;
            self.add_scan_metrics(&plan);
            answers[index] = batches;
        }
        Ok(answers)
    }

    /// A file of the snapshot gone from storage means vacuum deleted it, the version being older
    /// than the retention window: the version is no longer available, which the caller can act on.
    fn read_error(&self, error: DataFusionError) -> crate::Error {
        if is_missing_file(&error) {
            talkhouse_storage::Error::SnapshotUnavailable {
                version: self.snapshot.version,
            }
            .into()
        } else {
            error.into()
        }
    }

    /// Runs a plan as a stream of batches, under the run's memory budget.
    pub(super) async fn stream(
        &mut self,
        df: DataFrame,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream> {
        let task = Arc::new(self.task(&df));
        let plan = df.create_physical_plan().await?;
        Ok(self.executor.stream(plan, task))
    }

    fn task(&self, df: &DataFrame) -> datafusion::execution::TaskContext {
        let mut task = df.task_ctx();
        if let Some(budget) = &self.budget {
            task = task
                .with_runtime(budget.runtime.clone())
                .with_session_config(budget.config.clone());
        }
        task
    }

    pub(super) async fn count(&mut self, df: DataFrame) -> Result<u64> {
        let batches = self.collect(counted(df)?).await?;
        count_in(&batches)
    }

    fn add_scan_metrics(&mut self, plan: &Arc<dyn ExecutionPlan>) {
        let (rows, bytes) = scanned(plan);
        self.rows_scanned += rows;
        self.bytes_scanned += bytes;
    }
}

impl Source for Run {
    fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn tenant(&self) -> Tenant {
        self.tenant
    }

    fn file_rows(&self, location: &Path) -> Result<Option<DataFrame>> {
        let Some(table) = self.snapshot.file_table(location) else {
            return Ok(None);
        };
        Ok(Some(
            self.ctx
                .read_table(table?)?
                .filter(predicates::tenant(&self.tenant))?,
        ))
    }

    async fn collect_each(&mut self, plans: Vec<DataFrame>) -> Result<Vec<Vec<RecordBatch>>> {
        self.collect_few_at_a_time(plans).await
    }
}

/// Whether the error, or one of its causes, is a file not found in storage.
fn is_missing_file(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(object_store::Error::NotFound { .. }) = error.downcast_ref() {
            return true;
        }
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The rows and bytes the scans of `plan` read.
fn scanned(plan: &Arc<dyn ExecutionPlan>) -> (u64, u64) {
    let mut read = (0, 0);
    if plan.children().is_empty()
        && let Some(metrics) = plan.metrics()
    {
        read.0 += metrics.output_rows().unwrap_or(0) as u64;
        read.1 += metrics
            .sum_by_name("bytes_scanned")
            .map_or(0, |v| v.as_usize()) as u64;
    }
    for child in plan.children() {
        let (rows, bytes) = scanned(child);
        read.0 += rows;
        read.1 += bytes;
    }
    read
}
