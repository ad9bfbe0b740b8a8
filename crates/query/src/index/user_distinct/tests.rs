use std::sync::Arc;

use talkhouse_core::request::{Checker, FilterInput, Limits};
use talkhouse_core::window::{Granularity, InstantRange, Series};

use talkhouse_storage::rollup::BUCKET_MICROS;

use super::*;
use crate::index::bucketed::{Bucketed, Slot};
use crate::index::file_rows::LiveRows;
use crate::index::user_rollups::PeriodUsers;

const DAY: i64 = 96 * BUCKET_MICROS;

/// Channel `number`'s uuid.
fn channel(number: u16) -> String {
    format!("00000000-0000-0000-0000-{number:012}")
}

/// An index of `rows` random (bucket, channel, user, untagged) rows over ten days.
fn index(channels: u16, users: u32, rows: usize, seed: u64) -> UserIndex {
    index_from(0, channels, users, rows, seed)
}

/// [`index`] over the ten UTC days from `first_day` (days since 1970-01-01).
fn index_from(first_day: i64, channels: u16, users: u32, rows: usize, mut seed: u64) -> UserIndex {
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut entries: Vec<UserRow> = (0..rows)
        .map(|_| UserRow {
            slot: Slot {
                number: (first_day * 96 + next(10 * 96) as i64) as i32,
                channel: next(u64::from(channels)) as u16,
                untagged: next(2) == 0,
            },
            user: next(u64::from(users)) as u32,
            conversations: 1,
        })
        .collect();
    entries.sort_unstable_by_key(|row| row.key());
    entries.dedup_by_key(|row| row.key());
    UserIndex::of(LiveRows {
        entries: Arc::new(entries),
        channels: (0..channels).map(channel).collect(),
        users: users as usize,
    })
}

/// The ten days, of channel 1 only if asked, of untagged items only if asked.
fn filter(one_channel: bool, untagged: bool) -> Filter {
    let input = FilterInput {
        start_date: "1970-01-01".into(),
        end_date: "1970-01-10".into(),
        channel_uuids: one_channel.then(|| channel(1)).into_iter().collect(),
        untagged,
        ..Default::default()
    };
    input
        .check("filter", &Limits::default(), &mut Checker::new())
        .expect("a valid filter")
}

/// Every channel, untagged only, channel 1 only.
fn filters() -> [Filter; 3] {
    [
        filter(false, false),
        filter(false, true),
        filter(true, false),
    ]
}

/// Each day of the ten its own range, labelled by `label(day)`.
fn days_labelled(label: impl Fn(i64) -> u32) -> Classifier {
    labelled_days((0..10).map(|day| (day, label(day))))
}

/// Each (day, label) its own range.
fn labelled_days(days: impl IntoIterator<Item = (i64, u32)>) -> Classifier {
    let range = |day: i64| InstantRange {
        start: day * DAY,
        end: (day + 1) * DAY,
    };
    Classifier::new(
        days.into_iter()
            .map(|(day, label)| (range(day), label))
            .collect(),
    )
}

/// Whether the filter keeps the entry: its channel, and untagged if asked.
fn kept(index: &UserIndex, filter: &Filter, entry: &UserRow) -> bool {
    let uuid = &index.channels[usize::from(entry.slot.channel)];
    let channel_kept =
        filter.channels.is_empty() || filter.channels.iter().any(|c| &c.to_string() == uuid);
    channel_kept && (!filter.untagged || entry.slot.untagged)
}

/// Distinct users per (label, channel number) of the entries the filter keeps, by sets.
fn expected(
    index: &UserIndex,
    filter: &Filter,
    classifier: &Classifier,
) -> HashMap<(u32, u16), i64> {
    let mut users: HashMap<(u32, u16), HashSet<u32>> = HashMap::new();
    for entry in index.entries.iter() {
        if !kept(index, filter, entry) {
            continue;
        }
        if let Some(label) = classifier.classify(entry.slot.bucket()) {
            users
                .entry((label, entry.slot.channel))
                .or_default()
                .insert(entry.user);
        }
    }
    users
        .into_iter()
        .map(|(key, users)| (key, users.len() as i64))
        .collect()
}

