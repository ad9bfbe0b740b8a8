//! Leases: work one server at a time should do (background compaction, vacuum, report
//! production and expiry), whoever wrote
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
//! Each holder remembers the newest term it has seen: while that term is unexpired nobody else
//! can take the lease, so the holder makes no request until it renews (one put per renewal), and
//! the others make none until it expires (a listing and a read per term).
//!
//! A lease makes work run once; it does not make running it twice safe. A holder paused past
//! its expiry may still be working when another takes over. The work guarded by leases here
//! already tolerates that (compaction's commits are checked against what landed, vacuum deletes
//! only what no kept version reads); the lease saves doing it twice.

use std::future::Future;
use std::sync::{Arc, Mutex};
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
    name: String,
    holder: String,
    term: Duration,
    /// The newest term this holder has read or written, and its number. Until it expires, nobody
    /// else can take the lease, so the holder renews it and the others wait without a request.
    known: Mutex<Option<(u64, Term)>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Term {
    holder: String,
    expires_at_ms: i64,
}

/// How a holder came to hold the lease at a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenure {
    /// It did not hold the lease at the round before: what the previous holder left may need
    /// picking up.
    Taken,
    /// It held the lease at the round before too.
    Kept,
}

impl Lease {
    /// The lease `name` of the data location, for `holder` (unique per process), whose terms last
    /// `term`.
    pub fn new(location: &DataLocation, name: &str, holder: &str, term: Duration) -> Result<Self> {
        Ok(Self {
            store: location.object_store()?,
            folder: Path::from_iter(["_leases", name]),
            name: name.to_string(),
            holder: holder.to_string(),
            term,
            known: Mutex::new(None),
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
        Ok(self.round().await?.is_some())
    }

    /// Whether the newest term this holder knows of is its own and unexpired; no request.
    pub fn is_held(&self) -> bool {
        self.known()
            .is_some_and(|(_, term)| term.holder == self.holder && term.expires_at_ms > now_ms())
    }

    /// Gives the lease up, so that another server takes it at once rather than at the end of the
    /// term: writes an expired term after this holder's own.
    pub async fn release(&self) -> Result<()> {
        let Some((number, term)) = self.known().filter(|_| self.is_held()) else {
            return Ok(());
        };
        debug_assert_eq!(term.holder, self.holder);
        self.write(number + 1, 0).await.map(|_| ())
    }

    /// Runs `round` every `interval`, the first after `first_after`, at each round this holder
    /// holds the lease. A round that outlasts the term loses the lease: long work belongs in a
    /// task of its own.
    pub fn spawn_rounds<F, R>(
        self: Arc<Self>,
        first_after: Duration,
        interval: Duration,
        mut round: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: FnMut(Tenure) -> R + Send + 'static,
        R: Future<Output = ()> + Send,
    {
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + first_after;
            let mut ticks = tokio::time::interval_at(start, interval.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.round().await {
                    Ok(Some(tenure)) => round(tenure).await,
                    Ok(None) => {
                        tracing::debug!(lease = %self.name, "another server holds the lease")
                    }
                    Err(error) => tracing::warn!(
                        lease = %self.name, %error,
                        "the lease could not be read; trying at the next round"
                    ),
                }
            }
        })
    }

    /// `Some` when this holder holds the lease after this call.
    async fn round(&self) -> Result<Option<Tenure>> {
        let now = now_ms();
        let term_ms = i64::try_from(self.term.as_millis()).unwrap_or(i64::MAX);
        let tenure = if self.is_held() {
            Tenure::Kept
        } else {
            Tenure::Taken
        };
        if let Some((number, term)) = self.known() {
            if term.holder == self.holder {
                if term.expires_at_ms - now > term_ms * 2 / 3 {
                    return Ok(Some(Tenure::Kept));
                }
                if self.write(number + 1, now.saturating_add(term_ms)).await? {
                    return Ok(Some(tenure));
                }
            } else if term.expires_at_ms > now {
                return Ok(None);
            }
        }
        let next = match self.newest().await? {
            None => 0,
            Some((number, term)) if term.expires_at_ms <= now => number + 1,
            Some(newest) => {
                *self.known.lock().expect("not poisoned") = Some(newest);
                return Ok(None);
            }
        };
        let taken = self.write(next, now.saturating_add(term_ms)).await?;
        Ok(taken.then_some(Tenure::Taken))
    }

    fn known(&self) -> Option<(u64, Term)> {
        self.known.lock().expect("not poisoned").clone()
    }

    /// Writes the term `number` for this holder, unless it exists; whether it did.
    async fn write(&self, number: u64, expires_at_ms: i64) -> Result<bool> {
        let term = Term {
            holder: self.holder.clone(),
            expires_at_ms,
        };
        let json = serde_json::to_vec(&term).expect("a term serializes");
        let put = self
            .store
            .put_opts(
                &self.path(number),
                PutPayload::from(json),
                PutMode::Create.into(),
            )
            .await;
        match put {
            Ok(_) => {
                *self.known.lock().expect("not poisoned") = Some((number, term));
                if number.is_multiple_of(TERMS_KEPT) {
                    self.forget_terms_before(number.saturating_sub(TERMS_KEPT))
                        .await;
                }
                Ok(true)
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                *self.known.lock().expect("not poisoned") = None;
                Ok(false)
            }
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
    async fn a_released_lease_is_taken_at_once_and_nobody_asks_while_a_term_is_fresh() {
        let folder = tempfile::tempdir().unwrap();
        let first = lease(folder.path(), "first", Duration::from_secs(60));
        let second = lease(folder.path(), "second", Duration::from_secs(60));
        assert_eq!(first.round().await.unwrap(), Some(Tenure::Taken));
        assert_eq!(first.round().await.unwrap(), Some(Tenure::Kept));
        assert!(first.is_held());
        assert_eq!(second.round().await.unwrap(), None);
        assert!(!second.is_held());

        // With the terms remembered, neither looks at storage again before the term runs out.
        std::fs::remove_dir_all(folder.path().join("_leases")).unwrap();
        assert_eq!(first.round().await.unwrap(), Some(Tenure::Kept));
        assert_eq!(second.round().await.unwrap(), None);

        let folder = tempfile::tempdir().unwrap();
        let first = lease(folder.path(), "first", Duration::from_secs(60));
        let second = lease(folder.path(), "second", Duration::from_secs(60));
        assert!(first.hold().await.unwrap());
        first.release().await.unwrap();
        assert!(!first.is_held());
        assert_eq!(second.round().await.unwrap(), Some(Tenure::Taken));
        assert!(!first.hold().await.unwrap());
    }

    #[tokio::test]
    async fn old_terms_are_deleted() {
        let folder = tempfile::tempdir().unwrap();
        let holder = lease(folder.path(), "holder", Duration::ZERO);
        for _ in 0..20 {
            assert!(holder.hold().await.unwrap());
        }
        let numbers = holder.term_numbers().await.unwrap();
        assert!(numbers.len() <= 2 * TERMS_KEPT as usize, "{numbers:?}");
        assert_eq!(numbers.into_iter().max(), Some(19));
    }
}
