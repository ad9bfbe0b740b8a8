//! Reports in the data location's object store, beside the tables:
//! `reports/{org}/{env}/{bot}/{report id}/report.json` holds the state and `data.{ext}` the file.
//! Every write replaces a whole object, atomically; a report is found only under its own bot.
//!
//! `report-queue/{org}/{env}/{bot}/{report id}`, an empty object, marks a report still to be
//! made, from its request until it is READY or FAILED: the server producing reports lists this
//! short folder to find those requested on other servers, and every server counts it to admit a
//! request.

use std::path::Path as LocalPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use talkhouse_core::Tenant;
use talkhouse_storage::DataLocation;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::{ReportRecord, Result};

const ROOT: &str = "reports";
const QUEUE: &str = "report-queue";
const RECORD: &str = "report.json";
/// Parts a file is uploaded in.
const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct ReportStore {
    store: Arc<dyn ObjectStore>,
}

impl ReportStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// The store the reports live in.
    pub(crate) fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The reports of a data location.
    pub fn at(location: &DataLocation) -> Result<Self> {
        Ok(Self::new(location.object_store()?))
    }

    fn bot_folder(tenant: &Tenant) -> Path {
        Path::from_iter([
            ROOT.to_string(),
            tenant.org_id.to_string(),
            tenant.env_id.to_string(),
            tenant.bot_id.to_string(),
        ])
    }

    fn folder(tenant: &Tenant, id: Uuid) -> Path {
        Self::bot_folder(tenant).join(id.to_string())
    }

    fn record_path(tenant: &Tenant, id: Uuid) -> Path {
        Self::folder(tenant, id).join(RECORD)
    }

    fn queue_path(tenant: &Tenant, id: Uuid) -> Path {
        Path::from_iter([
            QUEUE.to_string(),
            tenant.org_id.to_string(),
            tenant.env_id.to_string(),
            tenant.bot_id.to_string(),
            id.to_string(),
        ])
    }

    fn file_path(record: &ReportRecord) -> Path {
        Self::folder(&record.tenant, record.id)
            .join(format!("data.{}", record.export_type.extension()))
    }

    pub async fn put(&self, record: &ReportRecord) -> Result<()> {
        let json = serde_json::to_vec_pretty(record)?;
        self.store
            .put(
                &Self::record_path(&record.tenant, record.id),
                PutPayload::from(json),
            )
            .await?;
        Ok(())
    }

    /// The bot's report `id`; `None` when this bot has none by that id.
    pub async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<ReportRecord>> {
        match self.store.get(&Self::record_path(tenant, id)).await {
            Ok(found) => Ok(Some(serde_json::from_slice(&found.bytes().await?)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every report of the bot.
    pub async fn list(&self, tenant: &Tenant) -> Result<Vec<ReportRecord>> {
        self.records(Some(&Self::bot_folder(tenant))).await
    }

    /// Every report of every bot.
    pub async fn all(&self) -> Result<Vec<ReportRecord>> {
        self.records(Some(&Path::from(ROOT))).await
    }

    /// The table versions reports still to be made will read: vacuum keeps their files.
    pub async fn versions_in_use(&self) -> Result<Vec<u64>> {
        use talkhouse_core::report::ReportStatus;
        Ok(self
            .all()
            .await?
            .into_iter()
            .filter(|r| matches!(r.status, ReportStatus::Pending | ReportStatus::Running))
            .map(|r| r.snapshot)
            .collect())
    }

    async fn records(&self, prefix: Option<&Path>) -> Result<Vec<ReportRecord>> {
        let paths: Vec<Path> = self
            .store
            .list(prefix)
            .try_filter_map(|meta| async move {
                Ok((meta.location.filename() == Some(RECORD)).then_some(meta.location))
            })
            .try_collect()
            .await?;
        let mut records = Vec::with_capacity(paths.len());
        for path in paths {
            match self.store.get(&path).await {
                // One unreadable record must not hide the others (or stop a server starting).
                Ok(found) => match serde_json::from_slice(&found.bytes().await?) {
                    Ok(record) => records.push(record),
                    Err(error) => tracing::warn!(%path, %error, "skipping an unreadable report"),
                },
                // Deleted between the listing and the read.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(records)
    }

    /// Marks the report as still to be made.
    pub async fn enqueue(&self, record: &ReportRecord) -> Result<()> {
        let path = Self::queue_path(&record.tenant, record.id);
        self.store.put(&path, PutPayload::default()).await?;
        Ok(())
    }

    /// Takes the mark off a report made (or given up); a mark already gone is not an error.
    pub async fn dequeue(&self, tenant: &Tenant, id: Uuid) -> Result<()> {
        match self.store.delete(&Self::queue_path(tenant, id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The reports marked as still to be made, with their bots.
    pub async fn queued(&self) -> Result<Vec<(Tenant, Uuid)>> {
        let paths: Vec<Path> = self
            .store
            .list(Some(&Path::from(QUEUE)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        Ok(paths
            .iter()
            .filter_map(|path| {
                let parts: Vec<Uuid> = path
                    .parts()
                    .skip(1)
                    .map(|part| part.as_ref().parse())
                    .collect::<Result<_, _>>()
                    .ok()?;
                let [org_id, env_id, bot_id, id] = parts[..] else {
                    return None;
                };
                Some((
                    Tenant {
                        org_id,
                        env_id,
                        bot_id,
                    },
                    id,
                ))
            })
            .collect())
    }

    /// Uploads a finished local file as the report's file, in parts; it appears whole or not at
    /// all. Returns its size.
    pub async fn put_file(&self, record: &ReportRecord, local: &LocalPath) -> Result<u64> {
        let upload = self.store.put_multipart(&Self::file_path(record)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES);
        let mut file = tokio::fs::File::open(local).await?;
        let mut buffer = vec![0; 1024 * 1024];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buffer[..read]);
            size += read as u64;
        }
        writer.finish().await?;
        Ok(size)
    }

    /// The report's file as a stream of byte chunks.
    pub async fn file(
        &self,
        record: &ReportRecord,
    ) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>> {
        let found = self.store.get(&Self::file_path(record)).await?;
        Ok(found.into_stream().boxed())
    }

    /// Deletes the report: its queue mark, its file, then its record.
    pub async fn delete(&self, record: &ReportRecord) -> Result<()> {
        self.dequeue(&record.tenant, record.id).await?;
        self.delete_file(record).await?;
        match self
            .store
            .delete(&Self::record_path(&record.tenant, record.id))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the report's file; a file already gone is not an error.
    pub async fn delete_file(&self, record: &ReportRecord) -> Result<()> {
        match self.store.delete(&Self::file_path(record)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use talkhouse_core::report::{ExportType, ReportSpec};
    use talkhouse_core::window::Zone;

    use super::*;

    fn tenant(bot: u128) -> Tenant {
        Tenant {
            org_id: Uuid::from_u128(1),
            env_id: Uuid::from_u128(2),
            bot_id: Uuid::from_u128(bot),
        }
    }

    #[tokio::test]
    async fn records_are_found_only_under_their_bot_and_a_broken_one_is_skipped() {
        let folder = tempfile::tempdir().unwrap();
        let store = ReportStore::at(&DataLocation::local(folder.path()).unwrap()).unwrap();
        let spec = ReportSpec::Transcript {
            session_code: "s".into(),
            timezone: Zone::UTC,
        };
        let record = ReportRecord::new(tenant(3), spec, ExportType::Csv, 1, Utc::now());
        store.put(&record).await.unwrap();
        assert_eq!(
            store.get(&tenant(3), record.id).await.unwrap(),
            Some(record.clone())
        );
        assert_eq!(store.get(&tenant(4), record.id).await.unwrap(), None);
        assert!(store.list(&tenant(4)).await.unwrap().is_empty());

        let broken = folder.path().join(format!(
            "reports/{}/{}/{}/x/report.json",
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3)
        ));
        std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
        std::fs::write(&broken, "{ not json").unwrap();
        assert_eq!(store.all().await.unwrap(), std::slice::from_ref(&record));
        assert_eq!(store.list(&tenant(3)).await.unwrap(), [record]);
    }

    #[tokio::test]
    async fn the_queue_names_each_marked_report_with_its_bot() {
        let folder = tempfile::tempdir().unwrap();
        let store = ReportStore::at(&DataLocation::local(folder.path()).unwrap()).unwrap();
        let spec = ReportSpec::Transcript {
            session_code: "s".into(),
            timezone: Zone::UTC,
        };
        let first = ReportRecord::new(tenant(3), spec.clone(), ExportType::Csv, 1, Utc::now());
        let second = ReportRecord::new(tenant(4), spec, ExportType::Csv, 1, Utc::now());
        assert!(store.queued().await.unwrap().is_empty());
        store.enqueue(&first).await.unwrap();
        store.enqueue(&second).await.unwrap();
        let mut queued = store.queued().await.unwrap();
        queued.sort_by_key(|(tenant, _)| tenant.bot_id);
        assert_eq!(queued, [(tenant(3), first.id), (tenant(4), second.id)]);
        store.dequeue(&tenant(3), first.id).await.unwrap();
        store.dequeue(&tenant(3), first.id).await.unwrap();
        assert_eq!(store.queued().await.unwrap(), [(tenant(4), second.id)]);
        assert!(
            store.all().await.unwrap().is_empty(),
            "marks are not reports"
        );
    }
}
