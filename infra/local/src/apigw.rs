//! API Gateway (HTTP API, payload 2.0) as the functions see it: the
//! request event a route invocation carries, claims included, and the
//! response an HTTP function returns, both as `aws_lambda_events`' types.
//! The gateway, the tests and the bench use them so handlers see what
//! they see on AWS.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use lambda_http::{Body, Response};
use liaison::domain::Timestamp;
use serde_json::{Map, Value};

use crate::routes::{self, Resolved, Route};

/// What a route invocation is made of; [`GatewayRequest::to_event`] adds
/// the rest of API Gateway's request context.
#[derive(Debug, Clone, Default)]
pub struct GatewayRequest {
    pub method: String,
    /// e.g. `POST /threads/{thread_id}/messages`
    pub route_key: String,
    pub raw_path: String,
    pub raw_query: String,
    pub headers: BTreeMap<String, String>,
    pub path_parameters: BTreeMap<String, String>,
    /// The JWT's claims, as the authorizer verified them.
    pub claims: Option<Map<String, Value>>,
    pub body: Option<String>,
}

impl GatewayRequest {
    /// A request as API Gateway routes it by [`crate::routes::ROUTES`]
    /// (a body is JSON), and its route; what the path resolved to instead
    /// when no route takes it. For in-process callers (tests, the bench).
    pub fn routed(
        method: &str,
        path_and_query: &str,
        claims: Option<Map<String, Value>>,
        body: Option<String>,
    ) -> Result<(Route, Self), Resolved> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let (route, path_parameters) = match routes::resolve(method, path) {
            Resolved::Route {
                route,
                path_parameters,
            } => (route, path_parameters),
            other => return Err(other),
        };
        let mut headers = BTreeMap::new();
        if body.is_some() {
            headers.insert("content-type".to_owned(), "application/json".to_owned());
        }
        let req = Self {
            method: method.to_owned(),
            route_key: route.key(),
            raw_path: path.to_owned(),
            raw_query: query.to_owned(),
            headers,
            path_parameters,
            claims,
            body,
        };
        Ok((route, req))
    }

    /// The payload-2.0 event.
    pub fn to_event(&self) -> ApiGatewayV2httpRequest {
        // As bytes: a value `lambda_http` will not take (non-ASCII text)
        // stays in, and fails the event as it would on AWS.
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes());
            if let (Ok(k), Ok(v)) = (name, HeaderValue::from_bytes(v.as_bytes())) {
                headers.insert(k, v);
            }
        }
        let mut event = ApiGatewayV2httpRequest::default();
        event.version = Some("2.0".into());
        event.route_key = Some(self.route_key.clone());
        event.raw_path = Some(self.raw_path.clone());
        event.raw_query_string = Some(self.raw_query.clone());
        // Percent-decoded, '+' as a space, repeated names joined by ','
        // (as API Gateway does when it serializes them).
        event.query_string_parameters = self.raw_query.parse().unwrap_or_default();
        event.path_parameters = self.path_parameters.clone().into_iter().collect();
        event.body = self.body.clone();

        let method = Method::from_bytes(self.method.as_bytes()).unwrap_or_default();
        let ctx = &mut event.request_context;
        ctx.route_key = event.route_key.clone();
        ctx.account_id = Some("000000000000".into());
        ctx.apiid = Some("local".into());
        ctx.domain_name = Some("127.0.0.1".into());
        ctx.domain_prefix = Some("local".into());
        ctx.stage = Some("$default".into());
        ctx.request_id = Some(ulid::Ulid::new().to_string());
        let now = Timestamp::now();
        ctx.time = Some(now.to_string());
        ctx.time_epoch = now.unix_millis();
        ctx.http.method = method;
        ctx.http.path = Some(self.raw_path.clone());
        ctx.http.protocol = Some("HTTP/1.1".into());
        ctx.http.source_ip = Some("127.0.0.1".into());
        ctx.http.user_agent = Some(self.headers.get("user-agent").cloned().unwrap_or_default());
        if let Some(claims) = &self.claims {
            let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
            jwt.claims = claims
                .iter()
                .map(|(k, v)| (k.clone(), claim_string(v)))
                .collect();
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.jwt = Some(jwt);
            ctx.authorizer = Some(authorizer);
        }
        event.headers = headers;
        event
    }

    /// The `lambda_http::Request` a handler receives for this event: the
    /// event goes through its JSON, as it does on its way to a Lambda, so
    /// the handler gets what `lambda_http` makes of that JSON.
    pub fn to_request(&self) -> Result<lambda_http::Request, serde_json::Error> {
        lambda_http::request::from_str(&serde_json::to_string(&self.to_event())?)
    }
}

/// A claim as API Gateway's JWT authorizer passes it: every claim a
/// string, an array as `[a b]`.
fn claim_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// An HTTP function's response as its Lambda answer (the payload 2.0
/// response API Gateway reads).
pub fn gateway_response(resp: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = resp.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.is_base64_encoded = matches!(body, Body::Binary(_));
    out.body = Some(match body {
        // An empty body as `""`, not `null`.
        Body::Empty => Body::Text(String::new()),
        body => body,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    use serde_json::json;

    #[test]
    fn a_routed_request_reaches_the_handler_as_api_gateway_sends_it() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("u_dana"));
        claims.insert("cognito:groups".into(), json!(["account-managers", "x"]));
        claims.insert("exp".into(), json!(1700000000));
        let (route, req) = GatewayRequest::routed(
            "POST",
            "/threads/thr_1/messages?a=1&a=2&b=x+y%21",
            Some(claims),
            Some("{}".into()),
        )
        .expect("a route");
        assert_eq!(route.function, "send-message");
        let req = req.to_request().expect("a request");
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().path(), "/threads/thr_1/messages");
        assert_eq!(req.path_parameters().first("thread_id"), Some("thr_1"));
        let query = req.query_string_parameters();
        assert_eq!(query.all("a"), Some(vec!["1", "2"]));
        assert_eq!(query.first("b"), Some("x y!"));
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.body(), &Body::Text("{}".into()));
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            panic!("an HTTP API context");
        };
        assert_eq!(
            ctx.route_key.as_deref(),
            Some("POST /threads/{thread_id}/messages")
        );
        let claims = &ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .expect("JWT claims")
            .claims;
        // Every claim a string, as API Gateway's JWT authorizer passes them.
        assert_eq!(claims["sub"], "u_dana");
        assert_eq!(claims["cognito:groups"], "[account-managers x]");
        assert_eq!(claims["exp"], "1700000000");
    }

    #[test]
    fn responses_are_payload_2_answers() {
        let resp = Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .body(Body::Text("{\"id\":1}".into()))
            .expect("a response");
        let answer = serde_json::to_value(gateway_response(resp)).expect("JSON");
        assert_eq!(answer["statusCode"], 201);
        assert_eq!(answer["headers"]["content-type"], "application/json");
        assert_eq!(answer["body"], "{\"id\":1}");
        assert_eq!(answer["isBase64Encoded"], false);
        let binary = Response::new(Body::Binary(b"hi".to_vec()));
        let answer = serde_json::to_value(gateway_response(binary)).expect("JSON");
        assert_eq!(answer["body"], "aGk=");
        assert_eq!(answer["isBase64Encoded"], true);
    }
}
