//! Tables in an S3-compatible bucket (moto's server, over real HTTP), one idea a file:
//! `commands` (every command on an `s3://` location answers as on a folder, reports included),
//! `writers` (writers and servers racing over one prefix store every batch once), `vacuum` and
//! `leases` (background work on one server at a time).

mod commands;
mod erasure;
mod leases;
mod vacuum;
mod writers;

use std::collections::BTreeSet;

use futures::TryStreamExt;

use crate::support::DataDir;

/// Every object under `prefix` of the data location.
pub(crate) async fn objects(data: &DataDir, prefix: &str) -> BTreeSet<String> {
    let store = data.location().object_store().unwrap();
    store
        .list(Some(&prefix.into()))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap()
}
