//! Distinct users from the user rollup rows (see `talkhouse_storage::rollup`), counted in memory.
//!
//! A user rollup row counts one user's latest conversation versions per 15-minute bucket,
//! channel and untagged; a superseded version's count is retracted by a later row. Each live
//! file's rows are read once per process. A snapshot's index sums them per (bucket, channel,
//! user, untagged) and keeps the positive ones, sorted by bucket: any window of whole buckets then
//! reads its users from one slice, and each user's first bucket decides NEW against RETURNING.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::prelude::{DataFrame, col};
use object_store::path::Path;
use talkhouse_core::Tenant;
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;
use talkhouse_storage::rollup::BUCKET_MICROS;
use talkhouse_storage::schema::KIND_USER_ROLLUP;

use super::{Run, predicates};
use crate::{Error, Result};

fn internal(message: &str) -> Error {
    Error::Query(datafusion::error::DataFusionError::Internal(
        message.to_string(),
    ))
}

/// Files whose rows are read at the same time.
const FILES_AT_ONCE: usize = 4;

/// One user rollup row, with the bot's user and channel numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    bucket: i64,
    channel: u16,
    user: u32,
    untagged: bool,
    conversations: i64,
}

/// The user rollup rows of every live file read so far, per bot.
#[derive(Default)]
pub(super) struct UserRollupFiles {
    bots: Mutex<HashMap<Tenant, BotRows>>,
}

/// One bot's users and channels by number, and its files' rows.
#[derive(Default)]
struct BotRows {
    users: HashMap<Box<str>, u32>,
    channels: Vec<String>,
    channel_numbers: HashMap<String, u16>,
    files: HashMap<Path, Arc<Vec<Row>>>,
}

impl UserRollupFiles {
    /// The index of the run's bot in the run's snapshot; `None` when the snapshot is not read
    /// file by file. The table must carry user rollups.
    pub async fn index(&self, run: &mut Run) -> Result<Option<UserIndex>> {
        let Some(files) = run.snapshot.files_of_bot(&run.tenant.bot_id.to_string()) else {
            return Ok(None);
        };
        let live: Vec<Path> = files
            .into_iter()
            .filter(|(_, kind)| kind == KIND_USER_ROLLUP)
            .map(|(location, _)| location)
            .collect();
        let unread: Vec<Path> = {
            let bots = self.bots.lock().expect("not poisoned");
            let known = bots.get(&run.tenant);
            live.iter()
                .filter(|location| known.is_none_or(|bot| !bot.files.contains_key(*location)))
                .cloned()
                .collect()
        };
        let mut plans = Vec::with_capacity(unread.len());
        for location in &unread {
            plans.push(rows_plan(run, location)?);
        }
        let mut answers = Vec::with_capacity(plans.len());
        let mut plans = plans.into_iter().peekable();
        while plans.peek().is_some() {
            let group = plans.by_ref().take(FILES_AT_ONCE).collect();
            answers.extend(run.collect_all(group).await?);
        }
        let mut bots = self.bots.lock().expect("not poisoned");
        if bots.len() > 10_000 && !bots.contains_key(&run.tenant) {
            bots.clear();
        }
        let bot = bots.entry(run.tenant).or_default();
        for (location, batches) in unread.into_iter().zip(answers) {
            let rows = bot.rows_of(&batches)?;
            bot.files.insert(location, Arc::new(rows));
        }
        let live: HashSet<&Path> = live.iter().collect();
        bot.files.retain(|location, _| live.contains(location));
        let rows: Vec<Arc<Vec<Row>>> = bot.files.values().cloned().collect();
        let (users, channels) = (bot.users.len(), bot.channels.clone());
        drop(bots);
        Ok(Some(UserIndex::of(&rows, users, channels)))
    }
}

