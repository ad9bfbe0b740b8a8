//! A bounded local copy of the data files read from a bucket.
//!
//! A table's data files are never rewritten in place (a compaction writes new ones), so a copy
//! of one is good for as long as it is kept. The first read of a data file downloads it whole into
//! the cache folder; every later read of it, footer or pages, reads the local copy. When the
//! copies pass the size limit, the least recently read are deleted. Files larger than a quarter of
//! the limit, the log and everything else are read from the bucket each time.
//!
//! A copy deleted while read stays readable to that reader (an open file outlives its name), and
//! one found missing is read from the bucket instead. With a folder of its own the cache survives a
//! restart: the copies found there at start are kept, least recently used first.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use tokio::io::AsyncWriteExt;

/// Where downloads are written before they are complete.
const INCOMING: &str = ".incoming";

/// How the cache is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCacheSettings {
    /// Largest total size of the copies.
    pub bytes: u64,
    /// The folder of the copies, kept across restarts; `None` for a temporary folder deleted
    /// when the process ends.
    pub folder: Option<PathBuf>,
}

/// Reads and copies so far, for whoever reports on the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCacheCounts {
    /// Reads answered from a copy.
    pub hits: u64,
    /// Data files downloaded into the cache.
    pub downloads: u64,
    /// Copies deleted to stay within the limit.
    pub evictions: u64,
    /// Total size of the copies now.
    pub bytes: u64,
}

/// The bucket's store, reading data files through local copies.
pub struct FileCache {
    bucket: Arc<dyn ObjectStore>,
    local: LocalFileSystem,
    folder: PathBuf,
    capacity: u64,
    copies: Mutex<Copies>,
    /// One download per file at a time; the others wait for it.
    downloads: Mutex<HashMap<Path, Arc<tokio::sync::Mutex<()>>>>,
    _temporary: Option<tempfile::TempDir>,
}

#[derive(Default)]
struct Copies {
    files: HashMap<Path, Copy>,
    clock: u64,
    counts: FileCacheCounts,
}

struct Copy {
    size: u64,
    last_read: u64,
}

