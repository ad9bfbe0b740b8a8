//! DataFusion over the talkhouse tables: a session per snapshot with the `events` table and the
//! views users query (`messages`, `conversations`, `conversation_versions`, `channels`), and one
//! plan builder per dashboard endpoint in [`dashboard`].
//!
//! Depends on the storage crate for snapshots and on the core crate for the domain (filters, time
//! windows); knows nothing of gRPC.

mod budget;
mod columns;
pub mod dashboard;
mod error;
mod executor;
mod index;
mod model;
mod session;
pub mod sql;
pub mod views;

pub use error::{Error, Result};
pub use executor::QueryExecutor;
pub use session::{QueryEngine, SnapshotSession};
