//! The reader's view of the `events` log, brought up to date one commit at a time.
//!
//! deltalake brings a table state up to date by replaying the log over every live file it already
//! holds, parsing each file's statistics JSON again: tens of milliseconds on the 2,500 files of
//! the medium benchmark, paid by the first answer after every commit. The reader instead reads
//! each new commit once and applies its add and remove actions to its own list of live files. A
//! commit that changes the metadata or the protocol, or that it cannot read, makes it load the
//! table state from deltalake once more; so does every commit of a table whose files it does not
//! read itself (see [`live_files::reads_files`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use deltalake_core::kernel::{Action, Add, LogicalFileView};
use deltalake_core::logstore::commit_uri_from_version;
use deltalake_core::{DeltaTable, DeltaTableError};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::Result;
use crate::read::live_files::{self, LoggedFile};

/// The live files of the latest version the reader has read, and a table state to read the
/// metadata from.
pub(crate) struct FollowedLog {
    /// A state of the table with the metadata and protocol of `version`; its own files may be
    /// those of an earlier version.
    table: DeltaTable,
    version: u64,
    /// The live files of `version`, by their path under the table root (decoded), in path order.
    files: BTreeMap<String, FollowedFile>,
    /// When the log was last read to its end.
    caught_up_at: Instant,
    /// Whether this process committed since.
    commit_expected: bool,
    /// After how long without reading the log it is reloaded ([`IDLE_RELOAD`]).
    idle_reload: Duration,
}

/// A reader that has not read the log for this long brings its state up through deltalake,
/// which starts from the newest checkpoint, instead of asking for its next commit: the log's
/// cleanup deletes commits older than its retention (30 days by default), and a missing next
/// commit would look like the end of the log.
const IDLE_RELOAD: Duration = Duration::from_secs(24 * 3600);

/// One live file as its add action describes it.
pub(crate) struct FollowedFile {
    /// Under the table root.
    location: Path,
    partition_values: HashMap<String, Option<String>>,
    size: i64,
    modification_time: i64,
    stats: Option<String>,
}

impl FollowedLog {
    /// Starts from a loaded table state.
    pub(crate) fn new(table: DeltaTable) -> Result<Self> {
        let mut followed = Self {
            version: 0,
            files: BTreeMap::new(),
            table,
            caught_up_at: Instant::now(),
            commit_expected: true,
            idle_reload: IDLE_RELOAD,
        };
        followed.take_files_of_table()?;
        Ok(followed)
    }

