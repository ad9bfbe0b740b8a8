//! Leases: work one server at a time should do (background compaction, vacuum), whoever wrote
//! the newest of a sequence of lease objects holds it.
//!
//! A lease named `name` is a sequence of terms, the objects `_leases/{name}/{term:020}.json` under
//! the data location, each `{"holder": …, "expires_at_ms": …}` and each written with a
//! put-if-absent (`If-None-Match` on S3). The newest term says who holds the lease and until
//! when. To renew or take the lease, a server writes the next term; of several racing for it,
//! exactly one put succeeds. A holder that dies stops renewing, and once its term has expired the
//! next server to look takes the next term. Holders compare their own clocks with the expiry, so
//! a term should be much longer than the clocks' skew.
//!
//! A lease makes work run once; it does not make running it twice safe. A holder paused past
//! its expiry may still be working when another takes over. The work guarded by leases here
//! already tolerates that (compaction's commits are checked against what landed, vacuum deletes
//! only what no kept version reads); the lease saves doing it twice.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};

use crate::{DataLocation, Error, Result};

/// Terms kept behind the newest, for whoever reads the history; older ones are deleted.
const TERMS_KEPT: u64 = 8;

/// One lease, as one holder sees it.
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    folder: Path,
    holder: String,
    term: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Term {
    holder: String,
    expires_at_ms: i64,
}

impl Lease {
    /// The lease `name` of the data location, for `holder` (unique per process), whose terms last
    /// `term`.
    pub fn new(location: &DataLocation, name: &str, holder: &str, term: Duration) -> Result<Self> {
        Ok(Self {
            store: location.object_store()?,
            folder: Path::from_iter(["_leases", name]),
            holder: holder.to_string(),
            term,
        })
    }

    /// A holder name unique to this process: the host, the process id and a random part.
    pub fn process_holder() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_string());
        format!("{host}:{}:{}", std::process::id(), uuid::Uuid::new_v4())
    }

    /// Whether this holder holds the lease now: it renews a term of its own once a third of it has
    /// passed, and takes the lease when the newest term has expired.
    pub async fn hold(&self) -> Result<bool> {
        let now = now_ms();
        let term_ms = i64::try_from(self.term.as_millis()).unwrap_or(i64::MAX);
        let next = match self.newest().await? {
            None => 0,
            Some((number, term)) if term.holder == self.holder => {
                if term.expires_at_ms - now > term_ms * 2 / 3 {
                    return Ok(true);
                }
                number + 1
            }
            Some((number, term)) if term.expires_at_ms <= now => number + 1,
            Some(_) => return Ok(false),
        };
        let term = Term {
            holder: self.holder.clone(),
            expires_at_ms: now.saturating_add(term_ms),
        };
        let json = serde_json::to_vec(&term).expect("a term serializes");
        match self
            .store
            .put_opts(
                &self.path(next),
                PutPayload::from(json),
                PutMode::Create.into(),
            )
            .await
        {
            Ok(_) => {
                self.forget_terms_before(next.saturating_sub(TERMS_KEPT))
                    .await;
                Ok(true)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(error) => Err(Error::ObjectStore(error)),
        }
    }

    /// The newest term and its number; `None` before the first.
    async fn newest(&self) -> Result<Option<(u64, Term)>> {
        let Some(number) = self.term_numbers().await?.into_iter().max() else {
            return Ok(None);
        };
        let bytes = self
            .store
            .get(&self.path(number))
            .await
            .map_err(Error::ObjectStore)?
            .bytes()
            .await
            .map_err(Error::ObjectStore)?;
        // A term this build cannot read counts as expired, so the lease is not stuck on it.
        let term = serde_json::from_slice(&bytes).unwrap_or(Term {
            holder: String::new(),
            expires_at_ms: 0,
        });
        Ok(Some((number, term)))
    }

    async fn term_numbers(&self) -> Result<Vec<u64>> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.folder))
            .try_collect()
            .await
            .map_err(Error::ObjectStore)?;
        Ok(listed
            .iter()
            .filter_map(|meta| {
                meta.location
                    .filename()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect())
    }

    /// Deletes the terms numbered below `first`; a failure only leaves them for the next time.
    async fn forget_terms_before(&self, first: u64) {
        let Ok(numbers) = self.term_numbers().await else {
            return;
        };
        for number in numbers.into_iter().filter(|n| *n < first) {
            let _ = self.store.delete(&self.path(number)).await;
        }
    }

    fn path(&self, number: u64) -> Path {
        self.folder.clone().join(format!("{number:020}.json"))
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(folder: &std::path::Path, holder: &str, term: Duration) -> Lease {
        let location = DataLocation::local(folder).unwrap();
        Lease::new(&location, "compaction", holder, term).unwrap()
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_another_takes_over_when_the_term_runs_out() {
        let folder = tempfile::tempdir().unwrap();
        let term = Duration::from_millis(600);
        let first = lease(folder.path(), "first", term);
        let second = lease(folder.path(), "second", term);
        assert!(first.hold().await.unwrap());
        assert!(first.hold().await.unwrap(), "a holder keeps its lease");
        assert!(!second.hold().await.unwrap());

        // The first renews after a third of its term, and keeps it past the first expiry.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(first.hold().await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!second.hold().await.unwrap());

        // The first stops renewing (it died): once its term is over, the second takes over.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(second.hold().await.unwrap());
        assert!(!first.hold().await.unwrap());
    }

    #[tokio::test]
    async fn of_many_racing_for_a_free_lease_exactly_one_wins() {
        let folder = tempfile::tempdir().unwrap();
        let racers: Vec<_> = (0..8)
            .map(|n| {
                lease(
                    folder.path(),
                    &format!("racer-{n}"),
                    Duration::from_secs(60),
                )
            })
            .collect();
        let won = futures::future::join_all(racers.iter().map(Lease::hold)).await;
        let winners = won
            .into_iter()
            .filter(|held| *held.as_ref().unwrap())
            .count();
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn old_terms_are_deleted() {
        let folder = tempfile::tempdir().unwrap();
        let holder = lease(folder.path(), "holder", Duration::ZERO);
        for _ in 0..20 {
            assert!(holder.hold().await.unwrap());
        }
        let numbers = holder.term_numbers().await.unwrap();
        assert!(numbers.len() <= TERMS_KEPT as usize + 1, "{numbers:?}");
        assert_eq!(numbers.into_iter().max(), Some(19));
    }
}
