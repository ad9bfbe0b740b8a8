//! Distinct users from the user rollup rows (see `talkhouse_storage::rollup`), counted in memory.
//!
//! A user rollup row counts one user's latest conversation versions per 15-minute bucket,
//! channel and untagged; a superseded version's count is retracted by a later row. Each live
//! file's rows are read once per process. A snapshot's index sums them per (bucket, channel,
//! user, untagged) and keeps the positive ones, sorted by bucket: any window of whole buckets then
//! reads its users from one slice, and each user's first bucket decides NEW against RETURNING.
//! A series' users per period and channel are counted in `user_distinct`.

use std::sync::{Arc, OnceLock};

use talkhouse_core::request::Filter;
use talkhouse_core::window::{Classifier, InstantRange};
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::bucketed;
use super::file_rows::LiveRows;
use super::user_rows::UserRow;
use super::user_visits::Visits;

/// The users of a bot's latest conversation versions per bucket, channel and untagged.
#[derive(Debug)]
pub(crate) struct UserIndex {
    /// One per (bucket, channel, user, untagged) with a positive count, in that order.
    pub(super) entries: Arc<Vec<UserRow>>,
    /// Per user number, the number of the first bucket of any of their conversations.
    pub(super) first_bucket: Vec<i32>,
    /// Channel uuids by number.
    pub(super) channels: Vec<String>,
    /// Of every entry and of the untagged ones, built when first asked for.
    visits: [OnceLock<Visits>; 2],
}

/// Distinct users in each period of a traffic window.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PeriodUsers {
    /// Users of the window whose first conversation started in it.
    pub new: i64,
    /// Users of the window with an earlier conversation.
    pub returning: i64,
    /// Users of the previous period.
    pub previous: i64,
}

impl UserIndex {
    pub(super) fn of(live: LiveRows<UserRow>) -> Self {
        let entries = live.entries;
        let mut first_bucket = vec![i32::MAX; live.users];
        for entry in entries.iter() {
            let first = &mut first_bucket[entry.user as usize];
            *first = (*first).min(entry.slot.number);
        }
        Self {
            entries,
            first_bucket,
            channels: live.channels,
            visits: [OnceLock::new(), OnceLock::new()],
        }
    }

    pub(super) fn labelled<'a>(
        &'a self,
        filter: &Filter,
        classifier: &'a Classifier,
    ) -> impl Iterator<Item = (u32, &'a UserRow)> + 'a {
        bucketed::labelled(&self.entries, &self.channels, filter, classifier)
    }

    /// Whether `classifier`'s window holds few entries against the bot's users: counting it
    /// by per-user arrays would fault in, one page at a time, an array of every user of the bot
    /// for a few of them (63% of a 7-day series' time on `large` was page faults), so it is
    /// counted by sorting its entries instead.
    pub(super) fn sparse(&self, classifier: &Classifier) -> bool {
        bucketed::in_bounds(&self.entries, classifier).len() < self.first_bucket.len() / 8
    }

    /// The visits of the entries the filter's `untagged` keeps.
    pub(super) fn visits(&self, untagged: bool) -> &Visits {
        self.visits[usize::from(untagged)].get_or_init(|| {
            let started = std::time::Instant::now();
            let (users, channels) = (self.first_bucket.len(), self.channels.len());
            let visits = Visits::of(&self.entries, users, channels, untagged);
            let (entries, elapsed) = (self.entries.len(), started.elapsed());
            tracing::debug!(entries, users, untagged, ?elapsed, "user visits built");
            visits
        })
    }

    /// Distinct users in the window (label 0), NEW when their first conversation starts at or
    /// after `new_from`, and in the previous period (label 1).
    pub fn traffic(&self, filter: &Filter, periods: &Classifier, new_from: i64) -> PeriodUsers {
        self.traffic_by_visits(filter, periods, new_from)
            .unwrap_or_else(|| self.traffic_by_marks(filter, periods, new_from))
    }

    /// [`Self::traffic`] from the visits of every entry, when the filter keeps every entry and
    /// each period is one range, the window's from `new_from`; `None` otherwise.
    pub(super) fn traffic_by_visits(
        &self,
        filter: &Filter,
        periods: &Classifier,
        new_from: i64,
    ) -> Option<PeriodUsers> {
        if !filter.channels.is_empty() || filter.untagged {
            return None;
        }
        let (mut window, mut previous) = (None, None);
        for (range, label) in periods.ranges() {
            let period = match label {
                0 => &mut window,
                1 => &mut previous,
                _ => continue,
            };
            if period.replace(*range).is_some() {
                return None;
            }
        }
        if window.is_some_and(|range: InstantRange| range.start != new_from) {
            return None;
        }
        let visits = self.visits(false);
        let all = visits.all.as_ref().expect("built for every entry");
        let mut users = PeriodUsers::default();
        if let Some(range) = window {
            let (seen, first_seen) = visits.users(all, range);
            users.new = first_seen as i64;
            users.returning = (seen - first_seen) as i64;
        }
        if let Some(range) = previous {
            users.previous = visits.users(all, range).0 as i64;
        }
        Some(users)
    }

    /// [`Self::traffic`] by marking each user of the entries the filter keeps.
    pub(super) fn traffic_by_marks(
        &self,
        filter: &Filter,
        periods: &Classifier,
        new_from: i64,
    ) -> PeriodUsers {
        let marks = self.labelled(filter, periods).filter_map(|(label, entry)| {
            let mark = match label {
                0 => CURRENT,
                1 => PREVIOUS,
                _ => return None,
            };
            Some((entry.user, mark))
        });
        let mut users = PeriodUsers::default();
        if self.sparse(periods) {
            let mut marked: Vec<(u32, u8)> = marks.collect();
            marked.sort_unstable_by_key(|(user, _)| *user);
            for same_user in marked.chunk_by(|a, b| a.0 == b.0) {
                let marks = same_user.iter().fold(0, |all, (_, mark)| all | mark);
                self.count_user(&mut users, same_user[0].0 as usize, marks, new_from);
            }
        } else {
            let mut seen = vec![0u8; self.first_bucket.len()];
            for (user, mark) in marks {
                seen[user as usize] |= mark;
            }
            for (user, marks) in seen.into_iter().enumerate() {
                self.count_user(&mut users, user, marks, new_from);
            }
        }
        users
    }

    fn count_user(&self, users: &mut PeriodUsers, user: usize, marks: u8, new_from: i64) {
        if marks & CURRENT != 0 {
            match i64::from(self.first_bucket[user]) * BUCKET_MICROS >= new_from {
                true => users.new += 1,
                false => users.returning += 1,
            }
        }
        if marks & PREVIOUS != 0 {
            users.previous += 1;
        }
    }
}

/// A user's marks in [`UserIndex::traffic`]: seen in the window, in the previous period.
const CURRENT: u8 = 1;
const PREVIOUS: u8 = 2;