    /// How long ago the log was last read to its end.
    pub(crate) fn since_log_read(&self) -> Duration {
        self.caught_up_at.elapsed()
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The table state whose metadata and protocol are those of [`Self::version`].
    pub(crate) fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// The live files of [`Self::version`], with their locations under the table root.
    pub(crate) fn files(&self) -> impl Iterator<Item = (Path, &FollowedFile)> {
        self.files
            .values()
            .map(|file| (file.location.clone(), file))
    }

    /// [`Self::catch_up`], unless the log was read to its end less than `interval` ago and no
    /// commit of this process is expected.
    pub(crate) async fn catch_up_within(&mut self, interval: Duration) -> Result<()> {
        if !self.commit_expected && self.caught_up_at.elapsed() < interval {
            return Ok(());
        }
        self.catch_up().await
    }

    /// Makes the next [`Self::catch_up_within`] read the log: this process committed.
    pub(crate) fn expect_commit(&mut self) {
        self.commit_expected = true;
    }

    /// Applies every commit after [`Self::version`]. Commits are numbered one after the other,
    /// so the first missing one ends the log.
    pub(crate) async fn catch_up(&mut self) -> Result<()> {
        let started = Instant::now();
        if self.caught_up_at.elapsed() > self.idle_reload {
            self.reload().await?;
        }
        self.apply_new_commits().await?;
        self.caught_up_at = started;
        self.commit_expected = false;
        Ok(())
    }

    async fn apply_new_commits(&mut self) -> Result<()> {
        let follows = live_files::reads_files(&self.table)?;
        let store = self.table.log_store().object_store(None);
        loop {
            let next = self.version + 1;
            let bytes = match store.get(&commit_uri_from_version(Some(next))).await {
                Ok(found) => found.bytes().await.map_err(DeltaTableError::from)?,
                Err(object_store::Error::NotFound { .. }) => {
                    // The end of the log, unless a vacuum expired the commits after `version`.
                    if crate::write::commit::newest_checkpoint(&store).await > Some(self.version) {
                        return self.reload().await;
                    }
                    return Ok(());
                }
                Err(error) => return Err(DeltaTableError::from(error).into()),
            };
            let Some(changes) = file_changes(&bytes).filter(|_| follows) else {
                return self.reload().await;
            };
            for change in changes {
                match change {
                    FileChange::Added(path, file) => self.files.insert(path, file),
                    FileChange::Removed(path) => self.files.remove(&path),
                };
            }
            self.version = next;
        }
    }

    /// Brings the table state up to the latest commit through deltalake, and its files with it;
    /// loads it anew from the newest checkpoint when the commits after its version are gone.
    async fn reload(&mut self) -> Result<()> {
        if let Err(error) = self.table.update_incremental(None).await {
            tracing::info!(%error, version = self.version, "loading the table state anew");
            self.table.load().await?;
        }
        self.take_files_of_table()
    }

    fn take_files_of_table(&mut self) -> Result<()> {
        self.version = self.table.version().unwrap_or(0);
        self.files = self
            .table
            .snapshot()?
            .log_data()
            .into_iter()
            .map(|file| FollowedFile::of_view(&file))
            .collect();
        Ok(())
    }
}

enum FileChange {
    Added(String, FollowedFile),
    Removed(String),
}

/// The add and remove actions of one commit, in their order; `None` when the commit changes the
/// metadata or the protocol, or holds an action this reader does not know.
fn file_changes(commit: &[u8]) -> Option<Vec<FileChange>> {
    let mut changes = Vec::new();
    for action in serde_json::Deserializer::from_slice(commit).into_iter::<Action>() {
        match action.ok()? {
            Action::Add(add) => {
                let (path, file) = FollowedFile::of_add(add);
                changes.push(FileChange::Added(path, file));
            }
            Action::Remove(remove) => changes.push(FileChange::Removed(remove.path)),
            Action::Metadata(_) | Action::Protocol(_) => return None,
            Action::Cdc(_) | Action::Txn(_) | Action::CommitInfo(_) | Action::DomainMetadata(_) => {
            }
        }
    }
    Some(changes)
}

impl FollowedFile {
    fn of_add(add: Add) -> (String, Self) {
        let file = Self {
            location: live_files::location_in_table(&add.path),
            partition_values: add.partition_values,
            size: add.size,
            modification_time: add.modification_time,
            stats: add.stats,
        };
        (add.path, file)
    }

    fn of_view(view: &LogicalFileView) -> (String, Self) {
        let path = view.path().into_owned();
        let file = Self {
            location: live_files::location_in_table(&path),
            partition_values: view.partition_values_map(),
            size: view.size(),
            modification_time: view.modification_time(),
            stats: view.stats(),
        };
        (path, file)
    }
}

impl LoggedFile for &FollowedFile {
    fn partition_values(&self) -> Cow<'_, HashMap<String, Option<String>>> {
        Cow::Borrowed(&self.partition_values)
    }

    fn size(&self) -> i64 {
        self.size
    }

    fn modification_time(&self) -> i64 {
        self.modification_time
    }

    fn stats(&self) -> Option<Cow<'_, str>> {
        self.stats.as_deref().map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use talkhouse_core::Event;

    use crate::format::{Spelling, spelling};
    use crate::maintain::format_spelling::spell_the_earlier_way;
    use crate::test_events::{conversation_event, tenant};
    use crate::{DataLocation, EventTable, Snapshot};

    async fn open(folder: &std::path::Path) -> EventTable {
        EventTable::open(&DataLocation::local(folder).unwrap())
            .await
            .unwrap()
    }

    /// Versions of two bots' sessions in January and February.
    fn batch(round: u32) -> Vec<Event> {
        let mut events = Vec::new();
        for bot in [1, 2] {
            for month in [1, 2] {
                let at = Utc.with_ymd_and_hms(2025, month, 10, 12, round, 0).unwrap();
                events.push(conversation_event(
                    tenant(bot),
                    &format!("s{month}"),
                    at,
                    at,
                ));
            }
        }
        events
    }

