//! What this process did to the table since it opened it, for the server's metrics: commit
//! conflicts, compactions, vacuums and deletions.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, each only ever growing.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    commit_conflicts: AtomicU64,
    compactions: AtomicU64,
    compacted_files: AtomicU64,
    compacted_bytes: AtomicU64,
    vacuums: AtomicU64,
    vacuumed_files: AtomicU64,
    vacuumed_bytes: AtomicU64,
    deletions: AtomicU64,
    deleted_sessions: AtomicU64,
    deleted_messages: AtomicU64,
}

/// A reading of [`Activity`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableActivity {
    /// Commits another writer's commit made this process look up and write again.
    pub commit_conflicts: u64,
    /// Compaction runs, and the files and bytes they rewrote.
    pub compactions: u64,
    pub compacted_files: u64,
    pub compacted_bytes: u64,
    /// Vacuum runs, and the data files and bytes they deleted.
    pub vacuums: u64,
    pub vacuumed_files: u64,
    pub vacuumed_bytes: u64,
    /// Deletions (erasures and retention rounds) that committed, and what they deleted.
    pub deletions: u64,
    pub deleted_sessions: u64,
    pub deleted_messages: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Activity {
    pub(crate) fn commit_conflict(&self) {
        add(&self.commit_conflicts, 1);
    }

    pub(crate) fn compaction(&self, files: u64, bytes: u64) {
        add(&self.compactions, 1);
        add(&self.compacted_files, files);
        add(&self.compacted_bytes, bytes);
    }

    pub(crate) fn vacuum(&self, files: u64, bytes: u64) {
        add(&self.vacuums, 1);
        add(&self.vacuumed_files, files);
        add(&self.vacuumed_bytes, bytes);
    }

    pub(crate) fn deletion(&self, sessions: u64, messages: u64) {
        add(&self.deletions, 1);
        add(&self.deleted_sessions, sessions);
        add(&self.deleted_messages, messages);
    }

    pub(crate) fn read(&self) -> TableActivity {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        TableActivity {
            commit_conflicts: get(&self.commit_conflicts),
            compactions: get(&self.compactions),
            compacted_files: get(&self.compacted_files),
            compacted_bytes: get(&self.compacted_bytes),
            vacuums: get(&self.vacuums),
            vacuumed_files: get(&self.vacuumed_files),
            vacuumed_bytes: get(&self.vacuumed_bytes),
            deletions: get(&self.deletions),
            deleted_sessions: get(&self.deleted_sessions),
            deleted_messages: get(&self.deleted_messages),
        }
    }
}
