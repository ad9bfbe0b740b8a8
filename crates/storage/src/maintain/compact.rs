//! Compaction: each (bot, kind, month) partition that ingest left in several files is rewritten
//! as few large files, in the order queries read it. Partitions of one kind are rewritten
//! together, up to [`COMMIT_BYTES`] of input and [`COMMIT_PARTITIONS`] partitions, in one atomic
//! commit: every commit makes deltalake rebuild its snapshot of the whole table, which cost more
//! than rewriting a small bot's partition (decision 24).
//!
//! - Messages are sorted by `sent_at`, then `message_id`, so a window's row groups are adjacent
//!   and their statistics prune the rest.
//! - Conversation versions a newer version of the same partition supersedes are dropped (the
//!   `conversations` view would never pick them); the rest are sorted by `started_at`.
//! - Rollup rows with equal dimensions are summed into one, and rows summing to nothing dropped.
//! - Rows naming superseded versions are kept (the version they name may live in another
//!   partition), sorted by session.
//!
//! The commit replaces exactly the files it read (`replaceWhere` on the partitions' values), so
//! a crash before it leaves the table as it was plus unreferenced files, and a crash after it
//! leaves the compacted table. Files are never deleted here: earlier versions stay readable, so
//! pinned search pages and reports still find their data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{Expr, SessionContext, col, lit};
use deltalake_core::DeltaTable;
use deltalake_core::kernel::transaction::CommitProperties;
use deltalake_core::protocol::SaveMode;
use futures::TryStreamExt;

use crate::format::{Spelling, spelling};
use crate::maintain::session::{spilling_session, summed_rollups};
use crate::read::live_files::FileStatistics;
use crate::read::scan;
use crate::schema::{
    EVENTS_TABLE, KIND_CONVERSATION, KIND_MESSAGE, KIND_ROLLUP, KIND_SUPERSEDED, KIND_USER_ROLLUP,
};
use crate::versions::{BatchVersions, latest_version_first};
use crate::write::encode::{RollupRows, encode_derived_rows};
use crate::write::file_layout::writer_properties;
use crate::{EventTable, Result};

/// Rows per Parquet row group of a compacted file: small enough that a day of a busy bot spans a
/// few groups, so statistics prune the rest of its month.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Input bytes one commit rewrites at most; a larger partition is rewritten alone. Below the
/// largest partitions (a month of the benchmark's large bot, about 55 MB), so a group's sort holds
/// no more than theirs did when every partition was rewritten alone.
const COMMIT_BYTES: u64 = 32 * 1024 * 1024;

/// Partitions one commit rewrites at most.
const COMMIT_PARTITIONS: usize = 64;

/// The rows a rewrite reads, as its queries name them.
const REWRITTEN: &str = "rewritten";

/// One partition of the `events` table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition {
    pub bot_id: String,
    pub kind: String,
    pub month: String,
}

impl Partition {
    /// The rows of this partition.
    pub(crate) fn predicate(&self) -> Expr {
        col("bot_id")
            .eq(lit(self.bot_id.as_str()))
            .and(col("kind").eq(lit(self.kind.as_str())))
            .and(col("month").eq(lit(self.month.as_str())))
    }
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
    /// The time of the commit that rewrote it, shared by the partitions of that commit.
    pub elapsed: Duration,
}

/// What a compaction did.
#[derive(Debug, Clone, Default)]
pub struct CompactionOutcome {
    pub partitions: Vec<PartitionCompacted>,
    /// Files of the table before and after.
    pub files_before: usize,
    pub files_after: usize,
    /// The version in which the table's layout was first named by `talkhouse.format`, when it
    /// was spelled the earlier way (see `maintain::format_spelling`).
    pub format_spelling_rewritten: Option<u64>,
}

