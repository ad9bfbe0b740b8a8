//! The report workers: a bounded pool that produces report files in the background, resumes the
//! reports a stopped server left unfinished, and expires old reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use talkhouse_core::Tenant;
use talkhouse_core::report::{ExportType, ReportSpec, ReportStatus, sample_seed};
use talkhouse_core::request::Page;
use talkhouse_query::dashboard::Dashboard;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{Error, ReportRecord, ReportStore, Result, export, spool};

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
    /// How often expired reports are looked for.
    pub sweep_interval: Duration,
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
    store: ReportStore,
    dashboard: Arc<Dashboard>,
    settings: ReportSettings,
    workers: Arc<Semaphore>,
    /// Reports waiting or running, per organization.
    unfinished: Mutex<HashMap<Uuid, usize>>,
    tasks: Mutex<JoinSet<()>>,
}

impl Reports {
    /// Starts the workers: unfinished reports are resumed (or FAILED after too many attempts)
    /// and the expiry sweep begins.
    pub async fn start(
        store: ReportStore,
        dashboard: Arc<Dashboard>,
        settings: ReportSettings,
    ) -> Result<Arc<Self>> {
        let reports = Arc::new(Self {
            store,
            dashboard,
            workers: Arc::new(Semaphore::new(settings.workers.max(1))),
            settings,
            unfinished: Mutex::default(),
            tasks: Mutex::new(JoinSet::new()),
        });
        let abandoned = spool::delete_abandoned(&spool::folder());
        if abandoned > 0 {
            tracing::info!(
                files = abandoned,
                "deleted the spool files of reports of ended processes"
            );
        }
        reports.resume().await?;
        let sweeper = Arc::downgrade(&reports);
        reports.spawn(async move {
            let interval = settings.sweep_interval;
            loop {
                tokio::time::sleep(interval).await;
                let Some(reports) = sweeper.upgrade() else {
                    return;
                };
                if let Err(error) = reports.expire_due().await {
                    tracing::warn!(error = %error, "expiring reports failed");
                }
            }
        });
        Ok(reports)
    }

    /// Stops every worker; their reports stay PENDING or RUNNING and resume at the next start.
    pub fn shutdown(&self) {
        self.tasks.lock().expect("not poisoned").abort_all();
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().expect("not poisoned");
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    async fn resume(self: &Arc<Self>) -> Result<()> {
        for mut record in self.store.all().await? {
            if !record.status.is_unfinished() {
                continue;
            }
            if record.attempts >= MAX_ATTEMPTS {
                let reason = format!(
                    "interrupted {} times by a server stop before it could finish",
                    record.attempts
                );
                tracing::warn!(report = %record.id, "{reason}");
                self.fail(&mut record, reason).await?;
                continue;
            }
            tracing::info!(report = %record.id, status = ?record.status, "resuming report");
            record.status = ReportStatus::Pending;
            self.store.put(&record).await?;
            self.enqueue(record);
        }
        Ok(())
    }

    /// Stores a new PENDING report pinned to the latest snapshot and queues it.
    pub async fn request(
        self: &Arc<Self>,
        tenant: Tenant,
        spec: ReportSpec,
        export_type: ExportType,
    ) -> Result<ReportRecord> {
        self.check_room(&tenant)?;
        let snapshot = self.dashboard.latest_snapshot().await?;
        let record = ReportRecord::new(tenant, spec, export_type, snapshot, Utc::now());
        self.store.put(&record).await?;
        self.enqueue(record.clone());
        Ok(record)
    }

    /// Refuses a new report while the queue, or the organization's share of it, is full.
    fn check_room(&self, tenant: &Tenant) -> Result<()> {
        let unfinished = self.unfinished.lock().expect("not poisoned");
        let total: usize = unfinished.values().sum();
        if total >= self.settings.max_unfinished {
            return Err(Error::Busy(total));
        }
        let own = unfinished.get(&tenant.org_id).copied().unwrap_or(0);
        if own >= self.settings.max_unfinished_per_org {
            return Err(Error::OrganizationBusy(own));
        }
        Ok(())
    }

    fn count_unfinished(&self, org: Uuid, change: isize) {
        let mut unfinished = self.unfinished.lock().expect("not poisoned");
        let count = unfinished.entry(org).or_default();
        *count = count.saturating_add_signed(change);
        if *count == 0 {
            unfinished.remove(&org);
        }
    }

    fn enqueue(self: &Arc<Self>, record: ReportRecord) {
        let org = record.tenant.org_id;
        self.count_unfinished(org, 1);
        let reports = self.clone();
        self.spawn(async move {
            let id = record.id;
            if let Err(error) = reports.run(record).await {
                tracing::error!(report = %id, error = %error, "report state could not be saved");
            }
            reports.count_unfinished(org, -1);
        });
    }

    async fn run(&self, mut record: ReportRecord) -> Result<()> {
        let _worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        record.status = ReportStatus::Running;
        record.started_at = Some(Utc::now());
        record.attempts += 1;
        self.store.put(&record).await?;
        match self.produce(&record).await {
            Ok((rows, bytes)) => {
                let now = Utc::now();
                record.status = ReportStatus::Ready;
                record.row_count = rows;
                record.byte_size = bytes;
                record.finished_at = Some(now);
                record.expires_at = Some(now + self.time_to_live());
                tracing::info!(report = %record.id, rows, bytes, "report ready");
                self.store.put(&record).await
            }
            Err(error) => {
                tracing::error!(report = %record.id, error = ?error, "report failed");
                let reason = if error.is_resources_exhausted() {
                    "the report needs more memory than a query may use; narrow the filter or \
                     lower the cap"
                        .to_string()
                } else {
                    format!(
                        "the report could not be produced (report id {} in the server log)",
                        record.id
                    )
                };
                self.fail(&mut record, reason).await
            }
        }
    }

    fn time_to_live(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.time_to_live).unwrap_or(chrono::Duration::MAX)
    }

