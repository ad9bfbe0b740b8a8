//! Reading a grant out of a token's claims, under configurable claim names.

use super::{Allowed, Grant, Scope};
use serde_json::Value;

/// Which claims carry the grant. A name with dots is a path into nested objects
/// (`talkhouse.org` reads `{"talkhouse": {"org": …}}`), as Keycloak's claim mappers write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// One organization UUID.
    pub org: String,
    /// Environment UUIDs or `*`: a list, or one string separated by spaces or commas.
    pub environments: String,
    /// Bot UUIDs or `*`, in the same forms.
    pub bots: String,
    /// Scopes, in the same forms (OAuth's `scope` is one space-separated string).
    pub scopes: String,
    /// Only scopes starting with this are ours, read without it (`talkhouse:read` → `read`).
    pub scope_prefix: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            org: "org".into(),
            environments: "environments".into(),
            bots: "bots".into(),
            scopes: "scope".into(),
            scope_prefix: String::new(),
        }
    }
}

impl ClaimNames {
    pub fn grant(&self, claims: &Value) -> Result<Grant, String> {
        let org = self.strings(claims, &self.org)?;
        let org_id = match org.as_slice() {
            [one] => crate::ingest::parse_uuid(one)
                .ok_or_else(|| format!("`{}` must be an organization UUID", self.org))?,
            _ => return Err(format!("`{}` must hold exactly one organization", self.org)),
        };
        let environments = self.allowed(claims, &self.environments)?;
        let bots = self.allowed(claims, &self.bots)?;
        let scopes = self
            .strings(claims, &self.scopes)?
            .iter()
            .filter_map(|s| s.strip_prefix(self.scope_prefix.as_str()))
            .filter_map(|s| s.parse::<Scope>().ok())
            .collect();
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Grant {
            subject,
            org_id,
            environments,
            bots,
            scopes,
        })
    }

    fn allowed(&self, claims: &Value, name: &str) -> Result<Allowed, String> {
        let items = self.strings(claims, name)?;
        Allowed::parse(items.iter().map(String::as_str)).map_err(|e| format!("`{name}`: {e}"))
    }

    /// A claim as a list of strings; absent is empty.
    fn strings(&self, claims: &Value, name: &str) -> Result<Vec<String>, String> {
        let mut value = claims;
        for part in name.split('.') {
            match value.get(part) {
                Some(inner) => value = inner,
                None => return Ok(Vec::new()),
            }
        }
        let split = |s: &str| {
            s.split([' ', ','])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match value {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(split(s)),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{name}` must hold strings"))
                })
                .collect(),
            _ => Err(format!("`{name}` must be a string or a list of strings")),
        }
    }

    /// Writes `value` at the claim path `name`, creating the objects on the way.
    pub fn set(claims: &mut Value, name: &str, value: Value) {
        let mut target = claims;
        let mut parts = name.split('.').peekable();
        while let Some(part) = parts.next() {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let object = target.as_object_mut().expect("made an object above");
            if parts.peek().is_none() {
                object.insert(part.to_string(), value);
                return;
            }
            target = object
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORG: &str = "00000000-0000-4000-8000-000000000001";
    const BOT: &str = "00000000-0000-4000-8000-000000000003";

    #[test]
    fn reads_flat_and_nested_claims_in_list_or_string_form() {
        let names = ClaimNames {
            org: "talkhouse.org".into(),
            bots: "talkhouse.bots".into(),
            scope_prefix: "talkhouse:".into(),
            ..ClaimNames::default()
        };
        let claims = json!({
            "talkhouse": {"org": ORG, "bots": [BOT]},
            "environments": "*",
            "scope": "openid talkhouse:read profile talkhouse:report read"
        });
        let grant = names.grant(&claims).unwrap();
        assert_eq!(grant.org_id.to_string(), ORG);
        assert_eq!(grant.environments, Allowed::Any);
        assert!(matches!(grant.bots, Allowed::Only(ref ids) if ids.len() == 1));
        assert_eq!(
            grant.scopes.into_iter().collect::<Vec<_>>(),
            vec![Scope::Read, Scope::Report],
            "unprefixed `read` and foreign scopes are not ours"
        );
    }

    #[test]
    fn a_missing_or_malformed_organization_is_unusable() {
        let names = ClaimNames::default();
        assert!(names.grant(&json!({"bots": "*"})).is_err());
        assert!(names.grant(&json!({"org": [ORG, ORG]})).is_err());
        assert!(names.grant(&json!({"org": "acme"})).is_err());
        assert!(names.grant(&json!({"org": ORG, "bots": 7})).is_err());
        let grant = names.grant(&json!({"org": ORG})).unwrap();
        assert_eq!(grant.bots, Allowed::Only(Default::default()), "no bots");
        assert!(grant.scopes.is_empty());
    }

    #[test]
    fn set_writes_nested_paths() {
        let mut claims = json!({"sub": "x"});
        ClaimNames::set(&mut claims, "a.b", json!(1));
        ClaimNames::set(&mut claims, "a.c", json!(2));
        ClaimNames::set(&mut claims, "scope", json!("read"));
        assert_eq!(
            claims,
            json!({"sub": "x", "a": {"b": 1, "c": 2}, "scope": "read"})
        );
    }
}
