//! The benchmark's datasets: one large bot and 50 small ones over 365 days, generated and stored
//! day by day as `talkhouse serve` would receive them.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_storage::EventTable;

/// The last day of every dataset.
pub const UNTIL: (i32, u32, u32) = (2026, 10, 31);
/// Batches between compaction rounds while the dataset is generated, and the files a partition
/// needs to be rewritten (the default of `talkhouse serve`).
pub const COMPACT_EVERY: usize = 30;
pub const COMPACT_MIN_FILES: usize = 8;

/// A dataset: one large bot and 50 small ones over 365 days.
pub struct Scale {
    pub name: &'static str,
    /// Conversations a weekday of the large bot (about 9 messages each).
    large_bot_per_day: u32,
    small_bots_per_day: u32,
}

pub fn scale(name: &str) -> Scale {
    match name {
        "large" => Scale {
            name: "large",
            large_bot_per_day: 31_700,
            small_bots_per_day: 300,
        },
        "small" => Scale {
            name: "small",
            large_bot_per_day: 300,
            small_bots_per_day: 20,
        },
        _ => Scale {
            name: "medium",
            large_bot_per_day: 6_340,
            small_bots_per_day: 60,
        },
    }
}

pub fn generators(scale: &Scale) -> [Generator; 2] {
    let until = NaiveDate::from_ymd_opt(UNTIL.0, UNTIL.1, UNTIL.2).unwrap();
    [
        Generator::new(GenerateConfig {
            seed: 1,
            bots: 1,
            days: 365,
            until,
            conversations_per_day: scale.large_bot_per_day,
        }),
        Generator::new(GenerateConfig {
            seed: 2,
            bots: 50,
            days: 365,
            until,
            conversations_per_day: scale.small_bots_per_day,
        }),
    ]
}

/// What generating the dataset measured.
pub struct Ingest {
    pub messages: usize,
    /// Time inside `EventTable::write`.
    pub writing: Duration,
    /// Time in the compaction rounds between batches.
    pub compacting: Duration,
    pub rounds: usize,
}

/// Stores every day of both generators as its own batch, with a compaction round (partitions of
/// at least `COMPACT_MIN_FILES` files) every `COMPACT_EVERY` batches, as `talkhouse serve` runs
/// one in the background every few minutes.
pub async fn ingest(table: &EventTable, generators: [&Generator; 2]) -> Ingest {
    let mut ingest = Ingest {
        messages: 0,
        writing: Duration::ZERO,
        compacting: Duration::ZERO,
        rounds: 0,
    };
    let mut batches = 0;
    for generator in generators {
        for day in generator.events() {
            let count = day
                .iter()
                .filter(|e| matches!(e, Event::Message(_)))
                .count();
            let started = Instant::now();
            let outcome = table.write(day, None).await.unwrap();
            ingest.writing += started.elapsed();
            ingest.messages += outcome.messages_written;
            assert_eq!(outcome.messages_written, count);
            batches += 1;
            if batches % COMPACT_EVERY == 0 {
                let started = Instant::now();
                table.compact(COMPACT_MIN_FILES, |_| {}).await.unwrap();
                ingest.compacting += started.elapsed();
                ingest.rounds += 1;
            }
        }
    }
    ingest
}
