//! The distinct users of any range of whole buckets, counted in a few ranks instead of a pass over
//! the range's entries (decision 26).
//!
//! Take a user's entries in bucket order: the user has entries in a range exactly when one of them
//! lies in the range and its previous one does not, which for a range from bucket `first` on means
//! that the previous one lies before `first` (or there is none). So the users of the range are the
//! entries in it whose previous bucket is below `first`: a count a [`WaveletMatrix`] over each
//! entry's previous bucket answers, and those with no previous entry are its NEW users.

use std::ops::Range;

use talkhouse_core::window::InstantRange;
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::user_rows::UserRow;
use super::wavelet::WaveletMatrix;

/// A bot's entries (or its untagged ones) as visits: over all of them, and per channel.
#[derive(Debug)]
pub(super) struct Visits {
    /// The number of the first bucket of the index, from which the previous buckets count.
    origin: i32,
    /// Each user's previous entry of any channel; not built for untagged entries.
    pub all: Option<Visited>,
    /// Per channel number, each user's previous entry of that channel.
    pub by_channel: Vec<Visited>,
}

impl Visits {
    /// The visits of the `entries` (sorted by bucket) that are `untagged`, if asked; `users` and
    /// `channels` are the bot's numbers of each.
    pub fn of(entries: &[UserRow], users: usize, channels: usize, untagged: bool) -> Self {
        let origin = entries.first().map_or(0, |entry| entry.slot.number);
        let kept = |entry: &&UserRow| !untagged || entry.slot.untagged;
        // The visits of every entry on a second core, those per channel on this one.
        let (all, by_channel) = std::thread::scope(|scope| {
            let all = (!untagged).then(|| {
                scope.spawn(move || {
                    let mut last = vec![0u32; users];
                    Visited::of(entries.iter().filter(kept), origin, &mut last)
                })
            });
            let mut last = vec![0u32; users];
            let by_channel: Vec<Visited> = (0..channels)
                .map(|channel| {
                    let of_channel = |entry: &&UserRow| usize::from(entry.slot.channel) == channel;
                    let entries = entries.iter().filter(kept).filter(of_channel);
                    Visited::of(entries, origin, &mut last)
                })
                .collect();
            let all = all.map(|all| all.join().expect("building visits does not panic"));
            (all, by_channel)
        });
        Self {
            origin,
            all,
            by_channel,
        }
    }

    /// The distinct users of `visited` in `range` (on bucket bounds), and how many of them have
    /// their first entry there.
    pub fn users(&self, visited: &Visited, range: InstantRange) -> (usize, usize) {
        let (positions, first) = self.positions_and_first(visited, range);
        let queries = [(positions.clone(), first + 1), (positions, 1)];
        let counts = visited.previous.count_below_each(&queries);
        (counts[0], counts[1])
    }

    /// The distinct users of `visited` in each of `ranges` (on bucket bounds), counted together.
    pub fn distinct_users(&self, visited: &Visited, ranges: &[InstantRange]) -> Vec<usize> {
        let queries: Vec<_> = ranges
            .iter()
            .map(|range| {
                let (positions, first) = self.positions_and_first(visited, *range);
                (positions, first + 1)
            })
            .collect();
        visited.previous.count_below_each(&queries)
    }

    /// The positions of `range`'s entries, and its first bucket counted from the origin.
    fn positions_and_first(&self, visited: &Visited, range: InstantRange) -> (Range<usize>, u32) {
        let first = range.start.div_euclid(BUCKET_MICROS);
        let positions =
            visited.position(first)..visited.position(range.end.div_euclid(BUCKET_MICROS));
        // Entries store their previous bucket plus one, from the origin: 0 for none.
        let first = (first - i64::from(self.origin)).clamp(0, i64::from(u32::MAX - 1)) as u32;
        (positions, first)
    }
}

/// Some of a bot's entries in bucket order, each with its user's previous one among them.
#[derive(Debug)]
pub(super) struct Visited {
    /// The distinct bucket numbers of the entries, ascending.
    buckets: Vec<i32>,
    /// Where each bucket's entries start, and then how many entries there are.
    starts: Vec<u32>,
    /// Per entry, 0 when it is its user's first, otherwise one more than the number of its
    /// user's previous entry's bucket counted from the origin.
    previous: WaveletMatrix,
}

impl Visited {
    /// `last` holds a slot per user number; it is reset first.
    fn of<'a>(entries: impl Iterator<Item = &'a UserRow>, origin: i32, last: &mut [u32]) -> Self {
        last.fill(0);
        let (mut buckets, mut starts, mut previous) = (Vec::new(), Vec::new(), Vec::new());
        for entry in entries {
            if buckets.last() != Some(&entry.slot.number) {
                buckets.push(entry.slot.number);
                starts.push(previous.len() as u32);
            }
            let seen = &mut last[entry.user as usize];
            previous.push(*seen);
            *seen = (entry.slot.number - origin) as u32 + 1;
        }
        starts.push(previous.len() as u32);
        buckets.shrink_to_fit();
        starts.shrink_to_fit();
        Self {
            buckets,
            starts,
            previous: WaveletMatrix::new(previous),
        }
    }

    /// The position of the first entry at or after bucket number `number`.
    fn position(&self, number: i64) -> usize {
        self.starts[self.buckets.partition_point(|b| i64::from(*b) < number)] as usize
    }
}
