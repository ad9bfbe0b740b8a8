//! How many queries run at once, overall and per organization, in which order, and for how long
//! (decision 31).
//!
//! Each organization has a queue of its own. A free slot goes to the waiting query of the
//! organization with the fewest queries running (the one waiting longest among equals), and no
//! organization runs more than its share at once, however many slots are free: an organization
//! that floods the server waits behind its own queries, while another's query starts at once and
//! shares the query threads with a bounded number of the flooder's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
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
    /// Queries one organization may have running at once; its others wait. One by default: a
    /// query's plan already spreads over every core, so a second one running beside it adds no
    /// throughput, only a share of the cores that another organization's query would have had.
    pub max_running_per_tenant: usize,
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
            max_running_per_tenant: 1,
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

/// Hands out query slots, organization by organization.
pub(super) struct Admission {
    queues: Arc<Mutex<Queues>>,
}

struct Queues {
    capacity: usize,
    max_per_organization: usize,
    max_running_per_organization: usize,
    running: usize,
    organizations: HashMap<Uuid, Organization>,
    /// Numbers the queries in the order they arrived.
    arrivals: u64,
}

#[derive(Default)]
struct Organization {
    running: usize,
    waiting: VecDeque<(u64, oneshot::Sender<()>)>,
}

/// A running query's slot, given back when dropped (also when the query is cancelled).
pub(super) struct Slot {
    organization: Uuid,
    queues: Arc<Mutex<Queues>>,
    /// How long the query waited for its turn.
    pub(super) waited: Duration,
}

impl Admission {
    pub(super) fn new(limits: &QueryLimits) -> Self {
        Self {
            queues: Arc::new(Mutex::new(Queues {
                capacity: limits.max_concurrent.max(1),
                max_per_organization: limits.max_concurrent_per_tenant.max(1),
                max_running_per_organization: limits.max_running_per_tenant.max(1),
                running: 0,
                organizations: HashMap::new(),
                arrivals: 0,
            })),
        }
    }

    /// A slot for a query of `organization`, waiting its turn until `deadline`.
    pub(super) async fn enter(
        &self,
        organization: Uuid,
        deadline: Instant,
    ) -> Result<Slot, Status> {
        let arrived = Instant::now();
        let (turn, arrival) = {
            let mut queues = self
                .queues
                .lock()
                .expect("the queue lock is never poisoned");
            let max = queues.max_per_organization;
            let arrival = queues.arrivals + 1;
            let queued = queues.organizations.entry(organization).or_default();
            if queued.running + queued.waiting.len() >= max {
                return Err(Status::from(ServiceError::ResourceExhausted(format!(
                    "this organization already has {max} queries in progress; retry when one \
                     finishes"
                ))));
            }
            let (sender, turn) = oneshot::channel();
            queued.waiting.push_back((arrival, sender));
            queues.arrivals = arrival;
            queues.dispatch();
            (turn, arrival)
        };
        let slot = |waited| Slot {
            organization,
            queues: self.queues.clone(),
            waited,
        };
        match tokio::time::timeout_at(deadline, turn).await {
            Ok(Ok(())) => Ok(slot(arrived.elapsed())),
            // A waiting query's turn is only ever dropped with its organization's queue, which
            // is not forgotten while it waits.
            Ok(Err(_)) => Err(Status::from(ServiceError::DeadlineExceeded(
                "the query lost its place in line; retry".into(),
            ))),
            Err(_) => {
                let mut queues = self
                    .queues
                    .lock()
                    .expect("the queue lock is never poisoned");
                let still_waiting = queues.organizations.get_mut(&organization).and_then(|o| {
                    let at = o.waiting.iter().position(|(a, _)| *a == arrival)?;
                    o.waiting.remove(at)
                });
                if still_waiting.is_none() {
                    // Its turn came as the deadline passed: the slot goes back at once.
                    drop(queues);
                    drop(slot(arrived.elapsed()));
                } else {
                    queues.forget_if_idle(organization);
                }
                Err(Status::from(ServiceError::DeadlineExceeded(
                    "the server stayed busy until the deadline; retry later".into(),
                )))
            }
        }
    }
}

