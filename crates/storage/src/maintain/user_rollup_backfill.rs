//! User rollup rows for a table created before them.
//!
//! Such a table has rollup rows but no user rollup rows, so its user answers come from the
//! conversations. The rows the write path would have left behind sum, per (bucket, channel,
//! untagged, user), to the count of sessions whose latest version is there: one `+1` per session
//! is the same sum. They are committed in one commit that also sets the table property saying
//! every commit carries them, so a reader sees both or neither. The commit is refused when any
//! other commit landed since the versions were read (no retry onto a newer version): a batch
//! stored in between would be missing from the rows while the property claims it.

use std::time::{Duration, Instant};

use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::kernel::{Action, MetadataExt};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::writer::{DeltaWriter, RecordBatchWriter};
use deltalake_core::{DeltaTable, DeltaTableError};

use crate::format::has_property;
use crate::maintain::session::spilling_session;
use crate::read::live_files::FileStatistics;
use crate::read::scan;
use crate::rollup::{
    BUCKET_MICROS, ROLLUPS_FORMAT, ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT, USER_ROLLUPS_PROPERTY,
    UserRollupKey,
};
use crate::schema::{EVENTS_TABLE, KIND_CONVERSATION};
use crate::versions::{BatchVersions, latest_version_first};
use crate::write::commit::catch_up;
use crate::write::encode::{RollupRows, encode_derived_rows};
use crate::write::file_layout::writer_properties;
use crate::{EventTable, Result};

/// What adding the user rollup rows did.
#[derive(Debug, Clone)]
pub struct UserRollupsAdded {
    /// The version that holds the rows and the property.
    pub version: u64,
    pub rows: usize,
    /// Sessions counted: every session's latest version.
    pub conversations: i64,
    pub elapsed: Duration,
}

impl EventTable {
    /// Adds the user rollup rows to a table that keeps rollups but was created before user
    /// rollups; `None` when the table already keeps them, or keeps no rollups at all (its answers
    /// come from the event tables either way).
    pub async fn add_user_rollups(&self) -> Result<Option<UserRollupsAdded>> {
        let started = Instant::now();
        // The property is never removed: a table that has it needs neither the writer lock
        // (which would hold up ingest) nor another look.
        if !needs_user_rollups(&self.fresh_table().await?)? {
            return Ok(None);
        }
        let mut writer = self.writer().await;
        catch_up(&mut writer.table).await?;
        if !needs_user_rollups(&writer.table)? {
            return Ok(None);
        }
        let users = latest_versions_per_user(&writer.table, self.file_statistics()).await?;
        let conversations = users.iter().map(|(_, count)| count).sum();
        let rows = RollupRows {
            buckets: Vec::new(),
            users,
        };
        let schema = writer.table.snapshot()?.snapshot().arrow_schema();
        let written_at = writer.next_written_at();
        let batch = encode_derived_rows(0, &BatchVersions::default(), &rows, &schema, written_at)?;

        let table = &writer.table;
        let mut files = RecordBatchWriter::for_table(table)?
            .with_writer_properties(writer_properties().build());
        files.write(batch).await?;
        let mut actions: Vec<Action> = files.flush().await?.into_iter().map(Action::Add).collect();
        let snapshot = table.snapshot()?;
        let metadata = snapshot
            .metadata()
            .clone()
            .add_config_key(
                USER_ROLLUPS_PROPERTY.to_string(),
                USER_ROLLUPS_FORMAT.to_string(),
            )
            .map_err(DeltaTableError::from)?;
        actions.push(Action::Metadata(metadata));
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(snapshot.metadata().partition_columns().to_vec()),
            predicate: None,
        };
        let committed = CommitBuilder::default()
            .with_actions(actions)
            .with_max_retries(0)
            .build(Some(snapshot), table.log_store(), operation)
            .await?;
        let version = committed.version();
        writer.table.state = Some(committed.snapshot());
        Ok(Some(UserRollupsAdded {
            version: version as u64,
            rows: rows.users.len(),
            conversations,
            elapsed: started.elapsed(),
        }))
    }
}

/// Whether `table` keeps rollups but not yet user rollups.
fn needs_user_rollups(table: &DeltaTable) -> Result<bool> {
    Ok(has_property(table, ROLLUPS_PROPERTY, ROLLUPS_FORMAT)?
        && !has_property(table, USER_ROLLUPS_PROPERTY, USER_ROLLUPS_FORMAT)?)
}

