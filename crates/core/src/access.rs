//! Who may do what: the scopes of the API and the grant a verified token carries.
//!
//! The server verifies a token's signature; this module reads the grant out of its claims and
//! decides whether that grant covers an action on a bot.

mod claims;

pub use claims::ClaimNames;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::Tenant;

/// What a call does, as a token's scopes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Dashboard figures, searches, transcripts, report previews and settings.
    Read,
    /// Create, list and download reports.
    Report,
    /// Write events.
    Ingest,
    /// Ad-hoc SQL over Arrow Flight SQL, on the rows of the granted bots.
    Sql,
    /// Everything above, and operations.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Report,
        Scope::Ingest,
        Scope::Sql,
        Scope::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Report => "report",
            Scope::Ingest => "ingest",
            Scope::Sql => "sql",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.name() == text)
            .ok_or_else(|| {
                format!("unknown scope {text:?}; known: read, report, ingest, sql, admin")
            })
    }
}

/// The environments or bots a grant covers: every one, or those listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Any,
    Only(BTreeSet<Uuid>),
}

impl Allowed {
    pub fn contains(&self, id: Uuid) -> bool {
        match self {
            Allowed::Any => true,
            Allowed::Only(ids) => ids.contains(&id),
        }
    }

    /// `*` is every id; otherwise each item must be a hyphenated UUID.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut ids = BTreeSet::new();
        for item in items {
            if item == "*" {
                return Ok(Allowed::Any);
            }
            let id = crate::ingest::parse_uuid(item)
                .ok_or_else(|| format!("{item:?} is neither `*` nor a hyphenated UUID"))?;
            ids.insert(id);
        }
        Ok(Allowed::Only(ids))
    }
}

/// What a verified token allows: one organization, some of its environments and bots, and
/// some scopes. `Admin` implies every other scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who the token was issued to (its `sub`), for the records of what it did.
    pub subject: Option<String>,
    pub org_id: Uuid,
    pub environments: Allowed,
    pub bots: Allowed,
    pub scopes: BTreeSet<Scope>,
}

/// Why a grant does not cover an action. The message never says whether the bot exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the token does not grant scope `{0}`")]
    Scope(Scope),
    #[error("the token does not grant access to this bot")]
    Tenant,
}

impl Grant {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    pub fn check_scope(&self, scope: Scope) -> Result<(), Denied> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Denied::Scope(scope))
        }
    }

    pub fn covers(&self, tenant: &Tenant) -> bool {
        tenant.org_id == self.org_id
            && self.environments.contains(tenant.env_id)
            && self.bots.contains(tenant.bot_id)
    }

    pub fn check_tenant(&self, tenant: &Tenant) -> Result<(), Denied> {
        if self.covers(tenant) {
            Ok(())
        } else {
            Err(Denied::Tenant)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn tenant(org: u8, env: u8, bot: u8) -> Tenant {
        Tenant {
            org_id: id(org),
            env_id: id(env),
            bot_id: id(bot),
        }
    }

    #[test]
    fn a_grant_covers_only_its_organization_environments_and_bots() {
        let grant = Grant {
            subject: None,
            org_id: id(1),
            environments: Allowed::Only(BTreeSet::from([id(2)])),
            bots: Allowed::Any,
            scopes: BTreeSet::from([Scope::Read]),
        };
        assert!(grant.covers(&tenant(1, 2, 9)));
        assert!(!grant.covers(&tenant(7, 2, 9)), "another organization");
        assert!(!grant.covers(&tenant(1, 3, 9)), "another environment");
        let narrow = Grant {
            bots: Allowed::Only(BTreeSet::from([id(9)])),
            ..grant
        };
        assert!(narrow.covers(&tenant(1, 2, 9)));
        assert!(!narrow.covers(&tenant(1, 2, 8)), "another bot");
    }

    #[test]
    fn admin_implies_every_scope_and_others_only_themselves() {
        let mut grant = Grant {
            subject: None,
            org_id: id(1),
            environments: Allowed::Any,
            bots: Allowed::Any,
            scopes: BTreeSet::from([Scope::Admin]),
        };
        for scope in Scope::ALL {
            assert!(grant.has_scope(scope));
        }
        grant.scopes = BTreeSet::from([Scope::Report]);
        assert_eq!(grant.check_scope(Scope::Report), Ok(()));
        assert_eq!(
            grant.check_scope(Scope::Read),
            Err(Denied::Scope(Scope::Read))
        );
        assert_eq!(
            grant.check_scope(Scope::Admin),
            Err(Denied::Scope(Scope::Admin))
        );
    }

    #[test]
    fn allowed_ids_parse_from_uuids_or_a_star() {
        let one = "00000000-0000-4000-8000-000000000001";
        assert_eq!(Allowed::parse(["*"]), Ok(Allowed::Any));
        assert_eq!(Allowed::parse([one, "*"]), Ok(Allowed::Any));
        assert!(matches!(Allowed::parse([one]), Ok(Allowed::Only(ids)) if ids.len() == 1));
        assert_eq!(Allowed::parse([]), Ok(Allowed::Only(BTreeSet::new())));
        assert!(Allowed::parse(["bot-1"]).is_err());
        assert_eq!("ingest".parse(), Ok(Scope::Ingest));
        assert!("write".parse::<Scope>().is_err());
    }
}
