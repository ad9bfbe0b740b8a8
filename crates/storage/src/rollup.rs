//! Rollups: what the traffic, accuracy and series endpoints count, summed per bot, 15-minute UTC
//! bucket, channel and whether the item is untagged.
//!
//! Every real UTC offset is a multiple of 15 minutes, so a local day, hour or daylight-saving
//! change starts on a bucket boundary in every zone: a window's ranges are unions of whole
//! buckets, and summing buckets answers it exactly. The rows live in the `events` table itself
//! (kind `rollup`) and are written in the same commit as the events they count, so the rollups of
//! any snapshot are exactly its events'.
//!
//! Every commit also keeps, per bucket, channel and untagged, the count of each user's
//! latest conversation versions (kind `user_rollup`, the user in `user_id`): the distinct users of
//! any window and each user's first conversation are read from these rows, not from the
//! conversations.
//!
//! Messages only ever add. A conversation counts once, at its latest version (the rule of the
//! `conversations` view); when a batch brings a newer version of a stored conversation, the batch
//! also subtracts the stored version's count, so the sums stay exact without rewriting anything.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use foldhash::fast::RandomState;
use talkhouse_core::measure::{Measure, accuracy_measure, accuracy_measure_of};
use talkhouse_core::{ContentType, Event, Message, NlpResponse, Sender, Tenant};
use uuid::Uuid;

use crate::versions::{BatchVersions, ConversationVersion};

/// The bucket width, in microseconds.
pub const BUCKET_MICROS: i64 = 15 * 60 * 1_000_000;

/// The rollup columns, appended to the event columns in new tables.
pub const ROLLUP_UNTAGGED: &str = "rollup_untagged";
/// The column of each measure, in the order of [`Measure::ALL`].
pub const ROLLUP_COUNTS: [&str; Measure::ALL.len()] = [
    "rollup_conversations",
    "rollup_user_messages",
    "rollup_bot_messages",
    "rollup_found",
    "rollup_not_found",
];

/// The column that holds `measure`.
pub fn rollup_column(measure: Measure) -> &'static str {
    ROLLUP_COUNTS[measure.position()]
}

/// The start of the bucket holding `micros`.
pub fn bucket_start(micros: i64) -> i64 {
    micros - micros.rem_euclid(BUCKET_MICROS)
}

/// One rollup row's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    pub tenant: Tenant,
    pub bucket_start: i64,
    pub channel_uuid: Uuid,
    pub untagged: bool,
}

/// One user rollup row's dimensions: a user's latest conversation versions in one rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserRollupKey {
    pub rollup: RollupKey,
    pub user_id: String,
}

/// One rollup row's counts, in the order of [`Measure::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RollupCounts(pub [i64; Measure::ALL.len()]);

impl RollupCounts {
    fn add(&mut self, measure: Measure, count: i64) {
        self.0[measure.position()] += count;
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }

    /// The counts of a user rollup row holding `conversations`.
    pub fn of_conversations(conversations: i64) -> Self {
        let mut counts = Self::default();
        counts.add(Measure::Conversations, conversations);
        counts
    }

    pub fn conversations(&self) -> i64 {
        self.0[Measure::Conversations.position()]
    }
}

/// What the counts hold of a stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub tenant: Tenant,
    pub sent_at: DateTime<Utc>,
    pub channel_uuid: Uuid,
    pub untagged: bool,
    pub sender: Sender,
    pub content_type: ContentType,
    pub nlp_response: Option<NlpResponse>,
}

/// The rollup rows one batch adds.
#[derive(Debug, Default)]
pub struct Rollup {
    rows: HashMap<RollupKey, RollupCounts, RandomState>,
    /// The user rollup rows.
    users: HashMap<UserRollupKey, i64, RandomState>,
}

