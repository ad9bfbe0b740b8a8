//! `talkhouse compact`, and the compaction `serve` runs in the background.

use std::sync::Arc;
use std::time::{Duration, Instant};

use talkhouse_storage::{DataLocation, EventTable, PartitionCompacted};

use crate::CliError;
use crate::args::CompactArgs;

pub async fn run(data: &DataLocation, args: CompactArgs) -> Result<(), CliError> {
    let table = EventTable::open(data).await?;
    let started = Instant::now();
    let outcome = table.compact(args.min_files, print_partition).await?;
    if let Some(version) = outcome.format_spelling_rewritten {
        println!("named the table's layout talkhouse.format in version {version}");
    }
    println!(
        "compacted {} partitions: {} files before, {} after, in {:.1} s",
        outcome.partitions.len(),
        outcome.files_before,
        outcome.files_after,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_partition(done: &PartitionCompacted) {
    println!(
        "{}: {} files ({:.1} MiB) into version {} in {:.2} s",
        done.partition,
        done.files_before,
        done.bytes_before as f64 / (1024.0 * 1024.0),
        done.version,
        done.elapsed.as_secs_f64()
    );
}

/// Compacts the table every `interval`, for as long as the server runs, while it holds the
/// compaction lease.
pub fn spawn_background(
    location: &DataLocation,
    table: Arc<EventTable>,
    interval: Duration,
    min_files: usize,
) -> Result<(), CliError> {
    crate::background::spawn(location, "compaction", interval, move || {
        let table = table.clone();
        async move {
            let log = |done: &PartitionCompacted| {
                tracing::info!(
                    partition = %done.partition,
                    files = done.files_before,
                    version = done.version,
                    elapsed = ?done.elapsed,
                    "compacted"
                );
            };
            let outcome = table.compact(min_files, log).await?;
            if let Some(version) = outcome.format_spelling_rewritten {
                tracing::info!(version, "named the table's layout talkhouse.format");
            }
            Ok(())
        }
    })
}
