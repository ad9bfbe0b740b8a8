//! S3-compatible buckets: object_store's S3 client under deltalake's default log store.
//!
//! The client is configured as every AWS tool is: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` and, for a plain-HTTP test server,
//! `AWS_ALLOW_HTTP=true`. A commit is a put with `If-None-Match: *` (object_store's conditional
//! put, on by default for S3): of two writers racing for one log version, exactly one wins, with
//! no lock service beside the bucket (decision 34).

use std::collections::BTreeMap;
use std::sync::{Arc, Once};

use deltalake_core::logstore::{
    LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use deltalake_core::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use url::Url;

/// The store of the whole bucket at `url` (`s3://bucket`), configured by the environment and then
/// by `settings`; the reason in words when it cannot be.
pub(crate) fn store(
    url: &Url,
    settings: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, String> {
    let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
    for (key, value) in settings {
        let key: AmazonS3ConfigKey = key
            .parse()
            .map_err(|_| format!("{key} is not a setting of an S3 bucket"))?;
        builder = builder.with_config(key, value);
    }
    let store = builder
        .build()
        .map_err(|error| format!("the bucket's client could not be set up: {error}"))?;
    Ok(Arc::new(store))
}

/// The table at `url` in the bucket of `store`, loaded; not yet loaded when there is none.
pub(crate) async fn table(store: Arc<dyn ObjectStore>, url: Url) -> DeltaResult<DeltaTable> {
    register_log_store();
    let mut table = DeltaTableBuilder::from_url(url.clone())?
        .with_storage_backend(store, url)
        .build()?;
    match table.load().await {
        Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(table),
        Err(error) => Err(error),
    }
}

/// Lets deltalake open tables at `s3://` URLs with its default log store.
fn register_log_store() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        logstore_factories().insert(
            Url::parse("s3://").expect("a scheme URL"),
            Arc::new(BucketLogStore),
        );
    });
}

struct BucketLogStore;

impl LogStoreFactory for BucketLogStore {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}
