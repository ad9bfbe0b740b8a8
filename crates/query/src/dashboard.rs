//! The dashboard endpoints, each compiled into DataFusion plans over one table snapshot.
//!
//! One module per endpoint group builds its plans; [`Dashboard`] runs them for a bot and wraps
//! every answer with its [`Provenance`]: the snapshot read, the newest event of the bot in it,
//! and the rows and bytes the scans read.

mod bot_facts;
mod bucketed;
mod classify;
mod columns;
mod file_rows;
mod model;
mod predicates;
mod report;
mod rollups;
mod rows;
mod search;
mod series;
mod summary;
mod traffic;
mod transcript;
mod user_rollups;

pub use model::{
    Accuracy, BreakdownItem, Channel, ConversationRow, Dataset, MessageRow, Overview, PageOf,
    SeriesAnswer, Summary, Traffic, Transcript,
};
pub use report::{CONVERSATION_COLUMNS, MESSAGE_COLUMNS, ReportRows};
pub use series::SeriesResource;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext, col};
use talkhouse_core::Tenant;
use talkhouse_core::request::{
    ConversationSearch, ConversationSelection, Filter, MessageSearch, MessageSelection,
};
use talkhouse_core::window::Granularity;
use talkhouse_storage::Snapshot;
use tracing::Instrument;

use self::bot_facts::{BotFacts, FileFactsCache};
use self::file_rows::IndexCache;
use self::rollups::{BucketRow, RollupIndex};
use self::user_rollups::{UserIndex, UserRow};
use crate::{QueryEngine, QueryExecutor, Result};

/// How an answer was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    EventTables,
    /// The rollup rows of the same snapshot (see `talkhouse_storage::rollup`).
    Rollups,
}

/// What an answer was computed from, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub snapshot: u64,
    /// The newest event instant of the bot in the snapshot.
    pub data_as_of: Option<DateTime<Utc>>,
    pub served_by: ServedBy,
    pub rows_scanned: u64,
    pub bytes_scanned: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    pub provenance: Provenance,
}

/// Facts of one (snapshot, bot): a snapshot never changes, so neither do they. Entries of older
/// snapshots are dropped when a newer one is first seen: the commit log invalidates, not a clock.
struct SnapshotCache<T> {
    entries: Mutex<HashMap<(u64, Tenant), T>>,
}

impl<T: Clone> SnapshotCache<T> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, snapshot: u64, tenant: Tenant) -> Option<T> {
        let entries = self.entries.lock().expect("not poisoned");
        entries.get(&(snapshot, tenant)).cloned()
    }

    fn forget(&self, tenant: Tenant) {
        let mut entries = self.entries.lock().expect("not poisoned");
        entries.retain(|(_, t), _| *t != tenant);
    }

    fn insert(&self, snapshot: u64, tenant: Tenant, value: T) {
        let mut entries = self.entries.lock().expect("not poisoned");
        let newest = entries.keys().map(|(s, _)| *s).max().unwrap_or(0);
        if snapshot > newest {
            entries.retain(|(s, _), _| *s == newest);
        }
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert((snapshot, tenant), value);
    }
}

/// Answers the dashboard endpoints for any bot.
pub struct Dashboard {
    engine: QueryEngine,
    executor: QueryExecutor,
    caches: Arc<BotCaches>,
    memory_limit: Option<usize>,
    use_rollups: bool,
}

impl Dashboard {
    pub fn new(engine: QueryEngine) -> Self {
        Self {
            engine,
            executor: QueryExecutor::per_core().expect("the query threads start"),
            caches: Arc::new(BotCaches::new(DEFAULT_INDEX_MEMORY)),
            memory_limit: None,
            use_rollups: true,
        }
    }

    /// Plans run on `executor`'s threads (by default, a runtime of one thread per core of its
    /// own).
    pub fn with_executor(mut self, executor: QueryExecutor) -> Self {
        self.executor = executor;
        self
    }

    /// Whether traffic, accuracy and series may be answered from rollups (the default) or only
    /// ever from the event tables; both give the same answers.
    pub fn with_rollups(mut self, use_rollups: bool) -> Self {
        self.use_rollups = use_rollups;
        self
    }

    /// Bounds the memory the rollup and user rollup rows of the bots asked about may hold, each
    /// kind half of it; the bots asked about longest ago are forgotten first.
    pub fn with_index_memory(mut self, bytes: usize) -> Self {
        self.caches = Arc::new(BotCaches::new(bytes));
        self
    }

