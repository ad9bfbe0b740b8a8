//! The dashboard endpoints, each compiled into DataFusion plans over one table snapshot, or
//! answered from the in-memory indexes (`crate::index`) where those apply.
//!
//! One module per endpoint group builds its plans and, in one visible `match`, takes an index's
//! answer instead when [`Run`](run::Run) offers one. [`Dashboard`] starts a run for a bot and
//! wraps every answer with its [`Provenance`]: the snapshot read, the newest event of the bot in
//! it, what computed it, and the rows and bytes the scans read.

mod bots;
mod caches;
mod classify;
mod predicates;
mod report;
mod rows;
mod run;
mod search;
mod series;
mod summary;
mod traffic;
mod transcript;

pub use crate::model::{
    Accuracy, Answer, BreakdownItem, Channel, ConversationRow, Dataset, MessageRow, Overview,
    PageOf, Provenance, SeriesAnswer, ServedBy, Summary, Traffic, Transcript,
};
pub use report::{CONVERSATION_COLUMNS, MESSAGE_COLUMNS, ReportRows};
pub use series::SeriesResource;

use std::sync::Arc;

use talkhouse_core::Tenant;
use talkhouse_core::request::{
    ConversationSearch, ConversationSelection, Filter, MessageSearch, MessageSelection,
};
use talkhouse_core::window::Granularity;

use crate::{QueryEngine, QueryExecutor, Result};
use caches::BotCaches;
use run::Run;

/// Memory the rollup and user rollup rows may hold by default: 1 GiB.
pub const DEFAULT_INDEX_MEMORY: usize = 1024 * 1024 * 1024;

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

    /// Per index kind (`rollups`, `users`): about the memory its rows hold now, and the bots
    /// forgotten so far to stay within the bound.
    pub fn index_memory(&self) -> [(&'static str, usize, u64); 2] {
        self.caches.indexes.held()
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
        run.answer(value).await
    }

    pub async fn conversation_traffic(
        &self,
        tenant: Tenant,
        filter: &Filter,
    ) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::conversations(&mut run, filter).await?;
        run.answer(value).await
    }

    pub async fn message_traffic(
        &self,
        tenant: Tenant,
        filter: &Filter,
    ) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::messages(&mut run, filter).await?;
        run.answer(value).await
    }

    pub async fn user_traffic(&self, tenant: Tenant, filter: &Filter) -> Result<Answer<Traffic>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::users(&mut run, filter).await?;
        run.answer(value).await
    }

    pub async fn accuracy(&self, tenant: Tenant, filter: &Filter) -> Result<Answer<Accuracy>> {
        let mut run = self.start(tenant, None).await?;
        let value = traffic::accuracy(&mut run, filter).await?;
        run.answer(value).await
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
        run.answer(value).await
    }

    pub async fn search_conversations(
        &self,
        tenant: Tenant,
        search: &ConversationSearch,
        snapshot: Option<u64>,
    ) -> Result<Answer<PageOf<ConversationRow>>> {
        let mut run = self.start(tenant, snapshot).await?;
        let value = search::conversations(&mut run, search).await?;
        run.answer(value).await
    }

    pub async fn search_messages(
        &self,
        tenant: Tenant,
        search: &MessageSearch,
        snapshot: Option<u64>,
    ) -> Result<Answer<PageOf<MessageRow>>> {
        let mut run = self.start(tenant, snapshot).await?;
        let value = search::messages(&mut run, search).await?;
        run.answer(value).await
    }

    /// `None` when the bot has neither a record nor a message of the session.
    pub async fn transcript(
        &self,
        tenant: Tenant,
        session_code: &str,
    ) -> Result<Answer<Option<Transcript>>> {
        let mut run = self.start(tenant, None).await?;
        let value = transcript::transcript(&mut run, session_code).await?;
        run.answer(value).await
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
        run.answer(value).await
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
        run.answer(value).await
    }

    /// Every bot with data in the latest version, of `org` when given, ordered.
    pub async fn bots(
        &self,
        org: Option<uuid::Uuid>,
    ) -> Result<std::collections::BTreeSet<Tenant>> {
        let session = self.engine.session().await?;
        bots::bots(&session, &self.executor, org).await
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
        Run::new(
            session,
            self.executor.clone(),
            self.memory_limit,
            self.use_rollups,
            self.caches.clone(),
            tenant,
        )
    }
}
