//! Answers from the rollup rows, summed in memory: each live file's rows are read once per
//! process, and a snapshot's index holds the bot's rows summed per (bucket, channel, untagged),
//! sorted by bucket, so any window of whole buckets is one slice of it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::{Expr, col};
use talkhouse_core::measure::Measure;
use talkhouse_core::request::Filter;
use talkhouse_core::window::Classifier;
use talkhouse_storage::rollup::ROLLUP_COUNTS;
use talkhouse_storage::schema::KIND_ROLLUP;

use super::bucketed::{self, Bucketed, Slot};
use super::file_rows::{FileRow, LiveRows};
use super::numbers::Numbers;
use crate::Result;

/// One rollup row, with the bot's channel number.
#[derive(Debug, Clone, Copy)]
pub(super) struct BucketRow {
    slot: Slot,
    counts: [i64; ROLLUP_COUNTS.len()],
}

impl Bucketed for BucketRow {
    type Key = Slot;

    fn key(&self) -> Self::Key {
        self.slot
    }

    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn add(&mut self, other: &Self) {
        for (total, count) in self.counts.iter_mut().zip(other.counts) {
            *total += count;
        }
    }

    fn negated(&self) -> Self {
        Self {
            counts: self.counts.map(|count| -count),
            ..*self
        }
    }

    fn counts_something(&self) -> bool {
        self.counts.iter().any(|count| *count != 0)
    }
}

impl FileRow for BucketRow {
    const KIND: &'static str = KIND_ROLLUP;

    fn columns() -> Vec<Expr> {
        Slot::COLUMNS
            .into_iter()
            .chain(ROLLUP_COUNTS)
            .map(col)
            .collect()
    }

    fn read(batch: &RecordBatch, numbers: &mut Numbers, rows: &mut Vec<Self>) -> Result<()> {
        let slots = Slot::read(batch, numbers)?;
        let counts = (0..ROLLUP_COUNTS.len())
            .map(|i| arrow::compute::cast(batch.column(Slot::COLUMNS.len() + i), &DataType::Int64))
            .collect::<Result<Vec<_>, _>>()?;
        let counts: Vec<_> = counts
            .iter()
            .map(|c| c.as_primitive::<Int64Type>())
            .collect();
        for (row, slot) in slots.into_iter().enumerate() {
            let Some(slot) = slot else { continue };
            rows.push(Self {
                slot,
                counts: std::array::from_fn(|i| match counts[i].is_valid(row) {
                    true => counts[i].value(row),
                    false => 0,
                }),
            });
        }
        Ok(())
    }
}

/// A bot's rollup rows in one snapshot, summed per (bucket, channel, untagged).
#[derive(Debug)]
pub(crate) struct RollupIndex {
    entries: Arc<Vec<BucketRow>>,
    /// Channel uuids by number.
    channels: Vec<String>,
}

impl RollupIndex {
    pub(super) fn of(live: LiveRows<BucketRow>) -> Self {
        Self {
            entries: live.entries,
            channels: live.channels,
        }
    }

    /// The sums of `measures` over the rows the classifier labels, per (label, channel).
    pub fn sums(&self, filter: &Filter, classifier: &Classifier, measures: &[Measure]) -> Sums {
        let mut by_number: HashMap<(u32, u16), Vec<i64>> = HashMap::new();
        for (label, entry) in bucketed::labelled(&self.entries, &self.channels, filter, classifier)
        {
            let totals = by_number
                .entry((label, entry.slot.channel))
                .or_insert_with(|| vec![0; measures.len()]);
            for (total, measure) in totals.iter_mut().zip(measures) {
                *total += entry.counts[measure.position()];
            }
        }
        by_number
            .into_iter()
            .map(|((label, channel), totals)| {
                let uuid = self.channels[usize::from(channel)].clone();
                ((i64::from(label), uuid), totals)
            })
            .collect()
    }

    /// Per channel uuid, its latest conversation versions; and the first and last bucket in
    /// which one starts.
    pub fn conversations(&self) -> (HashMap<&str, i64>, Option<(i64, i64)>) {
        let position = Measure::Conversations.position();
        let mut by_channel: HashMap<&str, i64> = HashMap::new();
        let mut by_bucket: Vec<(i64, i64)> = Vec::new();
        for entry in self.entries.iter() {
            let n = entry.counts[position];
            *by_channel
                .entry(&self.channels[usize::from(entry.slot.channel)])
                .or_default() += n;
            match by_bucket.last_mut() {
                Some((bucket, total)) if *bucket == entry.slot.bucket() => *total += n,
                _ => by_bucket.push((entry.slot.bucket(), n)),
            }
        }
        let started = || by_bucket.iter().filter(|(_, n)| *n > 0).map(|(b, _)| *b);
        (by_channel, started().next().zip(started().next_back()))
    }

    /// The total of `measures` per bucket (its start, ascending) in the ranges of `classifier`:
    /// how many rows a list holds, and where.
    pub fn by_bucket(
        &self,
        filter: &Filter,
        classifier: &Classifier,
        measures: &[Measure],
    ) -> Vec<(i64, i64)> {
        let mut buckets: Vec<(i64, i64)> = Vec::new();
        for (_, entry) in bucketed::labelled(&self.entries, &self.channels, filter, classifier) {
            let n: i64 = measures.iter().map(|m| entry.counts[m.position()]).sum();
            match buckets.last_mut() {
                Some((bucket, total)) if *bucket == entry.slot.bucket() => *total += n,
                _ => buckets.push((entry.slot.bucket(), n)),
            }
        }
        buckets
    }
}

/// Sums per (label, channel), one value per measure asked, in the order asked.
pub(crate) type Sums = HashMap<(i64, String), Vec<i64>>;

/// Per (label, key) counts from sums: each measure's total under its key.
pub(crate) fn by_key(sums: &Sums, keys: &[&str]) -> HashMap<(i64, String), i64> {
    let mut counts = HashMap::new();
    for ((label, _channel), values) in sums {
        for (key, value) in keys.iter().zip(values) {
            *counts.entry((*label, key.to_string())).or_insert(0) += value;
        }
    }
    counts
}

/// Per (label, channel) counts from sums: all measures added.
pub(crate) fn by_channel(sums: &Sums) -> HashMap<(i64, String), i64> {
    sums.iter()
        .map(|(key, values)| (key.clone(), values.iter().sum()))
        .collect()
}
