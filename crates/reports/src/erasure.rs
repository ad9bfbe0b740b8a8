//! Erasing a person: their sessions leave the table in one commit (see
//! `talkhouse_storage::Deletion`), the bot's reports made before it leave the store (any of them
//! may hold the person's rows), and a record says who erased what kind of key, when, and how
//! many rows went, without the key or anything erased.
//!
//! Here because this is the lowest crate that knows both the table and the reports. The record is
//! stored as `erasures/{org}/{env}/{bot}/{id}.json` beside the reports, `STARTED` before the
//! commit and `DONE` after it: a process killed between the two leaves a `STARTED` record, and
//! erasing again finds nothing more to delete and records that.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use talkhouse_core::Tenant;
use talkhouse_core::request::PersonKey;
use talkhouse_storage::{DataLocation, Deletion, EventTable};
use uuid::Uuid;

use crate::{ReportStore, Result};

const ROOT: &str = "erasures";

/// Where an erasure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErasureState {
    Started,
    Done,
}

/// The record of one erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureRecord {
    pub id: Uuid,
    pub tenant: Tenant,
    /// `user_id` or `business_key`: the kind of key erased, never its value.
    pub key: String,
    /// Who asked: a token's subject, or the operator's name for the command line.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub state: ErasureState,
    pub finished_at: Option<DateTime<Utc>>,
    /// The table version without the person's rows; `None` when there were none.
    pub version: Option<u64>,
    pub sessions: u64,
    pub messages: u64,
    pub conversation_versions: u64,
    pub reports_deleted: u64,
}

/// Erases `key` of `tenant` from `table` and from the reports of `location`; `requested_by` is
/// recorded with it.
pub async fn erase_person(
    table: &EventTable,
    location: &DataLocation,
    tenant: Tenant,
    key: PersonKey,
    requested_by: &str,
) -> Result<ErasureRecord> {
    let store = location.object_store()?;
    let mut record = ErasureRecord {
        id: Uuid::new_v4(),
        tenant,
        key: key.column().to_string(),
        requested_by: requested_by.to_string(),
        requested_at: Utc::now(),
        state: ErasureState::Started,
        finished_at: None,
        version: None,
        sessions: 0,
        messages: 0,
        conversation_versions: 0,
        reports_deleted: 0,
    };
    put(&store, &record).await?;
    let outcome = table.delete(&Deletion::Person { tenant, key }).await?;
    record.reports_deleted = delete_reports_before(location, &tenant, outcome.version).await?;
    record.version = outcome.version;
    record.sessions = outcome.sessions;
    record.messages = outcome.messages;
    record.conversation_versions = outcome.conversation_versions;
    record.state = ErasureState::Done;
    record.finished_at = Some(Utc::now());
    put(&store, &record).await?;
    tracing::info!(
        erasure = %record.id,
        sessions = record.sessions,
        messages = record.messages,
        reports = record.reports_deleted,
        "erased a person"
    );
    Ok(record)
}

/// The erasure records of one bot, oldest first.
pub async fn erasures(location: &DataLocation, tenant: &Tenant) -> Result<Vec<ErasureRecord>> {
    records(&location.object_store()?, tenant).await
}

/// Whether an erasure of the report's bot may have deleted rows the report read: one committed
/// after the version it is pinned to, or one under way that was requested after it.
pub(crate) async fn erased_since(
    store: &Arc<dyn ObjectStore>,
    report: &crate::ReportRecord,
) -> Result<bool> {
    Ok(records(store, &report.tenant).await?.iter().any(|e| {
        e.version.is_some_and(|v| v > report.snapshot)
            || (e.state == ErasureState::Started && e.requested_at >= report.requested_at)
    }))
}

async fn records(store: &Arc<dyn ObjectStore>, tenant: &Tenant) -> Result<Vec<ErasureRecord>> {
    let paths: Vec<Path> = futures::TryStreamExt::try_collect(futures::TryStreamExt::map_ok(
        store.list(Some(&folder(tenant))),
        |meta| meta.location,
    ))
    .await?;
    let mut records = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = store.get(&path).await?.bytes().await?;
        records.push(serde_json::from_slice::<ErasureRecord>(&bytes)?);
    }
    records.sort_by_key(|r| (r.requested_at, r.id));
    Ok(records)
}

/// Deletes the bot's reports pinned to a version before `version`, the erasure's (none when it
/// deleted nothing); how many.
async fn delete_reports_before(
    location: &DataLocation,
    tenant: &Tenant,
    version: Option<u64>,
) -> Result<u64> {
    let Some(version) = version else {
        return Ok(0);
    };
    let reports = ReportStore::at(location)?;
    let mut deleted = 0;
    for record in reports.list(tenant).await? {
        if record.snapshot < version {
            reports.delete(&record).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

fn folder(tenant: &Tenant) -> Path {
    Path::from_iter([
        ROOT.to_string(),
        tenant.org_id.to_string(),
        tenant.env_id.to_string(),
        tenant.bot_id.to_string(),
    ])
}

async fn put(store: &Arc<dyn ObjectStore>, record: &ErasureRecord) -> Result<()> {
    let path = folder(&record.tenant).join(format!("{}.json", record.id));
    let json = serde_json::to_vec_pretty(record)?;
    store.put(&path, PutPayload::from(json)).await?;
    Ok(())
}
