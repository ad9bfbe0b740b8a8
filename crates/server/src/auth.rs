//! Bearer tokens: JWTs signed HS256 with a shared secret, or RS256/ES256 checked against public
//! keys from PEM files or a JWKS file, turned into the [`Grant`] they carry.
//!
//! Which claims carry the organization, environments, bots and scopes is configurable
//! ([`ClaimNames`]), so tokens of an existing identity provider (Keycloak mappers) work as issued.

mod keys;
mod mint;

pub use keys::{KeyError, VerificationKeys};
pub use mint::{MintError, SigningKey, TokenClaims};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use talkhouse_core::access::{ClaimNames, Grant};

/// How the server decides who is calling.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// Every call needs a valid bearer token.
    Tokens(Box<TokenVerifier>),
    /// No tokens: every call may do everything. Only allowed on a loopback address.
    DisabledForDevelopment,
}

/// Verifies bearer tokens and reads their grant.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: VerificationKeys,
    names: ClaimNames,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// When set, a token's `iss` must be one of these.
    pub issuers: Vec<String>,
    /// When set, a token's `aud` must name one of these.
    pub audiences: Vec<String>,
}

/// Why a call is not authenticated. Every variant answers UNAUTHENTICATED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `authorization: Bearer <JWT>` metadata")]
    Missing,
    #[error("malformed `authorization` metadata: expected `Bearer <JWT>`")]
    NotBearer,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("no configured key verifies {0:?} tokens with this key id")]
    UnknownKey(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    Issuer,
    #[error("the token's audience is not accepted")]
    Audience,
    #[error("the token's claims are unusable: {0}")]
    Claims(String),
    #[error("the key that signed the token may not grant its organization")]
    KeyNotForOrganization,
}

impl TokenVerifier {
    pub fn new(keys: VerificationKeys, names: ClaimNames) -> Self {
        Self {
            keys,
            names,
            leeway_seconds: 30,
            issuers: Vec::new(),
            audiences: Vec::new(),
        }
    }

    /// The keys tokens are verified with.
    pub fn keys(&self) -> &VerificationKeys {
        &self.keys
    }

    /// As [`Self::verify`]; a token signed with a key id none of the keys holds first has the
    /// JWKS URLs fetched again (each at most once per [`keys::MIN_REFETCH`]).
    pub async fn verify_fetching(&self, authorization: Option<&[u8]>) -> Result<Grant, AuthError> {
        match self.verify(authorization) {
            Err(AuthError::UnknownKey(_)) if self.keys.refetch_for_unknown_key().await => {
                self.verify(authorization)
            }
            answer => answer,
        }
    }

    /// The grant of the `authorization` metadata value.
    pub fn verify(&self, authorization: Option<&[u8]>) -> Result<Grant, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let value = std::str::from_utf8(value).map_err(|_| AuthError::NotBearer)?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::NotBearer)?;
        let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
            ErrorKind::Json(_) | ErrorKind::InvalidAlgorithmName | ErrorKind::InvalidAlgorithm => {
                AuthError::Malformed(
                    "its header names no algorithm this server accepts (HS256, RS256, ES256)"
                        .into(),
                )
            }
            _ => classify(error),
        })?;
        let candidates = self.keys.for_token(header.alg, header.kid.as_deref())?;
        let validation = self.validation(header.alg);
        let mut failure = AuthError::BadSignature;
        for candidate in candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, &candidate.key, &validation) {
                Ok(data) => {
                    let grant = self.names.grant(&data.claims).map_err(AuthError::Claims)?;
                    if !candidate.organizations.contains(grant.org_id) {
                        return Err(AuthError::KeyNotForOrganization);
                    }
                    return Ok(grant);
                }
                Err(error) => failure = classify(error),
            }
            if failure != AuthError::BadSignature {
                break;
            }
        }
        Err(failure)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if self.issuers.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&self.issuers);
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
        }
        validation
    }
}

fn classify(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => {
            AuthError::Claims(format!("the `{claim}` claim is required"))
        }
        ErrorKind::InvalidToken => {
            AuthError::Malformed("it is not a JWT of three base64url parts".into())
        }
        ErrorKind::Base64(_) => AuthError::Malformed("a part of it is not base64url".into()),
        ErrorKind::Utf8(_) => AuthError::Malformed("a part of it is not UTF-8".into()),
        ErrorKind::Json(_) => AuthError::Malformed("its claims are not a JSON object".into()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::Malformed("its algorithm does not match the key that would verify it".into())
        }
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::RsaFailedSigning
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidSubject
        | ErrorKind::Crypto(_) => AuthError::BadSignature,
        _ => AuthError::Malformed("it is not a usable JWT".into()),
    }
}