    /// Bounds the memory each request's operators may hold (sorts, aggregations, joins); a
    /// request that needs more fails with `ResourcesExhausted` instead of growing the process.
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    pub async fn summary(&self, tenant: Tenant) -> Result<Answer<Summary>> {
        let mut run = self.start(tenant, None).await?;
        let value = summary::summary(&mut run).await?;
        self.finish(run, value).await
    }

    pub async fn conversation_traffic(
        &self,
        tenant: Tenant,
        filter: &Filter,
    ) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::conversations(&mut run, filter).await?;
        self.finish(run, value).await
    }

    pub async fn message_traffic(
        &self,
        tenant: Tenant,
        filter: &Filter,
    ) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::messages(&mut run, filter).await?;
        self.finish(run, value).await
    }

    pub async fn user_traffic(&self, tenant: Tenant, filter: &Filter) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::users(&mut run, filter).await?;
        self.finish(run, value).await
    }

    pub async fn accuracy(&self, tenant: Tenant, filter: &Filter) -> Result<Answer<Accuracy>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::accuracy(&mut run, filter).await?;
        self.finish(run, value).await
    }

    /// `granularity` `None` is AUTO.
    pub async fn series(
        &self,
        tenant: Tenant,
        resource: SeriesResource,
        filter: &Filter,
        granularity: Option<Granularity>,
    ) -> Result<Answer<SeriesAnswer>> {
        let mut run = self.start(tenant, None).await?;
        let value = series::series(&mut run, resource, filter, granularity).await?;
        self.finish(run, value).await
    }

    pub async fn search_conversations(
        &self,
        tenant: Tenant,
        search: &ConversationSearch,
        snapshot: Option<u64>,
    ) -> Result<Answer<PageOf<ConversationRow>>> {
        let mut run = self.start(tenant, snapshot).await?;
        let value = search::conversations(&mut run, search).await?;
        self.finish(run, value).await
    }

    pub async fn search_messages(
        &self,
        tenant: Tenant,
        search: &MessageSearch,
        snapshot: Option<u64>,
    ) -> Result<Answer<PageOf<MessageRow>>> {
        let mut run = self.start(tenant, snapshot).await?;
        let value = search::messages(&mut run, search).await?;
        self.finish(run, value).await
    }

    /// `None` when the bot has neither a record nor a message of the session.
    pub async fn transcript(
        &self,
        tenant: Tenant,
        session_code: &str,
    ) -> Result<Answer<Option<Transcript>>> {
        let mut run = self.start(tenant, None).await?;
        let value = transcript::transcript(&mut run, session_code).await?;
        self.finish(run, value).await
    }

    /// The number of conversations a report would hold, before its cap.
    pub async fn count_conversations(
        &self,
        tenant: Tenant,
        selection: &ConversationSelection,
    ) -> Result<Answer<u64>> {
        let mut run = self.start(tenant, None).await?;
        let df = search::selected_conversations(&run, selection).await?;
        let value = run.count(df).await?;
        self.finish(run, value).await
    }

    /// The number of messages a report would hold, before its cap.
    pub async fn count_messages(
        &self,
        tenant: Tenant,
        selection: &MessageSelection,
    ) -> Result<Answer<u64>> {
        let mut run = self.start(tenant, None).await?;
        let df = search::selected_messages(&run, selection).await?;
        let value = run.count(df).await?;
        self.finish(run, value).await
    }

    /// The latest table version, which a report pins so that it reads the same data however
    /// late it runs.
    pub async fn latest_snapshot(&self) -> Result<u64> {
        Ok(self.engine.table().latest_version().await?)
    }

    /// Whether the bot has a record or a message of the session.
    pub async fn has_session(&self, tenant: Tenant, session_code: &str) -> Result<bool> {
        let mut run = self.start(tenant, None).await?;
        transcript::has_session(&mut run, session_code).await
    }

    /// A report's rows in order, read from `snapshot` under the request memory budget.
    /// `seed` draws a random sample.
    pub async fn report_rows(
        &self,
        tenant: Tenant,
        spec: &talkhouse_core::report::ReportSpec,
        snapshot: u64,
        seed: u64,
    ) -> Result<ReportRows> {
        let mut run = self.start(tenant, Some(snapshot)).await?;
        report::rows(&mut run, spec, seed).await
    }

    async fn start(&self, tenant: Tenant, snapshot: Option<u64>) -> Result<Run> {
        let session = self.engine.session_at(snapshot).await?;
        let budget = self
            .memory_limit
            .map(|bytes| MemoryBudget::new(&session.ctx, bytes))
            .transpose()?;
        Ok(Run {
            ctx: session.ctx,
            executor: self.executor.clone(),
            budget,
            rollups: self.use_rollups && session.snapshot.has_rollups,
            snapshot: session.snapshot,
            served_by: ServedBy::EventTables,
            caches: self.caches.clone(),
            tenant,
            rows_scanned: 0,
            bytes_scanned: 0,
            started: Instant::now(),
        })
    }

    async fn finish<T>(&self, mut run: Run, value: T) -> Result<Answer<T>> {
        let data_as_of = run.data_as_of().await?;
        Ok(Answer {
            value,
            provenance: Provenance {
                snapshot: run.snapshot.version,
                data_as_of,
                served_by: run.served_by,
                rows_scanned: run.rows_scanned,
                bytes_scanned: run.bytes_scanned,
                elapsed: run.started.elapsed(),
            },
        })
    }
}

