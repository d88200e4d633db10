//! The HTTP edge: claims → [`Principal`], JSON in (size-limited), JSON and
//! `problem+json` out, and the tamper-proof pagination cursor.

mod claims;
mod cursor;
mod errors;
pub mod requests;
mod views;

pub use claims::{parse_groups, principal_from_claims, MANAGER_GROUP};
pub use cursor::CursorCodec;
pub use requests::body;
pub use views::message_view;

use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{Principal, ThreadId};
use crate::error::ApiError;

/// The largest request body any endpoint reads; checked before parsing.
///
/// Sized from the largest valid request, a send: a body of
/// [`BODY_MAX_CHARS`](crate::domain::BODY_MAX_CHARS) characters, each
/// written as a JSON surrogate-pair escape (`\ud83d\ude00`, 12 bytes, as
/// Python's `json.dumps` writes an emoji), a 100-character
/// `client_message_id` and 10 attachment ids with every character escaped
/// (`\u0041`, 6 bytes), keys escaped too: [`LARGEST_VALID_REQUEST`] bytes.
/// Twice that leaves room for any formatting whitespace and still refuses
/// an absurd body before it is parsed.
pub const MAX_BODY_BYTES: usize = 2 * LARGEST_VALID_REQUEST;

/// The largest valid request without whitespace (see [`MAX_BODY_BYTES`];
/// a unit test builds it and checks this figure).
pub const LARGEST_VALID_REQUEST: usize = 122_702;

/// The most a listing's response body may take in the Lambda response
/// (whose limit is 6 MB, the JSON-encoded body inside it included): a page
/// ends early, with a `next_cursor`, before its items pass this.
pub const PAGE_BUDGET_BYTES: usize = 5 * 1024 * 1024;

/// What `value` adds to a Lambda response once serialized: its JSON, plus
/// one byte for every `"` and `\\`, which are escaped again when the body is
/// embedded as a string in the response envelope.
pub fn response_bytes<T: Serialize>(value: &T) -> usize {
    match serde_json::to_string(value) {
        Ok(json) => json.len() + json.bytes().filter(|b| matches!(b, b'"' | b'\\')).count(),
        // Unserializable: the response will be a small problem anyway.
        Err(_) => 0,
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The caller, from `requestContext.authorizer.jwt.claims` as API Gateway
/// (HTTP API, JWT authorizer) sends them. Anything unusable is a 401.
pub fn principal(req: &Request) -> ApiResult<Principal> {
    use lambda_http::request::RequestContext;
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    claims
        .and_then(principal_from_claims)
        .ok_or_else(ApiError::unauthenticated)
}

/// A path parameter, if present.
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.path_parameters_ref().and_then(|p| p.first(name))
}

/// The `{thread_id}` path parameter. A malformed id names no thread: 404.
pub fn thread_id(req: &Request) -> ApiResult<ThreadId> {
    path_param(req, "thread_id")
        .and_then(|id| ThreadId::parse(id).ok())
        .ok_or_else(ApiError::not_found)
}

/// The path's `attachment_id`; a malformed one names nothing (404).
pub fn attachment_id(req: &Request) -> ApiResult<crate::domain::AttachmentId> {
    path_param(req, "attachment_id")
        .and_then(|id| crate::domain::AttachmentId::parse(id).ok())
        .ok_or_else(ApiError::not_found)
}

/// A query-string parameter, if present.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// `?limit=` in 1..=100, default 50.
pub fn limit(req: &Request) -> ApiResult<i32> {
    match query_param(req, "limit") {
        None => Ok(50),
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ApiError::field("limit", "must be an integer from 1 to 100")),
        },
    }
}

/// `?name=true|false`, default false.
pub fn bool_param(req: &Request, name: &str) -> ApiResult<bool> {
    match query_param(req, name) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::field(name, "must be true or false")),
    }
}

