//! proto <-> domain conversion.

pub mod ingest;
