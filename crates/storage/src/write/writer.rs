//! The writer's state: its view of the table, and what it keeps between batches.

use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use deltalake_core::DeltaTable;

use super::message_ids::StoredMessageIds;
use crate::read::live_files::FileStatistics;

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

/// This process's writer of one table; the table keeps it behind a mutex, so its commits are one
/// at a time.
pub(crate) struct Writer {
    pub(crate) table: DeltaTable,
    last_written_at: i64,
    /// The message ids of every bot written to, for the duplicate lookup.
    pub(super) message_ids: StoredMessageIds,
    /// The runtime the lookups' scans run in (the table's: its footer cache is shared).
    pub(super) runtime: Arc<RuntimeEnv>,
    pub(super) file_statistics: Arc<FileStatistics>,
}

impl Writer {
    pub(crate) fn new(
        table: DeltaTable,
        runtime: Arc<RuntimeEnv>,
        file_statistics: Arc<FileStatistics>,
    ) -> Self {
        Self {
            table,
            last_written_at: 0,
            message_ids: StoredMessageIds::default(),
            runtime,
            file_statistics,
        }
    }

    /// The `written_at` of the next commit: now, and later than every earlier commit of this
    /// process even when the clock steps back.
    pub(crate) fn next_written_at(&mut self) -> i64 {
        let now = chrono::Utc::now().timestamp_micros();
        self.last_written_at = now.max(self.last_written_at + 1);
        self.last_written_at
    }
}
