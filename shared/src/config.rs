//! Typed configuration from the environment: a leaf module that only reads
//! variables (the SDK configuration built from them is `crate::aws`'s).
//!
//! Every variable a function reads is named here, once.

use std::time::Duration;

pub const TABLE: &str = "LIAISON_TABLE";
pub const BUCKET: &str = "LIAISON_BUCKET";
pub const QUEUE_URL: &str = "LIAISON_QUEUE_URL";
pub const FROM_EMAIL: &str = "LIAISON_FROM_EMAIL";
pub const APP_URL: &str = "LIAISON_APP_URL";
/// The API's public base URL (one-click unsubscribe links in e-mails).
pub const API_URL: &str = "LIAISON_API_URL";
pub const NOTIFY_DELAY_SECONDS: &str = "LIAISON_NOTIFY_DELAY_SECONDS";
pub const CURSOR_SECRET: &str = "LIAISON_CURSOR_SECRET";
pub const CORS_ORIGIN: &str = "LIAISON_CORS_ORIGIN";
pub const DEAD_LETTER_QUEUE_URL: &str = "LIAISON_DEAD_LETTER_QUEUE_URL";
/// The domain of reply addresses (`reply+{key}@{domain}`), which SES receives.
pub const REPLY_DOMAIN: &str = "LIAISON_REPLY_DOMAIN";
/// The reply keys' secrets, `version:secret[,version:secret…]`, the first signing.
pub const REPLY_SECRETS: &str = "LIAISON_REPLY_SECRETS";
/// How many days a reply key answers (default 90).
pub const REPLY_KEY_DAYS: &str = "LIAISON_REPLY_KEY_DAYS";
/// Extra certificate authorities (PEM) to trust, as other AWS SDKs read it:
/// for an HTTPS proxy or a local stack behind TLS.
pub const CA_BUNDLE: &str = "AWS_CA_BUNDLE";
/// The system's CA bundle file, as OpenSSL reads it.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Set by Lambda for the runtime client: this process is a Lambda function.
pub const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
const REGION: &str = "AWS_REGION";
const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// One endpoint for every service (a local stack), as the SDKs read it.
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// The DynamoDB table.
pub fn table_name() -> Result<String, ConfigError> {
    required(TABLE)
}

/// The attachments bucket.
pub fn bucket_name() -> Result<String, ConfigError> {
    required(BUCKET)
}

/// The notification queue's URL.
pub fn queue_url() -> Result<String, ConfigError> {
    required(QUEUE_URL)
}

/// The notification dead-letter queue's URL (malformed records go there).
pub fn dead_letter_queue_url() -> Result<String, ConfigError> {
    required(DEAD_LETTER_QUEUE_URL)
}

/// The sender address of notification e-mails.
pub fn from_email() -> Result<String, ConfigError> {
    required(FROM_EMAIL)
}

/// The web app's base URL, without a trailing slash.
pub fn app_url() -> Result<String, ConfigError> {
    app_origin(&required(APP_URL)?).map_err(|why| ConfigError::Invalid(APP_URL, why))
}

