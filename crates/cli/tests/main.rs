//! The one integration-test binary of the workspace: real tables on disk, the real `talkhouse`
//! binary, and the real gRPC server on 127.0.0.1:0 called by a real client.

mod answer_snapshots;
mod auth;
mod clear_errors;
mod compaction;
mod crash;
mod dashboard_crosscheck;
mod dashboard_errors;
mod dashboard_fixture;
mod duplicates;
mod exactly_once;
mod external_readers;
mod flight_sql;
mod freshness;
mod fuzz_grpc;
mod generator;
mod ingest_cli;
mod ingest_grpc;
mod lifecycle;
mod limits;
mod metrics;
mod object_storage;
mod page;
mod pruning;
mod readme;
mod reflection;
mod reports;
mod rest;
mod rollups;
mod shell;
mod slt;
mod sql_cli;
mod support;
mod telemetry;
mod versions;
