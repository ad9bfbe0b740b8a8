use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use proptest::prelude::*;

use super::*;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn window(zone: &str, start: &str, end: &str, hours: (u32, u32)) -> Window {
    Window {
        zone: Zone::parse(zone).unwrap(),
        start_date: date(start),
        end_date: date(end),
        hours: HourWindow {
            start: hours.0,
            end: hours.1,
        },
    }
}

fn utc(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

fn range(start: &str, end: &str) -> InstantRange {
    InstantRange {
        start: utc(start),
        end: utc(end),
    }
}

#[test]
fn a_whole_day_is_one_range_from_local_midnight() {
    let w = window("America/Sao_Paulo", "2024-05-01", "2024-05-02", (0, 23));
    assert_eq!(
        w.ranges(),
        vec![range("2024-05-01T03:00:00Z", "2024-05-03T03:00:00Z")]
    );
}

#[test]
fn wrapped_hours_take_both_ends_of_each_day() {
    let w = window("UTC", "2024-05-01", "2024-05-01", (22, 2));
    assert_eq!(
        w.ranges(),
        vec![
            range("2024-05-01T00:00:00Z", "2024-05-01T03:00:00Z"),
            range("2024-05-01T22:00:00Z", "2024-05-02T00:00:00Z"),
        ]
    );
}

#[test]
fn a_skipped_midnight_starts_the_day_at_one() {
    // Sao Paulo sprang forward from 00:00 to 01:00 on 2018-11-04.
    let w = window("America/Sao_Paulo", "2018-11-04", "2018-11-04", (0, 0));
    assert_eq!(w.ranges(), vec![]);
    assert_eq!(
        first_instant(w.zone, w.start_date),
        DateTime::parse_from_rfc3339("2018-11-04T03:00:00Z").unwrap()
    );
    let day = window("America/Sao_Paulo", "2018-11-04", "2018-11-04", (0, 23));
    assert_eq!(
        day.ranges(),
        vec![range("2018-11-04T03:00:00Z", "2018-11-05T02:00:00Z")]
    );
}

#[test]
fn a_repeated_hour_holds_both_real_hours() {
    // New York fell back from 02:00 EDT to 01:00 EST on 2024-11-03.
    let w = window("America/New_York", "2024-11-03", "2024-11-03", (1, 1));
    assert_eq!(
        w.ranges(),
        vec![range("2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z")]
    );
    let series = Series::new(&w, Granularity::Hour);
    let labels: Vec<&str> = series.buckets.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        labels,
        ["2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00"]
    );
    assert_eq!(
        series.classifier.classify(utc("2024-11-03T05:59:59Z")),
        Some(0)
    );
    assert_eq!(
        series.classifier.classify(utc("2024-11-03T06:00:00Z")),
        Some(1)
    );
}

#[test]
fn lord_howe_buckets_start_at_half_past() {
    let w = window("Australia/Lord_Howe", "2024-04-07", "2024-04-07", (1, 2));
    let series = Series::new(&w, Granularity::Hour);
    let labels: Vec<&str> = series.buckets.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "2024-04-07T01:00:00+11:00",
            "2024-04-07T01:30:00+10:30",
            "2024-04-07T02:00:00+10:30"
        ]
    );
}

#[test]
fn kathmandu_days_start_at_a_quarter_past_utc() {
    let w = window("Asia/Kathmandu", "2024-01-01", "2024-01-01", (0, 23));
    assert_eq!(
        w.ranges(),
        vec![range("2023-12-31T18:15:00Z", "2024-01-01T18:15:00Z")]
    );
}

#[test]
fn the_previous_period_has_as_many_days_and_compares_to_millisecond_before() {
    let w = window("Asia/Kolkata", "2024-03-10", "2024-03-16", (9, 17));
    let previous = w.previous();
    assert_eq!(previous.start_date, date("2024-03-03"));
    assert_eq!(previous.end_date, date("2024-03-09"));
    assert_eq!(previous.hours, w.hours);
    assert_eq!(
        w.compared_start(),
        DateTime::parse_from_rfc3339("2024-03-02T18:30:00Z").unwrap()
    );
    assert_eq!(
        w.compared_end(),
        DateTime::parse_from_rfc3339("2024-03-09T18:29:59.999Z").unwrap()
    );
    let periods = w.periods();
    assert_eq!(periods.classify(utc("2024-03-10T03:30:00Z")), Some(0));
    assert_eq!(periods.classify(utc("2024-03-09T03:30:00Z")), Some(1));
    assert_eq!(periods.classify(utc("2024-03-09T13:00:00Z")), None);
}

#[test]
fn weeks_start_on_the_monday_before_and_months_on_the_first() {
    let w = window("Europe/London", "2024-03-20", "2024-04-10", (0, 23));
    let weeks = Series::new(&w, Granularity::Week);
    let labels: Vec<&str> = weeks.buckets.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "2024-03-18T00:00:00+00:00",
            "2024-03-25T00:00:00+00:00",
            "2024-04-01T00:00:00+01:00",
            "2024-04-08T00:00:00+01:00"
        ]
    );
    // Data before start_date is not counted although its week's bucket starts earlier.
    assert_eq!(weeks.classifier.classify(utc("2024-03-19T12:00:00Z")), None);
    let months = Series::new(&w, Granularity::Month);
    assert_eq!(months.buckets.len(), 2);
    assert_eq!(months.buckets[1].label, "2024-04-01T00:00:00+01:00");
    assert_eq!(
        months.classifier.classify(utc("2024-04-10T22:59:59Z")),
        Some(1)
    );
    assert_eq!(
        months.classifier.classify(utc("2024-04-10T23:00:00Z")),
        None
    );
}