/// The API's public base URL, without a trailing slash (`https://…`, or
/// `http://` for this machine only), e.g. API Gateway's
/// `https://{id}.execute-api.{region}.amazonaws.com`.
pub fn api_url() -> Result<String, ConfigError> {
    let raw = required(API_URL)?;
    let url = url::Url::parse(&raw).map_err(|e| ConfigError::Invalid(API_URL, e.to_string()))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    if !(url.scheme() == "https" || (url.scheme() == "http" && local)) || url.query().is_some() {
        return Err(ConfigError::Invalid(
            API_URL,
            "must be an https URL without a query (http only for localhost)".into(),
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// The web app's origin, checked: `https://host[:port]`, or `http://` for
/// this machine only (localhost, 127.0.0.1) — e-mail links and CORS
/// must never send people to a plain-http site. One trailing `/` is dropped.
pub fn app_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    let (scheme, authority) = origin
        .split_once("://")
        .ok_or_else(|| "must be an origin such as https://app.example.com".to_owned())?;
    let (host, port) = match authority.find(':') {
        Some(i) => (&authority[..i], &authority[i..]),
        None => (authority, ""),
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    // A DNS name: dot-separated labels of letters, digits and inner
    // hyphens (the template's pattern is the same, less strict on labels).
    let host_ok = host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !port_ok || !host_ok {
        return Err("must be scheme://host[:port] with no path, query or credentials".into());
    }
    let local = matches!(host, "localhost" | "127.0.0.1");
    match scheme {
        "https" => Ok(origin.to_owned()),
        "http" if local => Ok(origin.to_owned()),
        "http" => Err("must use https (plain http only for localhost)".into()),
        _ => Err("must be an https origin".into()),
    }
}

/// How long notifications wait for more messages (default 60 s, max 900 s: SQS's limit).
pub fn notify_delay() -> Result<Duration, ConfigError> {
    match std::env::var(NOTIFY_DELAY_SECONDS) {
        Err(_) => Ok(Duration::from_secs(60)),
        Ok(v) if v.trim().is_empty() => Ok(Duration::from_secs(60)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s) if s <= 900 => Ok(Duration::from_secs(s)),
            _ => Err(ConfigError::Invalid(
                NOTIFY_DELAY_SECONDS,
                "must be whole seconds from 0 to 900".into(),
            )),
        },
    }
}

/// The key that signs pagination cursors (at least 16 bytes).
pub fn cursor_secret() -> Result<Vec<u8>, ConfigError> {
    let s = required(CURSOR_SECRET)?;
    if s.len() < 16 {
        return Err(ConfigError::Invalid(
            CURSOR_SECRET,
            "must be at least 16 characters".into(),
        ));
    }
    Ok(s.into_bytes())
}

/// Reply addresses: domain, secrets, key lifetime (1-3650 days, default 90).
pub fn reply_settings() -> Result<crate::reply::ReplySettings, ConfigError> {
    let domain = required(REPLY_DOMAIN)?.to_ascii_lowercase();
    if domain.contains(['@', ' ', '<', '>']) || !domain.contains('.') {
        return Err(ConfigError::Invalid(
            REPLY_DOMAIN,
            "must be a domain name".into(),
        ));
    }
    let keys = crate::reply::ReplyKeys::parse(&required(REPLY_SECRETS)?)
        .map_err(|e| ConfigError::Invalid(REPLY_SECRETS, e.to_string()))?;
    let key_ttl = match std::env::var(REPLY_KEY_DAYS) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
            Ok(d) if (1..=3650).contains(&d) => Duration::from_secs(d * 24 * 3600),
            _ => {
                return Err(ConfigError::Invalid(
                    REPLY_KEY_DAYS,
                    "must be whole days from 1 to 3650".into(),
                ))
            }
        },
        _ => crate::reply::DEFAULT_KEY_TTL,
    };
    Ok(crate::reply::ReplySettings {
        domain,
        keys,
        key_ttl,
    })
}

/// `AWS_CA_BUNDLE`'s path, if set.
pub fn ca_bundle() -> Option<String> {
    required(CA_BUNDLE).ok()
}

/// Whether this process runs as a Lambda function.
pub fn on_lambda() -> bool {
    required(LAMBDA_RUNTIME_API).is_ok()
}

/// `SSL_CERT_FILE`'s path, if set.
pub fn ssl_cert_file() -> Option<String> {
    required(SSL_CERT_FILE).ok()
}

/// Whether the region and static credentials are all environment variables
/// (as on Lambda, where they are the function role's).
pub fn region_and_keys_in_env() -> bool {
    [REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY]
        .iter()
        .all(|name| required(name).is_ok())
}

/// The region Lambda sets (`AWS_REGION`; `AWS_DEFAULT_REGION` as the SDKs
/// also read it).
pub fn region() -> Result<String, ConfigError> {
    required(REGION).or_else(|_| required(DEFAULT_REGION).map_err(|_| ConfigError::Missing(REGION)))
}

/// The function role's credentials, which Lambda puts in the environment:
/// access key id, secret and (on Lambda always) session token.
pub fn env_credentials() -> Result<(String, String, Option<String>), ConfigError> {
    Ok((
        required(ACCESS_KEY_ID)?,
        required(SECRET_ACCESS_KEY)?,
        required(SESSION_TOKEN).ok(),
    ))
}

/// `AWS_ENDPOINT_URL`: every service at one endpoint (a local stack).
pub fn endpoint_url() -> Option<String> {
    required(ENDPOINT_URL).ok()
}

#[cfg(test)]
mod tests {
    use super::app_origin;

    #[test]
    fn app_origin_is_https_or_local_http() {
        for ok in [
            "https://app.liaison.example",
            "https://app.liaison.example/",
            "https://app.liaison.example:8443",
            "http://localhost:5173",
            "http://127.0.0.1:3000",
        ] {
            assert!(app_origin(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            app_origin("https://app.liaison.example/").as_deref(),
            Ok("https://app.liaison.example")
        );
        for bad in [
            "http://app.liaison.example",
            "http://localhost.evil.example",
            "ftp://localhost",
            "app.liaison.example",
            "https://app.liaison.example/path",
            "https://user@app.liaison.example",
            "https://app.liaison.example:",
            "https://app.liaison.example:x",
            "https://",
            "http://[::1]:3000",
            "https://a[b]",
            "https://-",
            "https://..",
            "https://a..b",
            "https://-a.example",
        ] {
            assert!(app_origin(bad).is_err(), "{bad}");
        }
    }
}
