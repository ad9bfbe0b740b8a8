//! What the indexes read from: the whole of their input.

use std::future::Future;

use arrow::array::RecordBatch;
use datafusion::prelude::DataFrame;
use object_store::path::Path;
use talkhouse_core::Tenant;
use talkhouse_storage::Snapshot;

use crate::Result;

/// One request's view of the data: a snapshot, a bot, and a way to read the bot's rows of one
/// live file at a time.
pub(crate) trait Source: Send {
    fn snapshot(&self) -> &Snapshot;

    fn tenant(&self) -> Tenant;

    /// The bot's rows in the live file at `location` alone; `None` when the snapshot has no such
    /// file.
    fn file_rows(&self, location: &Path) -> Result<Option<DataFrame>>;

    /// Runs independent plans (each over one file, say), a few at a time; the answers come in the
    /// order of `plans`.
    fn collect_each(
        &mut self,
        plans: Vec<DataFrame>,
    ) -> impl Future<Output = Result<Vec<Vec<RecordBatch>>>> + Send;
}
