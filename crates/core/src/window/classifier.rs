//! Sorted, disjoint UTC ranges with a label each: which period or bucket an instant belongs to.

/// `[start, end)` in Unix microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstantRange {
    pub start: i64,
    pub end: i64,
}

impl InstantRange {
    pub fn from_seconds(start: i64, end: i64) -> Self {
        Self {
            start: start * super::MICROS,
            end: end * super::MICROS,
        }
    }
}

/// Labels instants by binary search over disjoint ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Classifier {
    ranges: Vec<(InstantRange, u32)>,
}

impl Classifier {
    /// Ranges must not overlap; adjacent ranges with the same label are merged.
    pub fn new(mut ranges: Vec<(InstantRange, u32)>) -> Self {
        ranges.retain(|(range, _)| range.start < range.end);
        ranges.sort_by_key(|(range, _)| range.start);
        let mut merged: Vec<(InstantRange, u32)> = Vec::with_capacity(ranges.len());
        for (range, label) in ranges {
            match merged.last_mut() {
                Some((last, last_label)) if last.end == range.start && *last_label == label => {
                    last.end = range.end;
                }
                Some((last, _)) => {
                    debug_assert!(last.end <= range.start, "overlapping ranges");
                    merged.push((range, label));
                }
                None => merged.push((range, label)),
            }
        }
        Self { ranges: merged }
    }

    /// The label of the range holding `micros`, if any.
    pub fn classify(&self, micros: i64) -> Option<u32> {
        let index = self
            .ranges
            .partition_point(|(range, _)| range.start <= micros);
        let (range, label) = self.ranges.get(index.checked_sub(1)?)?;
        (micros < range.end).then_some(*label)
    }

    /// Whether every range starts and ends on a multiple of `step` microseconds since the epoch:
    /// then all instants of one `step`-long slot share a label.
    pub fn aligned_to(&self, step: i64) -> bool {
        self.ranges
            .iter()
            .all(|(range, _)| range.start % step == 0 && range.end % step == 0)
    }

    /// The ranges in time order, each with its label; ranges that touch differ in label.
    pub fn ranges(&self) -> &[(InstantRange, u32)] {
        &self.ranges
    }

    /// From the first range's start to the last range's end: a cheap pre-filter for scans.
    pub fn bounds(&self) -> Option<InstantRange> {
        Some(InstantRange {
            start: self.ranges.first()?.0.start,
            end: self.ranges.last()?.0.end,
        })
    }
}
