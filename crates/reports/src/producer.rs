//! The server holding the reports lease makes every server's reports. Each round it picks up the
//! reports queued on any server. When it has just taken the lease, and every sweep interval, it
//! also looks through all reports: for those left unfinished (by a holder that died, or by a
//! request stopped between its record and its queue mark) and for those past their expiry.
//!
//! Should a holder be paused past its term, the next may make a report it is still making: both
//! write the same rows from the same pinned snapshot, so the report is right either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use talkhouse_core::Tenant;
use talkhouse_core::report::ReportStatus;
use talkhouse_storage::Tenure;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{MAX_ATTEMPTS, ReportRecord, Reports, Result};

/// Starts the lease's rounds; the first at once, so a lone server resumes its reports at start.
pub(crate) fn spawn_rounds(reports: &Arc<Reports>) -> JoinHandle<()> {
    let settings = reports.settings;
    let reports = Arc::downgrade(reports);
    let sweeping = Arc::new(AtomicBool::new(false));
    let mut last_sweep: Option<Instant> = None;
    let lease = reports.upgrade().expect("alive at start").lease.clone();
    lease.spawn_rounds(Duration::ZERO, settings.poll_interval, move |tenure| {
        let reports = reports.upgrade();
        let due = tenure == Tenure::Taken
            || last_sweep.is_none_or(|at| at.elapsed() >= settings.sweep_interval);
        if let Some(reports) = reports.as_ref().filter(|_| due)
            && !sweeping.swap(true, Ordering::AcqRel)
        {
            last_sweep = Some(Instant::now());
            let (swept, sweeping) = (reports.clone(), sweeping.clone());
            reports.spawn(async move {
                if let Err(error) = swept.sweep().await {
                    tracing::warn!(%error, "looking through the reports failed; trying at the next sweep");
                }
                sweeping.store(false, Ordering::Release);
            });
        }
        async move {
            let Some(reports) = reports else {
                return;
            };
            if let Err(error) = reports.pick_up_queued().await {
                tracing::warn!(%error, "the report queue could not be read; trying at the next round");
            }
        }
    })
}

impl Reports {
    /// Takes the queued reports this server is not making yet.
    async fn pick_up_queued(self: &Arc<Self>) -> Result<()> {
        for (tenant, id) in self.store.queued().await? {
            if !self.taken.lock().expect("not poisoned").contains(&id) {
                self.adopt(&tenant, id).await?;
            }
        }
        Ok(())
    }

    /// Resumes the unfinished reports nobody makes, and expires those past their time.
    async fn sweep(self: &Arc<Self>) -> Result<()> {
        let now = Utc::now();
        let mut expired = 0;
        for record in self.store.all().await? {
            if record.status.is_unfinished() {
                self.adopt(&record.tenant, record.id).await?;
            } else if record.status != ReportStatus::Expired
                && record.status_at(now) == ReportStatus::Expired
            {
                self.expire(record).await?;
                expired += 1;
            }
        }
        if expired > 0 {
            tracing::info!(reports = expired, "expired reports");
        }
        Ok(())
    }

    /// Makes the report here, unless it is made here already or is no longer unfinished (as read
    /// now, not as listed). A report interrupted too often is FAILED instead.
    async fn adopt(self: &Arc<Self>, tenant: &Tenant, id: Uuid) -> Result<()> {
        if !self.take(id) {
            return Ok(());
        }
        match self.resumable(tenant, id).await {
            Ok(Some(record)) => {
                self.make(record);
                Ok(())
            }
            Ok(None) => {
                self.done_with(tenant, id).await;
                Ok(())
            }
            Err(error) => {
                self.taken.lock().expect("not poisoned").remove(&id);
                Err(error)
            }
        }
    }

    /// The report, PENDING again, when it is still to be made.
    async fn resumable(&self, tenant: &Tenant, id: Uuid) -> Result<Option<ReportRecord>> {
        let Some(mut record) = self.store.get(tenant, id).await? else {
            return Ok(None);
        };
        if !record.status.is_unfinished() {
            return Ok(None);
        }
        if record.attempts >= MAX_ATTEMPTS {
            let reason = format!(
                "interrupted {} times by a server stop before it could finish",
                record.attempts
            );
            tracing::warn!(report = %record.id, "{reason}");
            self.fail(&mut record, reason).await?;
            return Ok(None);
        }
        if record.status == ReportStatus::Running {
            tracing::info!(report = %record.id, attempts = record.attempts, "resuming report");
            record.status = ReportStatus::Pending;
            self.store.put(&record).await?;
        }
        Ok(Some(record))
    }

    /// Marks a finished report past its expiry EXPIRED and deletes its file.
    async fn expire(&self, mut record: ReportRecord) -> Result<()> {
        self.store.delete_file(&record).await?;
        record.status = ReportStatus::Expired;
        self.store.put(&record).await?;
        tracing::info!(report = %record.id, "report expired");
        Ok(())
    }
}
