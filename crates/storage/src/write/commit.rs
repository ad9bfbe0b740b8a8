//! The table's commit log as a writer uses it: catching up with it, committing a batch, and
//! what a writer checks when another writer committed first (decision 30).
//!
//! A batch's write reads the table at one version: the stored message ids and conversation
//! versions of its bots, and its idempotency key. It commits at the next version with
//! put-if-absent and no retry of deltalake's own (which lets two appends both land). When another
//! writer took that version, the writer reads the commits that landed since: if none of them
//! touched a partition of the batch's bots, its key, or the table's metadata, what it read is
//! still true and the same files are committed at the next version; otherwise the batch is
//! looked up and written again.

use std::collections::HashSet;

use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake_core::kernel::{Action, Add, Transaction};
use deltalake_core::logstore::commit_uri_from_version;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaTable, DeltaTableError};
use object_store::ObjectStoreExt;

use crate::Result;
use crate::read::live_files;

/// Brings `table` up to the latest commit. Commits are numbered one after the other, so when the
/// log holds no entry for the next version nothing changed: one `HEAD` answers the common case,
/// where deltalake would list the whole log folder. A state whose next commits a vacuum expired is
/// loaded anew from the newest checkpoint.
pub(crate) async fn catch_up(table: &mut DeltaTable) -> Result<()> {
    if let Some(version) = table.version() {
        let next = commit_uri_from_version(Some(version + 1));
        let store = table.log_store().object_store(None);
        if let Err(object_store::Error::NotFound { .. }) = store.head(&next).await
            && newest_checkpoint(&store).await <= Some(version)
        {
            return Ok(());
        }
    }
    if let Err(error) = table.update_incremental(None).await {
        // The commits after its version are gone (a vacuum expired them): from the checkpoint.
        tracing::info!(%error, "loading the table state anew");
        table.load().await?;
    }
    Ok(())
}

/// The version of the newest checkpoint, as `_delta_log/_last_checkpoint` names it: a log whose
/// next commit is missing ends there, unless a vacuum expired the commits before this checkpoint.
pub(crate) async fn newest_checkpoint(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
) -> Option<u64> {
    let path = object_store::path::Path::from("_delta_log/_last_checkpoint");
    let bytes = store.get(&path).await.ok()?.bytes().await.ok()?;
    let last: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    last.get("version")?.as_u64()
}

