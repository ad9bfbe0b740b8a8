//! Values computed once per (snapshot, bot).

use std::collections::HashMap;
use std::sync::Mutex;

use talkhouse_core::Tenant;

/// Facts of one (snapshot, bot): a snapshot never changes, so neither do they. Entries of older
/// snapshots are dropped when a newer one is first seen: the commit log invalidates, not a clock.
pub(crate) struct SnapshotCache<T> {
    entries: Mutex<HashMap<(u64, Tenant), T>>,
}

impl<T: Clone> SnapshotCache<T> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, snapshot: u64, tenant: Tenant) -> Option<T> {
        let entries = self.entries.lock().expect("not poisoned");
        entries.get(&(snapshot, tenant)).cloned()
    }

    pub fn forget(&self, tenant: Tenant) {
        let mut entries = self.entries.lock().expect("not poisoned");
        entries.retain(|(_, t), _| *t != tenant);
    }

    pub fn insert(&self, snapshot: u64, tenant: Tenant, value: T) {
        let mut entries = self.entries.lock().expect("not poisoned");
        let newest = entries.keys().map(|(s, _)| *s).max().unwrap_or(0);
        if snapshot > newest {
            entries.retain(|(s, _), _| *s == newest);
        }
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert((snapshot, tenant), value);
    }
}
