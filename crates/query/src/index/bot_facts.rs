//! A bot's channel list, newest event instant and data span, combined from the facts of each of
//! its live files.
//!
//! Data files never change once written, so each file's facts are read once per process, and a
//! new snapshot reads only the files its commits added: under steady ingest, the first answer
//! after a commit reads the new rows instead of the bot's whole history. The facts combine
//! exactly whatever a commit added or removed. The newest instant, the messages' span and a
//! channel's latest named message are minima and maxima. Whether a latest conversation version
//! uses a channel, or starts in a 15-minute bucket, comes from the rollup index (a superseded
//! version's count is retracted, see `talkhouse_storage::rollup`). Compaction rewrites files but
//! changes none of these.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::ExprFunctionExt;
use datafusion::prelude::{DataFrame, Expr, col};
use object_store::path::Path;
use talkhouse_core::Tenant;
use talkhouse_core::latest::{Latest, MESSAGE_ORDER};
use talkhouse_storage::schema::{KIND_CONVERSATION, KIND_MESSAGE};

use super::rollups::RollupIndex;
use super::source::Source;
use crate::Result;
use crate::columns;
use crate::model::Channel;

/// A bot's channels, ordered by uuid, its newest event instant, and where its data starts and
/// ends.
#[derive(Debug, Clone)]
pub(crate) struct BotFacts {
    pub channels: Vec<Channel>,
    pub newest: Option<DateTime<Utc>>,
    /// The first and last `sent_at` of the bot's messages.
    pub messages: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The first and last 15-minute bucket (their starts) in which a latest conversation version
    /// starts.
    pub conversation_buckets: Option<(i64, i64)>,
}

/// What one file holds of one bot.
#[derive(Debug, Default)]
struct FileFacts {
    /// The latest `sent_at` of its messages or `updated_at` of its conversation versions.
    newest: Option<i64>,
    /// The first and last `sent_at` of its messages.
    messages: Option<(i64, i64)>,
    channels: HashMap<String, ChannelFacts>,
}

#[derive(Debug, Default, Clone)]
struct ChannelFacts {
    has_messages: bool,
    /// Latest conversation versions on the channel, from the rollup index.
    conversations: i64,
    /// The channel's latest message that carries a name.
    named: Option<NamedBy>,
}

#[derive(Debug, Clone)]
struct NamedBy {
    /// The greatest names the channel.
    order: Latest,
    name: String,
    channel_type: Option<String>,
}

/// The facts of every live file read so far, per bot.
#[derive(Default)]
pub(super) struct FileFactsCache {
    known: Mutex<HashMap<Tenant, HashMap<Path, Arc<FileFacts>>>>,
}

impl FileFactsCache {
    /// The facts of the source's bot in its snapshot, whose rollup index is `rollups`; `None`
    /// when the snapshot is not read file by file.
    pub async fn bot_facts(
        &self,
        source: &mut impl Source,
        rollups: &RollupIndex,
    ) -> Result<Option<BotFacts>> {
        let tenant = source.tenant();
        let Some(files) = source.snapshot().files_of_bot(&tenant.bot_id.to_string()) else {
            return Ok(None);
        };
        let mut known = self.known_of(tenant, &files);
        let mut unread = Vec::new();
        let mut plans = Vec::new();
        for (location, kind) in &files {
            if !known.contains_key(location)
                && let Some(plan) = facts_plan(&*source, location, kind)?
            {
                unread.push((location, kind));
                plans.push(plan);
            }
        }
        let answers = source.collect_each(plans).await?;
        for ((location, kind), batches) in unread.into_iter().zip(answers) {
            let facts = Arc::new(facts_of(kind, &batches)?);
            self.remember(tenant, location, facts.clone());
            known.insert(location.clone(), facts);
        }
        let per_file: Vec<Arc<FileFacts>> = files
            .iter()
            .filter_map(|(location, _)| known.get(location).cloned())
            .collect();
        Ok(Some(combine(&per_file, rollups)))
    }

    /// The known facts of the bot's live files; facts of files no longer live are forgotten.
    fn known_of(&self, tenant: Tenant, live: &[(Path, String)]) -> HashMap<Path, Arc<FileFacts>> {
        let mut known = self.known.lock().expect("not poisoned");
        if known.len() > 10_000 && !known.contains_key(&tenant) {
            known.clear();
        }
        let files = known.entry(tenant).or_default();
        if files.len() > live.len() {
            let live: std::collections::HashSet<&Path> = live.iter().map(|(l, _)| l).collect();
            files.retain(|location, _| live.contains(location));
        }
        files.clone()
    }

    fn remember(&self, tenant: Tenant, location: &Path, facts: Arc<FileFacts>) {
        let mut known = self.known.lock().expect("not poisoned");
        known
            .entry(tenant)
            .or_default()
            .insert(location.clone(), facts);
    }
}