/// Per user rollup key, the sessions whose latest version it is.
async fn latest_versions_per_user(
    table: &DeltaTable,
    file_statistics: &FileStatistics,
) -> Result<Vec<(UserRollupKey, i64)>> {
    let ctx = spilling_session(table, file_statistics).await?;
    let latest = latest_version_first();
    let batches = ctx
        .sql(&format!(
            "SELECT org_id, env_id, bot_id, at - ((at % {BUCKET_MICROS}) + {BUCKET_MICROS}) % {BUCKET_MICROS},
                    channel_uuid, untagged, user_id, count(*)
             FROM (SELECT org_id, env_id, bot_id, CAST(started_at AS BIGINT) AS at, channel_uuid,
                          cardinality(tags) = 0 AS untagged, user_id,
                          ROW_NUMBER() OVER ({latest}) AS version_rank
                   FROM {EVENTS_TABLE} WHERE kind = '{KIND_CONVERSATION}')
             WHERE version_rank = 1
             GROUP BY 1, 2, 3, 4, 5, 6, 7"
        ))
        .await?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for batch in batches {
        let count = scan::int64s(&batch, 7)?;
        for (row, key) in scan::user_rollup_keys(&batch)?.into_iter().enumerate() {
            if let Some(key) = key {
                rows.push((key, count.value(row)));
            }
        }
    }
    rows.sort();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{Duration, NaiveDate};
    use talkhouse_core::Event;
    use talkhouse_core::generate::{GenerateConfig, Generator};

    use super::*;
    use crate::DataLocation;
    use crate::maintain::session::{rows_of_kind, summed_rollups};
    use crate::rollup::RollupCounts;
    use crate::schema::KIND_USER_ROLLUP;

    /// Five days of two bots, a day a batch, then a batch of newer versions of some sessions on
    /// another user and channel, untagged, and older versions that change nothing.
    fn batches() -> Vec<Vec<Event>> {
        let generator = Generator::new(GenerateConfig {
            seed: 7,
            bots: 2,
            days: 5,
            until: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
            conversations_per_day: 20,
        });
        let mut batches: Vec<Vec<Event>> = generator.events().collect();
        let channel = generator.bots()[0].channels[0].uuid;
        let mut late = Vec::new();
        for (n, event) in batches.concat().iter().enumerate() {
            if let Event::Conversation(c) = event
                && n % 7 == 0
            {
                let mut newer = c.clone();
                newer.updated_at = c.updated_at + Duration::hours(30);
                newer.user_id = format!("moved-{}", n % 3);
                newer.channel_uuid = channel;
                newer.tags = Vec::new();
                late.push(Event::Conversation(newer));
                let mut older = c.clone();
                older.updated_at = c.started_at - Duration::minutes(1);
                older.user_id = "never-latest".into();
                late.push(Event::Conversation(older));
            }
        }
        batches.push(late);
        batches
    }

    async fn table(folder: &std::path::Path) -> EventTable {
        EventTable::open(&DataLocation::local(folder).unwrap())
            .await
            .unwrap()
    }

    /// Marks the table as one created before user rollups: its writes then leave none.
    async fn without_property(table: &EventTable, property: &str) {
        let mut writer = table.writer().await;
        writer.table = writer
            .table
            .clone()
            .set_tbl_properties()
            .with_properties(HashMap::from([(property.to_string(), "none".to_string())]))
            .with_raise_if_not_exists(false)
            .await
            .unwrap();
    }

    async fn user_rows(table: &EventTable) -> Vec<(UserRollupKey, RollupCounts)> {
        let (ctx, rows) = rows_of_kind(table, KIND_USER_ROLLUP).await;
        summed_rollups(&ctx, rows).await.unwrap()
    }

    async fn write_all(table: &EventTable, batches: Vec<Vec<Event>>) {
        for batch in batches {
            table.write(batch, None).await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_added_rows_sum_to_those_the_writes_would_have_left() {
        let folders = [(); 2].map(|_| tempfile::tempdir().unwrap());
        let (current, legacy) = (
            table(folders[0].path()).await,
            table(folders[1].path()).await,
        );
        without_property(&legacy, USER_ROLLUPS_PROPERTY).await;
        let mut batches = batches();
        let last = batches.pop().unwrap();
        write_all(&current, batches.clone()).await;
        write_all(&legacy, batches).await;
        assert!(user_rows(&legacy).await.is_empty());
        assert!(!legacy.snapshot().await.unwrap().has_user_rollups);

        // Compaction adds them first; no partition holds this many files.
        let outcome = legacy.compact(usize::MAX, |_| {}).await.unwrap();
        let added = outcome.user_rollups_added.expect("rows added");
        assert!(outcome.partitions.is_empty());
        let expected = user_rows(&current).await;
        assert!(expected.len() > 100, "{}", expected.len());
        assert_eq!(user_rows(&legacy).await, expected);
        assert_eq!(added.rows, expected.len());
        let sessions: i64 = expected.iter().map(|(_, c)| c.conversations()).sum();
        assert_eq!(added.conversations, sessions);
        let snapshot = legacy.snapshot().await.unwrap();
        assert!(snapshot.has_user_rollups);
        assert_eq!(snapshot.version, added.version);

        // Later writes keep them, and adding them again adds nothing.
        write_all(&current, vec![last.clone()]).await;
        write_all(&legacy, vec![last]).await;
        let moved = user_rows(&current).await;
        assert!(
            moved
                .iter()
                .any(|(key, _)| key.user_id.starts_with("moved-"))
        );
        assert!(!moved.iter().any(|(key, _)| key.user_id == "never-latest"));
        assert_eq!(user_rows(&legacy).await, moved);
        assert!(legacy.add_user_rollups().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_table_without_rollups_gets_no_user_rollups() {
        let folder = tempfile::tempdir().unwrap();
        let table = table(folder.path()).await;
        without_property(&table, ROLLUPS_PROPERTY).await;
        without_property(&table, USER_ROLLUPS_PROPERTY).await;
        write_all(&table, batches()).await;
        assert!(table.add_user_rollups().await.unwrap().is_none());
        assert!(user_rows(&table).await.is_empty());
        assert!(!table.snapshot().await.unwrap().has_user_rollups);
    }
}
