//! CONTRACT §1 and §5 with authentication: every method × every kind of token gets the right
//! code, and no answer carries another tenant's data (`methods`); RS256 and ES256 keys, and the
//! `token` command (`keys`). The tokens and servers every test here uses are defined below.

use prost::Message;
use talkhouse_core::access::{ClaimNames, Scope};
use talkhouse_proto::v1;
use talkhouse_server::auth::{SigningKey, TokenClaims, TokenVerifier, VerificationKeys};
use talkhouse_server::guard::METHODS;
use talkhouse_server::{Authentication, ServerConfig};
use tonic::{Code, Request, Status};

use crate::support::{
    Clients, RunningServer, bot_ref, count, days, repository, run_ok, talkhouse, with_fixture,
};

pub const ORG: &str = "0a000000-0000-4000-8000-000000000001";
pub const ENV: &str = "0e000000-0000-4000-8000-000000000001";
pub const BOT: &str = "0b000000-0000-4000-8000-000000000001";
/// Another bot of the same organization and environment, with data.
pub const SIBLING_BOT: &str = "0b000000-0000-4000-8000-000000000002";
/// A bot nobody ever wrote to.
pub const UNKNOWN_BOT: &str = "0b000000-0000-4000-8000-0000000000ff";
const OTHER_ORG: &str = "0a000000-0000-4000-8000-000000000002";
const OTHER_ENV: &str = "0e000000-0000-4000-8000-000000000002";

pub const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

/// A server that accepts HS256 tokens signed with [`SECRET`].
pub fn hs256_config() -> ServerConfig {
    let mut keys = VerificationKeys::default();
    keys.add_hs256_secret(SECRET).unwrap();
    ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::Tokens(Box::new(TokenVerifier::new(keys, ClaimNames::default()))),
    )
}

/// A valid token for `bots` of [`ORG`]/[`ENV`] with `scopes`.
pub fn token(bots: &[&str], scopes: &[Scope]) -> String {
    let mut claims = TokenClaims::new(ORG, 3600);
    claims.environments = vec![ENV.into()];
    claims.bots = bots.iter().map(|b| b.to_string()).collect();
    claims.scopes = scopes.to_vec();
    mint(&claims)
}

pub fn mint(claims: &TokenClaims) -> String {
    claims
        .mint(&ClaimNames::default(), &SigningKey::Hs256(SECRET.to_vec()))
        .unwrap()
}

pub fn authed<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

mod keys;
pub(crate) mod methods;
mod rotation;