impl FileCache {
    pub fn new(
        bucket: Arc<dyn ObjectStore>,
        settings: &FileCacheSettings,
    ) -> std::io::Result<Self> {
        let (folder, temporary) = match &settings.folder {
            Some(folder) => (folder.clone(), None),
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("talkhouse-file-cache-")
                    .tempdir()?;
                (temporary.path().to_path_buf(), Some(temporary))
            }
        };
        std::fs::create_dir_all(&folder)?;
        let incoming = folder.join(INCOMING);
        if incoming.exists() {
            std::fs::remove_dir_all(&incoming)?;
        }
        std::fs::create_dir_all(&incoming)?;
        let local = LocalFileSystem::new_with_prefix(&folder).map_err(std::io::Error::other)?;
        let cache = Self {
            bucket,
            local,
            folder,
            capacity: settings.bytes,
            copies: Mutex::default(),
            downloads: Mutex::default(),
            _temporary: temporary,
        };
        cache.adopt_copies_on_disk()?;
        Ok(cache)
    }

    pub fn counts(&self) -> FileCacheCounts {
        self.copies.lock().expect("not poisoned").counts
    }

    /// Registers the copies a previous process left, then trims them to the limit.
    fn adopt_copies_on_disk(&self) -> std::io::Result<()> {
        let mut found = Vec::new();
        let mut folders = vec![self.folder.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() && entry.file_name() != INCOMING {
                    folders.push(entry.path());
                } else if kind.is_file() {
                    let path = entry.path();
                    let Ok(relative) = path.strip_prefix(&self.folder) else {
                        continue;
                    };
                    let parts = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned());
                    found.push((Path::from_iter(parts), entry.metadata()?.len()));
                }
            }
        }
        let mut copies = self.copies.lock().expect("not poisoned");
        for (path, size) in found {
            copies.counts.bytes += size;
            copies.files.insert(path, Copy { size, last_read: 0 });
        }
        self.evict(&mut copies);
        Ok(())
    }

    /// Whether reads of `location` go through a copy: data files, which are never rewritten.
    fn is_data_file(location: &Path) -> bool {
        location.extension() == Some("parquet")
            && !location.parts().any(|part| part.as_ref() == "_delta_log")
    }

    /// Whether a copy is there, counting the read.
    fn read_copy(&self, location: &Path) -> bool {
        let mut copies = self.copies.lock().expect("not poisoned");
        copies.clock += 1;
        let clock = copies.clock;
        let Some(copy) = copies.files.get_mut(location) else {
            return false;
        };
        copy.last_read = clock;
        copies.counts.hits += 1;
        true
    }

    fn forget(&self, location: &Path) {
        let mut copies = self.copies.lock().expect("not poisoned");
        if let Some(copy) = copies.files.remove(location) {
            copies.counts.bytes -= copy.size;
        }
    }

    /// Makes sure a copy of `location` is there; false when the file is too large to copy.
    async fn ensure_copy(&self, location: &Path) -> object_store::Result<bool> {
        let lock = self
            .downloads
            .lock()
            .expect("not poisoned")
            .entry(location.clone())
            .or_default()
            .clone();
        let _downloading = lock.lock().await;
        let copied = if self.read_copy(location) {
            Ok(true)
        } else {
            self.download(location).await
        };
        self.downloads
            .lock()
            .expect("not poisoned")
            .remove(location);
        copied
    }

    async fn download(&self, location: &Path) -> object_store::Result<bool> {
        let found = self.bucket.get(location).await?;
        let size = found.meta.size;
        if size > self.capacity / 4 {
            return Ok(false);
        }
        let incoming = self
            .folder
            .join(INCOMING)
            .join(uuid::Uuid::new_v4().to_string());
        let io = |source: std::io::Error| object_store::Error::Generic {
            store: "file cache",
            source: Box::new(source),
        };
        let mut file = tokio::fs::File::create(&incoming).await.map_err(io)?;
        let mut body = found.into_stream();
        while let Some(bytes) = body.next().await {
            if let Err(error) = file.write_all(&bytes?).await {
                let _ = tokio::fs::remove_file(&incoming).await;
                return Err(io(error));
            }
        }
        file.flush().await.map_err(io)?;
        drop(file);
        let target = self.folder.join(location.as_ref());
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        tokio::fs::rename(&incoming, &target).await.map_err(io)?;
        let mut copies = self.copies.lock().expect("not poisoned");
        copies.clock += 1;
        let last_read = copies.clock;
        copies.counts.downloads += 1;
        copies.counts.bytes += size;
        copies
            .files
            .insert(location.clone(), Copy { size, last_read });
        self.evict(&mut copies);
        Ok(true)
    }

    /// Deletes the least recently read copies until the rest fit the limit.
    fn evict(&self, copies: &mut Copies) {
        while copies.counts.bytes > self.capacity {
            let Some(oldest) = copies
                .files
                .iter()
                .min_by_key(|(_, copy)| copy.last_read)
                .map(|(path, _)| path.clone())
            else {
                return;
            };
            let copy = copies.files.remove(&oldest).expect("just found");
            copies.counts.bytes -= copy.size;
            copies.counts.evictions += 1;
            let _ = std::fs::remove_file(self.folder.join(oldest.as_ref()));
        }
    }

    /// The copy of a data file when there is or can be one, else `None` (read the bucket).
    async fn with_copy(&self, location: &Path) -> bool {
        if !Self::is_data_file(location) || self.capacity == 0 {
            return false;
        }
        if self.read_copy(location) {
            return true;
        }
        match self.ensure_copy(location).await {
            Ok(copied) => copied,
            Err(error) => {
                tracing::warn!(%location, %error, "a data file could not be copied into the cache; reading it from the bucket");
                false
            }
        }
    }
}

fn plain(options: &GetOptions) -> bool {
    options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.version.is_none()
        && !options.head
}

impl fmt::Debug for FileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCache")
            .field("folder", &self.folder)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl fmt::Display for FileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileCache({}, {})", self.bucket, self.folder.display())
    }
}

