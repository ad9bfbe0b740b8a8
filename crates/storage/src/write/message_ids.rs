//! Which of a batch's messages are stored already, over each tenant's whole history (decision 29).
//!
//! A message is a duplicate when its tenant (org, env, bot) already stored its `message_id`, in
//! any month: a client that corrects its clock or a replay from another source sends an id again
//! with another `sent_at`. The writer keeps, for every bot it has written, a bloom filter of the
//! (tenant, message id) of every message file of the bot's partitions, all months. Data files
//! never change once written, so a batch reads only the files committed since the previous batch
//! of the bot. A batch's ids are probed in memory; the few the filter may hold (the duplicates,
//! and about one id in a thousand more) are confirmed by a scan of the bot's message files for
//! exactly those ids, which the files' own Parquet bloom filters on `message_id` prune row group
//! by row group. When files the filter was built from are no longer live (compaction merged
//! them), the bot's filter is built again from its live files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{col, lit};
use deltalake_core::DeltaTable;
use object_store::path::Path;
use parquet::bloom_filter::Sbbf;
use talkhouse_core::Tenant;
use uuid::Uuid;

use crate::Result;
use crate::read::live_files::{self, LiveFiles};
use crate::read::scan;
use crate::schema::KIND_MESSAGE;

/// The rate at which the filter says "maybe stored" of an id that is not.
const FALSE_POSITIVE_RATE: f64 = 0.001;

/// Ids one filter is sized for at most: a split-block bloom filter holds at most 128 MiB, and
/// 32 Mi ids at [`FALSE_POSITIVE_RATE`] take 64 MiB. A bot with more has several, each holding
/// the ids whose low bits choose it.
const MAX_IDS_PER_FILTER: u64 = 32 * 1024 * 1024;

/// Bytes of filters kept at most, over all bots (1.8 bytes per stored message at
/// [`FALSE_POSITIVE_RATE`], up to twice that as sizes are powers of two); the bots written longest
/// ago are dropped beyond it.
const MAX_FILTER_BYTES: usize = 512 * 1024 * 1024;

/// Confirmed with the ids in the scan's predicate up to this many; beyond it (a large batch sent
/// again whole), the bots' ids are read and compared here.
const MAX_IDS_IN_PREDICATE: usize = 4096;

/// The message ids a writer has seen, per bot.
#[derive(Default)]
pub struct StoredMessageIds {
    bots: HashMap<String, BotIds>,
    /// Counts lookups, to tell which bots were written longest ago.
    clock: u64,
}

struct BotIds {
    /// The files whose ids are in `filters`.
    files: HashSet<Path>,
    /// Each holds the ids whose low bits choose it.
    filters: Vec<Sbbf>,
    /// How many ids `filters` were sized for.
    capacity: u64,
    used: u64,
}

impl BotIds {
    fn sized_for(ids: u64, used: u64) -> Self {
        // Room to grow before the filter must be built again.
        let capacity = ids.saturating_add(ids / 4).max(64 * 1024);
        let count = capacity.div_ceil(MAX_IDS_PER_FILTER);
        let filters = (0..count)
            .map(|_| {
                Sbbf::new_with_ndv_fpp(capacity.div_ceil(count), FALSE_POSITIVE_RATE)
                    .expect("the false positive rate is between 0 and 1")
            })
            .collect();
        Self {
            files: HashSet::new(),
            filters,
            capacity,
            used,
        }
    }

    fn filter(&mut self, id: &Uuid) -> &mut Sbbf {
        let count = self.filters.len() as u128;
        &mut self.filters[(id.as_u128() % count) as usize]
    }

    fn insert(&mut self, tenant: &Tenant, id: &Uuid) {
        self.filter(id).insert(&key(tenant, id)[..]);
    }

    fn may_hold(&self, tenant: &Tenant, id: &Uuid) -> bool {
        let count = self.filters.len() as u128;
        self.filters[(id.as_u128() % count) as usize].check(&key(tenant, id)[..])
    }

    fn bytes(&self) -> usize {
        self.filters.iter().map(|f| f.num_blocks() * 32).sum()
    }
}

/// The bytes a (tenant, message id) is filtered by.
fn key(tenant: &Tenant, id: &Uuid) -> [u8; 64] {
    let mut key = [0u8; 64];
    for (part, uuid) in [tenant.org_id, tenant.env_id, tenant.bot_id, *id]
        .iter()
        .enumerate()
    {
        key[part * 16..(part + 1) * 16].copy_from_slice(uuid.as_bytes());
    }
    key
}

/// A message file of the table: its location, bot and row count (when the log has it).
struct MessageFile<'a> {
    location: &'a Path,
    bot: String,
    rows: Option<u64>,
}

fn message_files(live: &LiveFiles) -> impl Iterator<Item = MessageFile<'_>> {
    live.files.iter().filter_map(|file| {
        let values: Vec<Option<String>> =
            file.partition_values.iter().map(live_files::text).collect();
        match values.as_slice() {
            [Some(bot), Some(kind), _] if kind == KIND_MESSAGE => Some(MessageFile {
                location: &file.object_meta.location,
                bot: bot.clone(),
                rows: file
                    .statistics
                    .as_ref()
                    .and_then(|s| s.num_rows.get_value().copied())
                    .map(|rows| rows as u64),
            }),
            _ => None,
        }
    })
}

