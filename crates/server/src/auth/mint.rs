//! Minting tokens, for development (`talkhouse token`) and tests. Production tokens come from
//! the identity provider.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use talkhouse_core::access::{ClaimNames, Scope};

/// The key a token is signed with.
#[derive(Clone)]
pub enum SigningKey {
    Hs256(Vec<u8>),
    /// A PKCS#8 RSA private key in PEM.
    Rs256Pem(Vec<u8>),
    /// A PKCS#8 P-256 private key in PEM.
    Es256Pem(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot mint the token: {0}")]
pub struct MintError(String);

/// What a minted token says. Lists hold UUIDs or `*`.
#[derive(Debug, Clone)]
pub struct TokenClaims {
    pub subject: String,
    pub org_id: String,
    pub environments: Vec<String>,
    pub bots: Vec<String>,
    pub scopes: Vec<Scope>,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
    pub not_before: Option<i64>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub key_id: Option<String>,
}

impl TokenClaims {
    /// A token valid from now for `ttl_seconds`.
    pub fn new(org_id: &str, ttl_seconds: i64) -> Self {
        let now = chrono::Utc::now().timestamp();
        Self {
            subject: "talkhouse-dev".into(),
            org_id: org_id.into(),
            environments: vec!["*".into()],
            bots: vec!["*".into()],
            scopes: vec![Scope::Read],
            issued_at: now,
            expires_at: now + ttl_seconds,
            not_before: None,
            issuer: None,
            audience: None,
            key_id: None,
        }
    }

    /// The signed JWT, with the grant under the configured claim names. Claims the server would
    /// not read as a grant (an organization that is not a UUID, a bot that is neither a UUID nor
    /// `*`) are refused here rather than at the first call.
    pub fn mint(&self, names: &ClaimNames, key: &SigningKey) -> Result<String, MintError> {
        let mut claims = json!({
            "sub": self.subject,
            "iat": self.issued_at,
            "exp": self.expires_at,
        });
        if let Some(nbf) = self.not_before {
            claims["nbf"] = json!(nbf);
        }
        if let Some(issuer) = &self.issuer {
            claims["iss"] = json!(issuer);
        }
        if let Some(audience) = &self.audience {
            claims["aud"] = json!(audience);
        }
        ClaimNames::set(&mut claims, &names.org, json!(self.org_id));
        ClaimNames::set(&mut claims, &names.environments, json!(self.environments));
        ClaimNames::set(&mut claims, &names.bots, json!(self.bots));
        let scopes = self
            .scopes
            .iter()
            .map(|s| format!("{}{}", names.scope_prefix, s.name()))
            .collect::<Vec<_>>()
            .join(" ");
        ClaimNames::set(&mut claims, &names.scopes, Value::String(scopes));
        names.grant(&claims).map_err(MintError)?;
        let (algorithm, encoding) = match key {
            SigningKey::Hs256(secret) => (Algorithm::HS256, EncodingKey::from_secret(secret)),
            SigningKey::Rs256Pem(pem) => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(pem).map_err(|e| MintError(e.to_string()))?,
            ),
            SigningKey::Es256Pem(pem) => (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(pem).map_err(|e| MintError(e.to_string()))?,
            ),
        };
        let mut header = Header::new(algorithm);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &encoding).map_err(|e| MintError(e.to_string()))
    }
}
