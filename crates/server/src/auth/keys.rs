//! The keys tokens are verified with: an HS256 secret, RS256/ES256 public keys in PEM, the keys
//! of a JWKS document, and the keys of identity providers' JWKS URLs, which rotate: fetched at
//! start, again on an interval and when a token names a key id none holds (at most once per
//! [`MIN_REFETCH`]), and kept while the provider cannot be reached. Each URL's keys may grant
//! only the organizations it is configured for (one Keycloak realm per organization).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use talkhouse_core::access::Allowed;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// Shortest HS256 secret accepted: RFC 7518 §3.2 asks for at least the hash size.
pub const MIN_SECRET_BYTES: usize = 32;

/// Shortest time between two fetches of a JWKS URL prompted by unknown key ids.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Key {
    id: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// A key that may verify a token, and the organizations it may grant.
pub(super) struct Candidate {
    pub(super) key: DecodingKey,
    pub(super) organizations: Allowed,
}

/// An identity provider's JWKS URL and the keys it served last.
struct JwksUrl {
    url: String,
    organizations: Allowed,
    keys: RwLock<Vec<Key>>,
    fetched: Mutex<Option<Instant>>,
}

/// Every key a server accepts tokens from.
#[derive(Clone, Default)]
pub struct VerificationKeys {
    keys: Vec<Key>,
    urls: Vec<Arc<JwksUrl>>,
}

impl std::fmt::Debug for VerificationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.id.as_deref(), k.algorithm)))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the HS256 secret must hold at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
    #[error("the PEM file holds neither an RSA nor an EC public key: {0}")]
    Pem(String),
    #[error("the JWKS document is not valid: {0}")]
    Jwks(String),
    #[error("the JWKS document holds no RS256 or ES256 signing key")]
    EmptyJwks,
}

impl VerificationKeys {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.urls.is_empty()
    }

    /// Keys fetched from `url` (an identity provider's JWKS), which may grant `organizations`.
    pub fn add_jwks_url(&mut self, url: &str, organizations: Allowed) {
        self.urls.push(Arc::new(JwksUrl {
            url: url.to_string(),
            organizations,
            keys: RwLock::default(),
            fetched: Mutex::default(),
        }));
    }

    /// Whether some keys come from JWKS URLs.
    pub fn has_urls(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Fetches every JWKS URL; one that fails keeps its keys, and is named in the answer.
    pub async fn refresh(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for url in &self.urls {
            if let Err(error) = url.fetch().await {
                failures.push(format!("{}: {error}", url.url));
            }
        }
        failures
    }

    /// Fetches the JWKS URLs not fetched within [`MIN_REFETCH`]; whether any was.
    pub(super) async fn refetch_for_unknown_key(&self) -> bool {
        let mut fetched = false;
        for url in &self.urls {
            let due = url
                .fetched
                .lock()
                .expect("the fetch time lock is never poisoned")
                .is_none_or(|at| at.elapsed() >= MIN_REFETCH);
            if due {
                fetched |= url.fetch().await.is_ok();
            }
        }
        fetched
    }

    pub fn add_hs256_secret(&mut self, secret: &[u8]) -> Result<(), KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::ShortSecret);
        }
        self.keys.push(Key {
            id: None,
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret),
        });
        Ok(())
    }

    /// An RSA public key verifies RS256 tokens, an EC (P-256) one ES256 tokens.
    pub fn add_public_key_pem(&mut self, pem: &[u8]) -> Result<(), KeyError> {
        let (algorithm, key) = match DecodingKey::from_rsa_pem(pem) {
            Ok(key) => (Algorithm::RS256, key),
            Err(_) => (
                Algorithm::ES256,
                DecodingKey::from_ec_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?,
            ),
        };
        self.keys.push(Key {
            id: None,
            algorithm,
            key,
        });
        Ok(())
    }

    /// The RS256 and ES256 signing keys of a JWKS document; other keys are skipped.
    pub fn add_jwks(&mut self, json: &str) -> Result<(), KeyError> {
        self.keys.extend(jwks_keys(json)?);
        Ok(())
    }

    /// The keys that may have signed a token with this header: same algorithm, and the same key
    /// id when both name one.
    pub(super) fn for_token(
        &self,
        algorithm: Algorithm,
        key_id: Option<&str>,
    ) -> Result<Vec<Candidate>, AuthError> {
        let fits = |k: &&Key| {
            k.algorithm == algorithm
                && match (key_id, k.id.as_deref()) {
                    (Some(wanted), Some(id)) => wanted == id,
                    _ => true,
                }
        };
        let mut candidates: Vec<Candidate> = self
            .keys
            .iter()
            .filter(fits)
            .map(|k| Candidate {
                key: k.key.clone(),
                organizations: Allowed::Any,
            })
            .collect();
        for url in &self.urls {
            let keys = url.keys.read().expect("the key lock is never poisoned");
            candidates.extend(keys.iter().filter(fits).map(|k| Candidate {
                key: k.key.clone(),
                organizations: url.organizations.clone(),
            }));
        }
        if candidates.is_empty() {
            return Err(AuthError::UnknownKey(format!("{algorithm:?}")));
        }
        Ok(candidates)
    }
}

impl JwksUrl {
    /// Replaces the keys with those the URL serves now; on failure the keys stay as they were.
    async fn fetch(&self) -> Result<(), String> {
        *self
            .fetched
            .lock()
            .expect("the fetch time lock is never poisoned") = Some(Instant::now());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| error.to_string())?;
        let response = client
            .get(&self.url)
            .send()
            .await
            .map_err(|error| format!("cannot fetch: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let text = response
            .text()
            .await
            .map_err(|error| format!("cannot read: {error}"))?;
        let keys = jwks_keys(&text).map_err(|error| error.to_string())?;
        tracing::info!(url = %self.url, keys = keys.len(), "JWKS fetched");
        *self.keys.write().expect("the key lock is never poisoned") = keys;
        Ok(())
    }
}

/// The RS256 and ES256 signing keys of a JWKS document; other keys are skipped.
fn jwks_keys(json: &str) -> Result<Vec<Key>, KeyError> {
    let set: JwkSet = serde_json::from_str(json).map_err(|e| KeyError::Jwks(e.to_string()))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Jwks(e.to_string()))?;
        keys.push(Key {
            id: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    if keys.is_empty() {
        return Err(KeyError::EmptyJwks);
    }
    Ok(keys)
}
