//! Work `serve` repeats in the background, done by one server at a time under a lease (see
//! `talkhouse_storage::Lease`): compaction and vacuum.

use std::future::Future;
use std::time::Duration;

use talkhouse_storage::{DataLocation, Lease};

use crate::CliError;

/// Runs `round` every `interval` while this process holds the lease `name`. A term lasts two
/// intervals: the holder renews it every round, and when the holder dies another server takes
/// over within two intervals. A failed round is logged and tried again at the next.
pub fn spawn<F, R>(
    location: &DataLocation,
    name: &'static str,
    interval: Duration,
    mut round: F,
) -> Result<(), CliError>
where
    F: FnMut() -> R + Send + 'static,
    R: Future<Output = Result<(), CliError>> + Send,
{
    let lease = Lease::new(location, name, &Lease::process_holder(), interval * 2)?;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match lease.hold().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(lease = name, "another server holds the lease");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(lease = name, error = %crate::error::chain(&error), "the lease could not be read; trying at the next round");
                    continue;
                }
            }
            if let Err(error) = round().await {
                tracing::warn!(lease = name, error = %crate::error::chain(&error), "a background round failed; trying again at the next");
            }
        }
    });
    Ok(())
}
