//! The HTTP API's routes (API.md's endpoint list, `infra/openapi.yaml`'s
//! paths) and the function each one invokes, as API Gateway routes them.

use std::collections::BTreeMap;

/// One route: API Gateway's route key and its integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// With `{name}` segments, as in the route key.
    pub path: &'static str,
    pub function: &'static str,
    /// No JWT: the route's own token is the authority (the spec's
    /// `security: []`; API Gateway's `Auth: Authorizer: NONE`).
    pub public: bool,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn route(method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        method,
        path,
        function,
        public: false,
    }
}

/// A route API Gateway answers without its JWT authorizer.
const fn public_route(method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        method,
        path,
        function,
        public: true,
    }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route("GET", "/catalog", "get-catalog"),
    route("POST", "/threads", "open-thread"),
    route("GET", "/threads", "list-threads"),
    route("GET", "/threads/{thread_id}", "list-threads"),
    route("GET", "/unread", "list-threads"),
    route("GET", "/threads/{thread_id}/messages", "list-messages"),
    route("POST", "/threads/{thread_id}/messages", "send-message"),
    route("POST", "/threads/{thread_id}/read", "mark-read"),
    route("POST", "/threads/{thread_id}/unread", "mark-read"),
    route("PUT", "/threads/{thread_id}/mute", "mark-read"),
    route("DELETE", "/threads/{thread_id}/mute", "mark-read"),
    route("GET", "/me/notifications", "mark-read"),
    route("PUT", "/me/notifications", "mark-read"),
    public_route("GET", "/unsubscribe/{token}", "unsubscribe"),
    public_route("POST", "/unsubscribe/{token}", "unsubscribe"),
    route(
        "POST",
        "/threads/{thread_id}/attachments",
        "presign-attachment",
    ),
    route(
        "GET",
        "/threads/{thread_id}/attachments/{attachment_id}",
        "presign-attachment",
    ),
    route("POST", "/threads/{thread_id}/uploads", "upload-parts"),
    route(
        "POST",
        "/threads/{thread_id}/uploads/{attachment_id}/parts",
        "upload-parts",
    ),
    route(
        "POST",
        "/threads/{thread_id}/uploads/{attachment_id}/complete",
        "upload-parts",
    ),
    route(
        "DELETE",
        "/threads/{thread_id}/uploads/{attachment_id}",
        "upload-parts",
    ),
];

/// What a request's method and path resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Route {
        route: Route,
        path_parameters: BTreeMap<String, String>,
    },
    /// The path exists, not with this method; the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Matches `raw_path` against a route pattern; path parameters are
/// percent-decoded, as API Gateway passes them.
fn matches(pattern: &str, raw_path: &str) -> Option<BTreeMap<String, String>> {
    let want: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let got: Vec<&str> = raw_path.strip_prefix('/')?.split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        if g.is_empty() {
            return None;
        }
        match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) => {
                let value = percent_encoding::percent_decode_str(g)
                    .decode_utf8_lossy()
                    .into_owned();
                params.insert(name.to_owned(), value);
            }
            None if w == g => {}
            None => return None,
        }
    }
    Some(params)
}

pub fn resolve(method: &str, raw_path: &str) -> Resolved {
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(path_parameters) = matches(r.path, raw_path) {
            if r.method == method {
                return Resolved::Route {
                    route: *r,
                    path_parameters,
                };
            }
            allowed.push(r.method);
        }
    }
    if allowed.is_empty() {
        Resolved::NotFound
    } else {
        Resolved::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_like_api_gateway() {
        match resolve("GET", "/threads/thr_1/attachments/01J%2F") {
            Resolved::Route {
                route,
                path_parameters,
            } => {
                assert_eq!(route.function, "presign-attachment");
                assert_eq!(path_parameters["thread_id"], "thr_1");
                assert_eq!(path_parameters["attachment_id"], "01J/");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve("POST", "/threads"),
            Resolved::Route { route, .. } if route.function == "open-thread"
        ));
        assert_eq!(
            resolve("DELETE", "/threads"),
            Resolved::MethodNotAllowed(vec!["POST", "GET"])
        );
        assert_eq!(resolve("GET", "/nope"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/threads/"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/threads//messages"), Resolved::NotFound);
        assert_eq!(resolve("GET", "threads"), Resolved::NotFound);
    }

    #[test]
    fn only_the_unsubscribe_routes_are_public() {
        let public: Vec<String> = ROUTES.iter().filter(|r| r.public).map(Route::key).collect();
        assert_eq!(
            public,
            ["GET /unsubscribe/{token}", "POST /unsubscribe/{token}"]
        );
    }
}
