//! Distinct users per (label, channel) of a [`UserIndex`]'s window, counted one of three ways:
//! from the visits (see `user_visits`) where every label is one range of time (decision 26),
//! by per-user marks where labels follow time and the window is not sparse (on two cores for a
//! long window), and by sorting each (label, channel)'s users otherwise.

use std::collections::{HashMap, HashSet};

use super::bucketed;
use super::user_rollups::UserIndex;
use super::user_rows::UserRow;
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;

impl UserIndex {
    /// Distinct users per (label, channel uuid).
    pub fn by_label_and_channel(
        &self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> HashMap<(i64, String), i64> {
        self.counted_by_visits(filter, classifier)
            .or_else(|| match self.sparse(classifier) {
                true => None,
                false => self.counted_by_marks(filter, classifier),
            })
            .unwrap_or_else(|| self.counted_by_sorting(filter, classifier))
            .into_iter()
            .map(|((label, channel), users)| {
                let uuid = self.channels[usize::from(channel)].clone();
                ((i64::from(label), uuid), users)
            })
            .collect()
    }

    /// A few ranks per label and channel when each label is one range of time (a series' periods
    /// are); `None` when a label has several ranges.
    fn counted_by_visits(
        &self,
        filter: &Filter,
        classifier: &Classifier,
    ) -> Option<HashMap<(u32, u16), i64>> {
        let ranges = classifier.ranges();
        let mut labels = HashSet::new();
        if !ranges.iter().all(|(_, label)| labels.insert(*label)) {
            return None;
        }
        let visits = self.visits(filter.untagged);
        let allowed = bucketed::allowed_channels(filter, &self.channels);
        let ranges_only: Vec<_> = ranges.iter().map(|(range, _)| *range).collect();
        let mut counts = HashMap::new();
        for (channel, visited) in visits.by_channel.iter().enumerate() {
            if allowed.as_ref().is_some_and(|allowed| !allowed[channel]) {
                continue;
            }
            let users = visits.distinct_users(visited, &ranges_only);
            for ((_, label), users) in ranges.iter().zip(users) {
                if users > 0 {
                    counts.insert((*label, channel as u16), users as i64);
                }
            }
        }
        Some(counts)
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
    let label = classifier.classify(first.slot.bucket());
    let mut bucket = first.slot.number;
    for (index, entry) in entries.iter().enumerate().skip(from + 1) {
        if entry.slot.number != bucket {
            bucket = entry.slot.number;
            if classifier.classify(entry.slot.bucket()) != label {
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

#[cfg(test)]
mod tests;
