//! HS256 JWTs: what API Gateway's JWT authorizer checks, for dev tokens,
//! with `jsonwebtoken`.
//!
//! Verification refuses, before any function runs: no or non-Bearer
//! `Authorization`, anything that is not a JWT, an `alg` other than `HS256`
//! (`none` included), a wrong signature, a missing or past `exp`, a future
//! `nbf`, and a missing or other `iss` or `aud` than the gateway's
//! (`LIAISON_DEV_JWT_ISSUER`, `LIAISON_DEV_JWT_AUDIENCE`): on AWS, the
//! authorizer's issuer (the user pool) and audience (its app client).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

/// The dev secret everyone knows: the gateway serves only loopback with it.
pub const DEFAULT_SECRET: &str = "liaison-dev-secret";
/// Where the secret comes from.
pub const SECRET_ENV: &str = "LIAISON_DEV_JWT_SECRET";
/// `iss` of the tokens the gateway mints and accepts, unless set.
pub const DEFAULT_ISSUER: &str = "liaison-local";
/// Where the issuer comes from.
pub const ISSUER_ENV: &str = "LIAISON_DEV_JWT_ISSUER";
/// `aud` of the tokens the gateway mints and accepts, unless set.
pub const DEFAULT_AUDIENCE: &str = "liaison-dev";
/// Where the audience comes from.
pub const AUDIENCE_ENV: &str = "LIAISON_DEV_JWT_AUDIENCE";

/// Why a request carries no usable identity (all of these are a 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the request has no Authorization header")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is not a JWT")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    Algorithm,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired or carries no exp")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not this API's")]
    Issuer,
    #[error("the token's audience is not this API's")]
    Audience,
}

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::Algorithm,
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::MissingRequiredClaim(c) if c == "exp" => Self::Expired,
            ErrorKind::MissingRequiredClaim(c) if c == "iss" => Self::Issuer,
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => Self::Audience,
            _ => Self::Malformed,
        }
    }
}

/// The secret from `LIAISON_DEV_JWT_SECRET`, or the dev default.
pub fn secret_from_env() -> String {
    env_or(SECRET_ENV, DEFAULT_SECRET)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The issuer and audience tokens are minted with and checked against:
/// `LIAISON_DEV_JWT_ISSUER` and `LIAISON_DEV_JWT_AUDIENCE`, read once, or
/// the dev defaults.
pub fn expected() -> &'static (String, String) {
    static EXPECTED: OnceLock<(String, String)> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        (
            env_or(ISSUER_ENV, DEFAULT_ISSUER),
            env_or(AUDIENCE_ENV, DEFAULT_AUDIENCE),
        )
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Signs `claims` as an HS256 JWT.
pub fn sign(secret: &[u8], claims: &Map<String, Value>) -> String {
    // Serializing a JSON map and signing with HMAC cannot fail.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_default()
}

/// Adds `iss`, `aud` (see [`expected`]), `iat`, `exp` (now +
/// `ttl_seconds`) and `token_use` to a caller's claims and signs them.
pub fn mint(secret: &[u8], claims: &Map<String, Value>, ttl_seconds: i64) -> String {
    let now = now();
    let (issuer, audience) = expected();
    let mut all = claims.clone();
    all.insert("iss".into(), json!(issuer));
    all.insert("aud".into(), json!(audience));
    all.insert("token_use".into(), json!("id"));
    all.insert("iat".into(), json!(now));
    all.insert("exp".into(), json!(now + ttl_seconds));
    sign(secret, &all)
}

/// Verifies a token and returns its claims.
pub fn verify(secret: &[u8], token: &str) -> Result<Map<String, Value>, JwtError> {
    let (issuer, audience) = expected();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    // Refused from its `exp` second on, as before.
    validation.reject_tokens_expiring_in_less_than = 1;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret),
        &validation,
    )?;
    Ok(data.claims)
}

/// Verifies the `Authorization: Bearer <token>` header value.
pub fn verify_header(secret: &[u8], header: Option<&str>) -> Result<Map<String, Value>, JwtError> {
    let header = header.ok_or(JwtError::Missing)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(JwtError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(JwtError::NotBearer);
    }
    verify(secret, token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn claims() -> Map<String, Value> {
        json!({"sub": "u_chris", "custom:account_id": "acc_acme"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Claims as minted, before `exp`: to sign with one thing changed.
    fn signed_claims() -> Map<String, Value> {
        let (issuer, audience) = expected();
        let mut c = claims();
        c.insert("iss".into(), json!(issuer));
        c.insert("aud".into(), json!(audience));
        c.insert("iat".into(), json!(now()));
        c
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(b"k", &claims(), 60);
        let c = verify(b"k", &t).expect("verifies");
        assert_eq!(c["sub"], "u_chris");
        assert_eq!(c["iss"], DEFAULT_ISSUER);
        assert_eq!(c["aud"], DEFAULT_AUDIENCE);
        assert_eq!(
            verify_header(b"k", Some(&format!("Bearer {t}"))).map(|c| c["sub"].clone()),
            Ok(json!("u_chris"))
        );
    }

    #[test]
    fn bad_tokens_are_refused() {
        let good = mint(b"k", &claims(), 60);
        assert_eq!(verify(b"other", &good), Err(JwtError::Signature));
        assert_eq!(verify(b"k", "garbage"), Err(JwtError::Malformed));
        assert_eq!(verify(b"k", "a.b.c"), Err(JwtError::Malformed));
        assert_eq!(verify(b"k", &format!("{good}.x")), Err(JwtError::Malformed));
        assert_eq!(verify_header(b"k", None), Err(JwtError::Missing));
        assert_eq!(
            verify_header(b"k", Some(&format!("Basic {good}"))),
            Err(JwtError::NotBearer)
        );
        assert_eq!(verify_header(b"k", Some(&good)), Err(JwtError::NotBearer));
        assert_eq!(
            verify(b"k", &mint(b"k", &claims(), -1)),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify(b"k", &mint(b"k", &claims(), 0)),
            Err(JwtError::Expired)
        );

        let no_exp = signed_claims();
        assert_eq!(verify(b"k", &sign(b"k", &no_exp)), Err(JwtError::Expired));

        let mut future = signed_claims();
        future.insert("exp".into(), json!(now() + 600));
        future.insert("nbf".into(), json!(now() + 300));
        assert_eq!(
            verify(b"k", &sign(b"k", &future)),
            Err(JwtError::NotYetValid)
        );

        // Issuer and audience: missing, or another's.
        for (claim, value, error) in [
            ("iss", None, JwtError::Issuer),
            ("iss", Some("https://elsewhere.example"), JwtError::Issuer),
            ("aud", None, JwtError::Audience),
            ("aud", Some("another-client"), JwtError::Audience),
        ] {
            let mut c = signed_claims();
            c.insert("exp".into(), json!(now() + 600));
            match value {
                Some(v) => c.insert(claim.into(), json!(v)),
                None => c.remove(claim),
            };
            assert_eq!(
                verify(b"k", &sign(b"k", &c)),
                Err(error),
                "{claim} {value:?}"
            );
        }

        // alg none, with or without a signature part, and HS512.
        let payload = good.split('.').nth(1).unwrap_or_default();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            verify(b"k", &format!("{none}.{payload}.")),
            Err(JwtError::Malformed)
        );
        assert_eq!(
            verify(b"k", &format!("{none}.{payload}")),
            Err(JwtError::Malformed)
        );
        let hs512 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert_eq!(
            verify(b"k", &format!("{hs512}.{payload}.c2ln")),
            Err(JwtError::Algorithm)
        );
    }
}
