//! Reports as the API sees them: requested, listed, fetched and downloaded on any server. The
//! server holding the reports lease makes them (see `producer`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportSpec, ReportStatus};
use talkhouse_core::request::Page;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_storage::Lease;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::{Error, ReportRecord, ReportStore, Result, spool};

/// Work on a report started this often without finishing (the server stopped each time) makes
/// it FAILED rather than tried again.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    /// Reports produced at once.
    pub workers: usize,
    /// Reports waiting or running, beyond which a request is refused.
    pub max_unfinished: usize,
    /// Reports one organization may have waiting or running, so that one cannot fill the queue.
    pub max_unfinished_per_org: usize,
    /// How long a finished report is kept.
    pub time_to_live: Duration,
    /// How often expired reports, and reports left unfinished, are looked for.
    pub sweep_interval: Duration,
    /// How often the server making reports looks for those requested on other servers.
    pub poll_interval: Duration,
    /// How long the reports lease lasts unrenewed: when the server making reports dies, another
    /// takes over within this time.
    pub lease_term: Duration,
    /// Largest chunk of a download.
    pub chunk_bytes: usize,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            max_unfinished: 1_000,
            max_unfinished_per_org: 50,
            time_to_live: Duration::from_secs(7 * 24 * 3600),
            sweep_interval: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            lease_term: Duration::from_secs(30),
            chunk_bytes: 64 * 1024,
        }
    }
}

/// What a download finds.
pub enum Download {
    NotFound,
    /// The report exists but has no file to give: its status says why.
    NotReady(ReportStatus),
    Ready(BoxStream<'static, Result<Bytes>>),
}

pub struct Reports {
    pub(crate) store: ReportStore,
    pub(crate) dashboard: Arc<Dashboard>,
    pub(crate) settings: ReportSettings,
    pub(crate) workers: Arc<Semaphore>,
    /// Whoever holds it makes the reports of every server.
    pub(crate) lease: Arc<Lease>,
    /// Reports this server is making or has queued for its workers.
    pub(crate) taken: Mutex<HashSet<Uuid>>,
    pub(crate) tasks: Mutex<JoinSet<()>>,
    rounds: Mutex<Option<JoinHandle<()>>>,
    /// What this server's workers finished.
    pub(crate) produced: Mutex<Production>,
}

/// The reports this server's workers finished, and the time they took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Production {
    pub ready: u64,
    pub failed: u64,
    /// From a worker taking each up to it being READY or FAILED.
    pub seconds: f64,
}

impl Reports {
    /// Starts the rounds of the reports lease: while this server holds it, it makes the reports
    /// requested on any server, resumes those a stopped holder left unfinished (or FAILS them
    /// after too many attempts) and expires old reports.
    pub async fn start(
        store: ReportStore,
        lease: Lease,
        dashboard: Arc<Dashboard>,
        settings: ReportSettings,
    ) -> Result<Arc<Self>> {
        let reports = Arc::new(Self {
            store,
            dashboard,
            workers: Arc::new(Semaphore::new(settings.workers.max(1))),
            settings,
            lease: Arc::new(lease),
            taken: Mutex::default(),
            tasks: Mutex::new(JoinSet::new()),
            rounds: Mutex::new(None),
            produced: Mutex::default(),
        });
        let abandoned = spool::delete_abandoned(&spool::folder());
        if abandoned > 0 {
            tracing::info!(
                files = abandoned,
                "deleted the spool files of reports of ended processes"
            );
        }
        let rounds = crate::producer::spawn_rounds(&reports);
        *reports.rounds.lock().expect("not poisoned") = Some(rounds);
        Ok(reports)
    }

    /// Stops every worker and gives the lease up; their reports stay PENDING or RUNNING and
    /// resume under the next holder.
    pub async fn shutdown(&self) {
        if let Some(rounds) = self.rounds.lock().expect("not poisoned").take() {
            rounds.abort();
        }
        self.tasks.lock().expect("not poisoned").abort_all();
        if let Err(error) = self.lease.release().await {
            tracing::warn!(%error, "the reports lease could not be given up; it lapses at the end of its term");
        }
    }

    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().expect("not poisoned");
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Stores a new PENDING report pinned to the latest snapshot and queues it: at once on this
    /// server when it makes reports, else for the server that does.
    pub async fn request(
        self: &Arc<Self>,
        tenant: Tenant,
        spec: ReportSpec,
        export_type: ExportType,
    ) -> Result<ReportRecord> {
        self.check_room(&tenant).await?;
        let snapshot = self.dashboard.latest_snapshot().await?;
        let record = ReportRecord::new(tenant, spec, export_type, snapshot, Utc::now());
        self.store.put(&record).await?;
        self.store.enqueue(&record).await?;
        if self.lease.is_held() && self.take(record.id) {
            self.make(record.clone());
        }
        Ok(record)
    }