    async fn fail(&self, record: &mut ReportRecord, reason: String) -> Result<()> {
        let now = Utc::now();
        record.status = ReportStatus::Failed;
        record.error = Some(reason);
        record.finished_at = Some(now);
        record.expires_at = Some(now + self.time_to_live());
        self.store.put(record).await
    }

    /// Streams the rows from the plan into a local spool file (a blocking thread writes while the
    /// next batch is read, two batches in flight at most), then uploads it. Returns rows and bytes.
    async fn produce(&self, record: &ReportRecord) -> Result<(u64, u64)> {
        let mut rows = self
            .dashboard
            .report_rows(
                record.tenant,
                &record.spec,
                record.snapshot,
                sample_seed(record.id),
            )
            .await?;
        let spool = spool::create(&spool::folder())?;
        let writer = export::writer(
            record.export_type,
            &rows.stream.schema(),
            record.spec.zone(),
            spool.path(),
        )?;
        // `None` marks the end; a channel closed without it was cancelled, and the file is left
        // unfinished (and deleted with the spool).
        let (batches, mut receiver) =
            tokio::sync::mpsc::channel::<Option<arrow::array::RecordBatch>>(2);
        let writing = tokio::task::spawn_blocking(move || -> Result<Option<u64>> {
            let mut writer = writer;
            let mut written = 0u64;
            while let Some(batch) = receiver.blocking_recv() {
                let Some(batch) = batch else {
                    writer.finish()?;
                    return Ok(Some(written));
                };
                writer.write(&batch)?;
                written += batch.num_rows() as u64;
            }
            Ok(None)
        });
        let mut read = Ok(());
        while let Some(batch) = rows.stream.next().await {
            match batch {
                Ok(batch) if batch.num_rows() == 0 => {}
                Ok(batch) => {
                    if batches.send(Some(batch)).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    read = Err(error);
                    break;
                }
            }
        }
        if read.is_ok() {
            let _ = batches.send(None).await;
        }
        drop(batches);
        let written = writing.await.map_err(std::io::Error::other)??;
        read?;
        let written = written.ok_or_else(|| std::io::Error::other("the writer stopped early"))?;
        if written != rows.rows {
            tracing::warn!(
                report = %record.id, expected = rows.rows, written,
                "a report wrote another number of rows than it counted"
            );
        }
        let bytes = self.store.put_file(record, spool.path()).await?;
        Ok((written, bytes))
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

    /// Marks every finished report past its expiry EXPIRED and deletes its file. Returns how
    /// many expired.
    pub async fn expire_due(&self) -> Result<usize> {
        let now = Utc::now();
        let mut expired = 0;
        for mut record in self.store.all().await? {
            if record.status.is_unfinished()
                || record.status == ReportStatus::Expired
                || record.status_at(now) != ReportStatus::Expired
            {
                continue;
            }
            self.store.delete_file(&record).await?;
            record.status = ReportStatus::Expired;
            self.store.put(&record).await?;
            tracing::info!(report = %record.id, "report expired");
            expired += 1;
        }
        Ok(expired)
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