const ZONES: [&str; 11] = [
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "UTC",
    "+05:30",
    "-03:00",
    "+12:45",
    "-09:30",
];

fn any_window() -> impl Strategy<Value = Window> {
    (
        0..ZONES.len(),
        0i64..(9 * 365),
        0u64..45,
        0u32..24,
        0u32..24,
    )
        .prop_map(|(zone, offset, days, start_hour, end_hour)| {
            let start = date("2017-01-01") + chrono::Duration::days(offset);
            Window {
                zone: Zone::parse(ZONES[zone]).unwrap(),
                start_date: start,
                end_date: start + Days::new(days),
                hours: HourWindow {
                    start: start_hour,
                    end: end_hour,
                },
            }
        })
}

/// The local date and hour of an instant, straight from chrono and chrono-tz.
fn local_by_chrono(zone: Zone, micros: i64) -> (NaiveDate, u32, i32) {
    let instant = DateTime::from_timestamp_micros(micros).unwrap();
    match zone {
        Zone::Named(tz) => {
            let local = tz.from_utc_datetime(&instant.naive_utc());
            let offset = chrono::Offset::fix(local.offset()).local_minus_utc();
            (local.date_naive(), local.hour(), offset)
        }
        Zone::Fixed(offset) => {
            let local = instant.with_timezone(&offset);
            (local.date_naive(), local.hour(), offset.local_minus_utc())
        }
    }
}

fn instants_around(window: &Window) -> impl Strategy<Value = Vec<i64>> + use<> {
    let (from, to) = window.span();
    proptest::collection::vec(from * MICROS..to * MICROS, 200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn an_instant_is_in_the_ranges_exactly_when_its_local_date_and_hour_are(
        (window, instants) in any_window().prop_flat_map(|w| (Just(w), instants_around(&w)))
    ) {
        let periods = window.periods();
        let previous = window.previous();
        for micros in instants {
            let (local_date, hour, _) = local_by_chrono(window.zone, micros);
            let in_window = (window.start_date..=window.end_date).contains(&local_date)
                && window.hours.contains(hour);
            let in_previous = (previous.start_date..=previous.end_date).contains(&local_date)
                && window.hours.contains(hour);
            let expected = if in_window { Some(0) } else if in_previous { Some(1) } else { None };
            prop_assert_eq!(periods.classify(micros), expected, "at {}", micros);
        }
        let in_window = |micros: i64| {
            let (local_date, hour, _) = local_by_chrono(window.zone, micros);
            (window.start_date..=window.end_date).contains(&local_date) && window.hours.contains(hour)
        };
        for range in window.ranges() {
            prop_assert!(in_window(range.start) && in_window(range.end - 1));
            prop_assert!(!in_window(range.start - 1) && !in_window(range.end));
        }
    }

    #[test]
    fn every_instant_of_the_window_lands_in_the_bucket_of_its_local_time(
        (window, instants) in any_window().prop_flat_map(|w| (Just(w), instants_around(&w))),
        granularity in prop_oneof![
            Just(Granularity::Hour), Just(Granularity::Day),
            Just(Granularity::Week), Just(Granularity::Month)
        ],
    ) {
        let series = Series::new(&window, granularity);
        for pair in series.buckets.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
        for micros in instants {
            let (local_date, hour, offset) = local_by_chrono(window.zone, micros);
            let in_window = (window.start_date..=window.end_date).contains(&local_date)
                && window.hours.contains(hour);
            let Some(index) = series.classifier.classify(micros) else {
                prop_assert!(!in_window, "{} is in the window but in no bucket", micros);
                continue;
            };
            prop_assert!(in_window);
            let bucket = &series.buckets[index as usize];
            prop_assert!(bucket.start.timestamp_micros() <= micros);
            let (bucket_date, bucket_hour, bucket_offset) =
                local_by_chrono(window.zone, bucket.start.timestamp_micros());
            match granularity {
                Granularity::Hour => {
                    prop_assert_eq!((bucket_date, bucket_hour, bucket_offset), (local_date, hour, offset));
                }
                Granularity::Day => prop_assert_eq!(bucket_date, local_date),
                Granularity::Week => {
                    prop_assert_eq!(bucket_date.weekday(), chrono::Weekday::Mon);
                    prop_assert!((local_date - bucket_date).num_days() < 7);
                }
                Granularity::Month => {
                    prop_assert_eq!((bucket_date.year(), bucket_date.month(), bucket_date.day()),
                        (local_date.year(), local_date.month(), 1));
                }
            }
            prop_assert_eq!(&bucket.label, &window.zone.rfc3339(bucket.start.timestamp_micros()));
        }
    }
}