impl Rollup {
    /// The rows of a batch: its messages, and the conversations whose latest version it changes.
    pub fn of_batch<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        versions: &BatchVersions,
    ) -> Self {
        let mut rollup = Self::default();
        for event in events {
            if let Event::Message(m) = event {
                rollup.add_message(m);
            }
        }
        for superseding in &versions.superseding {
            if let Some(old) = &superseding.stored {
                rollup.add_conversation(superseding.tenant, old, -1);
            }
            rollup.add_conversation(superseding.tenant, &superseding.latest, 1);
        }
        rollup.rows.retain(|_, counts| !counts.is_zero());
        rollup.users.retain(|_, count| *count != 0);
        rollup
    }

    fn add_message(&mut self, m: &Message) {
        let counts = self.counts(m.tenant, m.sent_at, m.channel_uuid, m.tags.is_empty());
        counts.add(Measure::of_sender(m.sender), 1);
        if let Some(measure) = accuracy_measure(m) {
            counts.add(measure, 1);
        }
    }

    /// Takes a stored message out of the counts: what [`Rollup::of_batch`] added for it.
    pub fn retract_message(&mut self, message: &StoredMessage) {
        let counts = self.counts(
            message.tenant,
            message.sent_at,
            message.channel_uuid,
            message.untagged,
        );
        counts.add(Measure::of_sender(message.sender), -1);
        if let Some(measure) =
            accuracy_measure_of(message.sender, message.content_type, message.nlp_response)
        {
            counts.add(measure, -1);
        }
    }

    /// Takes a session out of the counts: its latest version, which the counts hold.
    pub fn retract_conversation(&mut self, tenant: Tenant, latest: &ConversationVersion) {
        self.add_conversation(tenant, latest, -1);
    }

    /// Drops the rows that sum to nothing.
    pub fn without_zeros(mut self) -> Self {
        self.rows.retain(|_, counts| !counts.is_zero());
        self.users.retain(|_, count| *count != 0);
        self
    }

    fn add_conversation(&mut self, tenant: Tenant, version: &ConversationVersion, sign: i64) {
        let started_at = DateTime::<Utc>::from_timestamp_micros(version.started_at)
            .expect("stored instants are in range");
        let counts = self.counts(tenant, started_at, version.channel_uuid, version.untagged);
        counts.add(Measure::Conversations, sign);
        let key = UserRollupKey {
            rollup: RollupKey {
                tenant,
                bucket_start: bucket_start(version.started_at),
                channel_uuid: version.channel_uuid,
                untagged: version.untagged,
            },
            user_id: version.user_id.clone(),
        };
        *self.users.entry(key).or_default() += sign;
    }

    fn counts(
        &mut self,
        tenant: Tenant,
        at: DateTime<Utc>,
        channel_uuid: Uuid,
        untagged: bool,
    ) -> &mut RollupCounts {
        let key = RollupKey {
            tenant,
            bucket_start: bucket_start(at.timestamp_micros()),
            channel_uuid,
            untagged,
        };
        self.rows.entry(key).or_default()
    }

    /// The rows, ordered by their key.
    pub fn rows(&self) -> Vec<(RollupKey, RollupCounts)> {
        let mut rows: Vec<_> = self.rows.iter().map(|(k, c)| (*k, *c)).collect();
        rows.sort_by_key(|(key, _)| *key);
        rows
    }

    /// The user rollup rows with their conversation counts, ordered by their key.
    pub fn user_rows(&self) -> Vec<(UserRollupKey, i64)> {
        let mut rows: Vec<_> = self
            .users
            .iter()
            .map(|(key, count)| (key.clone(), *count))
            .collect();
        rows.sort();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events;
    use crate::versions::StoredVersions;
    use chrono::TimeZone;
    use talkhouse_core::Conversation;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 10, h, m, 0).unwrap()
    }

    #[test]
    fn buckets_start_every_quarter_hour_before_and_after_the_epoch() {
        assert_eq!(
            bucket_start(at(7, 44).timestamp_micros()),
            at(7, 30).timestamp_micros()
        );
        assert_eq!(
            bucket_start(at(7, 45).timestamp_micros()),
            at(7, 45).timestamp_micros()
        );
        assert_eq!(bucket_start(-1), -BUCKET_MICROS);
    }

    fn conversation(tenant: Tenant, updated: DateTime<Utc>, tags: &[&str]) -> Event {
        Event::Conversation(Conversation {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..test_events::conversation(tenant, "s1", at(7, 50), updated)
        })
    }

    #[test]
    fn a_newer_version_moves_the_count_and_an_older_one_changes_nothing() {
        let tenant = Tenant {
            org_id: Uuid::nil(),
            env_id: Uuid::nil(),
            bot_id: Uuid::nil(),
        };
        let key = |untagged| RollupKey {
            tenant,
            bucket_start: at(7, 45).timestamp_micros(),
            channel_uuid: Uuid::nil(),
            untagged,
        };
        let first = conversation(tenant, at(8, 0), &[]);
        let of_batch = |events: &[&Event], stored: &StoredVersions, written_at| {
            Rollup::of_batch(
                events.iter().copied(),
                &BatchVersions::of_batch(events, stored, written_at),
            )
        };
        let rollup = |events: &[&Event], stored: &StoredVersions, written_at| {
            of_batch(events, stored, written_at).rows()
        };
        let user = |untagged, user_id: &str| UserRollupKey {
            rollup: key(untagged),
            user_id: user_id.into(),
        };
        let rows = rollup(&[&first], &StoredVersions::new(), 10);
        assert_eq!(rows, vec![(key(true), RollupCounts([1, 0, 0, 0, 0]))]);
        assert_eq!(
            of_batch(&[&first], &StoredVersions::new(), 10).user_rows(),
            vec![(user(true, "u"), 1)]
        );

        let mut stored = StoredVersions::new();
        let Event::Conversation(c) = &first else {
            unreachable!()
        };
        stored.insert((tenant, "s1".into()), ConversationVersion::of(c, 10, 0));
        let mut tagged = conversation(tenant, at(9, 0), &["vip"]);
        if let Event::Conversation(c) = &mut tagged {
            c.user_id = "v".into();
        }
        let rows = rollup(&[&tagged], &stored, 20);
        assert_eq!(
            rows,
            vec![
                (key(false), RollupCounts([1, 0, 0, 0, 0])),
                (key(true), RollupCounts([-1, 0, 0, 0, 0])),
            ]
        );
        // The session moves to another user: the stored user's row is retracted.
        assert_eq!(
            of_batch(&[&tagged], &stored, 20).user_rows(),
            vec![(user(false, "v"), 1), (user(true, "u"), -1)]
        );
        let older = conversation(tenant, at(7, 55), &["vip"]);
        assert!(rollup(&[&older], &stored, 20).is_empty());
        assert!(of_batch(&[&older], &stored, 20).user_rows().is_empty());
    }
}
