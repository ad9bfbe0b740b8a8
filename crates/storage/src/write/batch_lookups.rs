//! What a batch's write looks up in the stored data before it commits: the latest stored version
//! of each conversation it holds a version of, and which of its messages are stored already.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::AsArray;
use datafusion::catalog::TableProvider;
use datafusion::functions_nested::expr_fn::cardinality;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{col, lit};
use talkhouse_core::latest::Latest;
use talkhouse_core::{Event, Tenant};
use uuid::Uuid;

use super::batch_files::LinedEvent;
use super::writer::{WriteOutcome, Writer};
use crate::Result;
use crate::read::live_files::TableRead;
use crate::read::scan;
use crate::schema::{KIND_CONVERSATION, KIND_MESSAGE};
use crate::versions::{ConversationVersion, StoredVersions};

impl Writer {
    /// The latest stored version of each conversation the batch holds a version of. A session's
    /// versions may start in different months, so every month of the batch's bots is read.
    pub(super) async fn stored_versions(
        &self,
        provider: &Arc<dyn TableProvider>,
        events: &[&Event],
    ) -> Result<StoredVersions> {
        let table = &self.table;
        let mut stored = StoredVersions::new();
        if table.version().unwrap_or(0) == 0 {
            return Ok(stored);
        }
        let mut sessions_by_bot: BTreeMap<uuid::Uuid, BTreeSet<&str>> = BTreeMap::new();
        for event in events {
            if let Event::Conversation(c) = event {
                sessions_by_bot
                    .entry(c.tenant.bot_id)
                    .or_default()
                    .insert(&c.session_code);
            }
        }
        if sessions_by_bot.is_empty() {
            return Ok(stored);
        }
        let predicate = stored_sessions_predicate(&sessions_by_bot);
        let batches = scan::scan(table, &self.runtime, provider.clone(), predicate)?
            .select(vec![
                col("org_id"),
                col("env_id"),
                col("bot_id"),
                col("session_code"),
                col("started_at"),
                col("channel_uuid"),
                cardinality(col("tags")).eq(lit(0u64)).alias("untagged"),
                col("updated_at"),
                col("written_at"),
                col("batch_line"),
                col("user_id"),
            ])?
            .collect()
            .await?;
        for batch in batches {
            let tenants = scan::tenant_columns(&batch, 0)?;
            let (session, channel) = (scan::texts(&batch, 3)?, scan::texts(&batch, 5)?);
            let (started, updated) = (scan::int64s(&batch, 4)?, scan::int64s(&batch, 7)?);
            let (written, line) = (scan::int64s(&batch, 8)?, scan::int64s(&batch, 9)?);
            let untagged = batch.column(6).as_boolean();
            let user = scan::texts(&batch, 10)?;
            for row in 0..batch.num_rows() {
                let (Some(tenant), Some(channel_uuid)) =
                    (scan::tenant_at(&tenants, row), scan::uuid_at(&channel, row))
                else {
                    continue;
                };
                let version = ConversationVersion {
                    started_at: started.value(row),
                    channel_uuid,
                    user_id: user.value(row).to_string(),
                    untagged: untagged.value(row),
                    order: Latest {
                        at: updated.value(row),
                        written_at: written.value(row),
                        batch_line: line.value(row),
                    },
                };
                let session = session.value(row).to_string();
                match stored.entry((tenant, session)) {
                    Entry::Occupied(mut latest) => {
                        if latest.get().order < version.order {
                            latest.insert(version);
                        }
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(version);
                    }
                }
            }
        }
        Ok(stored)
    }

    /// The (tenant, message id) pairs already stored among the batch's messages, in any month
    /// (see [`crate::write::message_ids`]).
    pub(super) async fn stored_message_ids(
        &mut self,
        (provider, live): &TableRead,
        events: &[&Event],
    ) -> Result<HashSet<(Tenant, Uuid)>> {
        if self.table.version().unwrap_or(0) == 0 {
            return Ok(HashSet::new());
        }
        let wanted: Vec<(Tenant, Uuid)> = events
            .iter()
            .filter_map(|event| match event {
                Event::Message(m) => Some((m.tenant, m.message_id)),
                Event::Conversation(_) => None,
            })
            .collect();
        if wanted.is_empty() {
            return Ok(HashSet::new());
        }
        let Some(live) = live else {
            return self.scanned_message_ids(provider, &wanted).await;
        };
        self.message_ids
            .stored(&self.table, live, &self.runtime, &wanted)
            .await
    }

    /// [`Self::stored_message_ids`] for a table read through deltalake's provider: a scan of the
    /// batch's bots' message partitions.
    async fn scanned_message_ids(
        &self,
        provider: &Arc<dyn TableProvider>,
        wanted: &[(Tenant, Uuid)],
    ) -> Result<HashSet<(Tenant, Uuid)>> {
        let ids: HashSet<&(Tenant, Uuid)> = wanted.iter().collect();
        let bots: BTreeSet<String> = wanted.iter().map(|(t, _)| t.bot_id.to_string()).collect();
        let predicate = col("kind")
            .eq(lit(KIND_MESSAGE))
            .and(col("bot_id").in_list(bots.into_iter().map(lit).collect(), false));
        let stored =
            scan::message_ids(&self.table, &self.runtime, provider.clone(), predicate).await?;
        Ok(stored
            .into_iter()
            .filter(|found| ids.contains(found))
            .collect())
    }
}

/// The events of the batch with their batch lines, without the messages already stored or
/// earlier in the batch; counted into `outcome`.
pub(super) fn without_duplicates<'a>(
    events: &[&'a Event],
    stored_ids: &HashSet<(Tenant, Uuid)>,
    outcome: &mut WriteOutcome,
) -> Vec<LinedEvent<'a>> {
    let mut seen: HashSet<(Tenant, Uuid), foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(events.len(), Default::default());
    (0..)
        .zip(events.iter().copied())
        .filter(|(_, event)| match event {
            Event::Message(m) => {
                let key = (m.tenant, m.message_id);
                let fresh = !stored_ids.contains(&key) && seen.insert(key);
                if fresh {
                    outcome.messages_written += 1;
                } else {
                    outcome.duplicate_messages += 1;
                }
                fresh
            }
            Event::Conversation(_) => {
                outcome.conversations_written += 1;
                true
            }
        })
        .collect()
}

/// The conversation rows of `sessions_by_bot`. Each bot's own range of session codes lets file
/// statistics prune where codes grow with time: one range over every bot of a batch spans the
/// files of all of them. The list of bots reads partition values only, so it drops other bots'
/// files before any statistics are read. The IN list keeps exactly the sessions (DataFusion
/// prunes files with IN lists of at most 20 values only).
fn stored_sessions_predicate(sessions_by_bot: &BTreeMap<uuid::Uuid, BTreeSet<&str>>) -> Expr {
    let ranges = sessions_by_bot.iter().filter_map(|(bot, sessions)| {
        let (first, last) = (sessions.first()?, sessions.last()?);
        Some(
            col("bot_id")
                .eq(lit(bot.to_string()))
                .and(col("session_code").between(lit(*first), lit(*last))),
        )
    });
    let sessions: BTreeSet<&str> = sessions_by_bot.values().flatten().copied().collect();
    col("kind")
        .eq(lit(KIND_CONVERSATION))
        .and(col("bot_id").in_list(
            sessions_by_bot.keys().map(|b| lit(b.to_string())).collect(),
            false,
        ))
        .and(scan::any_of(ranges.collect()))
        .and(col("session_code").in_list(sessions.into_iter().map(lit).collect(), false))
}
