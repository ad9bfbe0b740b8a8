//! Local calendar windows and the UTC instants they hold (CONTRACT §3, §6).
//!
//! A [`Window`] is a range of local dates, an hour-of-day window and a zone. An instant is in it
//! when its local date and local hour are, which is decided per instant: a skipped hour holds
//! nothing, a repeated hour holds both real hours. Everything is computed by cutting UTC time into
//! [`segments`] of constant local date, hour and offset, so queries only ever compare UTC
//! instants against the ranges produced here.

mod classifier;
mod segments;
mod series;
mod zone;

pub use classifier::{Classifier, InstantRange};
pub use segments::{Segment, segments};
pub use series::{Bucket, Granularity, Series};
pub use zone::Zone;

use chrono::{DateTime, Days, NaiveDate, Timelike, Utc};

const MICROS: i64 = 1_000_000;
/// Wider than any UTC offset, so that a span of local dates is surely covered.
const SPAN_MARGIN_SECONDS: i64 = 2 * 86_400;

/// Hours of the local day, inclusive; `start > end` wraps past midnight (22..2 = 22,23,0,1,2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HourWindow {
    pub start: u32,
    pub end: u32,
}

impl HourWindow {
    pub const ALL_DAY: HourWindow = HourWindow { start: 0, end: 23 };

    pub fn contains(&self, hour: u32) -> bool {
        if self.start <= self.end {
            (self.start..=self.end).contains(&hour)
        } else {
            hour >= self.start || hour <= self.end
        }
    }
}

/// Local dates `start_date..=end_date` and an hour window, read in `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub zone: Zone,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub hours: HourWindow,
}

impl Window {
    /// Local days in the window, counting both ends.
    pub fn days(&self) -> u64 {
        (self.end_date - self.start_date).num_days() as u64 + 1
    }

    /// The same number of local days immediately before `start_date`, same hours and zone.
    pub fn previous(&self) -> Window {
        Window {
            start_date: self.start_date - Days::new(self.days()),
            end_date: self.start_date - Days::new(1),
            ..*self
        }
    }

    /// Whether a local date-time falls in the window.
    pub fn contains_local(&self, local: chrono::NaiveDateTime) -> bool {
        (self.start_date..=self.end_date).contains(&local.date())
            && self.hours.contains(local.hour())
    }

    /// The UTC ranges of the instants in the window, ordered and merged.
    pub fn ranges(&self) -> Vec<InstantRange> {
        let (from, to) = self.span();
        let mut ranges: Vec<InstantRange> = Vec::new();
        for segment in segments(self.zone, from, to).filter(|s| self.contains_local(s.local)) {
            let range = InstantRange::from_seconds(segment.start, segment.end);
            match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => ranges.push(range),
            }
        }
        ranges
    }

    /// Labels the instants of this window 0 and those of the previous period 1.
    pub fn periods(&self) -> Classifier {
        let current = self.ranges().into_iter().map(|r| (r, 0));
        let previous = self.previous().ranges().into_iter().map(|r| (r, 1));
        Classifier::new(current.chain(previous).collect())
    }

    /// The first instant of the previous period: the start of its first local day.
    pub fn compared_start(&self) -> DateTime<Utc> {
        first_instant(self.zone, self.previous().start_date)
    }

    /// The last millisecond before the first instant of `start_date`.
    pub fn compared_end(&self) -> DateTime<Utc> {
        first_instant(self.zone, self.start_date) - chrono::Duration::milliseconds(1)
    }

    /// The first instant of `start_date`: where a user's first conversation makes them NEW.
    pub fn first_instant(&self) -> DateTime<Utc> {
        first_instant(self.zone, self.start_date)
    }

    /// UTC seconds surely covering every instant of the window's local dates.
    fn span(&self) -> (i64, i64) {
        span(self.start_date, self.end_date)
    }
}

fn span(start_date: NaiveDate, end_date: NaiveDate) -> (i64, i64) {
    let midnight = |date: NaiveDate| date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    (
        midnight(start_date) - SPAN_MARGIN_SECONDS,
        midnight(end_date) + 86_400 + SPAN_MARGIN_SECONDS,
    )
}

/// The earliest instant whose local date is `date` or later: local midnight, or the end of a
/// daylight-saving gap that swallowed midnight (America/Sao_Paulo until 2019).
pub fn first_instant(zone: Zone, date: NaiveDate) -> DateTime<Utc> {
    let (from, to) = span(date, date);
    let start = segments(zone, from, to)
        .find(|s| s.local.date() >= date)
        .map_or(to, |s| s.start);
    DateTime::from_timestamp(start, 0).unwrap_or_default()
}

/// The local date of an instant in `zone`.
pub fn local_date(zone: Zone, instant: DateTime<Utc>) -> NaiveDate {
    zone.local(instant.timestamp_micros()).date()
}

#[cfg(test)]
mod tests;
