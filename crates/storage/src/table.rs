//! The `events` Delta table: open or create it, read a snapshot, commit a batch.
//!
//! A batch is one Delta commit: its Parquet files are written first, then one log entry names them
//! with put-if-absent. A reader sees all of the batch or none of it; a process killed before the
//! log entry leaves only unreferenced files behind. An idempotency key travels in the same commit
//! as a Delta application transaction (`txn` action) whose version is the batch's fingerprint.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionContext;
use deltalake_core::DeltaTable;
use deltalake_core::TableProperty;
use deltalake_core::kernel::Transaction;
use deltalake_core::protocol::SaveMode;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use talkhouse_core::{Event, Tenant};
use tokio::sync::Mutex;

use crate::batch_files::{by_partition, operation_metrics, write_files};
use crate::batch_lookups::without_duplicates;
use crate::commit::{self, catch_up};
use crate::encode::{RollupRows, encode_derived_rows, encode_events_in_parallel};
use crate::followed_log::FollowedLog;
use crate::live_files::{self, FileStatistics, LiveFiles, TableRead};
use crate::message_ids::StoredMessageIds;
use crate::parallel;
use crate::rollup::{
    ROLLUPS_FORMAT, ROLLUPS_PROPERTY, Rollup, USER_ROLLUPS_FORMAT, USER_ROLLUPS_PROPERTY,
};
use crate::schema::{EVENTS_TABLE, PARTITION_COLUMNS, delta_columns};
use crate::session_rows::SessionRows;
use crate::versions::{BatchVersions, SUPERSESSIONS_FORMAT, SUPERSESSIONS_PROPERTY};
use crate::{DataLocation, Error, Result};

/// Room for Parquet footers: a compacted medium dataset holds about 2,000 files.
const FOOTER_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Batches of at least this many events are freed on a thread of their own.
const BACKGROUND_DROP_EVENTS: usize = 100_000;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION: &str = "interval 7 days";

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOutcome {
    /// The table version that holds the batch; `None` when nothing was committed.
    pub version: Option<u64>,
    pub messages_written: usize,
    pub conversations_written: usize,
    /// Messages dropped because their `message_id` was already stored for the bot (or came
    /// earlier in the same batch).
    pub duplicate_messages: usize,
    /// True when the idempotency key had already stored this very batch; nothing new was written.
    pub replayed: bool,
}

/// A consistent, immutable view of the table at one version.
#[derive(Clone)]
pub struct Snapshot {
    pub version: u64,
    pub provider: Arc<dyn TableProvider>,
    /// Whether every commit of the table carries its rollup rows (see [`crate::rollup`]).
    pub has_rollups: bool,
    /// Whether every commit also carries its user rollup rows.
    pub has_user_rollups: bool,
    /// Whether every commit of the table records the versions it supersedes (see
    /// [`crate::versions`]).
    pub has_supersessions: bool,
    /// What `provider` reads, file by file; `None` when it is deltalake's own provider.
    pub(crate) live_files: Option<Arc<LiveFiles>>,
    /// A state of the table with this version's metadata, for its object store; its own files
    /// may be an earlier version's (`provider` reads this version's).
    table: DeltaTable,
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
    pub(crate) writer: Mutex<Writer>,
    pub(crate) reader: Mutex<FollowedLog>,
    location: DataLocation,
    /// The runtime every read of this table runs in: the writer's lookups and the query
    /// sessions of every snapshot. Its Parquet footer cache outlives a commit, so a new snapshot
    /// reads the footers of new files only (keyed by path and modification time; data files are
    /// never rewritten in place).
    pub(crate) runtime: Arc<RuntimeEnv>,
    /// The statistics of every data file any scan of this table has read from the log.
    pub(crate) file_statistics: Arc<FileStatistics>,
}

pub(crate) struct Writer {
    pub(crate) table: DeltaTable,
    last_written_at: i64,
    pub(crate) message_ids: StoredMessageIds,
}

impl Writer {
    /// The `written_at` of the next commit: now, and later than every earlier commit of this
    /// process even when the clock steps back.
    pub(crate) fn next_written_at(&mut self) -> i64 {
        let now = chrono::Utc::now().timestamp_micros();
        self.last_written_at = now.max(self.last_written_at + 1);
        self.last_written_at
    }
}