/// The plan that reads one file's user rollup rows of the run's bot.
fn rows_plan(run: &Run, location: &Path) -> Result<DataFrame> {
    let table = run
        .snapshot
        .file_table(location)
        .ok_or_else(|| internal("a live file outside the snapshot's file list"))??;
    Ok(run
        .ctx
        .read_table(table)?
        .filter(predicates::tenant(&run.tenant))?
        .select(vec![
            col("sent_at"),
            col("channel_uuid"),
            col("user_id"),
            col("rollup_untagged"),
            col("rollup_conversations"),
        ])?)
}

impl BotRows {
    fn rows_of(&mut self, batches: &[RecordBatch]) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        for batch in batches {
            let cast = |index: usize, to: &DataType| arrow::compute::cast(batch.column(index), to);
            let buckets = cast(0, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let buckets = buckets.as_primitive::<TimestampMicrosecondType>();
            let channels = cast(1, &DataType::Utf8)?;
            let channels = channels.as_string::<i32>();
            let users = cast(2, &DataType::Utf8)?;
            let users = users.as_string::<i32>();
            let untagged = cast(3, &DataType::Boolean)?;
            let untagged = untagged.as_boolean();
            let counts = cast(4, &DataType::Int64)?;
            let counts = counts.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                if buckets.is_null(row)
                    || channels.is_null(row)
                    || users.is_null(row)
                    || counts.is_null(row)
                {
                    continue;
                }
                rows.push(Row {
                    bucket: buckets.value(row),
                    channel: self.channel_number(channels.value(row))?,
                    user: self.user_number(users.value(row))?,
                    untagged: untagged.is_valid(row) && untagged.value(row),
                    conversations: counts.value(row),
                });
            }
        }
        Ok(rows)
    }

    fn user_number(&mut self, user: &str) -> Result<u32> {
        if let Some(number) = self.users.get(user) {
            return Ok(*number);
        }
        let number = u32::try_from(self.users.len())
            .map_err(|_| internal("more than 2^32 users in one bot"))?;
        self.users.insert(user.into(), number);
        Ok(number)
    }

    fn channel_number(&mut self, channel: &str) -> Result<u16> {
        if let Some(number) = self.channel_numbers.get(channel) {
            return Ok(*number);
        }
        let number = u16::try_from(self.channels.len())
            .map_err(|_| internal("more than 65,536 channels in one bot"))?;
        self.channels.push(channel.to_string());
        self.channel_numbers.insert(channel.to_string(), number);
        Ok(number)
    }
}

/// The users of a bot's latest conversation versions per bucket, channel and untagged.
#[derive(Debug)]
pub(super) struct UserIndex {
    /// One per (bucket, channel, user, untagged) with a positive count, in that order.
    entries: Vec<Row>,
    /// Per user number, the first bucket of any of their conversations.
    first_bucket: Vec<i64>,
    /// Channel uuids by number.
    channels: Vec<String>,
}

/// Distinct users in each period of a traffic window.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct PeriodUsers {
    /// Users of the window whose first conversation started in it.
    pub new: i64,
    /// Users of the window with an earlier conversation.
    pub returning: i64,
    /// Users of the previous period.
    pub previous: i64,
}

impl UserIndex {
    fn of(files: &[Arc<Vec<Row>>], users: usize, channels: Vec<String>) -> Self {
        let mut rows: Vec<Row> = files.iter().flat_map(|rows| rows.iter().copied()).collect();
        rows.sort_unstable_by_key(|r| (r.bucket, r.channel, r.user, r.untagged));
        let mut entries: Vec<Row> = Vec::with_capacity(rows.len());
        for row in rows {
            match entries.last_mut() {
                Some(last)
                    if (last.bucket, last.channel, last.user, last.untagged)
                        == (row.bucket, row.channel, row.user, row.untagged) =>
                {
                    last.conversations += row.conversations;
                }
                _ => entries.push(row),
            }
        }
        entries.retain(|entry| entry.conversations > 0);
        entries.shrink_to_fit();
        let mut first_bucket = vec![i64::MAX; users];
        for entry in &entries {
            let first = &mut first_bucket[entry.user as usize];
            *first = (*first).min(entry.bucket);
        }
        Self {
            entries,
            first_bucket,
            channels,
        }
    }

