//! HTTP: API Gateway (routes, JWT authorizer, payload 2.0 events, CORS)
//! in front of the HTTP functions, and the Lambda Invoke API in front of
//! every hosted function.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use lambda_runtime::Diagnostic;
use liaison::ApiError;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::apigw::GatewayRequest;
use crate::functions::Functions;
use crate::jwt;
use crate::routes::{self, Resolved};
use crate::Shutdown;

/// API Gateway's payload limit (HTTP APIs: 10 MB); Lambda's is 6 MB.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
const MAX_INVOKE_BYTES: usize = 6 * 1024 * 1024;
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

pub(crate) struct State {
    pub functions: Arc<Functions>,
    pub jwt_secret: Vec<u8>,
    pub cors_origins: Vec<String>,
    /// The page on this origin.
    pub site: crate::web::Site,
    /// `/dev/people`, `/dev/token`.
    pub dev: crate::dev::DevSignIn,
}

type Resp = http::Response<Full<Bytes>>;

pub(crate) async fn serve(listener: TcpListener, state: Arc<State>, shutdown: Shutdown) {
    let mut stop = shutdown.0;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = listener.accept() => a,
        };
        if crate::is_stopped(&stop) {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let state = state.clone();
        connections.spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

async fn handle(state: &State, req: http::Request<Incoming>, peer: SocketAddr) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| state.cors_origins.iter().any(|a| a == o))
        .map(str::to_owned);

    let (mut resp, function) = if path.starts_with(INVOKE_PREFIX) {
        (invoke(state, req, peer).await, None)
    } else if method == Method::OPTIONS
        && req.headers().contains_key("access-control-request-method")
    {
        (preflight(origin.as_deref()), None)
    } else if matches!(routes::resolve(method.as_str(), &path), Resolved::NotFound)
        && path.starts_with("/dev/")
    {
        (state.dev.handle(req, peer, &state.cors_origins).await, None)
    } else if matches!(routes::resolve(method.as_str(), &path), Resolved::NotFound)
        && crate::web::handles(&path)
    {
        // API routes keep precedence: only paths the API lacks get here.
        (state.site.serve(&method, &path, req.headers()).await, None)
    } else {
        api(state, req).await
    };
    if let Some(o) = origin {
        if let Ok(v) = HeaderValue::from_str(&o) {
            let h = resp.headers_mut();
            h.insert("access-control-allow-origin", v);
            h.append("vary", HeaderValue::from_static("origin"));
        }
    }
    tracing::info!(
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        function = function.unwrap_or("-"),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut resp = http::Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn problem(err: &ApiError) -> Resp {
    response(
        err.status.as_u16(),
        "application/problem+json",
        err.to_json(),
    )
}

fn method_not_allowed(allowed: &[&str]) -> Resp {
    let mut err = ApiError::method_not_allowed();
    err.detail = format!("This path accepts {}.", allowed.join(", "));
    let mut resp = problem(&err);
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        resp.headers_mut().insert(http::header::ALLOW, v);
    }
    resp
}

fn preflight(origin: Option<&str>) -> Resp {
    let mut resp = response(204, "text/plain", Bytes::new());
    resp.headers_mut().remove(http::header::CONTENT_TYPE);
    if origin.is_some() {
        let h = resp.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
    }
    resp
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ()> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| ())
}

/// API Gateway: route, authorize, build the payload 2.0 event, invoke.
async fn api(state: &State, req: http::Request<Incoming>) -> (Resp, Option<&'static str>) {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path().to_owned();
    let (route, path_parameters) = match routes::resolve(parts.method.as_str(), &raw_path) {
        Resolved::Route {
            route,
            path_parameters,
        } => (route, path_parameters),
        Resolved::MethodNotAllowed(allowed) => return (method_not_allowed(&allowed), None),
        Resolved::NotFound => return (problem(&ApiError::not_found()), None),
    };
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // A public route (`security: []`, `Authorizer: NONE`) is invoked
    // without claims, whatever `Authorization` says; every other route
    // needs a valid JWT.
    let verified = if route.public {
        Ok(None)
    } else {
        jwt::verify_header(&state.jwt_secret, authorization.as_deref()).map(Some)
    };
    let claims = match verified {
        Ok(c) => c,
        Err(e) => {
            let mut err = ApiError::unauthenticated();
            err.detail = format!("{}: {e}.", err.detail.trim_end_matches('.'));
            let mut resp = problem(&err);
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
            return (resp, Some(route.function));
        }
    };
    let Ok(bytes) = read_body(body, MAX_REQUEST_BYTES).await else {
        return (
            problem(&ApiError::payload_too_large(
                "Request bodies are limited to 10 MB.",
            )),
            Some(route.function),
        );
    };
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &parts.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        headers
            .entry(k.as_str().to_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    headers.insert("x-forwarded-proto".into(), "http".into());
    let event = GatewayRequest {
        method: parts.method.as_str().to_owned(),
        route_key: route.key(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        path_parameters,
        claims,
        body: (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned()),
    };
    let request = match event.to_request() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the API Gateway event did not parse");
            return (problem(&ApiError::internal()), Some(route.function));
        }
    };
    let functions = state.functions.clone();
    let function = route.function;
    // A panicking function is a failed invocation (API Gateway: 500), not
    // a dropped connection.
    let answer = tokio::spawn(async move { functions.http(function, request).await }).await;
    let resp = match answer {
        Ok(Some(resp)) => from_lambda(resp),
        Ok(None) => {
            let err = ApiError {
                status: StatusCode::NOT_IMPLEMENTED,
                code: "not_implemented",
                title: "Not implemented",
                detail: format!("{function} is not wired into the local gateway yet."),
                errors: Vec::new(),
            };
            problem(&err)
        }
        Err(e) => {
            tracing::error!(error = %e, function, "the function panicked");
            problem(&ApiError::internal())
        }
    };
    (resp, Some(route.function))
}

