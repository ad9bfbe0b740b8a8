//! Compaction: each (bot, kind, month) partition that ingest left in several files is rewritten
//! as few large files, in the order queries read it, in one atomic commit per partition.
//!
//! - Messages are sorted by `sent_at`, then `message_id`, so a window's row groups are adjacent
//!   and their statistics prune the rest.
//! - Conversation versions a newer version of the same partition supersedes are dropped (the
//!   `conversations` view would never pick them); the rest are sorted by `started_at`.
//! - Rollup rows with equal dimensions are summed into one, and rows summing to nothing dropped.
//! - Rows naming superseded versions are kept (the version they name may live in another
//!   partition), sorted by session.
//!
//! The commit replaces exactly the files it read (`replaceWhere` on the partition's values), so
//! a crash before it leaves the table as it was plus unreferenced files, and a crash after it
//! leaves the compacted table. Files are never deleted here: earlier versions stay readable, so
//! pinned search pages and reports still find their data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::prelude::{SessionContext, col, lit};
use deltalake_core::DeltaTable;
use deltalake_core::delta_datafusion::create_session_state_with_spill_config;
use deltalake_core::protocol::SaveMode;
use futures::TryStreamExt;

use crate::encode::{RollupRows, encode};
use crate::file_layout::writer_properties;
use crate::live_files::{self, FileStatistics};
use crate::rollup::{ROLLUP_COUNTS, ROLLUP_UNTAGGED, RollupCounts, UserRollupKey};
use crate::schema::{
    EVENTS_TABLE, KIND_CONVERSATION, KIND_MESSAGE, KIND_ROLLUP, KIND_SUPERSEDED, KIND_USER_ROLLUP,
};
use crate::user_rollup_backfill::UserRollupsAdded;
use crate::versions::{BatchVersions, LATEST_VERSION_FIRST};
use crate::{EventTable, Result, read};

/// Rows per Parquet row group of a compacted file: small enough that a day of a busy bot spans a
/// few groups, so statistics prune the rest of its month.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Memory the rewrite of one partition may hold before its sort spills to disk.
const MEMORY_BUDGET: usize = 512 * 1024 * 1024;

/// One partition of the `events` table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition {
    pub bot_id: String,
    pub kind: String,
    pub month: String,
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bot {} {} {}", self.bot_id, self.kind, self.month)
    }
}

/// What one partition's rewrite did.
#[derive(Debug, Clone)]
pub struct PartitionCompacted {
    pub partition: Partition,
    pub files_before: usize,
    pub bytes_before: u64,
    pub version: u64,
    pub elapsed: Duration,
}

/// What a compaction did.
#[derive(Debug, Clone, Default)]
pub struct CompactionOutcome {
    pub partitions: Vec<PartitionCompacted>,
    /// Files of the table before and after.
    pub files_before: usize,
    pub files_after: usize,
    /// The user rollup rows added first, to a table created before them.
    pub user_rollups_added: Option<UserRollupsAdded>,
}

impl EventTable {
    /// Adds the user rollup rows when the table was created before them (see
    /// [`EventTable::add_user_rollups`]), then rewrites every partition holding at least
    /// `min_files` files (1 rewrites every partition); `on_partition` hears of each rewrite as it
    /// commits.
    pub async fn compact(
        &self,
        min_files: usize,
        mut on_partition: impl FnMut(&PartitionCompacted),
    ) -> Result<CompactionOutcome> {
        let user_rollups_added = self.add_user_rollups().await?;
        let mut table = self.fresh_table().await?;
        let files = files_by_partition(&table).await?;
        let mut outcome = CompactionOutcome {
            files_before: files.values().map(|(n, _)| n).sum(),
            user_rollups_added,
            ..CompactionOutcome::default()
        };
        for (partition, (count, bytes)) in files {
            if count < min_files.max(1) {
                continue;
            }
            let started = Instant::now();
            table = rewrite(table.clone(), &partition, &self.file_statistics).await?;
            let compacted = PartitionCompacted {
                partition,
                files_before: count,
                bytes_before: bytes,
                version: table.version().unwrap_or(0),
                elapsed: started.elapsed(),
            };
            on_partition(&compacted);
            outcome.partitions.push(compacted);
        }
        table.update_incremental(None).await?;
        outcome.files_after = files_by_partition(&table)
            .await?
            .values()
            .map(|(n, _)| n)
            .sum();
        Ok(outcome)
    }

    /// The live Parquet files of the latest version, as URIs: what a reader of the latest
    /// snapshot reads, and nothing an earlier version left behind.
    pub async fn live_file_uris(&self) -> Result<Vec<String>> {
        let table = self.fresh_table().await?;
        Ok(table.get_file_uris()?.collect())
    }

    /// The number of live files of the latest version.
    pub async fn file_count(&self) -> Result<usize> {
        let table = self.fresh_table().await?;
        Ok(files_by_partition(&table)
            .await?
            .values()
            .map(|(n, _)| n)
            .sum())
    }
}

/// (files, bytes) of every partition of the table's version.
async fn files_by_partition(table: &DeltaTable) -> Result<BTreeMap<Partition, (usize, u64)>> {
    let files: Vec<_> = table
        .get_active_add_actions_by_partitions(&[])
        .try_collect()
        .await?;
    let mut partitions: BTreeMap<Partition, (usize, u64)> = BTreeMap::new();
    for file in files {
        let values = file.partition_values_map();
        let value = |name: &str| values.get(name).cloned().flatten().unwrap_or_default();
        let partition = Partition {
            bot_id: value("bot_id"),
            kind: value("kind"),
            month: value("month"),
        };
        let entry = partitions.entry(partition).or_default();
        entry.0 += 1;
        entry.1 += file.size().max(0) as u64;
    }
    Ok(partitions)
}

