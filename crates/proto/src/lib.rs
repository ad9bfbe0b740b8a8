//! The generated gRPC types of talkhouse: package `talkhouse.v1`, from `proto/talkhouse/v1/`.
//!
//! Depends only on prost and tonic; the server and test clients use it.

#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("talkhouse.v1");
}

/// The encoded descriptors of every talkhouse service, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("talkhouse_descriptor");
