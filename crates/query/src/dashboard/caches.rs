//! What every answer about a bot needs besides its own plan, kept per (snapshot, bot).

use chrono::{DateTime, Utc};

use crate::index::{Indexes, SnapshotCache};
use crate::model::Channel;

pub(super) struct BotCaches {
    pub indexes: Indexes,
    /// The newest event instant of a bot, which every answer's provenance carries, and its
    /// channels, which every breakdown and series lists: read from the views where the indexes
    /// do not apply.
    pub data_as_of: SnapshotCache<Option<DateTime<Utc>>>,
    pub channels: SnapshotCache<Vec<Channel>>,
}

impl BotCaches {
    pub fn new(index_bytes: usize) -> Self {
        Self {
            indexes: Indexes::new(index_bytes),
            data_as_of: SnapshotCache::new(),
            channels: SnapshotCache::new(),
        }
    }
}
