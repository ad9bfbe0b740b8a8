//! The gRPC front of talkhouse: tonic services over the storage and query crates, with the
//! standard health and reflection services, behind one guard that authenticates every call,
//! checks its scope and bots, and enforces the limits.
//!
//! Owns proto<->domain conversion and the one mapping from errors to `tonic::Status`. Depends on
//! every lower crate; none depends on it but the command line.

mod api;
pub mod auth;
mod convert;
mod error;
mod flight_sql;
pub mod guard;
mod ingest;
mod metrics;
mod page;
mod rest;
mod server;
mod trace_context;

pub use api::ServiceConfig;
pub use auth::Authentication;
pub use error::ServiceError;
pub use guard::QueryLimits;
pub use metrics::Metrics;
pub use rest::{METRICS_PATH, OPENAPI_PATH, rest_routes};
pub use server::{DEFAULT_QUERY_MEMORY_LIMIT, ServeError, Server, ServerConfig, StartError};
pub use talkhouse_reports::ReportSettings;
pub use tonic::transport::Error as TransportError;
