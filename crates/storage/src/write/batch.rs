//! One attempt at committing a batch, stage by stage: the idempotency key, the lookups of what
//! is stored, the batch sorted out against them, its rows encoded, its files written, and the
//! commit.

use std::collections::HashSet;
use std::time::Instant;

use arrow::array::RecordBatch;
use deltalake_core::kernel::Transaction;
use sha2::{Digest, Sha256};
use talkhouse_core::{Event, Tenant};
use uuid::Uuid;

use super::batch_files::{LinedEvent, by_partition, operation_metrics, write_files};
use super::batch_lookups::without_duplicates;
use super::commit::{self, catch_up};
use super::encode::{RollupRows, encode_derived_rows, encode_events_in_parallel};
use super::writer::{WriteOutcome, Writer};
use crate::parallel;
use crate::read::live_files;
use crate::rollup::Rollup;
use crate::versions::{BatchVersions, StoredVersions};
use crate::{Error, Result};

/// What the idempotency key says of a batch.
enum Idempotency {
    /// This very batch is stored under the key already.
    Replayed,
    /// The batch is new; its commit records the key, if it has one.
    New(Option<KeyedCommit>),
}

/// The Delta application transaction that records an idempotency key in the batch's commit.
struct KeyedCommit {
    transaction: Transaction,
    app_id: String,
}

/// What is stored of the batch's messages and conversations.
struct Stored {
    message_ids: HashSet<(Tenant, Uuid)>,
    versions: StoredVersions,
}

impl Writer {
    /// One attempt at committing `events` on the latest version of the table; `None` when
    /// another writer committed to the batch's bots or key after it read them (see
    /// [`commit::commit_batch`]). `began` is when the write began, for the commit's metrics.
    pub(crate) async fn write_once(
        &mut self,
        events: &[&Event],
        idempotency_key: Option<&str>,
        began: Instant,
    ) -> Result<Option<WriteOutcome>> {
        catch_up(&mut self.table).await?;
        let keyed = match self.idempotency(events, idempotency_key).await? {
            Idempotency::Replayed => {
                return Ok(Some(WriteOutcome {
                    version: self.table.version(),
                    replayed: true,
                    ..WriteOutcome::default()
                }));
            }
            Idempotency::New(keyed) => keyed,
        };
        let stored = self.stored(events).await?;
        let written_at = self.next_written_at();
        let mut outcome = WriteOutcome::default();
        // A row's batch line is its event's place in the batch, duplicates counted: the versions
        // of the batch's conversations, which no duplicate touches, are ordered on one core while
        // the duplicates are dropped on another.
        let (versions, kept) = parallel::join(
            events.len(),
            || BatchVersions::of_batch(events, &stored.versions, written_at),
            || without_duplicates(events, &stored.message_ids, &mut outcome),
        );
        if kept.is_empty() && keyed.is_none() {
            outcome.version = self.table.version();
            return Ok(Some(outcome));
        }
        let started = Instant::now();
        let batches = self.encoded(events.len(), kept, &versions, written_at)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        tracing::debug!(elapsed = ?started.elapsed(), rows, "encoded");
        let started = Instant::now();
        let adds = write_files(&self.table, &batches).await?;
        drop(batches);
        tracing::debug!(elapsed = ?started.elapsed(), files = adds.len(), "written");
        let started = Instant::now();
        let metrics = operation_metrics(&adds, rows, began)?;
        let (transaction, app_id) = match keyed {
            Some(keyed) => (Some(keyed.transaction), Some(keyed.app_id)),
            None => (None, None),
        };
        let committed =
            commit::commit_batch(&mut self.table, adds, transaction, metrics, app_id).await?;
        outcome.version = committed;
        tracing::debug!(elapsed = ?started.elapsed(), version = outcome.version, "committed");
        Ok(committed.map(|_| outcome))
    }

    /// Whether the batch under `key` is stored already, a different batch is
    /// ([`Error::IdempotencyKeyReused`]), or none is.
    async fn idempotency(&self, events: &[&Event], key: Option<&str>) -> Result<Idempotency> {
        let Some(key) = key else {
            return Ok(Idempotency::New(None));
        };
        let app_id = format!("talkhouse-ingest:{key}");
        let fingerprint = fingerprint(events);
        let state = self.table.snapshot()?;
        match state
            .transaction_version(self.table.log_store().as_ref(), &app_id)
            .await?
        {
            Some(stored) if stored == fingerprint => Ok(Idempotency::Replayed),
            Some(_) => Err(Error::IdempotencyKeyReused {
                key: key.to_string(),
            }),
            None => Ok(Idempotency::New(Some(KeyedCommit {
                transaction: Transaction::new(app_id.clone(), fingerprint),
                app_id,
            }))),
        }
    }

    /// The stored message ids and conversation versions the batch is checked against; one
    /// listing of the live files serves both lookups.
    async fn stored(&mut self, events: &[&Event]) -> Result<Stored> {
        let listed = live_files::read(&self.table, &self.file_statistics).await?;
        let started = Instant::now();
        let message_ids = self.stored_message_ids(&listed, events).await?;
        tracing::debug!(elapsed = ?started.elapsed(), stored = message_ids.len(), "duplicate lookup");
        let started = Instant::now();
        let versions = self.stored_versions(&listed.0, events).await?;
        tracing::debug!(elapsed = ?started.elapsed(), stored = versions.len(), "conversation lookup");
        Ok(Stored {
            message_ids,
            versions,
        })
    }

    /// The rows of the `kept` events and the batch's derived rows (its rollup, the versions it
    /// supersedes), encoded in the table's schema.
    fn encoded(
        &self,
        batch_len: usize,
        kept: Vec<LinedEvent<'_>>,
        versions: &BatchVersions,
        written_at: i64,
    ) -> Result<Vec<RecordBatch>> {
        let schema = self.table.snapshot()?.snapshot().arrow_schema();
        // The batch's rollup is summed on one core while its events are encoded on every core.
        let (rollup, encoded) = parallel::join(
            kept.len(),
            || {
                let rollup = Rollup::of_batch(kept.iter().map(|(_, event)| *event), versions);
                RollupRows {
                    buckets: rollup.rows(),
                    users: rollup.user_rows(),
                }
            },
            || {
                encode_events_in_parallel(
                    &by_partition(&kept),
                    &versions.superseded_at_write,
                    &schema,
                    written_at,
                )
            },
        );
        let mut batches = encoded?;
        batches.push(encode_derived_rows(
            batch_len as i64,
            versions,
            &rollup,
            &schema,
            written_at,
        )?);
        Ok(batches)
    }
}

/// A stable digest of a batch's content, as a non-negative Delta transaction version.
fn fingerprint(events: &[&Event]) -> i64 {
    let mut hasher = Sha256::new();
    for event in events {
        hasher.update(serde_json::to_vec(event).expect("events serialize"));
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
}
