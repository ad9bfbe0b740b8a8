//! Deleting the files no snapshot still needed can read: deltalake's vacuum in full mode.
//!
//! A file leaves the table when compaction rewrites it (a `remove` in the log); it may still be
//! read by every version committed before that, so it is deleted only once the removal is older
//! than the retention window, and never while a version named in `keep_versions` (a report being
//! made, say) references it. Full mode also deletes files no version ever referenced (left by a
//! writer killed before its commit) once they are older than the window. The log entries of the
//! versions whose files are gone go too (see [`expire_log`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use deltalake_core::DeltaTable;
use deltalake_core::operations::vacuum::VacuumMode;
use deltalake_core::protocol::checkpoints;
use futures::TryStreamExt;

use crate::schema::EVENTS_TABLE;

use crate::{Error, EventTable, Result};

/// How long a file no version references any more is kept by default: a week, which covers a
/// page pinned to a table version and any report.
pub const DEFAULT_VACUUM_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a vacuum deleted, or would delete in a dry run.
#[derive(Debug, Clone, Default)]
pub struct VacuumOutcome {
    /// The files, relative to the table's root.
    pub files: Vec<String>,
    /// Their size.
    pub bytes: u64,
    pub dry_run: bool,
    /// Log entries and checkpoints deleted: those of versions no longer readable.
    pub log_files: usize,
    pub elapsed: Duration,
}

/// Deletes the log entries of the versions vacuum made unreadable: a checkpoint of the latest
/// version is written, then every log entry and checkpoint older than both `retention` and the
/// newest checkpoint at or before the oldest version in `keep_versions` goes.
///
/// The log's file statistics hold the smallest and largest value of each column of each file,
/// texts and user ids among them: a deleted row's values must leave the log with its file.
async fn expire_log(
    table: &DeltaTable,
    retention: chrono::Duration,
    keep_versions: &[u64],
) -> Result<usize> {
    let Some(latest) = table.version() else {
        return Ok(0);
    };
    checkpoints::create_checkpoint(table, None).await?;
    let keep = keep_versions
        .iter()
        .copied()
        .chain([latest])
        .min()
        .unwrap_or(latest);
    let cutoff = chrono::Utc::now()
        .checked_sub_signed(retention)
        .map_or(i64::MIN, |at| at.timestamp_millis());
    Ok(
        checkpoints::cleanup_expired_logs_for(keep, table.log_store().as_ref(), cutoff, None)
            .await?,
    )
}

impl EventTable {
    /// Deletes the data files no version committed within `retention` references, keeping every
    /// file of the versions in `keep_versions`; with `dry_run`, only lists them.
    pub async fn vacuum(
        &self,
        retention: Duration,
        keep_versions: &[u64],
        dry_run: bool,
    ) -> Result<VacuumOutcome> {
        let started = Instant::now();
        // A window longer than chrono can hold keeps everything, as any window that long would.
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let table = self.fresh_table().await?;
        // The log still names files an earlier vacuum deleted: only those present are reported.
        let present = self.files_in_storage().await?;
        let (table, metrics) = table
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_keep_versions(keep_versions)
            .with_dry_run(dry_run)
            .await?;
        let log_files = match dry_run {
            true => 0,
            false => expire_log(&table, retention, keep_versions).await?,
        };
        let files: Vec<String> = metrics
            .files_deleted
            .into_iter()
            .filter(|file| present.contains_key(file))
            .collect();
        let outcome = VacuumOutcome {
            log_files,
            bytes: files.iter().map(|file| present[file]).sum(),
            files,
            dry_run,
            elapsed: started.elapsed(),
        };
        if !dry_run {
            self.activity_counters()
                .vacuum(outcome.files.len() as u64, outcome.bytes);
        }
        Ok(outcome)
    }

    /// Every object under the table's folder, relative to it, with its size.
    async fn files_in_storage(&self) -> Result<HashMap<String, u64>> {
        let store = self.location().object_store()?;
        let folder = object_store::path::Path::from(EVENTS_TABLE);
        let listed: Vec<_> = store
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(Error::ObjectStore)?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                let relative: Vec<_> = meta.location.prefix_match(&folder)?.collect();
                let path = relative
                    .iter()
                    .map(|part| part.as_ref())
                    .collect::<Vec<_>>()
                    .join("/");
                Some((path, meta.size))
            })
            .collect())
    }
}
