//! Distinct users from the user rollup rows (see `talkhouse_storage::rollup`), counted in memory.
//!
//! A user rollup row counts one user's latest conversation versions per 15-minute bucket,
//! channel and untagged; a superseded version's count is retracted by a later row. Each live
//! file's rows are read once per process. A snapshot's index sums them per (bucket, channel,
//! user, untagged) and keeps the positive ones, sorted by bucket: any window of whole buckets then
//! reads its users from one slice, and each user's first bucket decides NEW against RETURNING.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::{Expr, col};
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;
use talkhouse_storage::schema::KIND_USER_ROLLUP;

use super::bucketed::{self, Bucketed, Slot};
use super::file_rows::{FileRow, LiveRows, Numbers};
use super::{Run, ServedBy};
use crate::Result;

/// One user rollup row, with the bot's user and channel numbers.
#[derive(Debug, Clone, Copy)]
pub(super) struct UserRow {
    slot: Slot,
    user: u32,
    conversations: i64,
}

impl Bucketed for UserRow {
    type Key = (i64, u16, u32, bool);

    fn key(&self) -> Self::Key {
        (
            self.slot.bucket,
            self.slot.channel,
            self.user,
            self.slot.untagged,
        )
    }

    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn add(&mut self, other: &Self) {
        self.conversations += other.conversations;
    }

    fn negated(&self) -> Self {
        Self {
            conversations: -self.conversations,
            ..*self
        }
    }

    /// A user counts in a bucket while one of their latest versions starts there (a snapshot's
    /// sum is never negative: a retraction follows the row it retracts).
    fn counts_something(&self) -> bool {
        self.conversations > 0
    }
}

impl FileRow for UserRow {
    const KIND: &'static str = KIND_USER_ROLLUP;

    fn columns() -> Vec<Expr> {
        Slot::COLUMNS
            .into_iter()
            .chain(["user_id", "rollup_conversations"])
            .map(col)
            .collect()
    }

    fn read(batch: &RecordBatch, numbers: &mut Numbers, rows: &mut Vec<Self>) -> Result<()> {
        let slots = Slot::read(batch, numbers)?;
        let users = arrow::compute::cast(batch.column(3), &DataType::Utf8)?;
        let users = users.as_string::<i32>();
        let counts = arrow::compute::cast(batch.column(4), &DataType::Int64)?;
        let counts = counts.as_primitive::<Int64Type>();
        for (row, slot) in slots.into_iter().enumerate() {
            let Some(slot) = slot.filter(|_| users.is_valid(row) && counts.is_valid(row)) else {
                continue;
            };
            rows.push(Self {
                slot,
                user: numbers.user(users.value(row))?,
                conversations: counts.value(row),
            });
        }
        Ok(())
    }
}

/// The users of a bot's latest conversation versions per bucket, channel and untagged.
#[derive(Debug)]
pub(super) struct UserIndex {
    /// One per (bucket, channel, user, untagged) with a positive count, in that order.
    entries: Arc<Vec<UserRow>>,
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
    pub fn of(live: LiveRows<UserRow>) -> Self {
        let entries = live.entries;
        let mut first_bucket = vec![i64::MAX; live.users];
        for entry in entries.iter() {
            let first = &mut first_bucket[entry.user as usize];
            *first = (*first).min(entry.slot.bucket);
        }
        Self {
            entries,
            first_bucket,
            channels: live.channels,
        }
    }

