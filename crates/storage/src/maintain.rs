//! Keeping the table in shape: compaction, and the user rollups of tables written before them.

pub(crate) mod compact;
pub(crate) mod session;
pub(crate) mod user_rollup_backfill;
