//! The small demo dataset `talkhouse serve` creates in an empty data folder.

use chrono::Utc;
use talkhouse_core::generate::GenerateConfig;
use talkhouse_storage::EventTable;

use crate::CliError;

pub const DEMO_SEED: u64 = 42;

/// Creates the demo when the table has never been written to. The traffic ends yesterday (no
/// events from the future), so the dashboard's recent windows show data.
pub async fn create_if_empty(table: &EventTable) -> Result<bool, CliError> {
    if table.snapshot().await?.version > 0 {
        return Ok(false);
    }
    let config = GenerateConfig {
        seed: DEMO_SEED,
        bots: 4,
        days: 35,
        until: Utc::now().date_naive() - chrono::Duration::days(1),
        conversations_per_day: 60,
    };
    crate::telemetry::note("empty data folder: creating the demo dataset (4 bots, 35 days)…");
    let (messages, conversations) = crate::generate::write(table, config).await?;
    crate::telemetry::note(&format!(
        "demo dataset ready: {messages} messages, {conversations} conversation versions"
    ));
    Ok(true)
}