    fn labelled<'a>(
        &'a self,
        filter: &Filter,
        classifier: &'a Classifier,
    ) -> impl Iterator<Item = (u32, &'a UserRow)> + 'a {
        bucketed::labelled(&self.entries, &self.channels, filter, classifier)
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
        self.counted_by_marks(filter, classifier)
            .unwrap_or_else(|| self.counted_by_sorting(filter, classifier))
            .into_iter()
            .map(|((label, channel), users)| {
                let uuid = self.channels[usize::from(channel)].clone();
                ((i64::from(label), uuid), users)
            })
            .collect()
    }

    /// One pass over the window when the labels follow the buckets (a series labels its periods
    /// in time order), on two cores for a long window: it is cut at a change of label near its
    /// middle, and each half counts its own labels. `None` when a label comes after a greater
    /// one, or the bot has more channels than a mark holds.
    fn counted_by_marks(
        &self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> Option<HashMap<(u32, u16), i64>> {
        if self.channels.len() > u64::BITS as usize {
            return None;
        }
        let window = bucketed::in_bounds(&self.entries, classifier);
        if window.len() < 2 * ENTRIES_PER_CORE {
            return self.counted_by_marks_in(window, filter, classifier);
        }
        let (earlier, later) =
            window.split_at(label_change_after(window, window.len() / 2, classifier));
        let (earlier, later) = std::thread::scope(|scope| {
            let later = scope.spawn(|| self.counted_by_marks_in(later, filter, classifier));
            (
                self.counted_by_marks_in(earlier, filter, classifier),
                later.join(),
            )
        });
        let (mut counts, later) = (earlier?, later.expect("counting does not panic")?);
        // Each half must hold whole labels: a label in both would count its users twice.
        let labels: HashSet<u32> = counts.keys().map(|(label, _)| *label).collect();
        for (key, users) in later {
            if labels.contains(&key.0) {
                return None;
            }
            counts.insert(key, users);
        }
        Some(counts)
    }

    /// [`Self::counted_by_marks`] over some of the entries: each user keeps the label they were
    /// last counted under and the channels counted there, so a user seen again under that label
    /// is not counted again.
    fn counted_by_marks_in(
        &self,
        entries: &[UserRow],
        filter: &Filter,
        classifier: &Classifier,
    ) -> Option<HashMap<(u32, u16), i64>> {
        // Per user, the last label (high 64 bits) and the channels counted under it (low 64
        // bits): one memory access per entry, and a zeroed allocation whose pages are touched
        // only for the users the entries hold.
        let mut marks = vec![0u128; self.first_bucket.len()];
        let mut counts = HashMap::new();
        let mut open: Option<(u32, Vec<i64>)> = None;
        for (label, entry) in bucketed::labelled(entries, &self.channels, filter, classifier) {
            let per_channel = match &mut open {
                Some((open_label, per_channel)) if *open_label == label => per_channel,
                Some((open_label, _)) if *open_label > label => return None,
                _ => {
                    if let Some((done, per_channel)) = open.take() {
                        add_counts(&mut counts, done, per_channel);
                    }
                    &mut open.insert((label, vec![0; self.channels.len()])).1
                }
            };
            let mark = &mut marks[entry.user as usize];
            if (*mark >> 64) as u32 != label {
                *mark = u128::from(label) << 64;
            }
            let bit = 1u128 << entry.slot.channel;
            if *mark & bit == 0 {
                *mark |= bit;
                per_channel[usize::from(entry.slot.channel)] += 1;
            }
        }
        if let Some((done, per_channel)) = open {
            add_counts(&mut counts, done, per_channel);
        }
        Some(counts)
    }

    /// Any label order: each (label, channel)'s users, sorted and deduplicated.
    fn counted_by_sorting(
        &self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> HashMap<(u32, u16), i64> {
        let mut users: HashMap<(u32, u16), Vec<u32>> = HashMap::new();
        for (label, entry) in self.labelled(filter, classifier) {
            users
                .entry((label, entry.slot.channel))
                .or_default()
                .push(entry.user);
        }
        users
            .into_iter()
            .map(|(key, mut list)| {
                list.sort_unstable();
                list.dedup();
                (key, list.len() as i64)
            })
            .collect()
    }
}

/// Entries a window must hold per core before its count is shared between two.
const ENTRIES_PER_CORE: usize = 100_000;

/// The first index at or after `from` whose entry's label differs from the one before it (or
/// `entries.len()`); entries are sorted by bucket.
fn label_change_after(entries: &[UserRow], from: usize, classifier: &Classifier) -> usize {
    let Some(first) = entries.get(from) else {
        return entries.len();
    };
    let label = classifier.classify(first.slot.bucket);
    let mut bucket = first.slot.bucket;
    for (index, entry) in entries.iter().enumerate().skip(from + 1) {
        if entry.slot.bucket != bucket {
            bucket = entry.slot.bucket;
            if classifier.classify(bucket) != label {
                return index;
            }
        }
    }
    entries.len()
}

/// Adds one label's user counts per channel number.
fn add_counts(counts: &mut HashMap<(u32, u16), i64>, label: u32, per_channel: Vec<i64>) {
    for (channel, users) in per_channel.into_iter().enumerate() {
        if users > 0 {
            *counts.entry((label, channel as u16)).or_default() += users;
        }
    }
}

/// The bot's user index when it answers `filter` over `classifier` (and NEW from `since`, if
/// asked; see [`bucketed::answers`]), the run then marked as served by rollups; `None` otherwise.
pub(super) async fn index_for(
    run: &mut Run,
    filter: &Filter,
    classifier: &Classifier,
    since: Option<i64>,
) -> Result<Option<Arc<UserIndex>>> {
    if !bucketed::answers(filter, classifier, since) {
        return Ok(None);
    }
    let index = run.user_index().await?;
    if index.is_some() {
        run.served_by = ServedBy::Rollups;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use talkhouse_core::request::{Checker, FilterInput, Limits};
    use talkhouse_core::window::InstantRange;
    use talkhouse_storage::rollup::BUCKET_MICROS;

    use super::*;

    const DAY: i64 = 96 * BUCKET_MICROS;

    /// An index of `rows` random (bucket, channel, user, untagged) rows over ten days.
    fn index(channels: u16, users: u32, rows: usize, mut seed: u64) -> UserIndex {
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut entries: Vec<UserRow> = (0..rows)
            .map(|_| UserRow {
                slot: Slot {
                    bucket: next(10 * 96) as i64 * BUCKET_MICROS,
                    channel: next(u64::from(channels)) as u16,
                    untagged: next(2) == 0,
                },
                user: next(u64::from(users)) as u32,
                conversations: 1,
            })
            .collect();
        entries.sort_unstable_by_key(|row| row.key());
        entries.dedup_by_key(|row| row.key());
        UserIndex::of(LiveRows {
            entries: Arc::new(entries),
            channels: (0..channels).map(|c| format!("channel-{c}")).collect(),
            users: users as usize,
        })
    }

    fn every_channel() -> Filter {
        let input = FilterInput {
            start_date: "1970-01-01".into(),
            end_date: "1970-01-10".into(),
            ..Default::default()
        };
        input
            .check("filter", &Limits::default(), &mut Checker::new())
            .expect("a valid filter")
    }

    /// Each day of the ten its own range, labelled by `label(day)`.
    fn days_labelled(label: impl Fn(i64) -> u32) -> Classifier {
        Classifier::new(
            (0..10)
                .map(|day| {
                    let range = InstantRange {
                        start: day * DAY,
                        end: (day + 1) * DAY,
                    };
                    (range, label(day))
                })
                .collect(),
        )
    }

    /// Distinct users per (label, channel uuid), by sets.
    fn expected(index: &UserIndex, classifier: &Classifier) -> HashMap<(i64, String), i64> {
        let mut users: HashMap<(i64, String), HashSet<u32>> = HashMap::new();
        for entry in index.entries.iter() {
            if let Some(label) = classifier.classify(entry.slot.bucket) {
                let channel = index.channels[usize::from(entry.slot.channel)].clone();
                users
                    .entry((i64::from(label), channel))
                    .or_default()
                    .insert(entry.user);
            }
        }
        users
            .into_iter()
            .map(|(key, users)| (key, users.len() as i64))
            .collect()
    }

    /// The one-pass count where labels follow time (on two cores: the window holds more than
    /// twice [`ENTRIES_PER_CORE`]), the sort where they do not (in the whole
    /// window or across its two halves) or where a bot has more channels than a mark holds: each
    /// against sets of users.
    #[test]
    fn every_way_of_counting_counts_each_user_once_per_label_and_channel() {
        let filter = every_channel();
        let in_time_order = days_labelled(|day| (day / 3) as u32);
        let out_of_order = days_labelled(|day| (day % 3) as u32);
        let few_channels = index(3, 20_000, 3 * ENTRIES_PER_CORE, 0x9e37_79b9_7f4a_7c15);
        assert!(
            few_channels
                .counted_by_marks(&filter, &in_time_order)
                .is_some()
        );
        assert!(
            few_channels
                .counted_by_marks(&filter, &out_of_order)
                .is_none()
        );
        // Each half of the window (cut at day 6) in time order, but sharing labels 2 to 4.
        let halves_share_labels = days_labelled(|day| match day {
            0..4 => day as u32,
            4..6 => 4,
            _ => (day - 4) as u32,
        });
        assert!(
            few_channels
                .counted_by_marks(&filter, &halves_share_labels)
                .is_none()
        );
        let many_channels = index(70, 200, 5_000, 0x2545_f491_4f6c_dd1d);
        assert!(
            many_channels
                .counted_by_marks(&filter, &in_time_order)
                .is_none()
        );
        for (index, classifier) in [
            (&few_channels, &in_time_order),
            (&few_channels, &out_of_order),
            (&few_channels, &halves_share_labels),
            (&many_channels, &in_time_order),
        ] {
            let counted = index.by_label_and_channel(&filter, classifier);
            assert!(counted.values().any(|&users| users > 1));
            assert_eq!(counted, expected(index, classifier));
        }
    }
}
