//! The `events` Delta table: open or create it, read a snapshot, commit a batch (its stages in
//! `write::batch`).
//!
//! A batch is one Delta commit: its Parquet files are written first, then one log entry names them
//! with put-if-absent. A reader sees all of the batch or none of it; a process killed before the
//! log entry leaves only unreferenced files behind. An idempotency key travels in the same commit
//! as a Delta application transaction (`txn` action) whose version is the batch's fingerprint.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::catalog::TableProvider;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionContext;
use deltalake_core::DeltaTable;
use deltalake_core::TableProperty;
use deltalake_core::protocol::SaveMode;
use object_store::path::Path;
use talkhouse_core::{Event, Tenant};
use tokio::sync::{Mutex, MutexGuard};

use crate::bucket;
use crate::file_cache::{FileCache, FileCacheCounts, FileCacheSettings};
use crate::format::{FORMAT, FORMAT_PROPERTY, spelling};
use crate::read::followed_log::FollowedLog;
use crate::read::live_files::{self, FileStatistics, LiveFiles, TableRead};
use crate::read::session_rows::SessionRows;
use crate::schema::{EVENTS_TABLE, PARTITION_COLUMNS, delta_columns};
use crate::write::commit::catch_up;
use crate::write::{WriteOutcome, Writer};
use crate::{DataLocation, Error, Result};

/// Room for Parquet footers: a compacted medium dataset holds about 2,000 files.
const FOOTER_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Batches of at least this many events are freed on a thread of their own.
const BACKGROUND_DROP_EVENTS: usize = 100_000;

/// How often a reader of a bucket looks for other processes' commits by default.
const BUCKET_LOG_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION: &str = "interval 7 days";

/// A consistent, immutable view of the table at one version.
#[derive(Clone)]
pub struct Snapshot {
    pub version: u64,
    pub provider: Arc<dyn TableProvider>,
    /// What `provider` reads, file by file; `None` when it is deltalake's own provider.
    pub(crate) live_files: Option<Arc<LiveFiles>>,
    /// A state of the table with this version's metadata, for its object store; its own files
    /// may be an earlier version's (`provider` reads this version's).
    pub(crate) table: DeltaTable,
}

impl Snapshot {
    /// Lets a DataFusion session read this snapshot's files (registers the object store).
    pub fn prepare_session(&self, ctx: &SessionContext) -> Result<()> {
        self.table.update_datafusion_session(&ctx.state())?;
        Ok(())
    }

    /// The location and `kind` of every live file of one bot's partitions; `None` when the
    /// snapshot is not read file by file.
    pub fn files_of_bot(&self, bot_id: &str) -> Option<Vec<(Path, String)>> {
        Some(self.live_files.as_ref()?.of_bot(bot_id))
    }

    /// The rows of `kind` of one session of `tenant`, with `columns` (see [`SessionRows`]),
    /// read without a query plan; `None` when the snapshot is not read file by file.
    pub async fn session_rows(
        &self,
        runtime: &RuntimeEnv,
        tenant: &Tenant,
        kind: &str,
        session_code: &str,
        columns: &[&str],
    ) -> Option<Result<SessionRows>> {
        let live = self.live_files.as_ref()?;
        Some(
            live.session_rows(runtime, tenant, kind, session_code, columns)
                .await,
        )
    }

    /// The `events` table of this snapshot restricted to the one file at `location`; `None`
    /// when the snapshot is not read file by file.
    pub fn file_table(&self, location: &Path) -> Option<Result<Arc<dyn TableProvider>>> {
        let live = self.live_files.as_ref()?;
        Some(
            live.restricted_to(&HashSet::from([location]))
                .map(|only| Arc::new(only) as Arc<dyn TableProvider>),
        )
    }
}

/// The `events` table of one data location.
pub struct EventTable {
    /// The writer's view; the mutex makes this process's commits one at a time.
    writer: Mutex<Writer>,
    reader: Mutex<FollowedLog>,
    location: DataLocation,
    /// The runtime every read of this table runs in: the writer's lookups and the query
    /// sessions of every snapshot. Its Parquet footer cache outlives a commit, so a new snapshot
    /// reads the footers of new files only (keyed by path and modification time; data files are
    /// never rewritten in place).
    runtime: Arc<RuntimeEnv>,
    /// The statistics of every data file any scan of this table has read from the log.
    file_statistics: Arc<FileStatistics>,
    /// How stale a snapshot may be (see [`EventTable::with_log_check_interval`]).
    log_check_interval: Duration,
    /// Local copies of the data files read from a bucket (see [`EventTable::with_file_cache`]).
    file_cache: Option<Arc<FileCache>>,
    /// What this process did to the table.
    activity: crate::activity::Activity,
}

