//! The keys tokens are verified with: an HS256 secret, RS256/ES256 public keys in PEM, the keys
//! of a JWKS document.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// Shortest HS256 secret accepted: RFC 7518 §3.2 asks for at least the hash size.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
struct Key {
    id: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Every key a server accepts tokens from.
#[derive(Clone, Default)]
pub struct VerificationKeys {
    keys: Vec<Key>,
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
        self.keys.is_empty()
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
        let set: JwkSet = serde_json::from_str(json).map_err(|e| KeyError::Jwks(e.to_string()))?;
        let before = self.keys.len();
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
            self.keys.push(Key {
                id: jwk.common.key_id.clone(),
                algorithm,
                key,
            });
        }
        if self.keys.len() == before {
            return Err(KeyError::EmptyJwks);
        }
        Ok(())
    }

    /// The keys that may have signed a token with this header: same algorithm, and the same key
    /// id when both name one.
    pub(super) fn for_token(
        &self,
        algorithm: Algorithm,
        key_id: Option<&str>,
    ) -> Result<Vec<&DecodingKey>, AuthError> {
        let candidates: Vec<&DecodingKey> = self
            .keys
            .iter()
            .filter(|k| k.algorithm == algorithm)
            .filter(|k| match (key_id, k.id.as_deref()) {
                (Some(wanted), Some(id)) => wanted == id,
                _ => true,
            })
            .map(|k| &k.key)
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::UnknownKey(format!("{algorithm:?}")));
        }
        Ok(candidates)
    }
}
