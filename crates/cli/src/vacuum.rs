//! `talkhouse vacuum`: deletes the files no version within the retention window, and no report
//! still to be made, reads.

use std::sync::Arc;
use std::time::Duration;

use talkhouse_reports::ReportStore;
use talkhouse_storage::{DataLocation, EventTable, VacuumOutcome};

use crate::CliError;
use crate::args::VacuumArgs;

pub async fn run(data: &DataLocation, args: VacuumArgs) -> Result<(), CliError> {
    let table = EventTable::open(data).await?;
    let reports = ReportStore::at(data)?;
    let retention = Duration::from_secs(args.retention_hours.saturating_mul(3600));
    let (outcome, kept) = vacuum(&table, &reports, retention, args.dry_run).await?;
    for file in &outcome.files {
        println!("{file}");
    }
    let verb = match outcome.dry_run {
        true => "would delete",
        false => "deleted",
    };
    println!(
        "{verb} {} files in {:.1} s (kept what versions of the last {} hours and {} reports still to be made read)",
        outcome.files.len(),
        outcome.elapsed.as_secs_f64(),
        args.retention_hours,
        kept
    );
    Ok(())
}

/// Vacuums the table every `interval`, for as long as the server runs, while it holds the vacuum
/// lease.
pub fn spawn_background(
    location: &DataLocation,
    table: Arc<EventTable>,
    interval: Duration,
    retention: Duration,
) -> Result<(), CliError> {
    let reports = ReportStore::at(location)?;
    crate::background::spawn(location, "vacuum", interval, move || {
        let (table, reports) = (table.clone(), reports.clone());
        async move {
            let (outcome, kept) = vacuum(&table, &reports, retention, false).await?;
            tracing::info!(
                files = outcome.files.len(),
                kept_versions = kept,
                elapsed = ?outcome.elapsed,
                "vacuumed"
            );
            Ok(())
        }
    })
}

/// Vacuums `table`, keeping the versions the reports still to be made will read; how many those
/// are.
async fn vacuum(
    table: &EventTable,
    reports: &ReportStore,
    retention: Duration,
    dry_run: bool,
) -> Result<(VacuumOutcome, usize), CliError> {
    let keep = reports.versions_in_use().await?;
    let outcome = table.vacuum(retention, &keep, dry_run).await?;
    Ok((outcome, keep.len()))
}
