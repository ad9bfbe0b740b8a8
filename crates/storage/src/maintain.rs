//! Keeping the table in shape: compaction, vacuum, deletion, and the spelling of its layout.

pub(crate) mod compact;
pub(crate) mod delete;
pub(crate) mod format_spelling;
pub(crate) mod session;
pub(crate) mod vacuum;
