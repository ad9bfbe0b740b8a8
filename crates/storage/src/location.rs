//! Where the tables live: a local folder (default `./data`), or a prefix of an S3-compatible
//! bucket (`s3://bucket/prefix`, configured by the standard AWS variables; see [`crate::bucket`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use url::Url;

use crate::bucket;
use crate::{Error, Result};

/// The root of the data folder; each table is a sub-folder of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLocation {
    root: Url,
    /// Settings of the bucket's client beyond the AWS variables (`aws_endpoint`, …), for a
    /// process that talks to a bucket other than the one its environment names.
    bucket_settings: BTreeMap<String, String>,
}

impl DataLocation {
    /// Accepts a local path (created when missing), a `file://` URL or an `s3://bucket/prefix` URL.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidLocation {
            location: text.to_string(),
            reason: reason.to_string(),
        };
        if !text.contains("://") {
            return Self::local(Path::new(text));
        }
        let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("not a local path"))?;
                Self::local(&path)
            }
            "s3" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("names no bucket (s3://bucket/prefix)"));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(invalid(
                        "takes no query or fragment; the bucket's settings come from the AWS_* variables",
                    ));
                }
                let mut root = url;
                if !root.path().ends_with('/') {
                    let path = format!("{}/", root.path());
                    root.set_path(&path);
                }
                Ok(Self {
                    root,
                    bucket_settings: BTreeMap::new(),
                })
            }
            other => Err(invalid(&format!(
                "the scheme {other}:// is not supported; use a local folder, file:// or s3://"
            ))),
        }
    }

    pub fn local(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(Error::Io)?;
        let absolute = std::fs::canonicalize(path).map_err(Error::Io)?;
        let root = Url::from_directory_path(&absolute).map_err(|()| Error::InvalidLocation {
            location: path.display().to_string(),
            reason: "not an absolute path".into(),
        })?;
        Ok(Self {
            root,
            bucket_settings: BTreeMap::new(),
        })
    }

    /// The same location with one setting of the bucket's client (an `AWS_*` variable's name in
    /// lower case, such as `aws_endpoint`), over what the environment says.
    pub fn with_bucket_setting(mut self, key: &str, value: &str) -> Self {
        self.bucket_settings
            .insert(key.to_ascii_lowercase(), value.to_string());
        self
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of a table folder under the root.
    pub fn table(&self, name: &str) -> Url {
        self.root
            .join(&format!("{name}/"))
            .expect("a table name is a valid path segment")
    }

    /// The object store holding everything under the root (tables, reports), with paths
    /// relative to the root.
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>> {
        match self.bucket()? {
            Some((store, _)) => {
                let prefix = object_store::path::Path::from_url_path(self.root.path())
                    .map_err(|e| self.invalid(&e.to_string()))?;
                Ok(Arc::new(PrefixStore::new(store, prefix)))
            }
            None => {
                let path = self
                    .root
                    .to_file_path()
                    .map_err(|()| self.invalid("not a local path"))?;
                let store = LocalFileSystem::new_with_prefix(path)
                    .map_err(|e| self.invalid(&e.to_string()))?;
                Ok(Arc::new(store))
            }
        }
    }

    /// The whole bucket's store and its URL (`s3://bucket`), when the location is in a bucket.
    pub(crate) fn bucket(&self) -> Result<Option<(Arc<dyn ObjectStore>, Url)>> {
        if self.root.scheme() != "s3" {
            return Ok(None);
        }
        let mut url = self.root.clone();
        url.set_path("/");
        let store =
            bucket::store(&url, &self.bucket_settings).map_err(|reason| self.invalid(&reason))?;
        Ok(Some((store, url)))
    }

    /// The local folder of a table, when the location is local.
    pub fn local_table_path(&self, name: &str) -> Option<std::path::PathBuf> {
        self.table(name).to_file_path().ok()
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidLocation {
            location: self.root.to_string(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_url_is_a_root_ending_in_a_slash_and_bad_urls_say_why() {
        let location = DataLocation::parse("s3://talkhouse/prod/eu").unwrap();
        assert_eq!(location.root().as_str(), "s3://talkhouse/prod/eu/");
        assert_eq!(
            location.table("events").as_str(),
            "s3://talkhouse/prod/eu/events/"
        );
        let refused = |text: &str| DataLocation::parse(text).unwrap_err().to_string();
        assert!(refused("s3:///prefix").contains("names no bucket"));
        assert!(refused("s3://b/p?region=x").contains("AWS_*"));
        assert!(refused("gs://b/p").contains("gs:// is not supported"));
    }
}
