//! `talkhouse retain` and `serve --retention-config`: the events older than each organization's
//! or bot's period leave the table, one commit per rule, the rollups adjusted in it (see
//! `talkhouse_storage::Deletion`). `vacuum` then deletes the files that held them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use talkhouse_core::retention::{RetentionPolicy, RetentionRule};
use talkhouse_storage::{DataLocation, Deletion, DeletionOutcome, EventTable, RetentionScope};

use crate::CliError;
use crate::args::RetainArgs;

pub async fn run(data: &DataLocation, args: RetainArgs) -> Result<(), CliError> {
    let policy = load(&args.config)?;
    let table = EventTable::open(data).await?;
    for (rule, outcome) in apply(&table, &policy, Utc::now()).await? {
        println!("{}", describe(&rule, &outcome));
    }
    Ok(())
}

/// The policy in a retention config file, validated.
pub fn load(path: &Path) -> Result<RetentionPolicy, CliError> {
    let invalid = |e: &dyn std::fmt::Display| {
        CliError::Usage(format!("retention config {}: {e}", path.display()))
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(&e))?;
    RetentionPolicy::parse(&text).map_err(|e| invalid(&e))
}

/// Deletes what each rule's period no longer keeps as of `now`, rule by rule.
pub async fn apply(
    table: &EventTable,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<(RetentionRule, DeletionOutcome)>, CliError> {
    let mut done = Vec::with_capacity(policy.rules.len());
    for rule in &policy.rules {
        let scope = RetentionScope {
            org_id: rule.org_id,
            bot: rule.bot().map(|bot| (bot.env_id, bot.bot_id)),
            except: match rule.bot() {
                Some(_) => Vec::new(),
                None => policy.own_rules_in(rule.org_id),
            },
        };
        let before = rule.cutoff(now);
        let outcome = table.delete(&Deletion::OlderThan { scope, before }).await?;
        done.push((rule.clone(), outcome));
    }
    Ok(done)
}

/// Applies the policy every `interval`, for as long as the server runs, while it holds the
/// retention lease.
pub fn spawn_background(
    location: &DataLocation,
    table: Arc<EventTable>,
    interval: Duration,
    policy: RetentionPolicy,
) -> Result<(), CliError> {
    let policy = Arc::new(policy);
    crate::background::spawn(location, "retention", interval, move || {
        let (table, policy) = (table.clone(), policy.clone());
        async move {
            for (rule, outcome) in apply(&table, &policy, Utc::now()).await? {
                tracing::info!("{}", describe(&rule, &outcome));
            }
            Ok(())
        }
    })
}

fn describe(rule: &RetentionRule, outcome: &DeletionOutcome) -> String {
    let whose = match rule.bot() {
        Some(bot) => format!("bot {} of organization {}", bot.bot_id, bot.org_id),
        None => format!("organization {}", rule.org_id),
    };
    let version = outcome
        .version
        .map_or("nothing to delete".to_string(), |v| format!("version {v}"));
    format!(
        "{whose}, {} days: deleted {} sessions, {} messages and {} conversation versions ({version})",
        rule.days, outcome.sessions, outcome.messages, outcome.conversation_versions
    )
}
