//! The message ids already stored in each (bot, month) partition, kept by the writer between
//! batches.
//!
//! A message repeats its original `sent_at`, so a batch's duplicates can only be in the (bot,
//! month) partitions of its messages. Data files never change once written, so the ids of a
//! partition are those of the files already read plus those of its new files: a batch reads the
//! files committed since the previous batch that touched the partition, not the whole month.
//! When files the ids came from are no longer live (compaction merged them), the partition is
//! read again from its live files, so the ids always equal those of the live files.

use std::collections::{HashMap, HashSet};

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake_core::DeltaTable;
use object_store::path::Path;
use uuid::Uuid;

use crate::Result;
use crate::live_files::LiveFiles;
use crate::read;
use crate::schema::KIND_MESSAGE;

/// Ids kept at most, over all partitions (16 bytes each); the partitions used longest ago are
/// dropped beyond it.
const MAX_IDS: usize = 16 * 1024 * 1024;

/// A partition: `(bot_id, month)`.
type PartitionKey = (String, String);

#[derive(Default)]
pub struct StoredMessageIds {
    partitions: HashMap<PartitionKey, PartitionIds>,
    /// Counts lookups, to tell which partitions were used longest ago.
    clock: u64,
}

#[derive(Default)]
struct PartitionIds {
    /// The files the ids were read from.
    files: HashSet<Path>,
    /// Sorted, without repeats.
    ids: Vec<u128>,
    used: u64,
}

impl StoredMessageIds {
    /// Which of `wanted` (bot, message id, UTC month of `sent_at`) are stored in `table`, whose
    /// live files are `live`.
    pub async fn stored(
        &mut self,
        table: &DeltaTable,
        live: &LiveFiles,
        runtime: &std::sync::Arc<RuntimeEnv>,
        wanted: &[(Uuid, Uuid, String)],
    ) -> Result<HashSet<(Uuid, Uuid)>> {
        self.clock += 1;
        let touched: HashSet<PartitionKey> = wanted
            .iter()
            .map(|(bot, _, month)| (bot.to_string(), month.clone()))
            .collect();
        let mut live_files: HashMap<&PartitionKey, HashSet<&Path>> = HashMap::new();
        for (location, values) in live.partitions() {
            if let [Some(bot), Some(kind), Some(month)] = values.as_slice()
                && kind == KIND_MESSAGE
                && let Some(key) = touched.get(&(bot.clone(), month.clone()))
            {
                live_files.entry(key).or_default().insert(location);
            }
        }
        let mut unread: HashMap<&Path, &PartitionKey> = HashMap::new();
        for key in &touched {
            let files = live_files.remove(key).unwrap_or_default();
            let partition = self.partitions.entry(key.clone()).or_default();
            partition.used = self.clock;
            if !partition.files.iter().all(|read| files.contains(read)) {
                *partition = PartitionIds {
                    used: self.clock,
                    ..PartitionIds::default()
                };
            }
            for file in files.into_iter().filter(|f| !partition.files.contains(*f)) {
                unread.insert(file, key);
            }
        }
        if !unread.is_empty() {
            // A file counts as read only once its ids are in: a failed read leaves none behind.
            let files: HashSet<&Path> = unread.keys().copied().collect();
            self.read(table, live, runtime, &files).await?;
            for (location, key) in unread {
                if let Some(partition) = self.partitions.get_mut(key) {
                    partition.files.insert(location.clone());
                }
            }
        }
        let stored = wanted
            .iter()
            .filter(|(bot, id, month)| {
                self.partitions
                    .get(&(bot.to_string(), month.clone()))
                    .is_some_and(|p| p.ids.binary_search(&id.as_u128()).is_ok())
            })
            .map(|(bot, id, _)| (*bot, *id))
            .collect();
        self.forget_beyond(MAX_IDS);
        Ok(stored)
    }

    /// Reads the ids of `files` into their partitions.
    async fn read(
        &mut self,
        table: &DeltaTable,
        live: &LiveFiles,
        runtime: &std::sync::Arc<RuntimeEnv>,
        files: &HashSet<&Path>,
    ) -> Result<()> {
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime.clone());
        table.update_datafusion_session(&ctx.state())?;
        let batches = ctx
            .read_table(std::sync::Arc::new(live.restricted_to(files)?))?
            .select_columns(&["bot_id", "month", "message_id"])?
            .collect()
            .await?;
        let mut read: HashMap<PartitionKey, Vec<u128>> = HashMap::new();
        for batch in batches {
            let (bots, months) = (read::texts(&batch, 0)?, read::texts(&batch, 1)?);
            let ids = read::texts(&batch, 2)?;
            for row in 0..batch.num_rows() {
                if let Some(id) = read::uuid_at(&ids, row) {
                    let key = (bots.value(row).to_string(), months.value(row).to_string());
                    read.entry(key).or_default().push(id.as_u128());
                }
            }
        }
        for (key, mut ids) in read {
            ids.sort_unstable();
            let partition = self.partitions.entry(key).or_default();
            partition.ids = merged(&partition.ids, &ids);
        }
        Ok(())
    }

    /// Drops the partitions used longest ago until at most `max_ids` ids are kept.
    fn forget_beyond(&mut self, max_ids: usize) {
        let mut kept: usize = self.partitions.values().map(|p| p.ids.len()).sum();
        while kept > max_ids {
            let Some(oldest) = self
                .partitions
                .iter()
                .filter(|(_, p)| p.used < self.clock)
                .min_by_key(|(_, p)| p.used)
                .map(|(key, _)| key.clone())
            else {
                return;
            };
            if let Some(dropped) = self.partitions.remove(&oldest) {
                kept -= dropped.ids.len();
            }
        }
    }
}

/// The union of two sorted lists without repeats, sorted.
fn merged(a: &[u128], b: &[u128]) -> Vec<u128> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x <= y => {
                i += 1;
                if x == y {
                    j += 1;
                }
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, None) => unreachable!("the loop runs while one list has more"),
        };
        if out.last() != Some(&next) {
            out.push(next);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_every_id_once_in_order() {
        assert_eq!(merged(&[1, 3, 5], &[2, 3, 3, 6]), vec![1, 2, 3, 5, 6]);
        assert_eq!(merged(&[], &[4, 4]), vec![4]);
        assert_eq!(merged(&[7], &[]), vec![7]);
    }

    #[test]
    fn the_partitions_used_longest_ago_are_forgotten_first() {
        let mut stored = StoredMessageIds::default();
        for (used, bot) in [(1, "a"), (2, "b"), (3, "c")] {
            stored.partitions.insert(
                (bot.into(), "2024-01".into()),
                PartitionIds {
                    ids: vec![1, 2],
                    used,
                    ..PartitionIds::default()
                },
            );
        }
        stored.clock = 3;
        stored.forget_beyond(4);
        let mut kept: Vec<&str> = stored.partitions.keys().map(|(b, _)| b.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["b", "c"]);
        // The partitions of the current lookup are kept, whatever the budget.
        stored.forget_beyond(0);
        let kept: Vec<&str> = stored.partitions.keys().map(|(b, _)| b.as_str()).collect();
        assert_eq!(kept, ["c"]);
    }
}