impl EventTable {
    /// Opens the table under `location`, creating it when the folder holds none;
    /// [`Error::UnsupportedFormat`] when it holds a table of a layout this build does not read
    /// (see [`crate::format`]).
    pub async fn open(location: &DataLocation) -> Result<Self> {
        let url = location.table(EVENTS_TABLE);
        if let Some(folder) = location.local_table_path(EVENTS_TABLE) {
            std::fs::create_dir_all(&folder).map_err(Error::Io)?;
        }
        let bucket = location.bucket()?;
        let mut table = match &bucket {
            Some((store, _)) => bucket::table(store.clone(), url).await?,
            None => DeltaTable::try_from_url(url).await?,
        };
        if table.version().is_none() {
            table = table
                .create()
                .with_table_name(EVENTS_TABLE)
                .with_columns(delta_columns())
                .with_partition_columns(PARTITION_COLUMNS)
                .with_configuration_property(
                    TableProperty::SetTransactionRetentionDuration,
                    Some(IDEMPOTENCY_RETENTION),
                )
                .with_configuration([(FORMAT_PROPERTY, Some(FORMAT))])
                .with_raise_if_key_not_exists(false)
                .with_save_mode(SaveMode::Ignore)
                .await?;
            table.update_incremental(None).await?;
        }
        spelling(&table)?;
        let reader = FollowedLog::new(table.clone())?;
        let runtime = Arc::new(
            RuntimeEnvBuilder::new()
                .with_metadata_cache_limit(FOOTER_CACHE_BYTES)
                .build()?,
        );
        let log_check_interval = match bucket {
            Some((store, url)) => {
                runtime.register_object_store(&url, store);
                BUCKET_LOG_CHECK_INTERVAL
            }
            None => Duration::ZERO,
        };
        let file_statistics = Arc::<FileStatistics>::default();
        Ok(Self {
            log_check_interval,
            writer: Mutex::new(Writer::new(table, runtime.clone(), file_statistics.clone())),
            reader: Mutex::new(reader),
            location: location.clone(),
            runtime,
            file_statistics,
            file_cache: None,
            activity: Default::default(),
        })
    }

    /// Reads the data files of a bucket's table through local copies, at most `settings.bytes`
    /// of them (see [`crate::FileCacheSettings`]); nothing changes for a local folder.
    pub fn with_file_cache(mut self, settings: &FileCacheSettings) -> Result<Self> {
        let Some((store, url)) = self.location.bucket()? else {
            return Ok(self);
        };
        let cache = Arc::new(FileCache::new(store, settings).map_err(Error::Io)?);
        self.runtime.register_object_store(&url, cache.clone());
        self.file_cache = Some(cache);
        Ok(self)
    }

    /// What the file cache has done so far, when there is one.
    pub fn file_cache_counts(&self) -> Option<FileCacheCounts> {
        self.file_cache.as_ref().map(|cache| cache.counts())
    }

    /// Reads the log for commits of other processes at most once per `interval` (each read is
    /// a request to the store), so a snapshot may miss their commits of the last `interval`. A
    /// commit of this process is seen by the next snapshot. By default, on every snapshot for
    /// a folder, and once a second for a bucket.
    pub fn with_log_check_interval(mut self, interval: Duration) -> Self {
        self.log_check_interval = interval;
        self
    }

    /// What this process did to the table since it opened it.
    pub fn activity(&self) -> crate::TableActivity {
        self.activity.read()
    }

    pub(crate) fn activity_counters(&self) -> &crate::activity::Activity {
        &self.activity
    }

    /// The version the reader serves, and how long ago it last read the log: how far the
    /// answers may lag behind the other processes' commits.
    pub async fn followed(&self) -> (u64, Duration) {
        let reader = self.reader.lock().await;
        (reader.version(), reader.since_log_read())
    }

    /// The runtime (and its footer cache) for sessions that read this table.
    pub fn runtime(&self) -> Arc<RuntimeEnv> {
        self.runtime.clone()
    }

    /// Where the table (and everything beside it) lives.
    pub fn location(&self) -> &DataLocation {
        &self.location
    }

    /// The statistics of every data file any scan of this table has read from the log.
    pub(crate) fn file_statistics(&self) -> &Arc<FileStatistics> {
        &self.file_statistics
    }