/// `counts` keyed as [`UserIndex::by_label_and_channel`] keys them.
fn named(index: &UserIndex, counts: &HashMap<(u32, u16), i64>) -> HashMap<(i64, String), i64> {
    counts
        .iter()
        .map(|(&(label, channel), &users)| {
            let uuid = index.channels[usize::from(channel)].clone();
            ((i64::from(label), uuid), users)
        })
        .collect()
}

/// Each way of counting where it applies, against sets of users, under each filter:
/// - the visits where each label is one range;
/// - marks where labels follow time (on two cores when the window holds more than twice
///   [`ENTRIES_PER_CORE`]) and the bot has at most 64 channels;
/// - the sort otherwise.
#[test]
fn every_way_of_counting_counts_each_user_once_per_label_and_channel() {
    let one_range_each = days_labelled(|day| (day / 3) as u32);
    let out_of_order = days_labelled(|day| (day % 3) as u32);
    // Each half of the window (cut at day 6) in time order, but sharing labels 2 to 4.
    let halves_share_labels = days_labelled(|day| match day {
        0..4 => day as u32,
        4..6 => 4,
        _ => (day - 4) as u32,
    });
    // In time order, with a day of no label inside label 1's span.
    let with_a_gap = labelled_days([(0, 0), (1, 1), (3, 1), (4, 2)]);
    let long = index(3, 20_000, 3 * ENTRIES_PER_CORE, 0x9e37_79b9_7f4a_7c15);
    let short = index(3, 2_000, 5_000, 0x5851_f42d_4c95_7f2d);
    let many_channels = index(
        70,
        2_000,
        2 * ENTRIES_PER_CORE * 11 / 10,
        0x2545_f491_4f6c_dd1d,
    );
    for filter in &filters() {
        let every = |index: &UserIndex, classifier: &Classifier| {
            let expected = expected(index, filter, classifier);
            assert!(expected.values().any(|&users| users > 1));
            assert_eq!(
                index.by_label_and_channel(filter, classifier),
                named(index, &expected)
            );
            expected
        };
        for index in [&short, &long, &many_channels] {
            assert_eq!(
                index.counted_by_visits(filter, &one_range_each),
                Some(every(index, &one_range_each))
            );
        }
        assert_eq!(
            short.counted_by_marks(filter, &one_range_each),
            Some(every(&short, &one_range_each))
        );
        assert_eq!(
            short.counted_by_marks(filter, &with_a_gap),
            Some(every(&short, &with_a_gap))
        );
        assert_eq!(
            long.counted_by_marks(filter, &one_range_each),
            Some(every(&long, &one_range_each))
        );
        for classifier in [&out_of_order, &halves_share_labels, &with_a_gap] {
            assert_eq!(long.counted_by_visits(filter, classifier), None);
        }
        assert_eq!(long.counted_by_marks(filter, &out_of_order), None);
        assert_eq!(long.counted_by_marks(filter, &halves_share_labels), None);
        assert_eq!(
            many_channels.counted_by_marks(filter, &one_range_each),
            None
        );
        for classifier in [&out_of_order, &halves_share_labels, &with_a_gap] {
            every(&long, classifier);
            every(&many_channels, classifier);
        }
    }
}

/// A window of few entries against the bot's users is counted by sorting, the series and the
/// traffic alike, with the counts of sets; a dense one keeps the per-user arrays.
#[test]
fn sparse_windows_count_each_user_once() {
    let sparse = index(3, 400_000, 20_000, 0x3c6e_f372_fe94_f82b);
    let dense = index(3, 2_000, 20_000, 0x3c6e_f372_fe94_f82b);
    let two_days = labelled_days([(3, 0), (4, 1)]);
    assert!(sparse.sparse(&two_days));
    assert!(!dense.sparse(&two_days));
    for index in [&sparse, &dense] {
        for filter in &filters() {
            let expected = expected(index, filter, &two_days);
            assert!(expected.values().any(|&users| users > 1));
            assert_eq!(
                index.by_label_and_channel(filter, &two_days),
                named(index, &expected)
            );
            // Traffic: day 3 is the window, day 4 the previous period; NEW from day 3 on.
            let mut window: HashMap<u32, bool> = HashMap::new();
            let mut previous = HashSet::new();
            for entry in index.entries.iter() {
                if !kept(index, filter, entry) {
                    continue;
                }
                match two_days.classify(entry.slot.bucket()) {
                    Some(0) => {
                        let new = i64::from(index.first_bucket[entry.user as usize])
                            * BUCKET_MICROS
                            >= 3 * DAY;
                        window.insert(entry.user, new);
                    }
                    Some(1) => {
                        previous.insert(entry.user);
                    }
                    _ => {}
                }
            }
            let new = window.values().filter(|new| **new).count() as i64;
            assert_eq!(
                index.traffic(filter, &two_days, 3 * DAY),
                PeriodUsers {
                    new,
                    returning: window.len() as i64 - new,
                    previous: previous.len() as i64,
                }
            );
        }
    }
}

