//! How many queries run at once, overall and per organization, and for how long.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::Status;
use uuid::Uuid;

use super::Cost;
use crate::ServiceError;

/// The limits the guard enforces on every call.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Deadline of a query whose client sent none.
    pub default_timeout: Duration,
    /// Longest deadline a client may ask for; longer ones are shortened to this.
    pub max_timeout: Duration,
    /// Queries running at once over all organizations; more wait in line until their deadline.
    pub max_concurrent: usize,
    /// Queries one organization may have running or waiting at once; more are refused.
    pub max_concurrent_per_tenant: usize,
    /// Largest query request.
    pub max_request_bytes: usize,
    /// Largest ingest request.
    pub max_ingest_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            max_concurrent: 16,
            max_concurrent_per_tenant: 8,
            max_request_bytes: 1024 * 1024,
            max_ingest_bytes: 256 * 1024 * 1024,
        }
    }
}

impl QueryLimits {
    /// The client's deadline, at most `max_timeout`; `default_timeout` when it sent none.
    pub fn deadline(&self, client: Option<Duration>) -> Duration {
        client.map_or(self.default_timeout, |d| d.min(self.max_timeout))
    }

    pub fn max_request_bytes(&self, cost: Cost) -> usize {
        match cost {
            Cost::Query => self.max_request_bytes,
            Cost::Write => self.max_ingest_bytes,
        }
    }
}

/// Hands out query slots.
pub(super) struct Admission {
    running: Arc<Semaphore>,
    per_tenant: Arc<Mutex<HashMap<Uuid, usize>>>,
    max_per_tenant: usize,
}

/// A query's place: its organization's count and, once running, an overall permit. Both are
/// given back when it is dropped, also when the query is cancelled.
pub(super) struct Slot {
    organization: Uuid,
    per_tenant: Arc<Mutex<HashMap<Uuid, usize>>>,
    _running: Option<OwnedSemaphorePermit>,
}

impl Admission {
    pub(super) fn new(limits: &QueryLimits) -> Self {
        Self {
            running: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            per_tenant: Arc::default(),
            max_per_tenant: limits.max_concurrent_per_tenant.max(1),
        }
    }

    /// A slot for a query of `organization`, waiting until `deadline` for one to free up.
    pub(super) async fn enter(
        &self,
        organization: Uuid,
        deadline: Instant,
    ) -> Result<Slot, Status> {
        let mut slot = {
            let mut counts = self
                .per_tenant
                .lock()
                .expect("the count lock is never poisoned");
            let count = counts.entry(organization).or_default();
            if *count >= self.max_per_tenant {
                return Err(Status::from(ServiceError::ResourceExhausted(format!(
                    "this organization already has {} queries in progress; retry when one finishes",
                    self.max_per_tenant
                ))));
            }
            *count += 1;
            Slot {
                organization,
                per_tenant: self.per_tenant.clone(),
                _running: None,
            }
        };
        let permit = tokio::time::timeout_at(deadline, self.running.clone().acquire_owned())
            .await
            .map_err(|_| {
                Status::from(ServiceError::DeadlineExceeded(
                    "the server stayed busy until the deadline; retry later".into(),
                ))
            })?
            .expect("the semaphore is never closed");
        slot._running = Some(permit);
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .per_tenant
            .lock()
            .expect("the count lock is never poisoned");
        if let Some(count) = counts.get_mut(&self.organization) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.organization);
            }
        }
    }
}
