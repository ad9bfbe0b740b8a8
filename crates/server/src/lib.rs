//! The gRPC front of talkhouse: tonic services over the storage and query crates, with the
//! standard health and reflection services.
//!
//! Owns proto<->domain conversion and the one mapping from errors to `tonic::Status`. Depends on
//! every lower crate; none depends on it but the command line.

mod api;
mod convert;
mod error;
mod ingest;
mod server;

pub use api::ServiceConfig;
pub use error::ServiceError;
pub use server::{Server, ServerConfig};
pub use tonic::transport::Error as TransportError;