/// Memory the rollup and user rollup rows may hold by default: 1 GiB.
pub const DEFAULT_INDEX_MEMORY: usize = 1024 * 1024 * 1024;

/// What every answer about a bot needs besides its own plan, kept per (snapshot, bot).
struct BotCaches {
    /// A bot's channels, newest event instant and data span, combined from `files`.
    facts: SnapshotCache<Arc<BotFacts>>,
    /// What each live file holds of a bot.
    files: FileFactsCache,
    /// The newest event instant of a bot, which every answer's provenance carries, and its
    /// channels, which every breakdown and series lists: read from the views where the facts
    /// do not apply.
    data_as_of: SnapshotCache<Option<DateTime<Utc>>>,
    channels: SnapshotCache<Vec<Channel>>,
    /// A bot's rollup rows summed per bucket, channel and untagged.
    rollups: IndexCache<BucketRow, RollupIndex>,
    /// A bot's users per bucket and channel.
    users: IndexCache<UserRow, UserIndex>,
}

impl BotCaches {
    fn new(index_bytes: usize) -> Self {
        Self {
            facts: SnapshotCache::new(),
            files: FileFactsCache::default(),
            data_as_of: SnapshotCache::new(),
            channels: SnapshotCache::new(),
            rollups: IndexCache::new(RollupIndex::of, index_bytes / 2),
            users: IndexCache::new(UserIndex::of, index_bytes / 2),
        }
    }
}

/// The number of rows of `df`, as the one row of column `n`.
fn counted(df: DataFrame) -> Result<DataFrame> {
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::prelude::lit;
    Ok(df.aggregate(vec![], vec![count(lit(1)).alias("n")])?)
}

/// The answer of [`counted`].
fn count_in(batches: &[RecordBatch]) -> Result<u64> {
    Ok(batches
        .first()
        .map(|b| columns::int64s(b, "n"))
        .transpose()?
        .and_then(|n| n.first().copied().flatten())
        .unwrap_or(0) as u64)
}

/// A request's memory pool, and the session settings that fit it; built once per request.
struct MemoryBudget {
    runtime: Arc<RuntimeEnv>,
    config: SessionConfig,
}

impl MemoryBudget {
    fn new(ctx: &SessionContext, bytes: usize) -> Result<Self> {
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            NonZeroUsize::new(3).expect("3 is not zero"),
        );
        let runtime = RuntimeEnvBuilder::from_runtime_env(&ctx.runtime_env())
            .with_memory_pool(Arc::new(pool))
            .build_arc()?;
        // A sort sets this much aside per partition for merging its spills; with a small budget
        // the default (10 MB) alone would exhaust it.
        let mut config = ctx.copied_config();
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes =
            execution.sort_spill_reservation_bytes.min(bytes / 16);
        Ok(Self { runtime, config })
    }
}

/// One request's session: a snapshot, a bot, and what its scans read so far.
pub(crate) struct Run {
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
    /// The bot's rows of a view.
    async fn of_bot(&self, view: &str) -> Result<DataFrame> {
        Ok(self
            .ctx
            .table(view)
            .await?
            .filter(predicates::tenant(&self.tenant))?)
    }

    /// The bot's messages.
    async fn messages(&self) -> Result<DataFrame> {
        self.of_bot("messages").await
    }

    /// The latest versions of the bot's conversation records.
    async fn conversations(&self) -> Result<DataFrame> {
        self.of_bot("conversations").await
    }

