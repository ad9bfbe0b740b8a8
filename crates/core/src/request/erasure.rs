//! An erasure request: one bot, and the key of the person whose sessions go (CONTRACT §2 names
//! `user_id` and `business_key` on every event).

use crate::Tenant;
use crate::ingest::MAX_NAME_CHARS;

use super::{Checker, TenantInput};

/// The column holding a person's key, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonKey {
    UserId(String),
    BusinessKey(String),
}

impl PersonKey {
    /// The column that holds it: `user_id` or `business_key`, which also names the kind of key.
    pub fn column(&self) -> &'static str {
        match self {
            PersonKey::UserId(_) => "user_id",
            PersonKey::BusinessKey(_) => "business_key",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            PersonKey::UserId(value) | PersonKey::BusinessKey(value) => value,
        }
    }
}

/// An erasure request as sent: empty strings are absent.
#[derive(Debug, Clone, Default)]
pub struct ErasureInput {
    pub bot: TenantInput,
    pub user_id: String,
    pub business_key: String,
}

impl ErasureInput {
    /// The bot and the key: exactly one of `user_id` and `business_key`, of at most the length an
    /// event may carry.
    pub fn check(&self, checker: &mut Checker) -> Option<(Tenant, PersonKey)> {
        let tenant = self.bot.check("bot", checker);
        let key = match (self.user_id.is_empty(), self.business_key.is_empty()) {
            (false, true) => Some(PersonKey::UserId(self.user_id.clone())),
            (true, false) => Some(PersonKey::BusinessKey(self.business_key.clone())),
            (true, true) => {
                checker.violation("user_id", "give the person's user_id or business_key");
                None
            }
            (false, false) => {
                checker.violation(
                    "business_key",
                    "give either user_id or business_key, not both",
                );
                None
            }
        };
        let key = key.filter(|key| {
            let fits = key.value().chars().count() <= MAX_NAME_CHARS;
            if !fits {
                checker.violation(
                    key.column(),
                    format!("must be at most {MAX_NAME_CHARS} characters, as stored"),
                );
            }
            fits
        });
        Some((tenant?, key?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(user_id: &str, business_key: &str) -> ErasureInput {
        ErasureInput {
            bot: TenantInput {
                org_id: "00000000-0000-0000-0000-000000000001".into(),
                env_id: "00000000-0000-0000-0000-000000000002".into(),
                bot_id: "00000000-0000-0000-0000-000000000003".into(),
            },
            user_id: user_id.into(),
            business_key: business_key.into(),
        }
    }

    fn fields(input: ErasureInput) -> Vec<String> {
        let mut checker = Checker::new();
        let checked = input.check(&mut checker);
        checker
            .finish(checked)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn exactly_one_key_within_the_stored_length() {
        let mut checker = Checker::new();
        let (_, key) = input("u-1", "").check(&mut checker).unwrap();
        assert_eq!(key, PersonKey::UserId("u-1".into()));
        assert_eq!(fields(input("", "")), ["user_id"]);
        assert_eq!(fields(input("u", "k")), ["business_key"]);
        assert_eq!(fields(input("", &"k".repeat(300))), ["business_key"]);
        let mut bad = input("u", "");
        bad.bot.env_id = "nope".into();
        assert_eq!(fields(bad), ["bot.env_id"]);
    }
}