/// Rewrites one partition in one commit; answers the new table state.
async fn rewrite(
    table: DeltaTable,
    partition: &Partition,
    file_statistics: &FileStatistics,
) -> Result<DeltaTable> {
    // delta-rs's own planner writes the files.
    let ctx = spilling_session(&table, file_statistics).await?;
    let in_partition = col("bot_id")
        .eq(lit(partition.bot_id.as_str()))
        .and(col("kind").eq(lit(partition.kind.as_str())))
        .and(col("month").eq(lit(partition.month.as_str())));
    let schema = table.snapshot()?.snapshot().arrow_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let where_partition = format!(
        "bot_id = '{}' AND kind = '{}' AND month = '{}'",
        partition.bot_id, partition.kind, partition.month
    );
    let input = match partition.kind.as_str() {
        KIND_MESSAGE => {
            ctx.sql(&format!(
                "SELECT {columns} FROM {EVENTS_TABLE} WHERE {where_partition} \
                 ORDER BY sent_at, message_id"
            ))
            .await?
        }
        KIND_CONVERSATION => {
            ctx.sql(&format!(
                "SELECT {columns} FROM (SELECT *,
                     ROW_NUMBER() OVER ({LATEST_VERSION_FIRST}) AS version_rank
                 FROM {EVENTS_TABLE} WHERE {where_partition})
                 WHERE version_rank = 1 ORDER BY started_at, session_code"
            ))
            .await?
        }
        KIND_SUPERSEDED => {
            ctx.sql(&format!(
                "SELECT {columns} FROM {EVENTS_TABLE} WHERE {where_partition} \
                 ORDER BY session_code, superseded_written_at, superseded_batch_line"
            ))
            .await?
        }
        KIND_ROLLUP | KIND_USER_ROLLUP => {
            let rows = summed_rollups(&ctx, &where_partition).await?;
            let rows = match partition.kind.as_str() {
                KIND_ROLLUP => RollupRows {
                    buckets: rows
                        .into_iter()
                        .map(|(key, counts)| (key.rollup, counts))
                        .collect(),
                    users: Vec::new(),
                },
                _ => RollupRows {
                    buckets: Vec::new(),
                    users: rows
                        .into_iter()
                        .map(|(key, counts)| (key, counts.conversations()))
                        .collect(),
                },
            };
            let written_at = chrono::Utc::now().timestamp_micros();
            let batch = encode(&[], &BatchVersions::default(), &rows, &schema, written_at)?;
            ctx.read_batch(batch)?
        }
        other => {
            return Err(crate::Error::Arrow(arrow::error::ArrowError::SchemaError(
                format!("the events table has a partition of unknown kind {other:?}"),
            )));
        }
    };
    let table = table
        .write(Vec::new())
        .with_input_plan(input.into_unoptimized_plan())
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(SaveMode::Overwrite)
        .with_replace_where(in_partition)
        .with_writer_properties(
            writer_properties()
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .build(),
        )
        .await?;
    Ok(table)
}

/// A session over `table`'s live files as [`EVENTS_TABLE`] whose sorts, windows and groups
/// spill to disk beyond [`MEMORY_BUDGET`]: maintenance reads whole partitions or tables.
pub(crate) async fn spilling_session(
    table: &DeltaTable,
    file_statistics: &FileStatistics,
) -> Result<SessionContext> {
    let ctx = SessionContext::new_with_state(create_session_state_with_spill_config(
        Some(MEMORY_BUDGET),
        None,
    ));
    table.update_datafusion_session(&ctx.state())?;
    ctx.register_table(
        EVENTS_TABLE,
        live_files::provider(table, file_statistics).await?,
    )?;
    Ok(ctx)
}

/// The partition's rollup rows (or user rollup rows) with equal dimensions summed, zero rows
/// dropped; a rollup row's user is empty.
pub(crate) async fn summed_rollups(
    ctx: &SessionContext,
    where_partition: &str,
) -> Result<Vec<(UserRollupKey, RollupCounts)>> {
    let sums = ROLLUP_COUNTS
        .iter()
        .map(|c| format!("COALESCE(sum({c}), 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    let batches = ctx
        .sql(&format!(
            "SELECT org_id, env_id, bot_id, sent_at, channel_uuid,
                    COALESCE({ROLLUP_UNTAGGED}, false), user_id, {sums}
             FROM {EVENTS_TABLE} WHERE {where_partition} GROUP BY 1, 2, 3, 4, 5, 6, 7"
        ))
        .await?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for batch in batches {
        let keys = read::user_rollup_keys(&batch)?;
        let counts = (0..ROLLUP_COUNTS.len())
            .map(|i| read::int64s(&batch, 7 + i))
            .collect::<Result<Vec<_>>>()?;
        for (row, key) in keys.into_iter().enumerate() {
            let Some(key) = key else { continue };
            let sums = RollupCounts(std::array::from_fn(|i| counts[i].value(row)));
            if !sums.is_zero() {
                rows.push((key, sums));
            }
        }
    }
    rows.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(rows)
}
