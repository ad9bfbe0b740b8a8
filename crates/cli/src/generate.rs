//! `talkhouse generate`: the seeded demo dataset, written through the ingest path a day at a time.

use std::sync::Arc;

use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_storage::{DataLocation, EventTable};

use crate::args::GenerateArgs;
use crate::{CliError, progress};

pub async fn run(data: &DataLocation, args: GenerateArgs) -> Result<(), CliError> {
    let table = Arc::new(EventTable::open(data).await?);
    let config = GenerateConfig {
        seed: args.seed,
        bots: args.bots,
        days: args.days,
        until: args.until,
        conversations_per_day: args.conversations_per_day,
    };
    let totals = write(&table, config).await?;
    println!(
        "generated {} messages and {} conversation versions for {} bots over {} days",
        totals.0, totals.1, args.bots, args.days
    );
    Ok(())
}

/// Writes every day of `config` as its own batch; returns (messages, conversation versions).
pub async fn write(table: &EventTable, config: GenerateConfig) -> Result<(usize, usize), CliError> {
    if config.bots == 0 || config.days == 0 {
        return Err(CliError::Usage(
            "--bots and --days must be at least 1".into(),
        ));
    }
    let generator = Generator::new(config.clone());
    let bar = progress::items(u64::from(config.days), "days");
    bar.set_message("generating");
    let mut totals = (0, 0);
    for date in generator.days() {
        let events = generator.day(date);
        // A stable key per seed and day: re-running the same command stores nothing twice.
        let key = format!(
            "generate:{}:{}:{}:{date}",
            config.seed, config.bots, config.conversations_per_day
        );
        let outcome = table.write(events, Some(&key)).await?;
        totals.0 += outcome.messages_written;
        totals.1 += outcome.conversations_written;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(totals)
}
