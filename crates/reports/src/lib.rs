//! Reports of talkhouse: exports of a bot's conversations, messages or one transcript as CSV,
//! XLSX, JSONL or Parquet, produced in the background by a bounded worker pool.
//!
//! A report is pinned to the table snapshot of its request, so it holds exactly what its preview
//! counted, however late it runs. Its state and file live in the data location's object store
//! ([`ReportStore`]), so every server over the location lists, fetches and downloads every report.
//! One server at a time, the holder of the reports lease, makes them all; when it stops, the next
//! holder resumes what it left unfinished.
//! Rows stream from the query plan into the file: memory does not grow with the report.
//!
//! Depends on the query crate for the rows and on the storage crate for the location; knows
//! nothing of gRPC.

pub mod erasure;
mod error;
pub mod export;
mod producer;
mod production;
mod record;
mod runner;
mod spool;
mod store;

pub use error::{Error, Result};
pub use record::ReportRecord;
pub use runner::{Download, MAX_ATTEMPTS, Production, ReportSettings, Reports};
pub use store::ReportStore;
