//! The in-memory indexes: answers from rows summed in memory, equal to what the plans over the
//! event tables answer (the end-to-end tests compare both on every endpoint).
//!
//! The wing's whole input is a [`Source`]: a snapshot, a bot, and a way to read the bot's rows of
//! one live file. Data files never change once written, so each file's rows are read once per
//! process; a snapshot's index is merged from the last one and the files its commits added and
//! removed. Nothing here knows the request being answered: an endpoint asks for an index, and
//! when it gets one it says so in its answer's provenance.
//!
//! - [`rollups`]: the rollup rows per (bucket, channel, untagged), for counts;
//! - [`user_rollups`]: each user's latest conversations per bucket and channel, for distinct users
//!   (counted in `user_distinct`, `user_visits` and `wavelet`);
//! - [`bot_facts`]: a bot's channels, newest event and data span;
//! - [`file_rows`]: each file's rows, the sums of a snapshot's, and the memory they may hold;
//! - [`bucketed`]: the 15-minute slots rows are kept by, and which requests they answer.

mod bot_facts;
mod bucketed;
mod file_rows;
mod numbers;
mod rollups;
mod snapshot_cache;
mod source;
mod user_distinct;
mod user_rollups;
mod user_rows;
mod user_visits;
mod wavelet;

pub(crate) use bot_facts::BotFacts;
pub(crate) use bucketed::answers;
pub(crate) use rollups::{RollupIndex, by_channel, by_key};
pub(crate) use snapshot_cache::SnapshotCache;
pub(crate) use source::Source;
pub(crate) use user_rollups::UserIndex;

use std::sync::Arc;

use bot_facts::FileFactsCache;
use file_rows::IndexCache;
use rollups::BucketRow;
use user_rows::UserRow;

use crate::Result;

/// Every index of every bot asked about, within a memory budget.
pub(crate) struct Indexes {
    /// A bot's channels, newest event instant and data span, combined from `files`.
    facts: SnapshotCache<Arc<BotFacts>>,
    /// What each live file holds of a bot.
    files: FileFactsCache,
    /// A bot's rollup rows summed per bucket, channel and untagged.
    rollups: IndexCache<BucketRow, RollupIndex>,
    /// A bot's users per bucket and channel.
    users: IndexCache<UserRow, UserIndex>,
}

impl Indexes {
    /// `memory_bytes` bounds the rows the rollup and user indexes hold, each kind half of it; the
    /// bots asked about longest ago are forgotten first.
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            facts: SnapshotCache::new(),
            files: FileFactsCache::default(),
            rollups: IndexCache::new(RollupIndex::of, memory_bytes / 2),
            users: IndexCache::new(UserIndex::of, memory_bytes / 2),
        }
    }

    /// Per index kind: about the memory its rows hold now, and the bots forgotten so far.
    pub fn held(&self) -> [(&'static str, usize, u64); 2] {
        let (rollup_bytes, rollup_evictions) = self.rollups.held();
        let (user_bytes, user_evictions) = self.users.held();
        [
            ("rollups", rollup_bytes, rollup_evictions),
            ("users", user_bytes, user_evictions),
        ]
    }

    /// The bot's rollup index; `None` when the snapshot is not read file by file. The table must
    /// carry rollups.
    pub async fn rollups(&self, source: &mut impl Source) -> Result<Option<Arc<RollupIndex>>> {
        self.rollups.get(source).await
    }

    /// The bot's user index; `None` when the snapshot is not read file by file. The table must
    /// carry user rollups.
    pub async fn users(&self, source: &mut impl Source) -> Result<Option<Arc<UserIndex>>> {
        self.users.get(source).await
    }

    /// The bot's facts; `None` when the snapshot is not read file by file. The table must carry
    /// rollups.
    pub async fn bot_facts(&self, source: &mut impl Source) -> Result<Option<Arc<BotFacts>>> {
        let (version, tenant) = (source.snapshot().version, source.tenant());
        if let Some(known) = self.facts.get(version, tenant) {
            return Ok(Some(known));
        }
        let Some(rollups) = self.rollups(source).await? else {
            return Ok(None);
        };
        let Some(facts) = self.files.bot_facts(source, &rollups).await? else {
            return Ok(None);
        };
        let facts = Arc::new(facts);
        self.facts.insert(version, tenant, facts.clone());
        Ok(Some(facts))
    }
}

#[cfg(test)]
mod tests;
