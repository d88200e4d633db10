//! The dev sign-in of the local gateway (it does not exist on AWS, where
//! Cognito signs people in):
//!
//! - `GET /dev/people`: everyone in the directory the gateway loaded, with
//!   the label the sign-in screen shows ("Chris — Acme Beauty, client",
//!   "Dana — account manager");
//! - `POST /dev/token {"user_id": "u_chris"}`: a token for them, like the
//!   ones `make dev` prints, and when it expires.
//!
//! Both answer only callers on this machine (a loopback peer, a loopback
//! `Host` — so a DNS-rebound name cannot reach them from a browser — and
//! no foreign `Origin`), and only while the gateway verifies tokens with
//! the public default secret: with a real secret they are refused.

use std::net::SocketAddr;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use liaison::ApiError;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::demo;
use crate::jwt;
use crate::web::{self, is_loopback_host, method_not_allowed, problem, response, Resp};

/// A POST /dev/token body is a user id: this is plenty.
const MAX_BODY_BYTES: usize = 4 * 1024;

/// What the dev sign-in needs from the gateway.
#[derive(Debug, Clone)]
pub(crate) struct DevSignIn {
    /// The directory loaded at start (`--demo`, `--directory`); none: nobody.
    pub directory: Option<Value>,
    /// The secret the gateway verifies tokens with.
    pub secret: Vec<u8>,
}

/// One entry of `GET /dev/people`.
pub fn people(directory: &Value) -> Vec<Value> {
    let account_name = |id: &str| {
        directory["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["id"].as_str() == Some(id))
            .and_then(|a| a["name"].as_str())
            .unwrap_or(id)
            .to_owned()
    };
    demo::people(directory)
        .into_iter()
        .map(|p| match &p.account {
            Some(acc) => {
                let name = account_name(acc);
                json!({
                    "user_id": p.id,
                    "name": p.name,
                    "role": "client",
                    "account_id": acc,
                    "account_name": name,
                    "label": format!("{} — {name}, client", p.name),
                })
            }
            None => json!({
                "user_id": p.id,
                "name": p.name,
                "role": "manager",
                "label": format!("{} — account manager", p.name),
            }),
        })
        .collect()
}

fn forbidden(detail: &str) -> Resp {
    problem(&ApiError {
        status: StatusCode::FORBIDDEN,
        code: "forbidden",
        title: "Forbidden",
        detail: detail.to_owned(),
        errors: Vec::new(),
    })
}

fn no_store(mut resp: Resp) -> Resp {
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

impl DevSignIn {
    /// Whether tokens may be handed out: only with the public dev secret.
    pub fn enabled(&self) -> bool {
        self.secret == jwt::DEFAULT_SECRET.as_bytes()
    }

    /// Answers a `/dev/…` request. `allowed_origins`: the origins the API
    /// accepts besides the request's own.
    pub async fn handle(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        allowed_origins: &[String],
    ) -> Resp {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !peer.ip().is_loopback() || !is_loopback_host(&host) {
            return forbidden("The dev sign-in answers callers on this machine only.");
        }
        if let Some(origin) = req.headers().get(http::header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let own = format!("http://{host}");
            if origin != own && !allowed_origins.iter().any(|a| a == origin) {
                return forbidden("The dev sign-in answers the local page only.");
            }
        }
        if !self.enabled() {
            return forbidden(
                "The dev sign-in is off: this gateway verifies tokens with a secret of its own \
                 (LIAISON_DEV_JWT_SECRET), so it hands none out.",
            );
        }
        let resp = match path.as_str() {
            "/dev/people" => {
                if method != Method::GET && method != Method::HEAD {
                    return method_not_allowed("GET, HEAD");
                }
                let people = self.directory.as_ref().map(people).unwrap_or_default();
                web::with_body(
                    &method,
                    response(
                        200,
                        "application/json",
                        json!({ "people": people }).to_string(),
                    ),
                )
            }
            "/dev/token" => {
                if method != Method::POST {
                    return method_not_allowed("POST");
                }
                self.token(req).await
            }
            _ => problem(&ApiError::not_found()),
        };
        no_store(resp)
    }

    async fn token(&self, req: http::Request<Incoming>) -> Resp {
        // JSON, however labelled by a fetch() that set no type; not a form
        // (a cross-site form post is refused by its Origin anyway).
        let media = req.headers().get(http::header::CONTENT_TYPE).map(|v| {
            let v = v.to_str().unwrap_or("?");
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let json_body = match media.as_deref() {
            None => true,
            Some(m) => m == "application/json" || m == "text/plain" || m.ends_with("+json"),
        };
        if !json_body {
            return problem(&ApiError::unsupported_media_type(
                "POST /dev/token takes application/json: {\"user_id\": \"u_chris\"}.",
            ));
        }
        let Ok(collected) = http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        else {
            return problem(&ApiError::payload_too_large(
                "POST /dev/token bodies are limited to 4 KB.",
            ));
        };
        let body: Value = match serde_json::from_slice(&collected.to_bytes()) {
            Ok(v) => v,
            Err(e) => return problem(&ApiError::malformed_json(format!("{e}."))),
        };
        let user_id = match body.get("user_id") {
            None | Some(Value::Null) => return problem(&ApiError::field("user_id", "is required")),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(_) => {
                return problem(&ApiError::field(
                    "user_id",
                    "must be a non-empty string, e.g. \"u_chris\"",
                ))
            }
        };
        let person = self
            .directory
            .as_ref()
            .and_then(|d| demo::find(d, &user_id));
        let Some(person) = person else {
            let mut err = ApiError::not_found();
            err.detail = "No one with this user_id is in the directory the gateway loaded \
                          (GET /dev/people lists them)."
                .into();
            return problem(&err);
        };
        let token = jwt::mint(&self.secret, &person.claims(), demo::TOKEN_HOURS * 3600);
        // Its own exp, to the second.
        let exp = jwt::verify(&self.secret, &token)
            .ok()
            .and_then(|c| c.get("exp").and_then(Value::as_i64))
            .unwrap_or_default();
        let expires_at = OffsetDateTime::from_unix_timestamp(exp)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        response(
            200,
            "application/json",
            json!({ "token": token, "expires_at": expires_at }).to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_labelled_for_the_sign_in_screen() {
        let all = people(&demo::directory());
        let chris = all
            .iter()
            .find(|p| p["user_id"] == "u_chris")
            .expect("Chris");
        assert_eq!(
            chris,
            &json!({"user_id": "u_chris", "name": "Chris", "role": "client",
                    "account_id": "acc_acme", "account_name": "Acme Beauty",
                    "label": "Chris — Acme Beauty, client"})
        );
        let dana = all.iter().find(|p| p["user_id"] == "u_dana").expect("Dana");
        assert_eq!(
            dana,
            &json!({"user_id": "u_dana", "name": "Dana", "role": "manager",
                    "label": "Dana — account manager"})
        );
        assert!(people(&json!({})).is_empty());
    }
}