/// The traffic of random windows of whole buckets (from before the entries to after them,
/// each after a previous period as long) counted from the visits equals the marks' count;
/// a filter that keeps some entries only is left to the marks.
#[test]
fn traffic_from_the_visits_equals_the_marks() {
    let index = index(3, 3_000, 40_000, 0x2f8e_1a0b_c3d4_e5f6);
    let mut seed = 0x7c3a_9e15_d2b8_4f61u64;
    let mut next = move |below: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as i64
    };
    let every = filter(false, false);
    let (mut returning, mut new) = (0, 0);
    for _ in 0..300 {
        let start = (next(12 * 96) - 96) * BUCKET_MICROS;
        let length = (1 + next(4 * 96)) * BUCKET_MICROS;
        let periods = Classifier::new(vec![
            (
                InstantRange {
                    start,
                    end: start + length,
                },
                0,
            ),
            (
                InstantRange {
                    start: start - length,
                    end: start,
                },
                1,
            ),
        ]);
        let by_marks = index.traffic_by_marks(&every, &periods, start);
        assert_eq!(
            index.traffic_by_visits(&every, &periods, start).as_ref(),
            Some(&by_marks),
            "{start} {length}"
        );
        assert_eq!(index.traffic(&every, &periods, start), by_marks);
        returning += by_marks.returning;
        new += by_marks.new;
        for filter in &filters()[1..] {
            assert_eq!(index.traffic_by_visits(filter, &periods, start), None);
        }
        assert_eq!(
            index.traffic_by_visits(&every, &periods, start + BUCKET_MICROS),
            None
        );
    }
    assert!(returning > 0 && new > 0);
}

/// The series of real requests over ten days around New York's spring-forward (2026-03-08):
/// days in São Paulo and in Kolkata (+05:30), weeks and hours in New York, and days of
/// 22:00–02:00 in New York (two ranges per day). Each is counted by the visits where
/// every period is one range, by marks otherwise, and matches the sets of users.
#[test]
fn real_series_count_each_user_once_per_period_and_channel() {
    let first_day = 20_516; // 2026-03-04
    let long = index_from(
        first_day,
        3,
        20_000,
        3 * ENTRIES_PER_CORE,
        0x1405_7b7e_f767_814f,
    );
    let cases = [
        ("America/Sao_Paulo", None, Granularity::Day, true),
        ("Asia/Kolkata", None, Granularity::Day, true),
        ("America/New_York", None, Granularity::Week, true),
        ("America/New_York", None, Granularity::Hour, true),
        ("America/New_York", Some((22, 2)), Granularity::Day, false),
    ];
    for (zone, hours, granularity, one_range_each) in cases {
        let input = FilterInput {
            start_date: "2026-03-04".into(),
            end_date: "2026-03-13".into(),
            timezone: zone.into(),
            start_hour: hours.map(|(start, _)| start),
            end_hour: hours.map(|(_, end)| end),
            ..Default::default()
        };
        let filter = input
            .check("filter", &Limits::default(), &mut Checker::new())
            .expect("a valid filter");
        let series = Series::new(&filter.window, granularity);
        let classifier = &series.classifier;
        assert!(bucketed::answers(&filter, classifier, None), "{zone}");
        let expected = expected(&long, &filter, classifier);
        assert!(expected.len() > 3, "{zone} {granularity:?}");
        assert_eq!(
            long.counted_by_visits(&filter, classifier).is_some(),
            one_range_each,
            "{zone} {granularity:?}"
        );
        assert_eq!(
            long.by_label_and_channel(&filter, classifier),
            named(&long, &expected),
            "{zone} {granularity:?} {hours:?}"
        );
    }
}
