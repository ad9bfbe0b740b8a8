//! In-memory indexes of a bot's rollup rows (see `talkhouse_storage::rollup`): every file's rows
//! summed per key and sorted by 15-minute bucket, so that a window of whole buckets is one slice.

use std::collections::HashSet;
use std::ops::Range;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};

use talkhouse_core::request::Filter;
use talkhouse_core::window::{Classifier, InstantRange};
use talkhouse_storage::rollup::BUCKET_MICROS;

use super::numbers::{Numbers, internal};
use crate::Result;

/// Where a rollup row counts: its bucket, its channel's number and whether its items were
/// untagged. Eight bytes, so that a user rollup row is sixteen (a bot of `large` holds ten
/// million of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Slot {
    /// The bucket's number: it starts `number` buckets after the epoch.
    pub number: i32,
    pub channel: u16,
    pub untagged: bool,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 8);

impl Slot {
    /// The columns [`Slot::read`] expects first.
    pub const COLUMNS: [&str; 3] = ["sent_at", "channel_uuid", "rollup_untagged"];

    /// The slot of each row of `batch` (`None` where a column is null), from its first three
    /// columns.
    pub fn read(batch: &RecordBatch, numbers: &mut Numbers) -> Result<Vec<Option<Slot>>> {
        let cast = |index: usize, to: &DataType| arrow::compute::cast(batch.column(index), to);
        let buckets = cast(0, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let buckets = buckets.as_primitive::<TimestampMicrosecondType>();
        let channels = cast(1, &DataType::Utf8)?;
        let channels = channels.as_string::<i32>();
        let untagged = cast(2, &DataType::Boolean)?;
        let untagged = untagged.as_boolean();
        (0..batch.num_rows())
            .map(|row| {
                if buckets.is_null(row) || channels.is_null(row) {
                    return Ok(None);
                }
                Ok(Some(Slot {
                    number: bucket_number(buckets.value(row))?,
                    channel: numbers.channel(channels.value(row))?,
                    untagged: untagged.is_valid(row) && untagged.value(row),
                }))
            })
            .collect()
    }
}

impl Slot {
    /// The bucket's start, in microseconds since the epoch.
    pub fn bucket(&self) -> i64 {
        i64::from(self.number) * BUCKET_MICROS
    }
}

/// The number of the bucket starting at `micros`: an error where no bucket starts there, which
/// only a rollup file not written by talkhouse could hold.
fn bucket_number(micros: i64) -> Result<i32> {
    i32::try_from(micros.div_euclid(BUCKET_MICROS))
        .ok()
        .filter(|_| micros.rem_euclid(BUCKET_MICROS) == 0)
        .ok_or_else(|| {
            internal(&format!(
                "a rollup row's sent_at ({micros} µs) is not the start of a 15-minute bucket"
            ))
        })
}

/// A rollup row kept in memory, its channel and user numbered per bot.
pub(super) trait Bucketed: Copy {
    /// What equal rows share; orders by bucket first.
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
    fn slot(&self) -> &Slot;
    /// Adds the counts of a row with the same key.
    fn add(&mut self, other: &Self);
    /// The row with its counts negated: what removing it from a sum adds.
    fn negated(&self) -> Self;
    /// Whether the summed row still counts something.
    fn counts_something(&self) -> bool;
}

/// `base` (summed, by key) with `changes` added: rows with equal keys summed, those counting
/// nothing dropped, by key. A merge, so a commit's few rows cost a pass, not a sort, of the base;
/// without a base, the changes are summed in place, so every row is not held twice.
pub(super) fn merged<R: Bucketed>(base: &[R], mut changes: Vec<R>) -> Vec<R> {
    changes.sort_unstable_by_key(|row| row.key());
    let mut entries = match base.is_empty() {
        true => {
            changes.dedup_by(|later, kept| {
                let same = later.key() == kept.key();
                if same {
                    kept.add(later);
                }
                same
            });
            changes
        }
        false => merged_into_new(base, changes),
    };
    entries.retain(|entry| entry.counts_something());
    entries.shrink_to_fit();
    entries
}

/// The sorted `base` and `changes` merged, rows with equal keys summed.
fn merged_into_new<R: Bucketed>(base: &[R], changes: Vec<R>) -> Vec<R> {
    let mut entries: Vec<R> = Vec::with_capacity(base.len() + changes.len());
    let mut push = |row: R| match entries.last_mut() {
        Some(last) if last.key() == row.key() => last.add(&row),
        _ => entries.push(row),
    };
    let (mut base, mut changes) = (
        base.iter().copied().peekable(),
        changes.into_iter().peekable(),
    );
    loop {
        let next = match (base.peek(), changes.peek()) {
            (Some(a), Some(b)) if a.key() <= b.key() => base.next(),
            (Some(_), Some(_)) | (None, Some(_)) => changes.next(),
            (Some(_), None) => base.next(),
            (None, None) => break,
        };
        push(next.expect("peeked"));
    }
    entries
}

/// Whether rollup rows answer `filter` over `classifier`: no tag filter (a row knows only whether
/// its items were untagged), every range on bucket boundaries (true of every real zone's days and
/// hours; not of an offset such as `+05:07`), and `since` (where NEW starts, if asked) on one too.
pub(crate) fn answers(filter: &Filter, classifier: &Classifier, since: Option<i64>) -> bool {
    filter.tags.is_empty()
        && classifier.aligned_to(BUCKET_MICROS)
        && since.is_none_or(|micros| micros % BUCKET_MICROS == 0)
}

/// The `entries` (sorted by bucket) within the classifier's bounds: one slice.
pub(super) fn in_bounds<'a, R: Bucketed>(entries: &'a [R], classifier: &Classifier) -> &'a [R] {
    match classifier.bounds() {
        Some(bounds) => &entries[within(entries, bounds)],
        None => &entries[..0],
    }
}

/// The indexes of the `entries` (sorted by bucket) in `range`.
pub(super) fn within<R: Bucketed>(entries: &[R], range: InstantRange) -> Range<usize> {
    entries.partition_point(|e| e.slot().bucket() < range.start)
        ..entries.partition_point(|e| e.slot().bucket() < range.end)
}

/// Per channel number, whether the filter keeps it; `None` when it keeps every channel.
pub(super) fn allowed_channels(filter: &Filter, channels: &[String]) -> Option<Vec<bool>> {
    (!filter.channels.is_empty()).then(|| {
        let asked: HashSet<String> = filter.channels.iter().map(|c| c.to_string()).collect();
        channels.iter().map(|c| asked.contains(c)).collect()
    })
}

/// The `entries` (sorted by bucket) the classifier labels that pass the filter's channels and
/// untagged, each with its label; `channels` are the uuids by number.
pub(super) fn labelled<'a, R: Bucketed>(
    entries: &'a [R],
    channels: &[String],
    filter: &Filter,
    classifier: &'a Classifier,
) -> impl Iterator<Item = (u32, &'a R)> + 'a {
    let allowed = allowed_channels(filter, channels);
    let untagged_only = filter.untagged;
    let slice = in_bounds(entries, classifier);
    let mut last: Option<(i64, Option<u32>)> = None;
    slice.iter().filter_map(move |entry| {
        if untagged_only && !entry.slot().untagged {
            return None;
        }
        if let Some(allowed) = &allowed
            && !allowed[usize::from(entry.slot().channel)]
        {
            return None;
        }
        let label = match last {
            Some((bucket, label)) if bucket == entry.slot().bucket() => label,
            _ => {
                let label = classifier.classify(entry.slot().bucket());
                last = Some((entry.slot().bucket(), label));
                label
            }
        };
        Some((label?, entry))
    })
}
