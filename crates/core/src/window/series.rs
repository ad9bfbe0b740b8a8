//! The buckets of a time series over a window (CONTRACT §6, Series).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Timelike, Utc};

use super::{Classifier, InstantRange, Window, first_instant, segments};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    Hour,
    Day,
    /// Weeks start on local Monday.
    Week,
    Month,
}

impl Granularity {
    /// HOUR for windows of up to 2 local days, DAY otherwise.
    pub fn auto(window: &Window) -> Self {
        if window.days() <= 2 {
            Granularity::Hour
        } else {
            Granularity::Day
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    /// The local RFC 3339 date-time of `start`, offset included.
    pub label: String,
}

/// The buckets of a window and the classifier that puts each instant of the window in one.
#[derive(Debug, Clone)]
pub struct Series {
    pub granularity: Granularity,
    pub buckets: Vec<Bucket>,
    /// Labels an instant with the index of its bucket; instants outside the window have none.
    pub classifier: Classifier,
}

impl Series {
    pub fn new(window: &Window, granularity: Granularity) -> Self {
        match granularity {
            Granularity::Hour => hourly(window),
            _ => calendar(window, granularity),
        }
    }
}

/// One bucket per (local date, local hour, offset) inside the window: a repeated hour gives two,
/// a skipped hour none.
fn hourly(window: &Window) -> Series {
    let (from, to) = window.span();
    let mut buckets = Vec::new();
    let mut index_of: HashMap<(NaiveDate, u32, i32), u32> = HashMap::new();
    let mut ranges = Vec::new();
    for segment in segments(window.zone, from, to).filter(|s| window.contains_local(s.local)) {
        let key = (segment.local.date(), segment.local.hour(), segment.offset);
        let index = *index_of.entry(key).or_insert_with(|| {
            let start_micros = segment.start * super::MICROS;
            buckets.push(Bucket {
                start: DateTime::from_timestamp_micros(start_micros).unwrap_or_default(),
                label: window.zone.rfc3339(start_micros),
            });
            buckets.len() as u32 - 1
        });
        ranges.push((
            InstantRange::from_seconds(segment.start, segment.end),
            index,
        ));
    }
    Series {
        granularity: Granularity::Hour,
        buckets,
        classifier: Classifier::new(ranges),
    }
}

/// Every local day, week or month touching the window, each starting at its first instant.
fn calendar(window: &Window, granularity: Granularity) -> Series {
    let first_unit = unit_start(window.start_date, granularity);
    let mut buckets = Vec::new();
    let mut unit = first_unit;
    while unit <= window.end_date {
        let start = first_instant(window.zone, unit);
        buckets.push(Bucket {
            start,
            label: window.zone.rfc3339(start.timestamp_micros()),
        });
        unit = next_unit(unit, granularity);
    }
    let (from, to) = window.span();
    let ranges = segments(window.zone, from, to)
        .filter(|s| window.contains_local(s.local))
        .map(|s| {
            let index = unit_index(first_unit, s.local.date(), granularity);
            (InstantRange::from_seconds(s.start, s.end), index)
        })
        .collect();
    Series {
        granularity,
        buckets,
        classifier: Classifier::new(ranges),
    }
}

fn unit_start(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Hour | Granularity::Day => date,
        Granularity::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Granularity::Month => date.with_day(1).expect("every month has a 1st"),
    }
}

fn next_unit(unit: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Hour | Granularity::Day => unit + Days::new(1),
        Granularity::Week => unit + Days::new(7),
        Granularity::Month => unit + Months::new(1),
    }
}

fn unit_index(first: NaiveDate, date: NaiveDate, granularity: Granularity) -> u32 {
    let days = (date - first).num_days() as u32;
    match granularity {
        Granularity::Hour | Granularity::Day => days,
        Granularity::Week => days / 7,
        Granularity::Month => {
            let months = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
            (months(date) - months(first)) as u32
        }
    }
}