    /// Each file of the snapshot with its row count, in location order.
    fn files(snapshot: &Snapshot) -> Vec<(String, Option<usize>)> {
        let live = snapshot.live_files.as_ref().expect("read file by file");
        let mut files: Vec<_> = live
            .files
            .iter()
            .map(|file| {
                let rows = file.statistics.as_ref().map(|s| s.num_rows);
                (
                    file.object_meta.location.to_string(),
                    rows.and_then(|r| r.get_value().copied()),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// What a reader that followed the log reads, against what one opened now reads.
    async fn assert_reads_as_a_fresh_load(reader: &EventTable, folder: &std::path::Path) {
        let followed = reader.snapshot().await.unwrap();
        let loaded = open(folder).await.snapshot().await.unwrap();
        assert_eq!(followed.version, loaded.version);
        assert_eq!(files(&followed), files(&loaded));
        assert!(!files(&followed).is_empty());
        assert_eq!(
            spelling(&followed.table).unwrap(),
            spelling(&loaded.table).unwrap()
        );
    }

    async fn followed_table_version(reader: &EventTable) -> Option<u64> {
        reader.reader().await.table().version()
    }

    /// The log's cleanup deleted the commits after the reader's version, leaving a checkpoint:
    /// a reader idle that long loads the table from the checkpoint.
    #[tokio::test]
    async fn a_reader_idle_past_the_logs_retention_recovers_through_the_checkpoint() {
        let folder = tempfile::tempdir().unwrap();
        let reader = open(folder.path()).await;
        let writer = open(folder.path()).await;
        let idle_at = reader.snapshot().await.unwrap().version;
        for round in 0..3 {
            writer.write(batch(round), None).await.unwrap();
        }
        let latest = writer.latest_version().await.unwrap();
        let table = writer.fresh_table().await.unwrap();
        deltalake_core::checkpoints::create_checkpoint(&table, None)
            .await
            .unwrap();
        let log = folder.path().join("events/_delta_log");
        for version in idle_at + 1..=latest {
            std::fs::remove_file(log.join(format!("{version:020}.json"))).unwrap();
        }
        reader.reader().await.idle_reload = std::time::Duration::ZERO;
        assert_eq!(reader.snapshot().await.unwrap().version, latest);
        assert_reads_as_a_fresh_load(&reader, folder.path()).await;
    }

    #[tokio::test]
    async fn within_its_interval_a_reader_sees_its_own_commits_and_not_yet_others() {
        let folder = tempfile::tempdir().unwrap();
        let reader = open(folder.path())
            .await
            .with_log_check_interval(std::time::Duration::from_secs(3600));
        let other = open(folder.path()).await;
        let first = reader.snapshot().await.unwrap().version;
        other.write(batch(0), None).await.unwrap();
        assert_eq!(reader.snapshot().await.unwrap().version, first);
        // Its own commit makes it read the log, and the other's commit with it.
        reader.write(batch(1), None).await.unwrap();
        let seen = reader.snapshot().await.unwrap().version;
        assert_eq!(seen, first + 2);
        assert_eq!(other.latest_version().await.unwrap(), seen);
    }

    #[tokio::test]
    async fn a_reader_follows_appends_compactions_and_a_metadata_change_commit_by_commit() {
        let folder = tempfile::tempdir().unwrap();
        let reader = open(folder.path()).await;
        let writer = open(folder.path()).await;
        let opened_at = followed_table_version(&reader).await;

        for round in 0..3 {
            writer.write(batch(round), None).await.unwrap();
        }
        assert_reads_as_a_fresh_load(&reader, folder.path()).await;
        // Compaction removes every file it rewrites.
        writer.compact(1, |_| {}).await.unwrap();
        writer.write(batch(3), None).await.unwrap();
        assert_reads_as_a_fresh_load(&reader, folder.path()).await;
        // Neither the appends nor the compaction made the reader load the table state again.
        assert_eq!(followed_table_version(&reader).await, opened_at);

        // A commit of new metadata: the layout as the builds before `talkhouse.format` spelled it.
        spell_the_earlier_way(&writer).await;
        writer.write(batch(4), None).await.unwrap();
        let snapshot = reader.snapshot().await.unwrap();
        assert_eq!(spelling(&snapshot.table).unwrap(), Spelling::Earlier);
        assert_eq!(
            spelling(reader.reader().await.table()).unwrap(),
            Spelling::Earlier
        );
        assert_reads_as_a_fresh_load(&reader, folder.path()).await;
        // Compaction names the layout `talkhouse.format` again, in a commit of its own.
        let outcome = writer.compact(1, |_| {}).await.unwrap();
        assert!(outcome.format_spelling_rewritten.is_some());
        assert_reads_as_a_fresh_load(&reader, folder.path()).await;
        let snapshot = reader.snapshot().await.unwrap();
        assert_eq!(spelling(&snapshot.table).unwrap(), Spelling::Current);
        assert_eq!(
            writer
                .compact(1, |_| {})
                .await
                .unwrap()
                .format_spelling_rewritten,
            None
        );
    }
}
