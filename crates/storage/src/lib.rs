//! The event tables of talkhouse: one Delta Lake table of partitioned Parquet files on
//! `object_store` (a local folder by default), its schema, and the write path that commits an
//! ingest batch atomically, once, with duplicate messages dropped.
//!
//! Depends on `talkhouse-core` for the event model, and on deltalake, arrow and DataFusion. Knows
//! nothing of gRPC or of the dashboard's queries.

mod batch_files;
mod batch_lookups;
mod commit;
mod compact;
mod encode;
mod error;
mod file_layout;
mod followed_log;
mod live_files;
mod location;
mod message_ids;
mod page_index_cache;
mod parallel;
mod read;
pub mod rollup;
pub mod schema;
mod session_rows;
mod table;
#[cfg(test)]
mod test_events;
mod user_rollup_backfill;
pub mod versions;

pub use compact::{CompactionOutcome, Partition, PartitionCompacted};
pub use error::{Error, Result};
pub use location::DataLocation;
pub use session_rows::SessionRows;
pub use table::{EventTable, Snapshot, WriteOutcome};
pub use user_rollup_backfill::UserRollupsAdded;
