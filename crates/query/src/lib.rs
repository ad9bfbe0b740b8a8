//! DataFusion over the talkhouse tables: a session per snapshot with the `events` table and the
//! views users query (`messages`, `conversations`, `conversation_versions`, `channels`), and the
//! SQL entry point of `talkhouse sql`.
//!
//! Depends on the storage crate for snapshots and on the core crate for the domain; knows nothing
//! of gRPC.

mod session;
pub mod views;

pub use session::{QueryEngine, SnapshotSession};
