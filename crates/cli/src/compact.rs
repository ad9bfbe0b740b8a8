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

/// Compacts the table every `interval`, for as long as the server runs. A failed round (a
/// concurrent commit to the same partition, say) is logged and retried at the next.
pub fn spawn_background(table: Arc<EventTable>, interval: Duration, min_files: usize) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let log = |done: &PartitionCompacted| {
                tracing::info!(
                    partition = %done.partition,
                    files = done.files_before,
                    version = done.version,
                    elapsed = ?done.elapsed,
                    "compacted"
                );
            };
            match table.compact(min_files, log).await {
                Ok(outcome) => {
                    if let Some(version) = outcome.format_spelling_rewritten {
                        tracing::info!(version, "named the table's layout talkhouse.format");
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::error::chain(&error), "compaction failed; retrying at the next round");
                }
            }
        }
    });
}
