//! Where the tables live: a local folder (default `./data`) or an object-store URL.

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use url::Url;

use crate::{Error, Result};

/// The root of the data folder; each table is a sub-folder of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLocation {
    root: Url,
}

impl DataLocation {
    /// Accepts a local path (created when missing) or a `file://` URL.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidLocation {
            location: text.to_string(),
            reason: reason.to_string(),
        };
        if text.contains("://") {
            let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
            if url.scheme() != "file" {
                return Err(invalid(
                    "only local folders and file:// URLs are supported by this build",
                ));
            }
            let path = url
                .to_file_path()
                .map_err(|()| invalid("not a local path"))?;
            return Self::local(&path);
        }
        Self::local(Path::new(text))
    }

    pub fn local(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(Error::Io)?;
        let absolute = std::fs::canonicalize(path).map_err(Error::Io)?;
        let root = Url::from_directory_path(&absolute).map_err(|()| Error::InvalidLocation {
            location: path.display().to_string(),
            reason: "not an absolute path".into(),
        })?;
        Ok(Self { root })
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
        let path = self
            .root
            .to_file_path()
            .map_err(|()| Error::InvalidLocation {
                location: self.root.to_string(),
                reason: "not a local path".into(),
            })?;
        let store = LocalFileSystem::new_with_prefix(path).map_err(|e| Error::InvalidLocation {
            location: self.root.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Arc::new(store))
    }

    /// The local folder of a table, when the location is local.
    pub fn local_table_path(&self, name: &str) -> Option<std::path::PathBuf> {
        self.table(name).to_file_path().ok()
    }
}
