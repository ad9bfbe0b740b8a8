//! Cuts a stretch of UTC time into pieces of constant local date, hour and offset.

use chrono::NaiveDateTime;

use super::Zone;

/// `[start, end)` in Unix seconds, over which the local date, hour and UTC offset do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: i64,
    pub end: i64,
    /// The local date-time at `start`.
    pub local: NaiveDateTime,
    pub offset: i32,
}

/// The segments covering `[from, to)`, in order. Each ends at the next local hour boundary or at
/// the next change of offset, whichever comes first, so a daylight-saving transition at any
/// second, a 30- or 45-minute offset and a 30-minute shift all cut where they really happen.
pub fn segments(zone: Zone, from: i64, to: i64) -> impl Iterator<Item = Segment> {
    let mut start = from;
    std::iter::from_fn(move || {
        if start >= to {
            return None;
        }
        let offset = zone.offset_seconds(start);
        let local = start + i64::from(offset);
        let next_hour = (local.div_euclid(3600) + 1) * 3600 - i64::from(offset);
        let mut end = next_hour;
        if zone.offset_seconds(next_hour - 1) != offset {
            end = first_change(zone, start, next_hour - 1, offset);
        }
        let end = end.min(to);
        let segment = Segment {
            start,
            end,
            local: chrono::DateTime::from_timestamp(local, 0)
                .unwrap_or_default()
                .naive_utc(),
            offset,
        };
        start = end;
        Some(segment)
    })
}

/// The first second in `(low, high]` whose offset differs from `offset`, given that `high`'s does.
fn first_change(zone: Zone, mut low: i64, mut high: i64, offset: i32) -> i64 {
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if zone.offset_seconds(middle) == offset {
            low = middle;
        } else {
            high = middle;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn cuts_at_a_half_hour_daylight_saving_shift() {
        // Lord Howe Island leaves daylight time (+11:00) for +10:30 at 2024-04-07T02:00 local,
        // which is 2024-04-06T15:00Z; clocks go back to 01:30.
        let zone = Zone::parse("Australia/Lord_Howe").unwrap();
        let from = 1_712_415_600 - 2 * 3600; // 13:00Z
        let pieces: Vec<Segment> = segments(zone, from, from + 4 * 3600).collect();
        let described: Vec<(u32, u32, i32, i64)> = pieces
            .iter()
            .map(|s| (s.local.hour(), s.local.minute(), s.offset, s.end - s.start))
            .collect();
        assert_eq!(
            described,
            vec![
                (0, 0, 39600, 3600),
                (1, 0, 39600, 3600),
                (1, 30, 37800, 1800),
                (2, 0, 37800, 3600),
                (3, 0, 37800, 1800),
            ]
        );
    }

    #[test]
    fn fixed_offsets_with_minutes_cut_at_local_hours() {
        let zone = Zone::parse("+05:45").unwrap();
        let pieces: Vec<Segment> = segments(zone, 0, 3 * 3600).collect();
        assert_eq!(pieces[0].end, 15 * 60);
        assert!(pieces.iter().skip(1).all(|s| s.local.minute() == 0));
        assert_eq!(pieces.last().unwrap().end, 3 * 3600);
    }
}