    /// Refuses a new report while the queue, or the organization's share of it, is full; the
    /// queue is the one all servers share.
    async fn check_room(&self, tenant: &Tenant) -> Result<()> {
        let queued = self.store.queued().await?;
        let total = queued.len();
        if total >= self.settings.max_unfinished {
            return Err(Error::Busy(total));
        }
        let own = queued
            .iter()
            .filter(|(queued, _)| queued.org_id == tenant.org_id)
            .count();
        if own >= self.settings.max_unfinished_per_org {
            return Err(Error::OrganizationBusy(own));
        }
        Ok(())
    }

    /// Claims the report for this server's workers; false when they already have it.
    pub(crate) fn take(&self, id: Uuid) -> bool {
        self.taken.lock().expect("not poisoned").insert(id)
    }

    /// Makes a report this server has taken, then lets it go.
    pub(crate) fn make(self: &Arc<Self>, record: ReportRecord) {
        let reports = self.clone();
        self.spawn(async move {
            let (tenant, id) = (record.tenant, record.id);
            if let Err(error) = reports.run(record).await {
                tracing::error!(report = %id, error = %error, "report state could not be saved");
            }
            reports.done_with(&tenant, id).await;
        });
    }

    /// Lets a report go: no longer taken here, no longer queued anywhere.
    pub(crate) async fn done_with(&self, tenant: &Tenant, id: Uuid) {
        if let Err(error) = self.store.dequeue(tenant, id).await {
            tracing::warn!(report = %id, %error, "a finished report's queue mark could not be deleted");
        }
        self.taken.lock().expect("not poisoned").remove(&id);
    }

    /// What this server's workers finished so far.
    pub fn production(&self) -> Production {
        *self.produced.lock().expect("not poisoned")
    }

    /// How many reports of every bot are in each state now, every state listed.
    pub async fn states(&self) -> Result<Vec<(ReportStatus, u64)>> {
        let now = Utc::now();
        let records = self.store.all().await?;
        Ok(ReportStatus::ALL
            .into_iter()
            .map(|status| {
                let count = records
                    .iter()
                    .filter(|r| r.status_at(now) == status)
                    .count();
                (status, count as u64)
            })
            .collect())
    }

    /// The bot's report, as of now.
    pub async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<ReportRecord>> {
        let now = Utc::now();
        Ok(self.store.get(tenant, id).await?.map(|r| r.as_of(now)))
    }

    /// A page of the bot's reports, newest first, and how many there are.
    pub async fn list(&self, tenant: &Tenant, page: Page) -> Result<(Vec<ReportRecord>, u64)> {
        let now = Utc::now();
        let mut records = self.store.list(tenant).await?;
        ReportRecord::sort_newest_first(&mut records);
        let total = records.len() as u64;
        let page: Vec<ReportRecord> = records
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.size as usize)
            .map(|r| r.as_of(now))
            .collect();
        Ok((page, total))
    }

    /// The bot's report file in chunks of at most `chunk_bytes`, when it is READY.
    pub async fn download(&self, tenant: &Tenant, id: Uuid) -> Result<Download> {
        let Some(record) = self.get(tenant, id).await? else {
            return Ok(Download::NotFound);
        };
        if record.status != ReportStatus::Ready {
            return Ok(Download::NotReady(record.status));
        }
        let chunks = rechunk(self.store.file(&record).await?, self.settings.chunk_bytes);
        Ok(Download::Ready(chunks))
    }
}

/// Chunks of exactly `size` bytes (the last one shorter), whatever sizes the store reads in.
fn rechunk(
    input: BoxStream<'static, Result<Bytes, object_store::Error>>,
    size: usize,
) -> BoxStream<'static, Result<Bytes>> {
    let size = size.max(1);
    futures::stream::unfold(
        (input, BytesMut::new(), false),
        move |(mut input, mut buffer, mut done)| async move {
            loop {
                if buffer.len() >= size || (done && !buffer.is_empty()) {
                    let take = size.min(buffer.len());
                    let chunk = buffer.split_to(take).freeze();
                    return Some((Ok(chunk), (input, buffer, done)));
                }
                if done {
                    return None;
                }
                match input.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(error)) => return Some((Err(error.into()), (input, buffer, true))),
                    None => done = true,
                }
            }
        },
    )
    .boxed()
}

impl Drop for Reports {
    fn drop(&mut self) {
        if let Some(rounds) = self.rounds.lock().expect("not poisoned").take() {
            rounds.abort();
        }
    }
}
