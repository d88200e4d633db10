//! Builds the API Gateway (HTTP API, payload 2.0) event that a route
//! invocation carries, claims included, exactly as AWS sends it. The local
//! gateway and the tests use it so handlers see what they see on AWS.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default)]
pub struct GatewayRequest {
    pub method: String,
    /// e.g. `POST /threads/{thread_id}/messages`
    pub route_key: String,
    pub raw_path: String,
    pub raw_query: String,
    pub headers: BTreeMap<String, String>,
    pub path_parameters: BTreeMap<String, String>,
    pub claims: Option<Map<String, Value>>,
    pub body: Option<String>,
}

impl GatewayRequest {
    /// The payload-2.0 event as JSON.
    pub fn to_event(&self) -> Value {
        let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in self.raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            query.entry(decode(k)).or_default().push(decode(v));
        }
        let query: Map<String, Value> = query
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        let now = crate::domain::Timestamp::now();
        let mut ctx = json!({
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": self.method,
                "path": self.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": self.headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": self.route_key,
            "stage": "$default",
            "time": now.to_string(),
            "timeEpoch": now.unix_millis(),
        });
        if let Some(claims) = &self.claims {
            // API Gateway passes every claim as a string.
            let claims: Map<String, Value> = claims
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Array(a) => format!(
                            "[{}]",
                            a.iter()
                                .map(|x| x
                                    .as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| x.to_string()))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(s))
                })
                .collect();
            ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.raw_path,
            "rawQueryString": self.raw_query,
            "headers": self.headers,
            "requestContext": ctx,
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !self.path_parameters.is_empty() {
            event["pathParameters"] = json!(self.path_parameters);
        }
        if let Some(body) = &self.body {
            event["body"] = Value::String(body.clone());
        }
        event
    }

    /// The `lambda_http::Request` a handler receives for this event.
    pub fn to_request(&self) -> Result<lambda_http::Request, serde_json::Error> {
        lambda_http::request::from_str(&self.to_event().to_string())
    }
}