    /// Every version of the bot's conversation records.
    async fn conversation_versions(&self) -> Result<DataFrame> {
        self.of_bot("conversation_versions").await
    }

    /// The bot's channels, ordered by uuid.
    async fn channels(&mut self) -> Result<Vec<Channel>> {
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
    async fn data_as_of(&mut self) -> Result<Option<DateTime<Utc>>> {
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
        let newest = summary::newest_event(self).await?;
        (self.rows_scanned, self.bytes_scanned) = (rows, bytes);
        self.caches
            .data_as_of
            .insert(self.snapshot.version, self.tenant, newest);
        Ok(newest)
    }

    /// The bot's facts from those of its live files, cached for the snapshot; `None` where the
    /// table lacks rollups or the run may not use them (answers then come from the views over
    /// all of the bot's events).
    async fn bot_facts(&mut self) -> Result<Option<Arc<BotFacts>>> {
        if !self.rollups {
            return Ok(None);
        }
        let (version, tenant) = (self.snapshot.version, self.tenant);
        if let Some(known) = self.caches.facts.get(version, tenant) {
            return Ok(Some(known));
        }
        let caches = self.caches.clone();
        let Some(facts) = caches.files.bot_facts(self).await? else {
            return Ok(None);
        };
        let facts = Arc::new(facts);
        caches.facts.insert(version, tenant, facts.clone());
        Ok(Some(facts))
    }

    /// The bot's rollup rows, cached for the snapshot; `None` where the run may not use rollups
    /// or the snapshot is not read file by file.
    async fn rollup_index(&mut self) -> Result<Option<Arc<RollupIndex>>> {
        if !self.rollups {
            return Ok(None);
        }
        self.caches.clone().rollups.get(self).await
    }

    /// The bot's users per bucket and channel, cached for the snapshot; `None` where the table
    /// lacks user rollups, the run may not use rollups or the snapshot is not read file by file.
    async fn user_index(&mut self) -> Result<Option<Arc<UserIndex>>> {
        if !self.rollups || !self.snapshot.has_user_rollups {
            return Ok(None);
        }
        self.caches.clone().users.get(self).await
    }

    /// The channels an answer lists: those asked for, in the order asked, or every channel of
    /// the bot by uuid.
    async fn listed_channels(&mut self, filter: &Filter) -> Result<Vec<Channel>> {
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
    async fn collect(&mut self, df: DataFrame) -> Result<Vec<RecordBatch>> {
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
            let group = dfs.by_ref().take(file_rows::FILES_AT_ONCE).collect();
            answers.extend(self.collect_all(group).await?);
        }
        Ok(answers)
    }

    /// Runs independent plans at the same time, each planned and run on a task of its own (so
    /// that planning, too, uses every core), and adds what their scans read to the run. Dropping
    /// the future aborts the tasks.
    async fn collect_all(&mut self, dfs: Vec<DataFrame>) -> Result<Vec<Vec<RecordBatch>>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, df) in dfs.into_iter().enumerate() {
            let task = Arc::new(self.task(&df));
            let plan_and_run = async move {
                let plan = df.create_physical_plan().await?;
                let batches = datafusion::physical_plan::collect(plan.clone(), task).await?;
                Ok::<_, DataFusionError>((index, plan, batches))
            };
            tasks.spawn_on(plan_and_run.in_current_span(), self.executor.handle());
        }
        let mut answers = vec![Vec::new(); tasks.len()];
        while let Some(done) = tasks.join_next().await {
            let (index, plan, batches) =
                done.map_err(|error| DataFusionError::ExecutionJoin(Box::new(error)))??;
            self.add_scan_metrics(&plan);
            answers[index] = batches;
        }
        Ok(answers)
    }

    /// Runs a plan as a stream of batches, under the run's memory budget.
    async fn stream(
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

    async fn count(&mut self, df: DataFrame) -> Result<u64> {
        let batches = self.collect(counted(df)?).await?;
        count_in(&batches)
    }

    fn add_scan_metrics(&mut self, plan: &Arc<dyn ExecutionPlan>) {
        if plan.children().is_empty()
            && let Some(metrics) = plan.metrics()
        {
            self.rows_scanned += metrics.output_rows().unwrap_or(0) as u64;
            self.bytes_scanned += metrics
                .sum_by_name("bytes_scanned")
                .map_or(0, |v| v.as_usize()) as u64;
        }
        for child in plan.children() {
            self.add_scan_metrics(child);
        }
    }
}