    /// This process's writer, once the commit under way (if any) is done.
    pub(crate) async fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().await
    }

    /// Makes the next snapshot read the log: this process committed.
    pub(crate) async fn expect_commit(&self) {
        self.reader.lock().await.expect_commit();
    }

    /// The reader that follows the log.
    #[cfg(test)]
    pub(crate) async fn reader(&self) -> MutexGuard<'_, FollowedLog> {
        self.reader.lock().await
    }

    /// A copy of the table state brought up to the latest commit.
    pub(crate) async fn fresh_table(&self) -> Result<DeltaTable> {
        let mut table = self.reader.lock().await.table().clone();
        catch_up(&mut table).await?;
        Ok(table)
    }

    /// The latest committed version number, as the log read within the check interval says
    /// (see [`EventTable::with_log_check_interval`]).
    pub async fn latest_version(&self) -> Result<u64> {
        let mut reader = self.reader.lock().await;
        reader.catch_up_within(self.log_check_interval).await?;
        Ok(reader.version())
    }

    /// The latest committed version, as the log read within the check interval says (see
    /// [`EventTable::with_log_check_interval`]).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut reader = self.reader.lock().await;
        reader.catch_up_within(self.log_check_interval).await?;
        self.snapshot_of_followed(&reader).await
    }

    /// An earlier committed version, for paging through the data an earlier answer read.
    /// [`Error::SnapshotUnavailable`] when the version does not exist (yet or any more).
    pub async fn snapshot_at(&self, version: u64) -> Result<Snapshot> {
        let unavailable = || Error::SnapshotUnavailable { version };
        let reader = self.reader.lock().await;
        if reader.version() == version {
            return self.snapshot_of_followed(&reader).await;
        }
        let mut table = reader.table().clone();
        drop(reader);
        if table.version() != Some(version) {
            table
                .load_version(version)
                .await
                .map_err(|_| unavailable())?;
        }
        if table.version() != Some(version) {
            return Err(unavailable());
        }
        self.snapshot_of(&table).await
    }

    /// The snapshot of the version the reader has followed the log to.
    async fn snapshot_of_followed(&self, reader: &FollowedLog) -> Result<Snapshot> {
        let table = reader.table();
        let read = live_files::read_files(table, reader.files(), &self.file_statistics).await?;
        Ok(snapshot_with(table, reader.version(), read))
    }

    async fn snapshot_of(&self, table: &DeltaTable) -> Result<Snapshot> {
        let read = live_files::read(table, &self.file_statistics).await?;
        Ok(snapshot_with(table, table.version().unwrap_or(0), read))
    }

    /// Commits `events` as one atomic batch.
    ///
    /// With an `idempotency_key`, a batch already stored under that key is not stored again
    /// (`replayed`), and a different batch under the same key is [`Error::IdempotencyKeyReused`].
    pub async fn write(
        &self,
        events: Vec<Event>,
        idempotency_key: Option<&str>,
    ) -> Result<WriteOutcome> {
        self.write_parts(vec![events], idempotency_key).await
    }

    /// [`Self::write`] of the events of `parts`, one after the other: a file read in blocks is
    /// committed without copying its events into one vector.
    pub async fn write_parts(
        &self,
        parts: Vec<Vec<Event>>,
        idempotency_key: Option<&str>,
    ) -> Result<WriteOutcome> {
        let span = tracing::info_span!(
            "commit",
            events = parts.iter().map(Vec::len).sum::<usize>(),
            version = tracing::field::Empty,
            messages = tracing::field::Empty,
            duplicates = tracing::field::Empty,
        );
        let outcome = tracing::Instrument::instrument(
            self.commit_parts(parts, idempotency_key),
            span.clone(),
        )
        .await?;
        span.record("version", outcome.version);
        span.record("messages", outcome.messages_written);
        span.record("duplicates", outcome.duplicate_messages);
        Ok(outcome)
    }

    async fn commit_parts(
        &self,
        parts: Vec<Vec<Event>>,
        idempotency_key: Option<&str>,
    ) -> Result<WriteOutcome> {
        let events: Vec<&Event> = parts.iter().flatten().collect();
        let mut writer = self.writer.lock().await;
        // The operation's time, as deltalake's `write` reports it: not the wait for the writer.
        let began = std::time::Instant::now();
        let outcome = loop {
            if let Some(outcome) = writer.write_once(&events, idempotency_key, began).await? {
                break outcome;
            }
            self.activity.commit_conflict();
            tracing::info!("another writer committed to the batch's bots first: writing it again");
        };
        drop(writer);
        self.expect_commit().await;
        // A large batch's strings are freed on another thread, after the commit.
        let count = events.len();
        drop(events);
        if count >= BACKGROUND_DROP_EVENTS {
            std::thread::spawn(move || drop(parts));
        }
        Ok(outcome)
    }
}

/// The snapshot of `version`, which `provider` reads, with the metadata of `table`.
fn snapshot_with(table: &DeltaTable, version: u64, (provider, live_files): TableRead) -> Snapshot {
    Snapshot {
        version,
        provider,
        live_files,
        table: table.clone(),
    }
}
