//! How long a deployment keeps events: a period per organization, and per bot within it. A bot's
//! own period wins over its organization's; a bot with neither keeps everything.
//!
//! Read from a JSON file:
//! `{"rules": [{"orgId": "…", "days": 365}, {"orgId": "…", "envId": "…", "botId": "…", "days": 30}]}`.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::Tenant;

/// One period: an organization's (no `env_id`, no `bot_id`) or one bot's (all three ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    pub org_id: Uuid,
    pub env_id: Option<Uuid>,
    pub bot_id: Option<Uuid>,
    /// Events older than this many days are deleted.
    pub days: u32,
}

impl RetentionRule {
    /// What the rule keeps as of `now`: the events of the last `days` whole UTC days and of
    /// today; everything before the start of that first day goes. A whole day makes the cut the
    /// same for every run of that day.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let first_day = now.date_naive() - chrono::Days::new(u64::from(self.days));
        first_day.and_time(NaiveTime::MIN).and_utc()
    }

    /// The bot the rule is for; `None` for an organization's rule.
    pub fn bot(&self) -> Option<Tenant> {
        Some(Tenant {
            org_id: self.org_id,
            env_id: self.env_id?,
            bot_id: self.bot_id?,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub rules: Vec<RetentionRule>,
}

/// A rule as written, before its ids are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WrittenRule {
    org_id: String,
    #[serde(default)]
    env_id: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenPolicy {
    rules: Vec<WrittenRule>,
}

impl RetentionPolicy {
    /// The policy of a JSON config file, validated; the error names the rule and field.
    pub fn parse(json: &str) -> Result<Self, String> {
        let written: WrittenPolicy = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut rules = Vec::with_capacity(written.rules.len());
        for (index, rule) in written.rules.into_iter().enumerate() {
            let uuid = |field: &str, text: &str| {
                crate::ingest::parse_uuid(text).ok_or_else(|| {
                    format!("rules[{index}].{field} must be a hyphenated UUID, got {text:?}")
                })
            };
            let days = u32::try_from(rule.days)
                .map_err(|_| format!("rules[{index}].days must be a whole number of days"))?;
            rules.push(RetentionRule {
                org_id: uuid("orgId", &rule.org_id)?,
                env_id: rule.env_id.map(|e| uuid("envId", &e)).transpose()?,
                bot_id: rule.bot_id.map(|b| uuid("botId", &b)).transpose()?,
                days,
            });
        }
        let policy = Self { rules };
        policy.validate()?;
        Ok(policy)
    }

    /// Every rule keeps at least a day, names a bot by all three ids or none, and no
    /// organization or bot has two rules.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{index}]");
            if rule.days == 0 {
                return Err(format!("{at}.days must be at least 1"));
            }
            if rule.env_id.is_some() != rule.bot_id.is_some() {
                return Err(format!(
                    "{at} must name a bot by envId and botId together, or neither for its whole organization"
                ));
            }
            if !seen.insert((rule.org_id, rule.env_id, rule.bot_id)) {
                return Err(format!(
                    "{at} repeats an earlier rule's organization or bot"
                ));
            }
        }
        Ok(())
    }

    /// The bots that have a rule of their own in `org_id`.
    pub fn own_rules_in(&self, org_id: Uuid) -> Vec<Tenant> {
        self.rules
            .iter()
            .filter_map(RetentionRule::bot)
            .filter(|bot| bot.org_id == org_id)
            .collect()
    }

    /// The period `tenant` keeps, in days: its own rule's, else its organization's.
    pub fn days(&self, tenant: &Tenant) -> Option<u32> {
        let own = self.rules.iter().find(|r| r.bot() == Some(*tenant));
        let org = || {
            self.rules
                .iter()
                .find(|r| r.bot().is_none() && r.org_id == tenant.org_id)
        };
        own.or_else(org).map(|rule| rule.days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_bot_rule_wins_over_its_organization_and_rules_are_checked() {
        let policy = RetentionPolicy::parse(&format!(
            r#"{{"rules": [{{"orgId": "{}", "days": 365}},
                           {{"orgId": "{}", "envId": "{}", "botId": "{}", "days": 30}}]}}"#,
            id(1),
            id(1),
            id(2),
            id(3)
        ))
        .unwrap();
        policy.validate().unwrap();
        let bot = |org, bot| Tenant {
            org_id: id(org),
            env_id: id(2),
            bot_id: id(bot),
        };
        assert_eq!(policy.days(&bot(1, 3)), Some(30));
        assert_eq!(policy.days(&bot(1, 4)), Some(365));
        assert_eq!(policy.days(&bot(9, 3)), None, "another organization's bot");
        assert_eq!(policy.own_rules_in(id(1)), vec![bot(1, 3)]);
        let now = DateTime::parse_from_rfc3339("2024-03-31T17:45:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            policy.rules[1].cutoff(now).to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );

        let invalid = |json: &str| RetentionPolicy::parse(json).unwrap_err();
        let org = id(1);
        assert!(
            invalid(&format!(
                r#"{{"rules": [{{"orgId": "{org}", "days": 0}}]}}"#
            ))
            .contains("days")
        );
        assert!(
            invalid(&format!(
                r#"{{"rules": [{{"orgId": "{org}", "botId": "{org}", "days": 1}}]}}"#
            ))
            .contains("envId and botId")
        );
        assert!(
            invalid(&format!(
                r#"{{"rules": [{{"orgId": "{org}", "days": 1}}, {{"orgId": "{org}", "days": 2}}]}}"#
            ))
            .contains("repeats")
        );
        assert!(invalid(r#"{"rule": []}"#).contains("unknown field"));
        assert_eq!(
            invalid(r#"{"rules": [{"orgId": "x", "days": 1}]}"#),
            r#"rules[0].orgId must be a hyphenated UUID, got "x""#
        );
        assert!(
            invalid(&format!(
                r#"{{"rules": [{{"orgId": "{org}", "days": -1}}]}}"#
            ))
            .contains("days")
        );
    }
}