#[async_trait]
impl ObjectStore for FileCache {
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if plain(&options) && self.with_copy(location).await {
            match self.local.get_opts(location, options.clone()).await {
                Ok(found) => return Ok(found),
                Err(object_store::Error::NotFound { .. }) => self.forget(location),
                Err(error) => return Err(error),
            }
        }
        self.bucket.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        if self.with_copy(location).await {
            match self.local.get_ranges(location, ranges).await {
                Ok(found) => return Ok(found),
                Err(object_store::Error::NotFound { .. }) => self.forget(location),
                Err(error) => return Err(error),
            }
        }
        self.bucket.get_ranges(location, ranges).await
    }

    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.bucket.put_opts(location, payload, options).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        options: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.bucket.put_multipart_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.bucket.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.bucket.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.bucket.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.bucket.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.bucket.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.bucket.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    fn data_file(n: u32) -> Path {
        Path::from(format!("events/bot_id=b/kind=message/part-{n}.parquet"))
    }

    async fn bucket_with(files: &[(Path, usize)]) -> Arc<dyn ObjectStore> {
        let bucket: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for (path, size) in files {
            let bytes: Vec<u8> = (0..*size).map(|i| (i % 251) as u8).collect();
            bucket.put(path, bytes.into()).await.unwrap();
        }
        bucket
    }

    #[tokio::test]
    async fn data_files_are_read_from_copies_within_the_limit_least_recently_read_out_first() {
        let files: Vec<_> = (0..5).map(|n| (data_file(n), 1000)).collect();
        let bucket = bucket_with(&files).await;
        let folder = tempfile::tempdir().unwrap();
        let settings = FileCacheSettings {
            bytes: 4000,
            folder: Some(folder.path().to_path_buf()),
        };
        let cache = FileCache::new(bucket.clone(), &settings).unwrap();
        let range = cache.get_range(&data_file(0), 10..20).await.unwrap();
        assert_eq!(
            range,
            bucket.get_range(&data_file(0), 10..20).await.unwrap()
        );
        let ranges = cache
            .get_ranges(&data_file(0), &[0..5, 990..1000])
            .await
            .unwrap();
        let end = bucket.get_range(&data_file(0), 990..1000).await.unwrap();
        assert_eq!(ranges[1], end);
        assert_eq!((cache.counts().downloads, cache.counts().hits), (1, 1));

        // The copy is what is read: the bucket's file is gone.
        bucket.delete(&data_file(0)).await.unwrap();
        let whole = cache
            .get(&data_file(0))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(whole.len(), 1000);

        for n in [1, 2, 3, 0, 4] {
            cache.get(&data_file(n)).await.unwrap();
        }
        let counts = cache.counts();
        assert_eq!(
            (counts.downloads, counts.evictions, counts.bytes),
            (5, 1, 4000)
        );
        let copy = |n: u32| folder.path().join(data_file(n).as_ref()).exists();
        assert!(!copy(1), "file 1 was read least recently");
        assert!(copy(0) && copy(4));

        // A new process over the same folder keeps the copies.
        drop(cache);
        let cache = FileCache::new(bucket.clone(), &settings).unwrap();
        assert_eq!(cache.counts().bytes, 4000);
        cache.get(&data_file(0)).await.unwrap();
        assert_eq!(cache.counts().downloads, 0);
    }

    #[tokio::test]
    async fn the_log_and_large_files_are_always_read_from_the_bucket() {
        let log = Path::from("events/_delta_log/00000000000000000001.checkpoint.parquet");
        let bucket = bucket_with(&[(log.clone(), 100), (data_file(0), 1100)]).await;
        let settings = FileCacheSettings {
            bytes: 4000,
            folder: None,
        };
        let cache = FileCache::new(bucket, &settings).unwrap();
        cache.get(&log).await.unwrap();
        cache.get(&data_file(0)).await.unwrap();
        assert_eq!(cache.counts(), FileCacheCounts::default());
    }
}