impl EventTable {
    /// Opens the table under `location`, creating it when the folder holds none.
    pub async fn open(location: &DataLocation) -> Result<Self> {
        let url = location.table(EVENTS_TABLE);
        if let Some(folder) = location.local_table_path(EVENTS_TABLE) {
            std::fs::create_dir_all(&folder).map_err(Error::Io)?;
        }
        let mut table = DeltaTable::try_from_url(url).await?;
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
                .with_configuration([
                    (ROLLUPS_PROPERTY, Some(ROLLUPS_FORMAT)),
                    (USER_ROLLUPS_PROPERTY, Some(USER_ROLLUPS_FORMAT)),
                    (SUPERSESSIONS_PROPERTY, Some(SUPERSESSIONS_FORMAT)),
                ])
                .with_raise_if_key_not_exists(false)
                .with_save_mode(SaveMode::Ignore)
                .await?;
            table.update_incremental(None).await?;
        }
        let reader = FollowedLog::new(table.clone())?;
        Ok(Self {
            writer: Mutex::new(Writer {
                table,
                last_written_at: 0,
                message_ids: StoredMessageIds::default(),
            }),
            reader: Mutex::new(reader),
            location: location.clone(),
            runtime: Arc::new(
                RuntimeEnvBuilder::new()
                    .with_metadata_cache_limit(FOOTER_CACHE_BYTES)
                    .build()?,
            ),
            file_statistics: Arc::default(),
        })
    }

    /// The runtime (and its footer cache) for sessions that read this table.
    pub fn runtime(&self) -> Arc<RuntimeEnv> {
        self.runtime.clone()
    }

    /// Where the table (and everything beside it) lives.
    pub fn location(&self) -> &DataLocation {
        &self.location
    }

    /// A copy of the table state brought up to the latest commit.
    pub(crate) async fn fresh_table(&self) -> Result<DeltaTable> {
        let mut table = self.reader.lock().await.table().clone();
        catch_up(&mut table).await?;
        Ok(table)
    }

    /// The latest committed version number, read from the log.
    pub async fn latest_version(&self) -> Result<u64> {
        let mut reader = self.reader.lock().await;
        reader.catch_up().await?;
        Ok(reader.version())
    }

    /// The latest committed version, read from the log.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut reader = self.reader.lock().await;
        reader.catch_up().await?;
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
        self.snapshot_with(table, reader.version(), read)
    }

    async fn snapshot_of(&self, table: &DeltaTable) -> Result<Snapshot> {
        let read = live_files::read(table, &self.file_statistics).await?;
        self.snapshot_with(table, table.version().unwrap_or(0), read)
    }

    /// The snapshot of `version`, which `provider` reads, with the metadata of `table`.
    fn snapshot_with(
        &self,
        table: &DeltaTable,
        version: u64,
        (provider, live_files): TableRead,
    ) -> Result<Snapshot> {
        Ok(Snapshot {
            version,
            provider,
            live_files,
            has_rollups: has_property(table, ROLLUPS_PROPERTY, ROLLUPS_FORMAT)?,
            has_user_rollups: has_property(table, ROLLUPS_PROPERTY, ROLLUPS_FORMAT)?
                && has_property(table, USER_ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT)?,
            has_supersessions: has_property(table, SUPERSESSIONS_PROPERTY, SUPERSESSIONS_FORMAT)?,
            table: table.clone(),
        })
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
        let events: Vec<&Event> = parts.iter().flatten().collect();
        let mut writer = self.writer.lock().await;
        // The operation's time, as deltalake's `write` reports it: not the wait for the writer.
        let began = std::time::Instant::now();
        let outcome = loop {
            if let Some(outcome) = self
                .write_once(&mut writer, &events, idempotency_key, began)
                .await?
            {
                break outcome;
            }
            tracing::info!("another writer committed to the batch's bots first: writing it again");
        };
        // A large batch's strings are freed on another thread, after the commit.
        let count = events.len();
        drop(events);
        if count >= BACKGROUND_DROP_EVENTS {
            std::thread::spawn(move || drop(parts));
        }
        Ok(outcome)
    }

    /// One attempt at committing `events` on the latest version of the table; `None` when another
    /// writer committed to the batch's bots or key after it read them (see [`commit::commit_batch`]).
    async fn write_once(
        &self,
        writer: &mut Writer,
        events: &[&Event],
        idempotency_key: Option<&str>,
        began: std::time::Instant,
    ) -> Result<Option<WriteOutcome>> {
        catch_up(&mut writer.table).await?;
        let app_id = idempotency_key.map(|key| format!("talkhouse-ingest:{key}"));

        let transaction = match (idempotency_key, &app_id) {
            (Some(key), Some(app_id)) => {
                let fingerprint = fingerprint(events);
                let state = writer.table.snapshot()?;
                match state
                    .transaction_version(writer.table.log_store().as_ref(), app_id)
                    .await?
                {
                    Some(stored) if stored == fingerprint => {
                        return Ok(Some(WriteOutcome {
                            version: writer.table.version(),
                            replayed: true,
                            ..WriteOutcome::default()
                        }));
                    }
                    Some(_) => {
                        return Err(Error::IdempotencyKeyReused {
                            key: key.to_string(),
                        });
                    }
                    None => Some(Transaction::new(app_id.clone(), fingerprint)),
                }
            }
            _ => None,
        };

        // One listing of the live files serves both lookups.
        let listed = live_files::read(&writer.table, &self.file_statistics).await?;
        let started = std::time::Instant::now();
        let stored_ids = self.stored_message_ids(writer, &listed, events).await?;
        tracing::debug!(elapsed = ?started.elapsed(), stored = stored_ids.len(), "duplicate lookup");
        let written_at = writer.next_written_at();
        let rollups = has_property(&writer.table, ROLLUPS_PROPERTY, ROLLUPS_FORMAT)?;
        let users =
            rollups && has_property(&writer.table, USER_ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT)?;
        let supersessions =
            has_property(&writer.table, SUPERSESSIONS_PROPERTY, SUPERSESSIONS_FORMAT)?;
        let stored_versions = if rollups || supersessions {
            let started = std::time::Instant::now();
            let stored = self
                .stored_versions(&writer.table, &listed.0, events)
                .await?;
            tracing::debug!(elapsed = ?started.elapsed(), stored = stored.len(), "conversation lookup");
            Some(stored)
        } else {
            None
        };
        // A row's batch line is its event's place in the batch, duplicates counted: the versions
        // of the batch's conversations, which no duplicate touches, are ordered on one core while
        // the duplicates are dropped on another.
        let mut outcome = WriteOutcome::default();
        let (versions, kept) = parallel::join(
            events.len(),
            || match &stored_versions {
                Some(stored) => BatchVersions::of_batch(events, stored, written_at),
                None => BatchVersions::default(),
            },
            || without_duplicates(events, &stored_ids, &mut outcome),
        );
        if kept.is_empty() && transaction.is_none() {
            outcome.version = writer.table.version();
            return Ok(Some(outcome));
        }
        // Tables created before supersessions have no columns for them: record none.
        let no_versions = BatchVersions::default();
        let recorded = if supersessions {
            &versions
        } else {
            &no_versions
        };
        let schema = writer.table.snapshot()?.snapshot().arrow_schema();
        let started = std::time::Instant::now();
        // The batch's rollup is summed on one core while its events are encoded on every core.
        let (rollup, encoded) = parallel::join(
            kept.len(),
            || match rollups {
                true => {
                    let messages = kept.iter().map(|(_, event)| *event);
                    let rollup = Rollup::of_batch(messages, &versions, users);
                    RollupRows {
                        buckets: rollup.rows(),
                        users: rollup.user_rows(),
                    }
                }
                false => RollupRows::default(),
            },
            || {
                encode_events_in_parallel(
                    &by_partition(&kept),
                    &recorded.superseded_at_write,
                    &schema,
                    written_at,
                )
            },
        );
        let mut batches = encoded?;
        batches.push(encode_derived_rows(
            events.len() as i64,
            recorded,
            &rollup,
            &schema,
            written_at,
        )?);
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        tracing::debug!(elapsed = ?started.elapsed(), rows, "encoded");
        drop(kept);
        let started = std::time::Instant::now();
        let adds = write_files(&writer.table, &batches).await?;
        drop(batches);
        tracing::debug!(elapsed = ?started.elapsed(), files = adds.len(), "written");
        let started = std::time::Instant::now();
        let metrics = operation_metrics(&adds, rows, began)?;
        let committed =
            commit::commit_batch(&mut writer.table, adds, transaction, metrics, app_id).await?;
        outcome.version = committed;
        tracing::debug!(elapsed = ?started.elapsed(), version = outcome.version, "committed");
        Ok(committed.map(|_| outcome))
    }
}

/// Whether `table` was created with `property` set to `format` (rollups or supersessions in
/// every commit).
pub(crate) fn has_property(table: &DeltaTable, property: &str, format: &str) -> Result<bool> {
    Ok(table
        .snapshot()?
        .metadata()
        .configuration()
        .get(property)
        .is_some_and(|value| value == format))
}

/// A stable digest of a batch's content, as a non-negative Delta transaction version.
fn fingerprint(events: &[&Event]) -> i64 {
    let mut hasher = Sha256::new();
    for event in events {
        hasher.update(serde_json::to_vec(event).expect("events serialize"));
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
}
