//! HS256 JWTs: what API Gateway's JWT authorizer checks, for dev tokens.
//!
//! Verification refuses, before any function runs: no or non-Bearer
//! `Authorization`, anything that is not three base64url parts of JSON, an
//! `alg` other than `HS256` (`none` included), a wrong signature, a missing
//! or past `exp`, a future `nbf`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// The dev secret everyone knows: the gateway serves only loopback with it.
pub const DEFAULT_SECRET: &str = "liaison-dev-secret";
/// Where the secret comes from.
pub const SECRET_ENV: &str = "LIAISON_DEV_JWT_SECRET";
/// `iss` of the tokens the gateway mints.
pub const ISSUER: &str = "liaison-local";

type HmacSha256 = Hmac<Sha256>;

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
}

/// The secret from `LIAISON_DEV_JWT_SECRET`, or the dev default.
pub fn secret_from_env() -> String {
    std::env::var(SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SECRET.to_owned())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// Signs `claims` as an HS256 JWT.
pub fn sign(secret: &[u8], claims: &Map<String, Value>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Adds `iss`, `iat`, `exp` (now + `ttl_seconds`) and `token_use` to a
/// caller's claims and signs them.
pub fn mint(secret: &[u8], claims: &Map<String, Value>, ttl_seconds: i64) -> String {
    let now = now();
    let mut all = claims.clone();
    all.insert("iss".into(), json!(ISSUER));
    all.insert("token_use".into(), json!("id"));
    all.insert("iat".into(), json!(now));
    all.insert("exp".into(), json!(now + ttl_seconds));
    sign(secret, &all)
}

fn decode_json(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed),
    }
}

/// Verifies a token and returns its claims.
pub fn verify(secret: &[u8], token: &str) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = decode_json(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::Algorithm);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| JwtError::Signature)?;
    let claims = decode_json(p)?;
    let now = now();
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if (exp as i64) > now => {}
        _ => return Err(JwtError::Expired),
    }
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_f64() {
            Some(nbf) if (nbf as i64) <= now => {}
            _ => return Err(JwtError::NotYetValid),
        }
    }
    Ok(claims)
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

    fn claims() -> Map<String, Value> {
        json!({"sub": "u_chris", "custom:account_id": "acc_acme"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(b"k", &claims(), 60);
        let c = verify(b"k", &t).expect("verifies");
        assert_eq!(c["sub"], "u_chris");
        assert_eq!(c["iss"], ISSUER);
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

        let mut no_exp = claims();
        no_exp.insert("iat".into(), json!(now()));
        assert_eq!(verify(b"k", &sign(b"k", &no_exp)), Err(JwtError::Expired));

        let mut future = claims();
        future.insert("exp".into(), json!(now() + 600));
        future.insert("nbf".into(), json!(now() + 300));
        assert_eq!(
            verify(b"k", &sign(b"k", &future)),
            Err(JwtError::NotYetValid)
        );

        // alg none, with or without a signature part.
        let payload = good.split('.').nth(1).unwrap_or_default();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            verify(b"k", &format!("{none}.{payload}.")),
            Err(JwtError::Algorithm)
        );
        let hs512 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert_eq!(
            verify(b"k", &format!("{hs512}.{payload}.c2ln")),
            Err(JwtError::Algorithm)
        );
    }
}
