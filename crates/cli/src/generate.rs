//! `talkhouse generate`: the seeded demo dataset, written through the ingest path a day at a time.

use std::io::{BufWriter, Write};
use std::path::Path;

use talkhouse_core::Event;
use talkhouse_core::ingest::to_jsonl_line;

use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_storage::{DataLocation, EventTable};

use crate::args::GenerateArgs;
use crate::{CliError, progress};

pub async fn run(data: &DataLocation, args: GenerateArgs) -> Result<(), CliError> {
    if args.bots == 0 || args.days == 0 {
        return Err(CliError::Usage(
            "--bots and --days must be at least 1".into(),
        ));
    }
    let config = GenerateConfig {
        seed: args.seed,
        bots: args.bots,
        days: args.days,
        until: args.until,
        conversations_per_day: args.conversations_per_day,
    };
    let totals = match &args.jsonl {
        Some(path) => write_jsonl(path, config)?,
        None => write(&EventTable::open(data).await?, config).await?,
    };
    // On stderr: with `--jsonl -`, stdout is the data.
    eprintln!(
        "generated {} messages and {} conversation versions for {} bots over {} days",
        totals.0, totals.1, args.bots, args.days
    );
    Ok(())
}

/// Writes the events in the ingest format; returns (messages, conversation versions).
fn write_jsonl(path: &Path, config: GenerateConfig) -> Result<(usize, usize), CliError> {
    let out: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?,
        )
    };
    let mut out = BufWriter::new(out);
    let mut totals = (0, 0);
    for event in Generator::new(config).events().flatten() {
        match event {
            Event::Message(_) => totals.0 += 1,
            Event::Conversation(_) => totals.1 += 1,
        }
        writeln!(out, "{}", to_jsonl_line(&event))?;
    }
    out.flush()?;
    Ok(totals)
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
