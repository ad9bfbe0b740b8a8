//! What a writer checks when another writer committed first (decision 30).
//!
//! A batch's write reads the table at one version: the stored message ids and conversation
//! versions of its bots, and its idempotency key. It commits at the next version with
//! put-if-absent and no retry of deltalake's own (which lets two appends both land). When another
//! writer took that version, the writer reads the commits that landed since: if none of them
//! touched a partition of the batch's bots, its key, or the table's metadata, what it read is
//! still true and the same files are committed at the next version; otherwise the batch is
//! looked up and written again.

use std::collections::HashSet;

use deltalake_core::kernel::Action;
use deltalake_core::kernel::transaction::TransactionError;
use deltalake_core::logstore::commit_uri_from_version;
use deltalake_core::{DeltaTable, DeltaTableError};
use object_store::ObjectStoreExt;

use crate::Result;

/// What a batch's write read of the table that its commit depends on.
pub(crate) struct ReadSet {
    /// The directory prefix of each bot the batch writes to (`bot_id=<uuid>/`).
    bot_prefixes: HashSet<String>,
    /// The application id of the batch's idempotency key.
    app_id: Option<String>,
}

impl ReadSet {
    /// The read set of a batch that writes the files at `paths` (under the table root). What it
    /// looked up of a bot matters only where it writes: every message and conversation version
    /// it keeps, and every rollup row, is stored in its bot's partition.
    pub(crate) fn of_files<'a>(
        paths: impl IntoIterator<Item = &'a str>,
        app_id: Option<String>,
    ) -> Self {
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
pub(crate) fn lost_the_race(error: &DeltaTableError) -> bool {
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
pub(crate) async fn touch(table: &DeltaTable, read_version: u64, read: &ReadSet) -> Result<bool> {
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
