//! Making one report: a worker streams the rows of its pinned snapshot into a file, uploads it,
//! and stores the report READY or FAILED.

use chrono::Utc;
use futures::StreamExt;
use talkhouse_core::report::{ReportStatus, sample_seed};

use crate::{ReportRecord, Reports, Result, export, spool};

impl Reports {
    /// Waits for a worker, then makes the report; an error here is one of saving its state.
    pub(crate) async fn run(&self, mut record: ReportRecord) -> Result<()> {
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
        let started = std::time::Instant::now();
        let produced = self.produce(&record).await;
        {
            let mut counts = self.produced.lock().expect("not poisoned");
            counts.seconds += started.elapsed().as_secs_f64();
            match produced.is_ok() {
                true => counts.ready += 1,
                false => counts.failed += 1,
            }
        }
        match produced {
            Ok(_) if crate::erasure::erased_since(self.store.object_store(), &record).await? => {
                // A person was erased from what it read while it was made.
                self.store.delete(&record).await
            }
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

    pub(crate) async fn fail(&self, record: &mut ReportRecord, reason: String) -> Result<()> {
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
}
