//! proto <-> domain conversion.

pub mod answer;
pub mod ingest;
pub mod request;