    /// Whether the index answers `filter` over `classifier`: no tag filter (a row knows only
    /// whether its conversations were untagged), every range on bucket boundaries, and `since`
    /// (where NEW starts, if asked) on one too.
    pub fn answers(filter: &Filter, classifier: &Classifier, since: Option<i64>) -> bool {
        filter.tags.is_empty()
            && classifier.aligned_to(BUCKET_MICROS)
            && since.is_none_or(|micros| micros % BUCKET_MICROS == 0)
    }

    /// The entries the classifier labels that pass the filter's channels and untagged, each with
    /// its label.
    fn labelled<'a>(
        &'a self,
        filter: &Filter,
        classifier: &'a Classifier,
    ) -> impl Iterator<Item = (u32, &'a Row)> + 'a {
        let allowed: Option<Vec<bool>> = (!filter.channels.is_empty()).then(|| {
            let asked: HashSet<String> = filter.channels.iter().map(|c| c.to_string()).collect();
            self.channels.iter().map(|c| asked.contains(c)).collect()
        });
        let untagged_only = filter.untagged;
        let slice = match classifier.bounds() {
            Some(bounds) => {
                let start = self.entries.partition_point(|e| e.bucket < bounds.start);
                let end = self.entries.partition_point(|e| e.bucket < bounds.end);
                &self.entries[start..end]
            }
            None => &self.entries[..0],
        };
        let mut last: Option<(i64, Option<u32>)> = None;
        slice.iter().filter_map(move |entry| {
            if untagged_only && !entry.untagged {
                return None;
            }
            if let Some(allowed) = &allowed
                && !allowed[entry.channel as usize]
            {
                return None;
            }
            let label = match last {
                Some((bucket, label)) if bucket == entry.bucket => label,
                _ => {
                    let label = classifier.classify(entry.bucket);
                    last = Some((entry.bucket, label));
                    label
                }
            };
            Some((label?, entry))
        })
    }

    /// Distinct users in the window (label 0), NEW when their first conversation starts at or
    /// after `new_from`, and in the previous period (label 1).
    pub fn traffic(&self, filter: &Filter, periods: &Classifier, new_from: i64) -> PeriodUsers {
        const CURRENT: u8 = 1;
        const PREVIOUS: u8 = 2;
        let mut seen = vec![0u8; self.first_bucket.len()];
        for (label, entry) in self.labelled(filter, periods) {
            seen[entry.user as usize] |= match label {
                0 => CURRENT,
                1 => PREVIOUS,
                _ => 0,
            };
        }
        let mut users = PeriodUsers::default();
        for (user, marks) in seen.into_iter().enumerate() {
            if marks & CURRENT != 0 {
                match self.first_bucket[user] >= new_from {
                    true => users.new += 1,
                    false => users.returning += 1,
                }
            }
            if marks & PREVIOUS != 0 {
                users.previous += 1;
            }
        }
        users
    }

    /// Distinct users per (label, channel uuid).
    pub fn by_label_and_channel(
        &self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> HashMap<(i64, String), i64> {
        let mut users: HashMap<(u32, u16), Vec<u32>> = HashMap::new();
        let mut current: Option<((u32, u16), Vec<u32>)> = None;
        for (label, entry) in self.labelled(filter, classifier) {
            let key = (label, entry.channel);
            match &mut current {
                Some((open, list)) if *open == key => list.push(entry.user),
                _ => {
                    if let Some((open, list)) = current.take() {
                        users.entry(open).or_default().extend(list);
                    }
                    current = Some((key, vec![entry.user]));
                }
            }
        }
        if let Some((open, list)) = current {
            users.entry(open).or_default().extend(list);
        }
        users
            .into_iter()
            .map(|((label, channel), mut list)| {
                list.sort_unstable();
                list.dedup();
                let uuid = self.channels[channel as usize].clone();
                ((i64::from(label), uuid), list.len() as i64)
            })
            .collect()
    }
}
