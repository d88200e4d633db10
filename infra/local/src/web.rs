//! The page on the API's origin: `GET /config.json`, the built app from
//! `LIAISON_WEB_DIR` (default `web/dist`) — `/assets/*` and other files
//! as they are, `/`, `/signin`, `/messages` and `/messages/*` as
//! `index.html`, for the page routes itself — and, when it is not built, a
//! page saying how to build it. API routes are resolved first (see
//! `server.rs`); this only sees paths the API does not have.

use std::path::{Component, Path, PathBuf};

use http::{HeaderValue, Method, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use liaison::ApiError;
use serde_json::json;

/// Where the built page is, unless `LIAISON_WEB_DIR` says.
pub const DEFAULT_WEB_DIR: &str = "web/dist";
/// Where the built page is: absolute, or relative to the repository root.
pub const WEB_DIR_ENV: &str = "LIAISON_WEB_DIR";

/// Hashed assets are cached for a year; everything else is revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub(crate) type Resp = http::Response<Full<Bytes>>;

/// The repository this crate is part of.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// `dir` as given (absolute) or under the repository root (relative).
pub fn resolve_dir(dir: &str) -> PathBuf {
    let p = Path::new(dir);
    if p.is_absolute() {
        p.to_owned()
    } else {
        repo_root().join(p)
    }
}

/// `LIAISON_WEB_DIR`, or `web/dist`, resolved with [`resolve_dir`].
pub fn dir_from_env() -> PathBuf {
    let dir = std::env::var(WEB_DIR_ENV)
        .ok()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_WEB_DIR.to_owned());
    resolve_dir(dir.trim())
}

/// Where the page is and what it may talk to.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub dir: PathBuf,
    /// `http://{addr}` of the gateway: the page's API when the request's
    /// Host says nothing usable.
    pub origin: String,
    /// Where the browser PUTs uploads and loads thumbnails from (the
    /// presigned URLs' origin).
    pub s3_origin: String,
    /// Whether the dev sign-in answers (the dev secret is the default).
    pub dev_sign_in: bool,
}

/// Whether this path is the page's (asked only for paths the API lacks).
pub(crate) fn handles(path: &str) -> bool {
    path == "/config.json" || is_app_route(path) || file_path(path).is_some()
}

/// Paths the page routes itself: they all answer `index.html`.
fn is_app_route(path: &str) -> bool {
    matches!(path, "/" | "/index.html" | "/signin" | "/messages") || path.starts_with("/messages/")
}

/// The file a URL path names under the web directory: `/assets/…` or a
/// file at its top (`/favicon.svg`). Refuses, after percent-decoding,
/// anything that could leave the directory or name a hidden file: `..`,
/// `.`, empty segments, backslashes, NUL, a leading dot.
pub(crate) fn file_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let rest = decoded.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    let ok = match segments.as_slice() {
        ["assets", tail @ ..] => !tail.is_empty(),
        [single] => single.contains('.'),
        _ => false,
    };
    if !ok {
        return None;
    }
    let mut out = PathBuf::new();
    for s in segments {
        if s.is_empty() || s.starts_with('.') || s.contains(['\\', '\0', ':']) {
            return None;
        }
        out.push(s);
    }
    // Belt and braces: only plain names remain.
    out.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(out)
}

/// The content type of a file by its extension.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Whether a file name carries a build hash, as Vite names assets
/// (`[name]-[hash].[ext]`, the hash 8+ characters of `[A-Za-z0-9_-]`):
/// the stem ends in `-` or `.` and such a run with a digit or a capital
/// in it, so `index-B4x_9k-z.js` is one and `liaison-messages.js` is not.
pub(crate) fn is_hashed(name: &str) -> bool {
    let Some((stem, _)) = name.rsplit_once('.') else {
        return false;
    };
    let bytes = stem.as_bytes();
    (8..=20).any(|n| {
        if bytes.len() <= n {
            return false;
        }
        let (head, hash) = bytes.split_at(bytes.len() - n);
        matches!(head.last(), Some(b'-' | b'.'))
            && hash
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            && hash
                .iter()
                .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    })
}