/// Commits a batch's `adds` (and its idempotency key's `transaction`) at the version after the
/// one `table` is at, and leaves `table` at the new version. When another writer took that
/// version and its commits touched what the batch read, the batch's files are deleted and `None`
/// says it must be looked up and written again; otherwise the same files are committed at the
/// next version.
pub(crate) async fn commit_batch(
    table: &mut DeltaTable,
    adds: Vec<Add>,
    transaction: Option<Transaction>,
    metrics: (String, serde_json::Value),
    app_id: Option<String>,
) -> Result<Option<u64>> {
    loop {
        let base = table.version().unwrap_or(0);
        // No retry of deltalake's own: it would let another writer's append of the same
        // messages land beside this one.
        let mut properties = CommitProperties::default()
            .with_metadata([metrics.clone()])
            .with_max_retries(0);
        if let Some(transaction) = transaction.clone() {
            properties = properties.with_application_transaction(transaction);
        }
        let snapshot = table.snapshot()?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(snapshot.metadata().partition_columns().to_vec()),
            predicate: None,
        };
        let committed = CommitBuilder::from(properties)
            .with_actions(adds.iter().cloned().map(Action::Add).collect())
            .build(Some(snapshot), table.log_store(), operation)
            .await;
        match committed {
            Ok(committed) => {
                // The commit's own state, which deltalake brought up to the commit: bringing the
                // state up to it once more would replay the log over every live file again.
                table.state = Some(committed.snapshot());
                return Ok(Some(committed.version()));
            }
            Err(error) if lost_the_race(&error) => {
                catch_up(table).await?;
                let read = ReadSet::of_files(adds.iter().map(|a| a.path.as_str()), app_id.clone());
                if touch(table, base, &read).await? {
                    delete_unreferenced(table, &adds).await;
                    return Ok(None);
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Deletes the files of a batch that was not committed; what cannot be deleted is left to
/// vacuum (no log entry names it, so no reader sees it).
async fn delete_unreferenced(table: &DeltaTable, adds: &[Add]) {
    let store = table.log_store().object_store(None);
    for add in adds {
        let location = live_files::location_in_table(&add.path);
        if let Err(error) = store.delete(&location).await {
            tracing::warn!(%location, %error, "a file of an uncommitted batch was not deleted");
        }
    }
}

/// What a batch's write read of the table that its commit depends on.
struct ReadSet {
    /// The directory prefix of each bot the batch writes to (`bot_id=<uuid>/`).
    bot_prefixes: HashSet<String>,
    /// The application id of the batch's idempotency key.
    app_id: Option<String>,
}

impl ReadSet {
    /// The read set of a batch that writes the files at `paths` (under the table root). What it
    /// looked up of a bot matters only where it writes: every message and conversation version
    /// it keeps, and every rollup row, is stored in its bot's partition.
    fn of_files<'a>(paths: impl IntoIterator<Item = &'a str>, app_id: Option<String>) -> Self {
        Self {
            bot_prefixes: paths
                .into_iter()
                .filter_map(|path| Some(format!("{}/", path.split_once('/')?.0)))
                .filter(|directory| directory.starts_with("bot_id="))
                .collect(),
            app_id,
        }
    }

    fn touches_path(&self, path: &str) -> bool {
        self.bot_prefixes
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
    }

    /// Whether one commit's actions change what the batch read.
    fn touched_by(&self, commit: &[u8]) -> bool {
        for action in serde_json::Deserializer::from_slice(commit).into_iter::<Action>() {
            let touched = match action {
                Ok(Action::Add(add)) => self.touches_path(&add.path),
                Ok(Action::Remove(remove)) => self.touches_path(&remove.path),
                Ok(Action::Txn(txn)) => self.app_id.as_deref() == Some(txn.app_id.as_str()),
                Ok(Action::Cdc(_) | Action::CommitInfo(_) | Action::DomainMetadata(_)) => false,
                // New metadata or protocol, or an action this writer cannot read.
                Ok(Action::Metadata(_) | Action::Protocol(_)) | Err(_) => true,
            };
            if touched {
                return true;
            }
        }
        false
    }
}

/// Whether committing failed because another writer took the version.
fn lost_the_race(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
            }
    )
}

/// Whether any commit after `read_version`, up to the version `table` is at, touches `read`.
async fn touch(table: &DeltaTable, read_version: u64, read: &ReadSet) -> Result<bool> {
    let store = table.log_store().object_store(None);
    let latest = table.version().unwrap_or(0);
    for version in read_version + 1..=latest {
        let commit = store
            .get(&commit_uri_from_version(Some(version)))
            .await
            .map_err(DeltaTableError::from)?
            .bytes()
            .await
            .map_err(DeltaTableError::from)?;
        if read.touched_by(&commit) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_set() -> ReadSet {
        let bot = uuid::Uuid::from_u128(1);
        let path = format!("bot_id={bot}/kind=message/month=2024-03/part-1.parquet");
        ReadSet::of_files([path.as_str()], Some("talkhouse-ingest:day-1".into()))
    }

    fn add(path: &str) -> String {
        format!(
            r#"{{"add":{{"path":"{path}","partitionValues":{{}},"size":1,"modificationTime":1,"dataChange":true}}}}"#
        )
    }

    #[test]
    fn a_commit_to_another_bot_leaves_the_batch_alone() {
        let other = uuid::Uuid::from_u128(2);
        let commit = format!(
            "{}\n{}\n",
            r#"{"commitInfo":{"operation":"WRITE"}}"#,
            add(&format!(
                "bot_id={other}/kind=message/month=2024-01/a.parquet"
            ))
        );
        assert!(!read_set().touched_by(commit.as_bytes()));
    }

    #[test]
    fn a_commit_to_the_same_bot_or_key_touches_the_batch() {
        let bot = uuid::Uuid::from_u128(1);
        let same_bot = add(&format!(
            "bot_id={bot}/kind=message/month=2024-01/a.parquet"
        ));
        assert!(read_set().touched_by(same_bot.as_bytes()));
        let same_key = r#"{"txn":{"appId":"talkhouse-ingest:day-1","version":3}}"#;
        assert!(read_set().touched_by(same_key.as_bytes()));
        let other_key = r#"{"txn":{"appId":"talkhouse-ingest:day-2","version":3}}"#;
        assert!(!read_set().touched_by(other_key.as_bytes()));
        assert!(read_set().touched_by(b"not json"));
    }
}
