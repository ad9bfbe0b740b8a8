//! Asymmetric keys (PEM and JWKS) and the `token` command.

use std::collections::BTreeSet;

use super::methods::{call, outcome};
use super::*;

/// RS256 and ES256 tokens verify against PEM public keys and against a JWKS by key id.
#[tokio::test]
async fn rs256_and_es256_tokens_verify_from_pem_and_jwks() {
    let keys_dir = repository().join("tests/fixtures/keys");
    let read = |name: &str| std::fs::read(keys_dir.join(name)).unwrap();
    let data = with_fixture();

    let mut pem = VerificationKeys::default();
    pem.add_public_key_pem(&read("rs256-public.pem")).unwrap();
    pem.add_public_key_pem(&read("es256-public.pem")).unwrap();
    let mut jwks = VerificationKeys::default();
    jwks.add_jwks(&String::from_utf8(read("jwks.json")).unwrap())
        .unwrap();

    for (source, keys) in [("pem", pem), ("jwks", jwks)] {
        let config = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            Authentication::Tokens(Box::new(TokenVerifier::new(keys, ClaimNames::default()))),
        );
        let server = RunningServer::start_with(config, data.table().await).await;
        let mut c = Clients::connect(&server).await;
        for (algorithm, key, kid) in [
            (
                "RS256",
                SigningKey::Rs256Pem(read("rs256-private.pem")),
                "test-rsa",
            ),
            (
                "ES256",
                SigningKey::Es256Pem(read("es256-private.pem")),
                "test-ec",
            ),
        ] {
            let mut claims = TokenClaims::new(ORG, 600);
            claims.key_id = Some(kid.into());
            let good = claims.mint(&ClaimNames::default(), &key).unwrap();
            let result = call(&mut c, "GetSummary", BOT, Some(&good)).await;
            assert_eq!(
                outcome(&result),
                Code::Ok,
                "{source} {algorithm}: {result:?}"
            );

            // The same claims signed with the HS256 secret: no HS256 key is configured.
            let hs = claims
                .mint(&ClaimNames::default(), &SigningKey::Hs256(SECRET.to_vec()))
                .unwrap();
            let result = call(&mut c, "GetSummary", BOT, Some(&hs)).await;
            assert_eq!(
                outcome(&result),
                Code::Unauthenticated,
                "{source} {algorithm} as HS256"
            );

            // A tampered payload no longer matches its signature.
            let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
            parts[1] = token(&["*"], &Scope::ALL)
                .split('.')
                .nth(1)
                .unwrap()
                .to_string();
            let result = call(&mut c, "GetSummary", BOT, Some(&parts.join("."))).await;
            assert_eq!(
                outcome(&result),
                Code::Unauthenticated,
                "{source} {algorithm} tampered"
            );
        }
        if source == "jwks" {
            // A key id the JWKS does not hold.
            let mut claims = TokenClaims::new(ORG, 600);
            claims.key_id = Some("rotated-away".into());
            let token = claims
                .mint(
                    &ClaimNames::default(),
                    &SigningKey::Rs256Pem(read("rs256-private.pem")),
                )
                .unwrap();
            let result = call(&mut c, "GetSummary", BOT, Some(&token)).await;
            assert_eq!(outcome(&result), Code::Unauthenticated, "unknown kid");
        }
        server.stop().await;
    }
}

/// `talkhouse token` mints what `talkhouse serve` accepts; without keys serve refuses to start,
/// and without auth it refuses anything but loopback.
#[test]
fn the_token_command_mints_tokens_the_server_accepts() {
    let data = with_fixture();
    let secret = data.file("secret", &format!("{}\n", String::from_utf8_lossy(SECRET)));
    let minted = run_ok(
        talkhouse(&data)
            .args([
                "token", "--org", ORG, "--bots", BOT, "--scopes", "read", "--ttl", "10m",
            ])
            .arg("--auth-hs256-secret-file")
            .arg(&secret),
    );
    let minted = minted.trim().to_string();
    let config = hs256_config();
    let Authentication::Tokens(verifier) = &config.authentication else {
        unreachable!()
    };
    let grant = verifier
        .verify(Some(format!("Bearer {minted}").as_bytes()))
        .expect("the minted token verifies with the same secret");
    assert_eq!(grant.org_id.to_string(), ORG);
    assert_eq!(grant.scopes, BTreeSet::from([Scope::Read]));
    assert!(grant.covers(&talkhouse_core::Tenant {
        org_id: ORG.parse().unwrap(),
        env_id: OTHER_ENV.parse().unwrap(),
        bot_id: BOT.parse().unwrap(),
    }));

    let refused = crate::support::run_fails(
        talkhouse(&data)
            .args(["token", "--org", "acme"])
            .arg("--auth-hs256-secret-file")
            .arg(&secret),
    );
    assert!(refused.contains("organization UUID"), "{refused}");
    let refused = crate::support::run_fails(
        talkhouse(&data)
            .args(["token", "--org", ORG, "--bots", "bot-1"])
            .arg("--auth-hs256-secret-file")
            .arg(&secret),
    );
    assert!(
        refused.contains("neither `*` nor a hyphenated UUID"),
        "{refused}"
    );
    let refused = crate::support::run_fails(
        talkhouse(&data)
            .args(["token", "--org", ORG, "--scopes", "write"])
            .arg("--auth-hs256-secret-file")
            .arg(&secret),
    );
    assert!(refused.contains("unknown scope"), "{refused}");

    let refused =
        crate::support::run_fails(talkhouse(&data).args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(refused.contains("no token keys configured"), "{refused}");
    let refused = crate::support::run_fails(talkhouse(&data).args([
        "serve",
        "--dev-no-auth",
        "--listen",
        "0.0.0.0:0",
    ]));
    assert!(refused.contains("only on a loopback address"), "{refused}");
    let refused = crate::support::run_fails(talkhouse(&data).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--auth-hs256-secret",
        "short",
    ]));
    assert!(refused.contains("at least 32 bytes"), "{refused}");
}