impl Site {
    /// The Content-Security-Policy of the page: no inline script; images
    /// and uploads also from the attachments' origin; no framing.
    pub fn csp(&self) -> String {
        let s3 = &self.s3_origin;
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; \
             img-src 'self' {s3} data: blob:; connect-src 'self' {s3}; \
             font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'"
        )
    }

    /// The page's answer for a path [`handles`] accepted.
    pub async fn serve(&self, method: &Method, path: &str, headers: &http::HeaderMap) -> Resp {
        if method != Method::GET && method != Method::HEAD {
            return with_body(method, method_not_allowed("GET, HEAD"));
        }
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let resp = if path == "/config.json" {
            self.config(header(http::header::HOST))
        } else if is_app_route(path) {
            self.index().await
        } else {
            match file_path(path) {
                Some(rel) => self.file(&rel).await,
                None => problem(&ApiError::not_found()),
            }
        };
        with_body(
            method,
            not_modified(resp, header(http::header::IF_NONE_MATCH)),
        )
    }

    fn config(&self, host: Option<&str>) -> Resp {
        let api_url = host
            .filter(|h| valid_host(h))
            .map(|h| format!("http://{h}"))
            .unwrap_or_else(|| self.origin.clone());
        let mut resp = response(
            200,
            "application/json",
            json!({"api_url": api_url, "dev_sign_in": self.dev_sign_in}).to_string(),
        );
        set(&mut resp, "cache-control", "no-store");
        nosniff(&mut resp);
        resp
    }

    async fn index(&self) -> Resp {
        let path = self.dir.join("index.html");
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let tag = etag(&path).await;
                let mut resp = response(200, "text/html; charset=utf-8", bytes);
                set(&mut resp, "etag", &tag);
                set(&mut resp, "cache-control", REVALIDATE);
                self.html_headers(&mut resp);
                resp
            }
            Err(_) => self.not_built(),
        }
    }

    /// What `/` answers before `make web`.
    fn not_built(&self) -> Resp {
        let dir = html_escape(&self.dir.display().to_string());
        let body = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>Liaison: the page is not built</title></head>\n<body>\n\
             <h1>The page is not built yet</h1>\n\
             <p>The API is serving, but there is no built page in <code>{dir}</code>.</p>\n\
             <p>Run <code>make web</code> (Node.js 20 and npm are needed), then reload; \
             <code>make dev</code> does it for you. To serve a page built elsewhere, set \
             <code>LIAISON_WEB_DIR</code>.</p>\n</body>\n</html>\n"
        );
        let mut resp = response(503, "text/html; charset=utf-8", body);
        set(&mut resp, "cache-control", "no-store");
        self.html_headers(&mut resp);
        resp
    }

    async fn file(&self, rel: &Path) -> Resp {
        let full = self.dir.join(rel);
        // Symlinks must not lead out of the directory either.
        let (Ok(root), Ok(real)) = (
            tokio::fs::canonicalize(&self.dir).await,
            tokio::fs::canonicalize(&full).await,
        ) else {
            return problem(&ApiError::not_found());
        };
        if !real.starts_with(&root) || !real.is_file() {
            return problem(&ApiError::not_found());
        }
        let Ok(bytes) = tokio::fs::read(&real).await else {
            return problem(&ApiError::not_found());
        };
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let in_assets = rel.starts_with("assets");
        let tag = etag(&real).await;
        let mut resp = response(200, content_type(rel), bytes);
        set(&mut resp, "etag", &tag);
        let cache = if in_assets && is_hashed(name) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        set(&mut resp, "cache-control", cache);
        nosniff(&mut resp);
        if content_type(rel).starts_with("text/html") {
            self.html_headers(&mut resp);
        }
        resp
    }

    fn html_headers(&self, resp: &mut Resp) {
        let csp = self.csp();
        set(resp, "content-security-policy", &csp);
        nosniff(resp);
        set(resp, "x-frame-options", "DENY");
        set(resp, "referrer-policy", "no-referrer");
        set(resp, "cross-origin-opener-policy", "same-origin");
        set(
            resp,
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        );
    }
}

/// A weak validator from a file's length and modification time.
async fn etag(path: &Path) -> String {
    let (len, modified) = match tokio::fs::metadata(path).await {
        Ok(m) => (
            m.len(),
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        ),
        Err(_) => (0, 0),
    };
    format!("W/\"{len:x}-{modified:x}\"")
}

