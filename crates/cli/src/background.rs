//! Work `serve` repeats in the background, done by one server at a time under a lease (see
//! `talkhouse_storage::Lease`): compaction and vacuum.

use std::future::Future;
use std::sync::Arc;
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
    Arc::new(lease).spawn_rounds(interval, interval, move |_| {
        let round = round();
        async move {
            if let Err(error) = round.await {
                tracing::warn!(lease = name, error = %crate::error::chain(&error), "a background round failed; trying again at the next");
            }
        }
    });
    Ok(())
}