/// The plan that reads one file's facts for the source's bot: one small aggregate over that file
/// alone; `None` for files that hold none (supersession markers).
fn facts_plan(source: &impl Source, location: &Path, kind: &str) -> Result<Option<DataFrame>> {
    let aggregates: (Vec<Expr>, Vec<Expr>) = match kind {
        KIND_MESSAGE => {
            let order = || MESSAGE_ORDER.map(|c| col(c).sort(false, false)).to_vec();
            let latest_named = |column: &str, alias: &str| {
                first_value_udaf()
                    .call(vec![col(column)])
                    .order_by(order())
                    .filter(col("channel_name").is_not_null())
                    .build()
                    .map(|e| e.alias(alias))
            };
            (
                vec![col("channel_uuid")],
                vec![
                    min(col("sent_at")).alias("first"),
                    max(col("sent_at")).alias("newest"),
                    latest_named("channel_name", "channel_name")?,
                    latest_named("channel_type", "channel_type")?,
                    latest_named("sent_at", "named_sent_at")?,
                    latest_named("written_at", "named_written_at")?,
                    latest_named("batch_line", "named_batch_line")?,
                ],
            )
        }
        KIND_CONVERSATION => (vec![], vec![max(col("updated_at")).alias("newest")]),
        _ => return Ok(None),
    };
    let Some(rows) = source.file_rows(location)? else {
        return Ok(None);
    };
    Ok(Some(rows.aggregate(aggregates.0, aggregates.1)?))
}

/// A file's facts from the answer of its [`facts_plan`].
fn facts_of(kind: &str, batches: &[RecordBatch]) -> Result<FileFacts> {
    let mut facts = FileFacts::default();
    for batch in batches {
        if kind == KIND_CONVERSATION {
            facts.newest = latest(facts.newest, columns::int64s(batch, "newest")?);
            continue;
        }
        let channels = columns::strings(batch, "channel_uuid")?;
        let newest = columns::int64s(batch, "newest")?;
        let first = columns::int64s(batch, "first")?;
        facts.newest = latest(facts.newest, newest.clone());
        facts.messages = span(facts.messages, first.into_iter().zip(newest));
        let names = columns::strings(batch, "channel_name")?;
        let types = columns::strings(batch, "channel_type")?;
        let sent = columns::int64s(batch, "named_sent_at")?;
        let written = columns::int64s(batch, "named_written_at")?;
        let lines = columns::int64s(batch, "named_batch_line")?;
        for (row, channel) in channels.into_iter().enumerate() {
            let Some(channel) = channel else { continue };
            let entry = facts.channels.entry(channel).or_default();
            entry.has_messages = true;
            if let (Some(name), Some(sent), Some(written), Some(line)) =
                (&names[row], sent[row], written[row], lines[row])
            {
                entry.named = Some(NamedBy {
                    order: Latest {
                        at: sent,
                        written_at: written,
                        batch_line: line,
                    },
                    name: name.clone(),
                    channel_type: types[row].clone(),
                });
            }
        }
    }
    Ok(facts)
}

fn latest(known: Option<i64>, values: Vec<Option<i64>>) -> Option<i64> {
    values.into_iter().flatten().chain(known).max()
}

/// The span covering `known` and every (first, last) of `spans`.
fn span(
    known: Option<(i64, i64)>,
    spans: impl IntoIterator<Item = (Option<i64>, Option<i64>)>,
) -> Option<(i64, i64)> {
    spans
        .into_iter()
        .filter_map(|(first, last)| first.zip(last))
        .chain(known)
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
}

/// The bot's facts from those of its files and its rollup index: channels used by a message or
/// by a latest conversation version, each named by its latest named message.
fn combine(files: &[Arc<FileFacts>], rollups: &RollupIndex) -> BotFacts {
    let mut newest = None;
    let mut messages = None;
    let (conversations, conversation_buckets) = rollups.conversations();
    let mut channels: BTreeMap<&str, ChannelFacts> = conversations
        .into_iter()
        .map(|(uuid, conversations)| {
            let facts = ChannelFacts {
                conversations,
                ..ChannelFacts::default()
            };
            (uuid, facts)
        })
        .collect();
    for file in files {
        newest = newest.max(file.newest);
        messages = span(messages, file.messages.map(|(a, b)| (Some(a), Some(b))));
        for (uuid, facts) in &file.channels {
            let channel = channels.entry(uuid).or_default();
            channel.has_messages |= facts.has_messages;
            if let Some(named) = &facts.named
                && channel
                    .named
                    .as_ref()
                    .is_none_or(|known| known.order < named.order)
            {
                channel.named = Some(named.clone());
            }
        }
    }
    BotFacts {
        channels: channels
            .into_iter()
            .filter(|(_, facts)| facts.has_messages || facts.conversations > 0)
            .map(|(uuid, facts)| Channel {
                uuid: uuid.to_string(),
                name: facts
                    .named
                    .as_ref()
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                channel_type: facts.named.and_then(|n| n.channel_type),
            })
            .collect(),
        newest: newest.and_then(DateTime::from_timestamp_micros),
        messages: messages.and_then(|(first, last)| {
            DateTime::from_timestamp_micros(first).zip(DateTime::from_timestamp_micros(last))
        }),
        conversation_buckets,
    }
}
