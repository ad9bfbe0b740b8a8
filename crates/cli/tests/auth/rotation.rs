//! Keys from an identity provider's JWKS URL, served by a local HTTP server that rotates them
//! mid-test: a token of the new key is accepted without a restart, the removed key is refused,
//! the provider going down keeps the cached keys working, and a URL's keys grant only its
//! organizations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use talkhouse_core::access::Allowed;

use super::methods::{call, outcome};
use super::*;

/// The fixture JWKS with only the key `kid`.
fn jwks_with(kid: &str) -> String {
    let text = std::fs::read_to_string(repository().join("tests/fixtures/keys/jwks.json")).unwrap();
    let mut set: serde_json::Value = serde_json::from_str(&text).unwrap();
    set["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|key| key["kid"] == kid);
    assert_eq!(set["keys"].as_array().unwrap().len(), 1);
    set.to_string()
}

fn token(org: &str, kid: &str) -> String {
    let keys = repository().join("tests/fixtures/keys");
    let key = match kid {
        "test-rsa" => SigningKey::Rs256Pem(std::fs::read(keys.join("rs256-private.pem")).unwrap()),
        _ => SigningKey::Es256Pem(std::fs::read(keys.join("es256-private.pem")).unwrap()),
    };
    let mut claims = TokenClaims::new(org, 600);
    claims.key_id = Some(kid.into());
    claims.mint(&ClaimNames::default(), &key).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_from_a_jwks_url_rotate_without_a_restart() {
    // The provider: serves whatever `served` holds, and counts its answers.
    let served = Arc::new(Mutex::new(jwks_with("test-rsa")));
    let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let provider = {
        let (served, fetches) = (served.clone(), fetches.clone());
        axum::Router::new().route(
            "/realms/acme/protocol/openid-connect/certs",
            axum::routing::get(move || {
                fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                async move { body }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/realms/acme/protocol/openid-connect/certs",
        listener.local_addr().unwrap()
    );
    let provider = tokio::spawn(async move { axum::serve(listener, provider).await });

    let mut keys = VerificationKeys::default();
    keys.add_jwks_url(&url, Allowed::parse([ORG]).unwrap());
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::Tokens(Box::new(TokenVerifier::new(keys, ClaimNames::default()))),
    );
    config.jwks_refresh_interval = Duration::from_secs(3600);
    let data = with_fixture();
    let server = RunningServer::start_with(config, data.table().await).await;
    let mut c = Clients::connect(&server).await;
    let summary = |result: &Result<(), tonic::Status>| outcome(result);

    // Fetched before the first call is served: the RSA key verifies.
    let rsa = token(ORG, "test-rsa");
    let ec = token(ORG, "test-ec");
    assert_eq!(
        summary(&call(&mut c, "GetSummary", BOT, Some(&rsa)).await),
        Code::Ok
    );

    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The provider rotates to the EC key. A token of it names an unknown key id, but the URL was
    // fetched less than 10 s ago: no fetch, refused.
    *served.lock().unwrap() = jwks_with("test-ec");
    let early = call(&mut c, "GetSummary", BOT, Some(&ec)).await;
    assert_eq!(summary(&early), Code::Unauthenticated, "{early:?}");
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Later, the unknown key id has the URL fetched again: accepted, without a restart; the
    // removed RSA key is refused from then on.
    tokio::time::sleep(Duration::from_millis(10_200)).await;
    assert_eq!(
        summary(&call(&mut c, "GetSummary", BOT, Some(&ec)).await),
        Code::Ok
    );
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    let removed = call(&mut c, "GetSummary", BOT, Some(&rsa)).await;
    assert_eq!(summary(&removed), Code::Unauthenticated, "{removed:?}");

    // This URL's keys grant only its organization.
    let other_org = call(
        &mut c,
        "GetSummary",
        BOT,
        Some(&token(OTHER_ORG, "test-ec")),
    )
    .await;
    let refusal = other_org.unwrap_err();
    assert_eq!(refusal.code(), Code::Unauthenticated);
    assert!(refusal.message().contains("may not grant"), "{refusal:?}");

    // The provider goes down: a fetch fails, and the cached key keeps working.
    provider.abort();
    let _ = provider.await;
    tokio::time::sleep(Duration::from_millis(10_200)).await;
    let unknown = call(&mut c, "GetSummary", BOT, Some(&rsa)).await;
    assert_eq!(summary(&unknown), Code::Unauthenticated);
    assert_eq!(
        summary(&call(&mut c, "GetSummary", BOT, Some(&ec)).await),
        Code::Ok
    );
    server.stop().await;
}
