//! Which conversation versions a batch supersedes, decided once at write time.
//!
//! The latest version of a session (greatest `updated_at`, then the one written last) is the one
//! every conversation answer counts. The writer already reads the latest stored version of each
//! session its batch touches, so it knows, for every version it writes, whether a newer one
//! exists, and which stored version its batch supersedes. Every commit keeps that knowledge:
//!
//! - a version row carries `superseded_at_write`: a newer version of its session was in its own
//!   batch or already stored;
//! - a row of kind `superseded` names the stored version a batch superseded, by its session,
//!   `superseded_written_at` and `superseded_batch_line`.
//!
//! The `conversations` view is then the versions not superseded at write and not named by a
//! `superseded` row: a filter on `started_at` reaches the scan, where a window over every version
//! of the bot could not let it through. Rollups retract exactly the versions named here.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

use talkhouse_core::latest::{Latest, VERSION_ORDER, latest_first_sql};
use talkhouse_core::{Conversation, Event, Tenant};
use uuid::Uuid;

/// The columns that hold them, appended to the table's columns.
pub const SUPERSEDED_AT_WRITE: &str = "superseded_at_write";
pub const SUPERSEDED_WRITTEN_AT: &str = "superseded_written_at";
pub const SUPERSEDED_BATCH_LINE: &str = "superseded_batch_line";

/// Where a conversation version counts, and its place in the order that picks the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationVersion {
    pub started_at: i64,
    pub channel_uuid: Uuid,
    pub user_id: String,
    pub untagged: bool,
    /// The greatest is the latest version.
    pub order: Latest,
}

impl ConversationVersion {
    pub(crate) fn of(c: &Conversation, written_at: i64, batch_line: i64) -> Self {
        Self {
            started_at: c.started_at.timestamp_micros(),
            channel_uuid: c.channel_uuid,
            user_id: c.user_id.clone(),
            untagged: c.tags.is_empty(),
            order: Latest {
                at: c.updated_at.timestamp_micros(),
                written_at,
                batch_line,
            },
        }
    }
}

/// The columns a session's versions are grouped by.
pub const SESSION_COLUMNS: &str = "org_id, env_id, bot_id, session_code";

/// The window that ranks a session's versions latest first, in SQL: the order of
/// [`ConversationVersion::order`].
pub fn latest_version_first() -> String {
    format!(
        "PARTITION BY {SESSION_COLUMNS} ORDER BY {}",
        latest_first_sql(&VERSION_ORDER)
    )
}

/// A set of batch lines. Hashed with foldhash: a batch holds up to a million lines, each looked up
/// once when encoded, and SipHash was among the writer's most sampled functions (`perf`).
pub type LineSet = HashSet<i64, RandomState>;

/// The latest stored version of each conversation a batch touches.
pub type StoredVersions = HashMap<(Tenant, String), ConversationVersion>;

/// A session whose latest version changes with the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseding {
    pub tenant: Tenant,
    pub session_code: String,
    /// The stored version that stops being the latest, if one was stored.
    pub stored: Option<ConversationVersion>,
    /// The batch's latest version of the session, the new latest.
    pub latest: ConversationVersion,
}

/// What a batch does to the latest versions of the sessions it touches.
#[derive(Debug, Default)]
pub struct BatchVersions {
    /// Per session whose latest version the batch brings.
    pub superseding: Vec<Superseding>,
    /// Batch lines of conversation versions that are not their session's latest once written.
    pub superseded_at_write: LineSet,
}

impl BatchVersions {
    /// `events` in batch order (their `batch_line` is their index), all stamped `written_at`,
    /// against the latest `stored` versions of their sessions.
    pub fn of_batch(events: &[&Event], stored: &StoredVersions, written_at: i64) -> Self {
        let mut latest: HashMap<(Tenant, &str), (i64, ConversationVersion), RandomState> =
            HashMap::default();
        let mut versions = Self::default();
        for (line, event) in events.iter().enumerate() {
            let Event::Conversation(c) = event else {
                continue;
            };
            let line = line as i64;
            let version = ConversationVersion::of(c, written_at, line);
            match latest.get_mut(&(c.tenant, c.session_code.as_str())) {
                Some(best) if best.1.order >= version.order => {
                    versions.superseded_at_write.insert(line);
                }
                Some(best) => {
                    versions.superseded_at_write.insert(best.0);
                    *best = (line, version);
                }
                None => {
                    latest.insert((c.tenant, c.session_code.as_str()), (line, version));
                }
            }
        }
        for ((tenant, session_code), (line, version)) in latest {
            let stored = stored.get(&(tenant, session_code.to_string()));
            if stored.is_some_and(|old| old.order >= version.order) {
                versions.superseded_at_write.insert(line);
                continue;
            }
            versions.superseding.push(Superseding {
                tenant,
                session_code: session_code.to_string(),
                stored: stored.cloned(),
                latest: version,
            });
        }
        versions
            .superseding
            .sort_by(|a, b| (a.tenant, &a.session_code).cmp(&(b.tenant, &b.session_code)));
        versions
    }

    /// The stored versions the batch supersedes, with their sessions.
    pub fn superseded_stored(&self) -> impl Iterator<Item = (&Superseding, &ConversationVersion)> {
        self.superseding
            .iter()
            .filter_map(|s| s.stored.as_ref().map(|old| (s, old)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events::{conversation_event, tenant};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 10, h, 0, 0).unwrap()
    }

    fn version(session: &str, updated: DateTime<Utc>) -> Event {
        conversation_event(tenant(0), session, at(7), updated)
    }

    #[test]
    fn every_version_but_the_latest_is_superseded_in_the_batch_or_by_a_marker() {
        let events = [
            version("a", at(9)),
            version("a", at(8)),
            version("b", at(8)),
            version("a", at(9)),
            version("c", at(8)),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let tenant = events[0].tenant();
        let mut stored = StoredVersions::new();
        // `b` is stored newer than the batch's; `c` older.
        stored.insert(
            (tenant, "b".into()),
            ConversationVersion {
                started_at: 0,
                channel_uuid: Uuid::nil(),
                user_id: "u".into(),
                untagged: true,
                order: Latest {
                    at: at(10).timestamp_micros(),
                    written_at: 1,
                    batch_line: 0,
                },
            },
        );
        let old_c = ConversationVersion {
            started_at: 0,
            channel_uuid: Uuid::nil(),
            user_id: "u".into(),
            untagged: true,
            order: Latest {
                at: at(7).timestamp_micros(),
                written_at: 1,
                batch_line: 4,
            },
        };
        stored.insert((tenant, "c".into()), old_c.clone());
        let versions = BatchVersions::of_batch(&refs, &stored, 5);

        // Equal `updated_at`: the later line wins, so line 3 is the latest of `a`.
        let mut superseded: Vec<i64> = versions.superseded_at_write.iter().copied().collect();
        superseded.sort();
        assert_eq!(superseded, [0, 1, 2]);
        let latest: Vec<(&str, i64)> = versions
            .superseding
            .iter()
            .map(|s| (s.session_code.as_str(), s.latest.order.batch_line))
            .collect();
        assert_eq!(latest, vec![("a", 3), ("c", 4)]);
        let stored: Vec<_> = versions.superseded_stored().map(|(_, old)| old).collect();
        assert_eq!(stored, vec![&old_c]);
    }
}