impl EventTable {
    /// Names the table's layout by `talkhouse.format` when it is spelled the earlier way (see
    /// `maintain::format_spelling`), then rewrites every partition holding at least
    /// `min_files` files (1 rewrites every partition); `on_partition` hears of each rewrite as it
    /// commits.
    pub async fn compact(
        &self,
        min_files: usize,
        mut on_partition: impl FnMut(&PartitionCompacted),
    ) -> Result<CompactionOutcome> {
        let mut table = self.fresh_table().await?;
        let format_spelling_rewritten = match spelling(&table)? {
            Spelling::Current => None,
            Spelling::Earlier => {
                let rewritten = self.rewrite_format_spelling().await?;
                table = self.fresh_table().await?;
                rewritten
            }
        };
        let files = files_by_partition(&table).await?;
        let mut outcome = CompactionOutcome {
            files_before: files.values().map(|(n, _)| n).sum(),
            format_spelling_rewritten,
            ..CompactionOutcome::default()
        };
        for commit in commits(files, min_files) {
            let started = Instant::now();
            let partitions: Vec<&Partition> = commit.iter().map(|(p, _)| p).collect();
            tracing::debug!(
                kind = partitions[0].kind,
                partitions = partitions.len(),
                files = commit.iter().map(|(_, (files, _))| files).sum::<usize>(),
                bytes = commit.iter().map(|(_, (_, bytes))| bytes).sum::<u64>(),
                "rewriting"
            );
            table = rewrite(table.clone(), &partitions, self.file_statistics()).await?;
            let elapsed = started.elapsed();
            for (partition, (count, bytes)) in commit {
                let compacted = PartitionCompacted {
                    partition,
                    files_before: count,
                    bytes_before: bytes,
                    version: table.version().unwrap_or(0),
                    elapsed,
                };
                on_partition(&compacted);
                outcome.partitions.push(compacted);
            }
        }
        table.update_incremental(None).await?;
        outcome.files_after = files_by_partition(&table)
            .await?
            .values()
            .map(|(n, _)| n)
            .sum();
        self.expect_commit().await;
        self.activity_counters().compaction(
            outcome
                .partitions
                .iter()
                .map(|p| p.files_before as u64)
                .sum(),
            outcome.partitions.iter().map(|p| p.bytes_before).sum(),
        );
        Ok(outcome)
    }