/// The body as a JSON object. Over [`MAX_BODY_BYTES`] is a 413 before any
/// parsing; an empty body reads as `{}`; anything that is not a JSON object
/// is `malformed_json`.
pub fn json_object(req: &Request) -> ApiResult<Map<String, Value>> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(format!(
            "Request bodies are limited to {MAX_BODY_BYTES} bytes."
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::malformed_json("The body must be a JSON object.")),
        Err(e) => Err(ApiError::malformed_json(format!(
            "The body is not valid JSON: {e}"
        ))),
    }
}

fn response(status: u16, content_type: &str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => response(status, "application/json; charset=utf-8", body),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            problem(&ApiError::internal())
        }
    }
}

/// A `problem+json` response.
pub fn problem(err: &ApiError) -> Response<Body> {
    response(
        err.status.as_u16(),
        "application/problem+json",
        err.to_json(),
    )
}

/// Turns a handler's result into the response, logging the outcome with
/// structured fields only (no bodies, no e-mail addresses).
pub fn respond(result: ApiResult<Response<Body>>) -> Response<Body> {
    match result {
        Ok(resp) => resp,
        Err(err) => {
            if err.status.is_server_error() {
                tracing::warn!(
                    status = err.status.as_u16(),
                    code = err.code,
                    "request failed"
                );
            } else {
                tracing::info!(
                    status = err.status.as_u16(),
                    code = err.code,
                    "request refused"
                );
            }
            problem(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character of `s` as a JSON `\\uXXXX` escape (surrogate pairs
    /// above the BMP), as the most verbose JSON writers emit it.
    fn escaped(s: &str) -> String {
        let mut out = String::new();
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04x}"));
        }
        out
    }

    fn largest_send() -> String {
        let body = escaped(&"😀".repeat(crate::domain::BODY_MAX_CHARS));
        let cmid = escaped(&"c".repeat(100));
        let ids: Vec<String> = (0..10)
            .map(|i| {
                format!(
                    "\"{}\"",
                    escaped(&format!("att_01HZX8K2M3N4P5Q6R7S8T9V{i:03}"))
                )
            })
            .collect();
        format!(
            "{{\"{}\":\"{body}\",\"{}\":\"{cmid}\",\"{}\":[{}],\"{}\":true}}",
            escaped("body"),
            escaped("client_message_id"),
            escaped("attachment_ids"),
            ids.join(","),
            escaped("urgent"),
        )
    }

    #[test]
    fn the_largest_valid_request_fits_with_room_for_whitespace() {
        let raw = largest_send();
        assert_eq!(raw.len(), LARGEST_VALID_REQUEST);
        let map = json_object(&with_body(&raw)).expect("accepted");
        assert_eq!(
            map["body"].as_str().map(|b| b.chars().count()),
            Some(crate::domain::BODY_MAX_CHARS)
        );
        let too_big = format!("{raw}{}", " ".repeat(MAX_BODY_BYTES - raw.len() + 1));
        assert_eq!(
            json_object(&with_body(&too_big))
                .map(|_| ())
                .map_err(|e| e.status.as_u16()),
            Err(413)
        );
    }

    #[test]
    fn response_bytes_counts_the_envelope_escapes() {
        assert_eq!(response_bytes(&"a"), 3 + 2);
        assert_eq!(response_bytes(&"\u{1}"), "\"\\u0001\"".len() + 3);
    }

    fn with_body(body: &str) -> Request {
        let mut req = Request::new(Body::Text(body.to_owned()));
        *req.method_mut() = http::Method::POST;
        req
    }

    #[test]
    fn body_limits_and_shapes() {
        assert!(json_object(&with_body("")).unwrap().is_empty());
        assert!(json_object(&with_body("  ")).unwrap().is_empty());
        assert_eq!(
            json_object(&with_body("{")).unwrap_err().code,
            "malformed_json"
        );
        assert_eq!(
            json_object(&with_body("[1]")).unwrap_err().code,
            "malformed_json"
        );
        let big = format!("{{\"body\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            json_object(&with_body(&big)).unwrap_err().code,
            "payload_too_large"
        );
    }

    #[test]
    fn problem_responses_carry_problem_json() {
        let resp = problem(&ApiError::not_found());
        assert_eq!(resp.status(), 404);
        assert_eq!(
            resp.headers()[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
