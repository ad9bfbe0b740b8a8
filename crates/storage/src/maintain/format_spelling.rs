//! Rewrites the earlier spelling of a table's layout into `talkhouse.format` (see
//! [`crate::format`]), in a commit of new metadata alone.

use std::collections::HashMap;

use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::kernel::{Action, MetadataExt};
use deltalake_core::protocol::DeltaOperation;
use deltalake_core::{DeltaTable, DeltaTableError};

use crate::format::{EARLIER_SPELLING, FORMAT, FORMAT_PROPERTY, Spelling, spelling};
use crate::write::commit::catch_up;
use crate::{EventTable, Result};

impl EventTable {
    /// Names the table's layout by [`FORMAT_PROPERTY`] instead of its earlier spelling; the
    /// version of the commit that does, or `None` when the table names it so already.
    pub(crate) async fn rewrite_format_spelling(&self) -> Result<Option<u64>> {
        let mut writer = self.writer().await;
        catch_up(&mut writer.table).await?;
        if spelling(&writer.table)? == Spelling::Current {
            return Ok(None);
        }
        let earlier = EARLIER_SPELLING.map(|(key, _)| key);
        let version =
            commit_configuration(&mut writer.table, &[(FORMAT_PROPERTY, FORMAT)], &earlier).await?;
        Ok(Some(version))
    }
}

/// Commits the table's metadata with the properties `set` set and `removed` removed, on the
/// latest version `table` has read; the new version.
pub(crate) async fn commit_configuration(
    table: &mut DeltaTable,
    set: &[(&str, &str)],
    removed: &[&str],
) -> Result<u64> {
    let snapshot = table.snapshot()?;
    let mut metadata = snapshot.metadata().clone();
    for (key, value) in set {
        metadata = metadata
            .add_config_key(key.to_string(), value.to_string())
            .map_err(DeltaTableError::from)?;
    }
    for key in removed {
        metadata = metadata
            .remove_config_key(key)
            .map_err(DeltaTableError::from)?;
    }
    let operation = DeltaOperation::SetTableProperties {
        properties: set
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect::<HashMap<_, _>>(),
    };
    let committed = CommitBuilder::default()
        .with_actions(vec![Action::Metadata(metadata)])
        .build(Some(snapshot), table.log_store(), operation)
        .await?;
    let version = committed.version();
    table.state = Some(committed.snapshot());
    Ok(version as u64)
}

/// Spells the layout of `table` the way builds before [`FORMAT_PROPERTY`] did.
#[cfg(test)]
pub(crate) async fn spell_the_earlier_way(table: &EventTable) {
    let mut writer = table.writer().await;
    catch_up(&mut writer.table).await.unwrap();
    commit_configuration(&mut writer.table, &EARLIER_SPELLING, &[FORMAT_PROPERTY])
        .await
        .unwrap();
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::test_events::{conversation_event, tenant};
    use crate::{DataLocation, Error};

    #[tokio::test]
    async fn a_table_of_another_layout_is_refused_when_opened() {
        let folder = tempfile::tempdir().unwrap();
        let location = DataLocation::local(folder.path()).unwrap();
        let table = EventTable::open(&location).await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0).unwrap();
        table
            .write(vec![conversation_event(tenant(1), "s1", at, at)], None)
            .await
            .unwrap();
        // As a build from before user rollups and supersessions left it.
        {
            let mut writer = table.writer().await;
            commit_configuration(
                &mut writer.table,
                &EARLIER_SPELLING[..1],
                &[FORMAT_PROPERTY],
            )
            .await
            .unwrap();
        }
        match EventTable::open(&location).await {
            Err(Error::UnsupportedFormat { found }) => {
                assert!(found.contains("talkhouse.user_rollups"), "{found}");
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("a table of another layout was opened"),
        }
    }
}
