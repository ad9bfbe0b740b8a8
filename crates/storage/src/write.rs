//! Writing a batch: its lookups against what is stored, its files, and its commit.

pub(crate) mod batch;
pub(crate) mod batch_files;
pub(crate) mod batch_lookups;
pub(crate) mod commit;
pub(crate) mod encode;
pub(crate) mod file_layout;
pub(crate) mod message_ids;
pub(crate) mod writer;

pub use writer::WriteOutcome;
pub(crate) use writer::Writer;
