use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use talkhouse_core::Event;
use talkhouse_core::generate::{GenerateConfig, Generator};

use super::*;
use crate::DataLocation;
use crate::maintain::session::{rows_of_kind, summed_rollups};
use crate::rollup::{RollupCounts, UserRollupKey};
use crate::schema::{KIND_ROLLUP, KIND_USER_ROLLUP};

fn generator() -> Generator {
    Generator::new(GenerateConfig {
        seed: 5,
        bots: 2,
        days: 12,
        until: NaiveDate::from_ymd_opt(2024, 3, 3).unwrap(),
        conversations_per_day: 12,
    })
}

async fn table_of(days: &[Vec<Event>]) -> (tempfile::TempDir, EventTable) {
    let folder = tempfile::tempdir().unwrap();
    let table = EventTable::open(&DataLocation::local(folder.path()).unwrap())
        .await
        .unwrap();
    for day in days {
        table.write(day.clone(), None).await.unwrap();
    }
    (folder, table)
}

/// The summed rollup and user rollup rows of a table.
async fn rollups(table: &EventTable) -> Vec<Vec<(UserRollupKey, RollupCounts)>> {
    let mut kinds = Vec::new();
    for kind in [KIND_ROLLUP, KIND_USER_ROLLUP] {
        let (ctx, rows) = rows_of_kind(table, kind).await;
        kinds.push(summed_rollups(&ctx, rows).await.unwrap());
    }
    kinds
}

/// Asserts `table` holds the rollups, messages and conversation versions a table written with
/// `expected` holds.
async fn assert_like_a_table_of(table: &EventTable, expected: &[Vec<Event>]) {
    let (_folder, reference) = table_of(expected).await;
    assert_same_rollups(table, &reference).await;
    for kind in [KIND_MESSAGE, KIND_CONVERSATION] {
        assert_eq!(
            count(table, kind).await,
            count(&reference, kind).await,
            "{kind}"
        );
    }
}

/// Asserts the two tables' rollups are equal, showing the rows that differ.
async fn assert_same_rollups(table: &EventTable, reference: &EventTable) {
    let (got, want) = (rollups(table).await, rollups(reference).await);
    for (got, want) in got.iter().zip(&want) {
        let got: HashMap<_, _> = got.iter().cloned().collect();
        let want: HashMap<_, _> = want.iter().cloned().collect();
        let differ: Vec<_> = got
            .keys()
            .chain(want.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|key| got.get(key) != want.get(key))
            .map(|key| {
                (
                    key.rollup.bucket_start,
                    &key.user_id,
                    got.get(key),
                    want.get(key),
                )
            })
            .take(5)
            .collect();
        assert!(
            differ.is_empty(),
            "rollups differ (bucket, user, got, want): {differ:?}"
        );
    }
}

async fn count(table: &EventTable, kind: &str) -> usize {
    let (_, rows) = rows_of_kind(table, kind).await;
    rows.count().await.unwrap()
}

/// `days` without every event of the sessions `doomed` picks (by tenant and session code).
fn without_sessions(
    days: &[Vec<Event>],
    doomed: &HashSet<(Tenant, String)>,
    message_kept: impl Fn(&talkhouse_core::Message) -> bool,
) -> Vec<Vec<Event>> {
    days.iter()
        .map(|day| {
            day.iter()
                .filter(|event| match event {
                    Event::Message(m) => {
                        !doomed.contains(&(m.tenant, m.session_code.clone())) && message_kept(m)
                    }
                    Event::Conversation(c) => !doomed.contains(&(c.tenant, c.session_code.clone())),
                })
                .cloned()
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn erasing_a_person_leaves_the_table_a_table_of_the_other_sessions_would_be() {
    let generator = generator();
    let days: Vec<Vec<Event>> = generator.events().collect();
    let tenant = generator.bots()[0].tenant;
    // The user with the most sessions of the first bot.
    let mut sessions_of: HashMap<String, HashSet<String>> = HashMap::new();
    for event in days.iter().flatten() {
        if let Event::Message(m) = event
            && m.tenant == tenant
        {
            sessions_of
                .entry(m.user_id.clone())
                .or_default()
                .insert(m.session_code.clone());
        }
    }
    let (user, sessions) = sessions_of
        .into_iter()
        .max_by_key(|(user, s)| (s.len(), user.clone()))
        .unwrap();
    assert!(sessions.len() >= 2, "a user with several sessions");
    let doomed: HashSet<(Tenant, String)> = sessions.iter().map(|s| (tenant, s.clone())).collect();

    let (_folder, table) = table_of(&days).await;
    let messages_before = count(&table, KIND_MESSAGE).await;
    let outcome = table
        .delete(&Deletion::Person {
            tenant,
            key: PersonKey::UserId(user.clone()),
        })
        .await
        .unwrap();
    assert_eq!(outcome.sessions, sessions.len() as u64);
    assert!(outcome.messages > 0 && outcome.version.is_some());

    let expected = without_sessions(&days, &doomed, |_| true);
    assert_like_a_table_of(&table, &expected).await;
    assert_eq!(
        count(&table, KIND_MESSAGE).await,
        messages_before - outcome.messages as usize
    );
    // Nothing of the person is left, and erasing again finds nothing.
    let (_, rows) = rows_of_kind(&table, KIND_MESSAGE).await;
    let left = rows.filter(col("user_id").eq(lit(user.as_str()))).unwrap();
    assert_eq!(left.count().await.unwrap(), 0);
    let again = table
        .delete(&Deletion::Person {
            tenant,
            key: PersonKey::UserId(user),
        })
        .await
        .unwrap();
    assert_eq!(again.version, None);
    assert_eq!(again.messages, 0);
}

#[tokio::test]
async fn retention_deletes_old_sessions_and_messages_of_its_scope_only() {
    let generator = generator();
    let days: Vec<Vec<Event>> = generator.events().collect();
    let (kept_bot, aged_bot) = (generator.bots()[1].tenant, generator.bots()[0].tenant);
    let before = DateTime::parse_from_rfc3339("2024-02-27T13:20:00Z")
        .unwrap()
        .to_utc();
    // The latest version of each session: greatest `updated_at`, the later one on a tie.
    let mut latest: HashMap<(Tenant, String), &talkhouse_core::Conversation> = HashMap::new();
    for event in days.iter().flatten() {
        if let Event::Conversation(c) = event {
            let key = (c.tenant, c.session_code.clone());
            if latest
                .get(&key)
                .is_none_or(|old| c.updated_at >= old.updated_at)
            {
                latest.insert(key, c);
            }
        }
    }
    let doomed: HashSet<(Tenant, String)> = latest
        .iter()
        .filter(|((tenant, _), c)| *tenant == aged_bot && c.started_at < before)
        .map(|(key, _)| key.clone())
        .collect();
    assert!(!doomed.is_empty());

    let (_folder, table) = table_of(&days).await;
    let scope = RetentionScope {
        org_id: aged_bot.org_id,
        bot: None,
        except: if kept_bot.org_id == aged_bot.org_id {
            vec![kept_bot]
        } else {
            Vec::new()
        },
    };
    let outcome = table
        .delete(&Deletion::OlderThan { scope, before })
        .await
        .unwrap();
    assert_eq!(outcome.sessions, doomed.len() as u64);

    let expected = without_sessions(&days, &doomed, |m| {
        m.tenant != aged_bot || m.sent_at >= before
    });
    assert_like_a_table_of(&table, &expected).await;
}
