//! The event tables of talkhouse: one Delta Lake table of partitioned Parquet files on
//! `object_store` (a local folder by default), its schema, and the write path that commits an
//! ingest batch atomically, once, with duplicate messages dropped.
//!
//! Depends on `talkhouse-core` for the event model, and on deltalake, arrow and DataFusion. Knows
//! nothing of gRPC or of the dashboard's queries.

mod activity;
mod bucket;
mod error;
mod file_cache;
mod format;
mod lease;
mod location;
mod maintain;
mod parallel;
mod read;
pub mod rollup;
pub mod schema;
mod table;
#[cfg(test)]
mod test_events;
pub mod versions;
mod write;

pub use activity::TableActivity;
pub use error::{Error, Result};
pub use file_cache::{FileCacheCounts, FileCacheSettings};
pub use lease::{Lease, Tenure};
pub use location::DataLocation;
pub use maintain::compact::{CompactionOutcome, Partition, PartitionCompacted};
pub use maintain::delete::{Deletion, DeletionOutcome, RetentionScope};
pub use maintain::vacuum::{DEFAULT_VACUUM_RETENTION, VacuumOutcome};
pub use read::session_rows::SessionRows;
pub use table::{EventTable, Snapshot};
pub use write::WriteOutcome;