/// A 200 whose ETag the client already has (`If-None-Match`) becomes a
/// 304 with the same headers and no body.
fn not_modified(resp: Resp, if_none_match: Option<&str>) -> Resp {
    let (Some(wanted), Some(tag)) = (
        if_none_match,
        resp.headers().get("etag").and_then(|v| v.to_str().ok()),
    ) else {
        return resp;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let hit = resp.status() == StatusCode::OK
        && wanted
            .split(',')
            .any(|w| w.trim() == "*" || bare(w) == bare(tag));
    if !hit {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    parts.status = StatusCode::NOT_MODIFIED;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    http::Response::from_parts(parts, Full::new(Bytes::new()))
}

/// A Host header naming a host and maybe a port, nothing else.
pub(crate) fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Whether a Host header names this machine: `127.0.0.1`, `localhost`,
/// `[::1]` (any port).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return false,
            None => host,
        }
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut resp = http::Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    set(&mut resp, "content-type", content_type);
    resp
}

pub(crate) fn problem(err: &ApiError) -> Resp {
    let mut resp = response(
        err.status.as_u16(),
        "application/problem+json",
        err.to_json(),
    );
    nosniff(&mut resp);
    resp
}

pub(crate) fn method_not_allowed(allowed: &str) -> Resp {
    let mut err = ApiError::method_not_allowed();
    err.detail = format!("This path accepts {allowed}.");
    let mut resp = problem(&err);
    set(&mut resp, "allow", allowed);
    resp
}

fn set(resp: &mut Resp, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn nosniff(resp: &mut Resp) {
    set(resp, "x-content-type-options", "nosniff");
}

/// HEAD: the GET's headers (its length too), no body.
pub(crate) fn with_body(method: &Method, resp: Resp) -> Resp {
    if method != Method::HEAD || resp.status() == StatusCode::NOT_MODIFIED {
        return resp;
    }
    use hyper::body::Body as _;
    let len = resp.body().size_hint().exact().unwrap_or(0);
    let (mut parts, _) = resp.into_parts();
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    http::Response::from_parts(parts, Full::new(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_files_under_the_directory_are_named() {
        assert_eq!(
            file_path("/assets/index-B4x_9kQz.js"),
            Some(PathBuf::from("assets/index-B4x_9kQz.js"))
        );
        assert_eq!(
            file_path("/assets/img/logo.svg"),
            Some(PathBuf::from("assets/img/logo.svg"))
        );
        assert_eq!(
            file_path("/favicon.svg"),
            Some(PathBuf::from("favicon.svg"))
        );
        for bad in [
            "/assets/../Cargo.toml",
            "/assets/../../Cargo.toml",
            "/assets/%2e%2e/%2e%2e/Cargo.toml",
            "/assets/..%2f..%2fCargo.toml",
            "/assets/%2E%2E%2FCargo.toml",
            "/assets/..\\..\\Cargo.toml",
            "/assets/.%2e/x.js",
            "/assets//etc/passwd",
            "/assets/%2fetc%2fpasswd",
            "/assets/.env",
            "/assets/x%00.js",
            "/assets/",
            "/assets",
            "/.env",
            "/..",
            "/%2e%2e",
            "/etc/passwd",
            "/assets/C:x.js",
            "/assets/%ff.js",
            "/noext",
        ] {
            assert_eq!(file_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types_and_hashes() {
        assert_eq!(
            content_type(Path::new("a/x.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.CSS")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("x.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("x.woff2")), "font/woff2");
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
        assert!(is_hashed("index-B4x_9kQz.js"));
        assert!(is_hashed("index-12345678.css"));
        assert!(is_hashed("index-B4x-9kQz.js"));
        assert!(is_hashed("vendor-preact-Ab_3-xYz.js"));
        assert!(!is_hashed("liaison-messages.js"));
        assert!(!is_hashed("index.js"));
        assert!(!is_hashed("logo.svg"));
    }

    #[test]
    fn app_routes() {
        for p in [
            "/",
            "/signin",
            "/messages",
            "/messages/new",
            "/messages/thr_1",
        ] {
            assert!(handles(p), "{p}");
            assert!(is_app_route(p), "{p}");
        }
        assert!(!is_app_route("/messagesx"));
        assert!(!handles("/nope"));
        assert!(handles("/config.json"));
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:3000",
            "127.0.0.1",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
            "[::1]",
            "127.9.9.9:1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example:3000",
            "127.0.0.1.evil.example",
            "[::2]:3000",
            "[::1]x",
            "10.0.0.1:3000",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
        assert!(valid_host("127.0.0.1:3000"));
        assert!(!valid_host("a\"b"));
        assert!(!valid_host("a/b"));
    }
}