    /// The live Parquet files of the latest version, as URIs: what a reader of the latest
    /// snapshot reads, and nothing an earlier version left behind (for another engine to read
    /// exactly the table's rows).
    pub async fn live_file_uris(&self) -> Result<Vec<String>> {
        let table = self.fresh_table().await?;
        Ok(table.get_file_uris()?.collect())
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

/// The partitions holding at least `min_files` files, as the commits that rewrite them: partitions
/// of one kind (one query rewrites them), up to [`COMMIT_BYTES`] and [`COMMIT_PARTITIONS`].
fn commits(
    files: BTreeMap<Partition, (usize, u64)>,
    min_files: usize,
) -> Vec<Vec<(Partition, (usize, u64))>> {
    let mut due: Vec<(Partition, (usize, u64))> = files
        .into_iter()
        .filter(|(_, (count, _))| *count >= min_files.max(1))
        .collect();
    due.sort_by(|(a, _), (b, _)| {
        (&a.kind, &a.bot_id, &a.month).cmp(&(&b.kind, &b.bot_id, &b.month))
    });
    let mut commits: Vec<Vec<(Partition, (usize, u64))>> = Vec::new();
    let mut bytes = 0;
    for (partition, sizes) in due {
        let joins_last = commits.last().is_some_and(|last| {
            last[0].0.kind == partition.kind
                && last.len() < COMMIT_PARTITIONS
                && bytes + sizes.1 <= COMMIT_BYTES
        });
        if !joins_last {
            commits.push(Vec::new());
            bytes = 0;
        }
        bytes += sizes.1;
        commits
            .last_mut()
            .expect("a commit was just pushed")
            .push((partition, sizes));
    }
    commits
}

/// Rewrites `partitions`, all of one kind, in one commit; answers the new table state. Each
/// partition's versions are ranked on their own, as if it were rewritten alone. The sort needs no
/// partition columns: the writer splits its sorted stream by partition, keeping the order within
/// each. A first version that also sorted by bot and month ran out of its memory budget in a
/// compaction round of the benchmark.
async fn rewrite(
    table: DeltaTable,
    partitions: &[&Partition],
    file_statistics: &FileStatistics,
) -> Result<DeltaTable> {
    let Some(kind) = partitions.first().map(|p| p.kind.as_str()) else {
        return Ok(table);
    };
    // delta-rs's own planner writes the files.
    let ctx = spilling_session(&table, file_statistics).await?;
    let in_partitions = scan::any_of(partitions.iter().map(|p| p.predicate()).collect());
    let rows = ctx
        .table(EVENTS_TABLE)
        .await?
        .filter(in_partitions.clone())?;
    ctx.register_table(REWRITTEN, rows.clone().into_view())?;
    let schema = table.snapshot()?.snapshot().arrow_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let input = sorted_input(&ctx, kind, rows, &columns, &schema).await?;
    replace_partitions(
        table,
        &ctx,
        input,
        in_partitions,
        CommitProperties::default(),
    )
    .await
}

/// Replaces the rows `in_partitions` selects (whole partitions) with `input`, planned in `ctx`,
/// in one commit with `commit`'s metadata, in the file layout of a compacted partition; answers
/// the new table state.
pub(crate) async fn replace_partitions(
    table: DeltaTable,
    ctx: &SessionContext,
    input: DataFrame,
    in_partitions: Expr,
    commit: CommitProperties,
) -> Result<DeltaTable> {
    Ok(table
        .write(Vec::new())
        .with_input_plan(input.into_unoptimized_plan())
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(SaveMode::Overwrite)
        .with_replace_where(in_partitions)
        .with_writer_properties(
            writer_properties()
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .build(),
        )
        .with_commit_properties(commit)
        .await?)
}

/// The rewritten `rows` of `kind` in the order a compacted file keeps them: `columns` of the
/// messages by time, of each conversation's latest version by start, of the supersession rows by
/// session, and the rollup rows summed.
async fn sorted_input(
    ctx: &SessionContext,
    kind: &str,
    rows: DataFrame,
    columns: &str,
    schema: &SchemaRef,
) -> Result<DataFrame> {
    Ok(match kind {
        KIND_MESSAGE => {
            ctx.sql(&format!(
                "SELECT {columns} FROM {REWRITTEN} ORDER BY sent_at, message_id"
            ))
            .await?
        }
        KIND_CONVERSATION => {
            ctx.sql(&format!(
                "{} ORDER BY started_at, session_code",
                latest_versions(columns)
            ))
            .await?
        }
        KIND_SUPERSEDED => {
            ctx.sql(&format!(
                "SELECT {columns} FROM {REWRITTEN} \
                 ORDER BY session_code, superseded_written_at, superseded_batch_line"
            ))
            .await?
        }
        KIND_ROLLUP | KIND_USER_ROLLUP => {
            let rows = summed_rollups(ctx, rows).await?;
            let rows = match kind {
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
            let batch =
                encode_derived_rows(0, &BatchVersions::default(), &rows, schema, written_at)?;
            ctx.read_batch(batch)?
        }
        other => {
            return Err(crate::Error::Arrow(arrow::error::ArrowError::SchemaError(
                format!("the events table has a partition of unknown kind {other:?}"),
            )));
        }
    })
}

/// The `columns` of each conversation's latest version in its partition among the rewritten
/// rows.
fn latest_versions(columns: &str) -> String {
    let latest = latest_version_first();
    let by_session = latest
        .strip_prefix("PARTITION BY ")
        .expect("the window partitions by session");
    format!(
        "SELECT {columns} FROM (SELECT *,
             ROW_NUMBER() OVER (PARTITION BY month, {by_session}) AS version_rank
         FROM {REWRITTEN})
         WHERE version_rank = 1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maintain::session::{rows_of_kind, without_views};

    fn partition(bot: &str, kind: &str, month: &str) -> Partition {
        Partition {
            bot_id: bot.into(),
            kind: kind.into(),
            month: month.into(),
        }
    }

    #[test]
    fn a_commit_rewrites_partitions_of_one_kind_within_its_bounds() {
        let mut files = BTreeMap::new();
        for bot in 0..100 {
            let bot = format!("bot-{bot:03}");
            files.insert(partition(&bot, KIND_MESSAGE, "2024-01"), (3, 1024));
            files.insert(partition(&bot, KIND_CONVERSATION, "2024-01"), (3, 1024));
            // Too few files: left alone.
            files.insert(partition(&bot, KIND_MESSAGE, "2024-02"), (1, 1024));
        }
        files.insert(
            partition("big", KIND_MESSAGE, "2024-01"),
            (9, COMMIT_BYTES + 1),
        );
        files.insert(
            partition("half", KIND_MESSAGE, "2024-01"),
            (9, COMMIT_BYTES / 2),
        );
        files.insert(
            partition("half", KIND_MESSAGE, "2024-02"),
            (9, COMMIT_BYTES / 2),
        );

        let commits = commits(files.clone(), 2);
        let rewritten: Vec<&Partition> = commits.iter().flatten().map(|(p, _)| p).collect();
        let due: Vec<&Partition> = files
            .iter()
            .filter(|(_, (count, _))| *count >= 2)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(rewritten.len(), due.len());
        assert!(due.iter().all(|p| rewritten.contains(p)));
        for commit in &commits {
            assert!(commit.iter().all(|(p, _)| p.kind == commit[0].0.kind));
            assert!(commit.len() <= COMMIT_PARTITIONS);
            let bytes: u64 = commit.iter().map(|(_, (_, bytes))| bytes).sum();
            assert!(bytes <= COMMIT_BYTES || commit.len() == 1, "{commit:?}");
        }
        // 100 conversation partitions in two commits (64 and 36). 103 message partitions in
        // four: the large one alone, 64 small ones, the other 36 with the first half, the
        // second half alone (both halves would pass the bound).
        let of_kind = |kind: &str| commits.iter().filter(|c| c[0].0.kind == kind).count();
        assert_eq!(of_kind(KIND_CONVERSATION), 2);
        assert_eq!(of_kind(KIND_MESSAGE), 4);
    }

    /// The latest conversation versions of many files, which a rewrite then sorts, are batches
    /// accounted for no more than their own rows take as plain arrays. As views they held (and
    /// were accounted for) the pages of every file the window drew rows from.
    #[tokio::test]
    async fn the_latest_versions_of_many_files_are_accounted_for_their_own_rows() {
        use datafusion::common::utils::memory::get_record_batch_memory_size;
        use talkhouse_core::generate::{GenerateConfig, Generator};

        let folder = tempfile::tempdir().unwrap();
        let table = EventTable::open(&crate::DataLocation::local(folder.path()).unwrap())
            .await
            .unwrap();
        let generator = Generator::new(GenerateConfig {
            seed: 11,
            bots: 1,
            days: 40,
            until: chrono::NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
            conversations_per_day: 80,
        });
        for day in generator.events() {
            table.write(day, None).await.unwrap();
        }
        let (ctx, rows) = rows_of_kind(&table, KIND_CONVERSATION).await;
        ctx.register_table(REWRITTEN, rows.into_view()).unwrap();
        let batches = ctx
            .sql(&latest_versions("*"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(!batches.is_empty());
        for batch in &batches {
            let plain: Vec<_> = batch
                .columns()
                .iter()
                .map(|column| match without_views(column.data_type()) {
                    Some(plain) => arrow::compute::cast(column, &plain).unwrap(),
                    None => column.clone(),
                })
                .collect();
            let schema = batch.schema();
            let names = schema.fields().iter().map(|f| f.name().clone());
            let plain = arrow::array::RecordBatch::try_from_iter(names.zip(plain)).unwrap();
            let accounted = get_record_batch_memory_size(batch);
            let own = get_record_batch_memory_size(&plain);
            assert!(
                accounted <= own + own / 4,
                "a batch of {} rows is accounted for {accounted} bytes; its rows take {own}",
                batch.num_rows()
            );
        }
    }
}