impl Queues {
    /// Starts waiting queries while slots are free: each time the one of the organization with
    /// the fewest running, first come first served among equals, within each one's share.
    fn dispatch(&mut self) {
        while self.running < self.capacity {
            let next = self
                .organizations
                .iter()
                .filter(|(_, o)| o.running < self.max_running_per_organization)
                .filter_map(|(id, o)| Some(((o.running, o.waiting.front()?.0), *id)))
                .min();
            let Some((_, id)) = next else { return };
            let organization = self.organizations.get_mut(&id).expect("just found");
            let (_, turn) = organization.waiting.pop_front().expect("just seen");
            if turn.send(()).is_ok() {
                organization.running += 1;
                self.running += 1;
            } else {
                // Its caller is gone (cancelled while waiting).
                self.forget_if_idle(id);
            }
        }
    }

    fn forget_if_idle(&mut self, organization: Uuid) {
        if self
            .organizations
            .get(&organization)
            .is_some_and(|o| o.running == 0 && o.waiting.is_empty())
        {
            self.organizations.remove(&organization);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut queues = self
            .queues
            .lock()
            .expect("the queue lock is never poisoned");
        if let Some(organization) = queues.organizations.get_mut(&self.organization) {
            organization.running -= 1;
            queues.running -= 1;
            queues.forget_if_idle(self.organization);
        }
        queues.dispatch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(capacity: usize, per_org: usize, running_per_org: usize) -> Admission {
        Admission::new(&QueryLimits {
            max_concurrent: capacity,
            max_concurrent_per_tenant: per_org,
            max_running_per_tenant: running_per_org,
            ..QueryLimits::default()
        })
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn a_flooder_waits_behind_its_own_share_while_another_organization_starts_at_once() {
        let (flooder, light) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let admission = Arc::new(admission(4, 8, 2));
        let first = admission.enter(flooder, later()).await.unwrap();
        let second = admission.enter(flooder, later()).await.unwrap();
        // The flooder's third waits although slots are free.
        let third = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter(flooder, later()).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        let light_slot =
            tokio::time::timeout(Duration::from_millis(100), admission.enter(light, later()))
                .await
                .expect("the light organization does not wait")
                .unwrap();
        drop((light_slot, second));
        third.await.unwrap().unwrap();
        drop(first);
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_organization_running_fewest() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let admission = Arc::new(admission(2, 8, 2));
        let a1 = admission.enter(a, later()).await.unwrap();
        let a2 = admission.enter(a, later()).await.unwrap();
        let (order, mut started) = tokio::sync::mpsc::unbounded_channel();
        for (organization, name) in [(a, "a3"), (b, "b1")] {
            let admission = admission.clone();
            let order = order.clone();
            tokio::spawn(async move {
                let slot = admission.enter(organization, later()).await.unwrap();
                order.send(name).unwrap();
                std::future::pending::<()>().await;
                drop(slot);
            });
            tokio::task::yield_now().await;
        }
        drop(a1);
        assert_eq!(started.recv().await, Some("b1"));
        drop(a2);
        assert_eq!(started.recv().await, Some("a3"));
    }

    #[tokio::test]
    async fn beyond_its_cap_an_organization_is_refused_and_a_deadline_gives_the_place_back() {
        let org = Uuid::from_u128(1);
        let admission = admission(1, 2, 1);
        let running = admission.enter(org, later()).await.unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        let status = admission.enter(org, soon).await.err().unwrap();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        // The expired waiter left the queue: one more may wait, a second is refused.
        let waiting = admission.enter(org, Instant::now() + Duration::from_millis(20));
        let refused = admission.enter(org, later());
        let (waiting, refused) = tokio::join!(waiting, refused);
        assert_eq!(waiting.err().unwrap().code(), tonic::Code::DeadlineExceeded);
        assert_eq!(
            refused.err().unwrap().code(),
            tonic::Code::ResourceExhausted
        );
        drop(running);
        admission.enter(org, later()).await.unwrap();
    }
}