fn from_lambda(resp: lambda_http::Response<Body>) -> Resp {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let mut out = http::Response::new(Full::new(bytes));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

/// The function name in an Invoke API path: a name, a name with a
/// qualifier, or an ARN, percent-encoded.
fn invoked_name(path: &str) -> Option<String> {
    let rest = path.strip_prefix(INVOKE_PREFIX)?;
    let encoded = rest.strip_suffix("/invocations")?;
    let name = percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned();
    let name = match name.split_once(":function:") {
        Some((_, after)) => after.to_owned(),
        None => name,
    };
    let name = name.split(':').next().unwrap_or_default().to_owned();
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

fn lambda_error(status: u16, kind: &str, message: &str) -> Resp {
    let mut resp = response(
        status,
        "application/json",
        json!({"Type": "User", "message": message}).to_string(),
    );
    if let Ok(v) = HeaderValue::from_str(kind) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

/// A failed invocation as the Invoke API answers it: 200, the error as
/// the runtime reported it, and `X-Amz-Function-Error`.
fn function_error(d: &Diagnostic) -> Resp {
    let body = serde_json::to_string(d).unwrap_or_default();
    let mut r = response(200, "application/json", body);
    r.headers_mut().insert(
        "x-amz-function-error",
        HeaderValue::from_static("Unhandled"),
    );
    r
}

/// The Lambda Invoke API (IAM on AWS; here: loopback callers only).
async fn invoke(state: &State, req: http::Request<Incoming>, peer: SocketAddr) -> Resp {
    if !peer.ip().is_loopback() {
        return lambda_error(
            403,
            "AccessDeniedException",
            "The local Invoke API answers callers on this machine only.",
        );
    }
    let Some(name) = invoked_name(req.uri().path()) else {
        return lambda_error(404, "UnknownOperationException", "Unknown operation");
    };
    if req.method() != Method::POST {
        return lambda_error(404, "UnknownOperationException", "Unknown operation");
    }
    let invocation_type = req
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    if !Functions::hosts(&name) {
        return lambda_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        );
    }
    let Ok(bytes) = read_body(req.into_body(), MAX_INVOKE_BYTES).await else {
        return lambda_error(
            413,
            "RequestTooLargeException",
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        );
    };
    let payload: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return lambda_error(
                    400,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                )
            }
        }
    };
    let functions = state.functions.clone();
    let run = async move { functions.invoke(&name, payload).await };
    match invocation_type.as_str() {
        "DryRun" => return response(204, "application/json", Bytes::new()),
        "Event" => {
            tokio::spawn(async move {
                if let Some(Err(d)) = run.await {
                    tracing::warn!(error_type = %d.error_type, error = %d.error_message, "asynchronous invocation failed");
                }
            });
            return response(202, "application/json", Bytes::new());
        }
        _ => {}
    }
    let mut resp = match tokio::spawn(run).await {
        Ok(Some(Ok(answer))) => response(200, "application/json", answer.to_string()),
        Ok(Some(Err(d))) => function_error(&d),
        Ok(None) => return lambda_error(404, "ResourceNotFoundException", "Function not found"),
        Err(e) => {
            tracing::error!(error = %e, "the function panicked");
            function_error(&Diagnostic {
                error_type: "Runtime.ExitError".into(),
                error_message: "the function panicked".into(),
            })
        }
    };
    resp.headers_mut().insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_paths_name_the_function() {
        assert_eq!(
            invoked_name("/2015-03-31/functions/sync-directory/invocations").as_deref(),
            Some("sync-directory")
        );
        assert_eq!(
            invoked_name(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Async-directory%3Aprod/invocations"
            )
            .as_deref(),
            Some("sync-directory")
        );
        assert_eq!(invoked_name("/2015-03-31/functions//invocations"), None);
        assert_eq!(invoked_name("/2015-03-31/functions/x"), None);
    }
}
