//! Turning the auth flags into the server's [`Authentication`], and `talkhouse token`.

use std::path::Path;

use talkhouse_core::access::{Allowed, ClaimNames, Scope};
use talkhouse_server::Authentication;
use talkhouse_server::auth::{SigningKey, TokenClaims, TokenVerifier, VerificationKeys};

use crate::CliError;
use crate::args::{AuthArgs, ClaimArgs, KeyAlgorithm, SecretArgs, TokenArgs};

/// Token checking as configured; `--dev-no-auth` only when no key is given.
pub fn authentication(args: &AuthArgs) -> Result<Authentication, CliError> {
    let mut keys = VerificationKeys::default();
    if let Some(secret) = secret(&args.secret)? {
        keys.add_hs256_secret(&secret).map_err(usage)?;
    }
    for path in &args.public_keys {
        keys.add_public_key_pem(&read(path)?)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &args.jwks {
        let text = String::from_utf8(read(path)?)
            .map_err(|_| CliError::Usage(format!("{}: not UTF-8", path.display())))?;
        keys.add_jwks(&text)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    for spec in &args.jwks_urls {
        let (organizations, url) = jwks_url(spec)?;
        keys.add_jwks_url(url, organizations);
    }
    match (args.dev_no_auth, keys.is_empty()) {
        (true, true) => Ok(Authentication::DisabledForDevelopment),
        (true, false) => Err(CliError::Usage(
            "--dev-no-auth cannot be combined with token keys".into(),
        )),
        (false, true) => Err(CliError::Usage(
            "no token keys configured: pass --auth-hs256-secret-file, --auth-public-key or \
             --auth-jwks, --auth-jwks-url, or --dev-no-auth to serve without authentication on \
             loopback"
                .into(),
        )),
        (false, false) => {
            let mut verifier = TokenVerifier::new(keys, claim_names(&args.claims));
            verifier.leeway_seconds = args.leeway_seconds;
            verifier.issuers = args.issuers.clone();
            verifier.audiences = args.audiences.clone();
            Ok(Authentication::Tokens(Box::new(verifier)))
        }
    }
}

/// `talkhouse token`: prints a signed JWT.
pub fn token(args: TokenArgs) -> Result<(), CliError> {
    let key = match (&args.private_key, args.algorithm) {
        (Some(path), Some(KeyAlgorithm::Rs256)) => SigningKey::Rs256Pem(read(path)?),
        (Some(path), Some(KeyAlgorithm::Es256)) => SigningKey::Es256Pem(read(path)?),
        _ => SigningKey::Hs256(secret(&args.secret)?.ok_or_else(|| {
            CliError::Usage(
                "give the HS256 secret (--auth-hs256-secret-file or TALKHOUSE_AUTH_HS256_SECRET) \
                 or --private-key with --algorithm"
                    .into(),
            )
        })?),
    };
    let scopes = args
        .scopes
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::Usage)?;
    let mut claims = TokenClaims::new(&args.org, seconds(&args.ttl)?);
    claims.subject = args.subject;
    claims.environments = args.environments;
    claims.bots = args.bots;
    claims.scopes = scopes;
    claims.issuer = args.issuer;
    claims.audience = args.audience;
    claims.key_id = args.key_id;
    let names = claim_names(&args.claims);
    let token = claims.mint(&names, &key).map_err(usage)?;
    println!("{token}");
    Ok(())
}

fn claim_names(args: &ClaimArgs) -> ClaimNames {
    ClaimNames {
        org: args.org_claim.clone(),
        environments: args.environments_claim.clone(),
        bots: args.bots_claim.clone(),
        scopes: args.scope_claim.clone(),
        scope_prefix: args.scope_prefix.clone(),
    }
}

fn secret(args: &SecretArgs) -> Result<Option<Vec<u8>>, CliError> {
    if let Some(path) = &args.secret_file {
        let mut bytes = read(path)?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        return Ok(Some(bytes));
    }
    Ok(args.secret.as_ref().map(|s| s.as_bytes().to_vec()))
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

fn usage(error: impl std::fmt::Display) -> CliError {
    CliError::Usage(error.to_string())
}

/// `90`, `90s`, `15m`, `12h`, `7d` in seconds.
fn seconds(text: &str) -> Result<i64, CliError> {
    let (digits, unit) = match text.char_indices().last() {
        Some((index, c)) if c.is_ascii_alphabetic() => (&text[..index], c),
        _ => (text, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if n > 0 && factor > 0 => Ok(n.saturating_mul(factor)),
        _ => Err(CliError::Usage(format!(
            "--ttl must be a positive number of seconds, or with s, m, h or d; got {text:?}"
        ))),
    }
}

/// `URL`, or `ORG_UUID,…=URL`: the URL and the organizations its keys may grant.
fn jwks_url(spec: &str) -> Result<(Allowed, &str), CliError> {
    let (organizations, url) = match spec.split_once('=') {
        Some((before, url)) if !before.contains(':') => {
            let organizations = Allowed::parse(before.split(','))
                .map_err(|e| CliError::Usage(format!("--auth-jwks-url {spec:?}: {e}")))?;
            (organizations, url)
        }
        _ => (Allowed::Any, spec),
    };
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(CliError::Usage(format!(
            "--auth-jwks-url {spec:?}: give an http:// or https:// URL, after ORG_UUID= if any"
        )));
    }
    Ok((organizations, url))
}