impl StoredMessageIds {
    /// Which of `wanted` (tenant, message id) are stored in `table`, whose live files are `live`.
    pub async fn stored(
        &mut self,
        table: &DeltaTable,
        live: &LiveFiles,
        runtime: &Arc<RuntimeEnv>,
        wanted: &[(Tenant, Uuid)],
    ) -> Result<HashSet<(Tenant, Uuid)>> {
        self.clock += 1;
        let bots: HashSet<String> = wanted.iter().map(|(t, _)| t.bot_id.to_string()).collect();
        let mut files_of: HashMap<String, Vec<MessageFile>> = HashMap::new();
        for file in message_files(live).filter(|file| bots.contains(&file.bot)) {
            files_of.entry(file.bot.clone()).or_default().push(file);
        }
        let bot_files: HashSet<&Path> = files_of.values().flatten().map(|f| f.location).collect();
        let mut unread: HashMap<&Path, String> = HashMap::new();
        for bot in &bots {
            let files = files_of.get(bot).map(Vec::as_slice).unwrap_or_default();
            // A file without a row count in the log is sized as a compacted one.
            let ids: u64 = files.iter().map(|f| f.rows.unwrap_or(1 << 20)).sum();
            let locations: HashSet<&Path> = files.iter().map(|f| f.location).collect();
            let known = self
                .bots
                .entry(bot.clone())
                .or_insert_with(|| BotIds::sized_for(ids, self.clock));
            known.used = self.clock;
            if ids > known.capacity || !known.files.iter().all(|f| locations.contains(f)) {
                *known = BotIds::sized_for(ids, self.clock);
            }
            for location in locations {
                if !known.files.contains(location) {
                    unread.insert(location, bot.clone());
                }
            }
        }
        if !unread.is_empty() {
            let files: HashSet<&Path> = unread.keys().copied().collect();
            let provider = Arc::new(live.restricted_to(&files)?);
            for (tenant, id) in scan::message_ids(table, runtime, provider, lit(true)).await? {
                if let Some(known) = self.bots.get_mut(&tenant.bot_id.to_string()) {
                    known.insert(&tenant, &id);
                }
            }
            // A file counts as read only once its ids are in: a failed read leaves none behind.
            for (location, bot) in unread {
                if let Some(known) = self.bots.get_mut(&bot) {
                    known.files.insert(location.clone());
                }
            }
        }
        let candidates: HashSet<(Tenant, Uuid)> = wanted
            .iter()
            .filter(|(tenant, id)| {
                self.bots
                    .get(&tenant.bot_id.to_string())
                    .is_some_and(|known| known.may_hold(tenant, id))
            })
            .copied()
            .collect();
        self.forget_beyond(MAX_FILTER_BYTES);
        if candidates.is_empty() {
            return Ok(HashSet::new());
        }
        let predicate = match candidates.len() <= MAX_IDS_IN_PREDICATE {
            true => col("message_id").in_list(
                candidates
                    .iter()
                    .map(|(_, id)| lit(id.to_string()))
                    .collect(),
                false,
            ),
            false => lit(true),
        };
        let provider = Arc::new(live.restricted_to(&bot_files)?);
        let found = scan::message_ids(table, runtime, provider, predicate).await?;
        Ok(found
            .into_iter()
            .filter(|found| candidates.contains(found))
            .collect())
    }

    /// Drops the filters of the bots written longest ago until at most `max_bytes` are kept.
    fn forget_beyond(&mut self, max_bytes: usize) {
        let mut kept: usize = self.bots.values().map(BotIds::bytes).sum();
        while kept > max_bytes {
            let Some(oldest) = self
                .bots
                .iter()
                .filter(|(_, known)| known.used < self.clock)
                .min_by_key(|(_, known)| known.used)
                .map(|(bot, _)| bot.clone())
            else {
                return;
            };
            if let Some(dropped) = self.bots.remove(&oldest) {
                kept -= dropped.bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(org: u128, bot: u128) -> Tenant {
        Tenant {
            org_id: Uuid::from_u128(org),
            env_id: Uuid::from_u128(7),
            bot_id: Uuid::from_u128(bot),
        }
    }

    #[test]
    fn the_key_tells_tenants_of_one_bot_apart() {
        let id = Uuid::from_u128(42);
        assert_ne!(key(&tenant(1, 9), &id), key(&tenant(2, 9), &id));
        let mut filter = BotIds::sized_for(10, 0);
        filter.insert(&tenant(1, 9), &id);
        assert!(filter.may_hold(&tenant(1, 9), &id));
    }

    #[test]
    fn a_large_bot_has_several_filters_and_each_id_is_found_in_its_own() {
        let mut filter = BotIds::sized_for(3 * MAX_IDS_PER_FILTER, 0);
        assert_eq!(filter.filters.len(), 4);
        let ids: Vec<Uuid> = (0..1000).map(|n| Uuid::from_u128(n * 7919)).collect();
        for id in &ids {
            filter.insert(&tenant(1, 9), id);
        }
        assert!(ids.iter().all(|id| filter.may_hold(&tenant(1, 9), id)));
        let absent = (0..1000)
            .filter(|n| filter.may_hold(&tenant(2, 9), &Uuid::from_u128(n * 7919)))
            .count();
        assert!(absent < 10, "{absent} false positives in 1000");
    }

    #[test]
    fn the_bots_written_longest_ago_are_forgotten_first() {
        let mut stored = StoredMessageIds::default();
        for (used, bot) in [(1, "a"), (2, "b"), (3, "c")] {
            stored.bots.insert(bot.into(), BotIds::sized_for(10, used));
        }
        let each = stored.bots["a"].bytes();
        stored.clock = 3;
        stored.forget_beyond(2 * each);
        let mut kept: Vec<&str> = stored.bots.keys().map(String::as_str).collect();
        kept.sort();
        assert_eq!(kept, ["b", "c"]);
        // The bots of the current lookup are kept, whatever the budget.
        stored.forget_beyond(0);
        let kept: Vec<&str> = stored.bots.keys().map(String::as_str).collect();
        assert_eq!(kept, ["c"]);
    }
}
