//! The page on the local gateway's origin (`infra/local/src/web.rs`) and
//! its dev sign-in (`infra/local/src/dev.rs`), over real HTTP: each test
//! starts its own gateway on port 0 with a web directory of its own.

use std::path::{Path, PathBuf};

use liaison_local::client::{HttpClient, HttpResponse};
use liaison_local::{demo, jwt, Config, Gateway};
use serde_json::{json, Value};

use crate::support;

const INDEX: &str = "<!doctype html><title>Liaison</title><script type=\"module\" src=\"/assets/index-B4x9kQz1.js\"></script>";
const SCRIPT: &str = "console.log('liaison');";

/// A scratch directory: `root/dist` is the web directory, `root/secret.txt`
/// what nobody may read through it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(built: bool) -> Self {
        let root = std::env::temp_dir().join(format!("liaison-page-{}", ulid::Ulid::new()));
        let dist = root.join("dist");
        std::fs::create_dir_all(dist.join("assets/img")).expect("a scratch dir");
        std::fs::write(root.join("secret.txt"), "top secret").expect("write");
        if built {
            std::fs::write(dist.join("index.html"), INDEX).expect("write");
            std::fs::write(dist.join("assets/index-B4x9kQz1.js"), SCRIPT).expect("write");
            std::fs::write(dist.join("assets/index-Ck_2-aZq.css"), "body{}").expect("write");
            std::fs::write(dist.join("assets/liaison-messages.js"), SCRIPT).expect("write");
            std::fs::write(dist.join("assets/img/logo.svg"), "<svg/>").expect("write");
            std::fs::write(dist.join("assets/.hidden.js"), SCRIPT).expect("write");
            std::fs::write(dist.join("favicon.svg"), "<svg/>").expect("write");
            #[cfg(unix)]
            std::os::unix::fs::symlink(root.join("secret.txt"), dist.join("assets/link.txt"))
                .expect("a symlink");
        }
        Scratch(root)
    }

    fn dist(&self) -> PathBuf {
        self.0.join("dist")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Local {
    gateway: Gateway,
    http: HttpClient,
    _scratch: Scratch,
}

async fn local(built: bool, edit: impl FnOnce(&mut Config)) -> Local {
    let aws = support::aws().await;
    let scratch = Scratch::new(built);
    let prefix = format!("p{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut config = Config::new(aws, liaison::provision::Names::with_prefix(&prefix));
    config.addr = "127.0.0.1:0".parse().expect("an address");
    config.directory = Some(demo::directory());
    config.print_mail = false;
    config.event_sources = false;
    // Never the fixed default port: tests run in parallel, beside `make dev`.
    config.smtp_addr = None;
    config.web_dir = scratch.dist();
    edit(&mut config);
    let gateway = Gateway::start(config).await.expect("the gateway starts");
    Local {
        gateway,
        http: HttpClient::new(),
        _scratch: scratch,
    }
}

impl Local {
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> HttpResponse {
        self.http
            .send(
                method,
                &format!("{}{path}", self.gateway.url()),
                headers,
                body.map(|b| b.to_string().into_bytes()),
            )
            .await
            .expect("the gateway answers")
    }

    async fn get(&self, path: &str) -> HttpResponse {
        self.send("GET", path, &[], None).await
    }

    async fn token_for(&self, body: Value) -> HttpResponse {
        self.send(
            "POST",
            "/dev/token",
            &[("content-type", "application/json")],
            Some(body),
        )
        .await
    }
}

fn problem(r: &HttpResponse, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/problem+json");
    let body = r.json();
    assert_eq!(body["code"], code, "{body}");
    body
}

fn is_index(r: &HttpResponse) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), INDEX);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-cache");
}

/// The HTML's security headers: a CSP without inline script that lets the
/// page reach the local AWS for uploads and thumbnails, no framing.
fn secure_html(r: &HttpResponse) {
    let csp = r.header("content-security-policy");
    let s3 = std::env::var("AWS_ENDPOINT_URL").expect("the local AWS");
    let s3 = s3.trim_end_matches('/');
    for part in [
        "default-src 'self'",
        "script-src 'self';",
        &format!("img-src 'self' {s3} data: blob:"),
        &format!("connect-src 'self' {s3};"),
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("x-frame-options"), "DENY");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_gateway_serves_the_page_beside_the_api() {
    let l = local(true, |_| {}).await;
    let url = l.gateway.url();

    // The page routes itself: each of its paths is index.html.
    for path in [
        "/",
        "/signin",
        "/messages",
        "/messages/new?client=cl_glow&campaign=cp_spring",
        "/messages/thr_01J00000000000000000000000",
    ] {
        let r = l.get(path).await;
        is_index(&r);
        secure_html(&r);
    }

    // Its settings: the API is this origin, the dev sign-in is on.
    let r = l.get("/config.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.json(), json!({"api_url": url, "dev_sign_in": true}));
    // Reached as localhost, the API is localhost's (same origin, no CORS).
    let r = l
        .send("GET", "/config.json", &[("host", "localhost:3999")], None)
        .await;
    assert_eq!(r.json()["api_url"], "http://localhost:3999");

    // Assets: their types; hashed ones cached for good, others revalidated.
    let r = l.get("/assets/index-B4x9kQz1.js").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), SCRIPT);
    assert_eq!(r.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    let r = l.get("/assets/index-Ck_2-aZq.css").await;
    assert_eq!(r.header("content-type"), "text/css; charset=utf-8");
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let r = l.get("/assets/liaison-messages.js").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), "no-cache");
    // Revalidation: the same file again is a 304 without a body.
    let tag = r.header("etag").to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");
    for method in ["GET", "HEAD"] {
        let again = l
            .send(
                method,
                "/assets/liaison-messages.js",
                &[("if-none-match", &tag)],
                None,
            )
            .await;
        assert_eq!(again.status, 304, "{method}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), tag);
    }
    let other = l
        .send(
            "GET",
            "/assets/liaison-messages.js",
            &[("if-none-match", "W/\"0-0\"")],
            None,
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), SCRIPT);
    let index = l.get("/").await;
    let again = l
        .send(
            "GET",
            "/messages",
            &[("if-none-match", index.header("etag"))],
            None,
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(!again.header("content-security-policy").is_empty());
    let r = l.get("/assets/img/logo.svg").await;
    assert_eq!(r.header("content-type"), "image/svg+xml");
    let r = l.get("/favicon.svg").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "image/svg+xml");

    // HEAD: the GET's headers, no body.
    let r = l.send("HEAD", "/", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), INDEX.len().to_string());
    assert!(r.body.is_empty());
    assert!(!r.header("content-security-policy").is_empty());
    let r = l.send("HEAD", "/assets/index-B4x9kQz1.js", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), SCRIPT.len().to_string());
    assert_eq!(r.header("content-type"), "text/javascript; charset=utf-8");
    assert!(r.body.is_empty());
    let r = l.send("HEAD", "/config.json", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    // Only GET and HEAD.
    let r = l.send("POST", "/messages", &[], Some(json!({}))).await;
    problem(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), "GET, HEAD");

    // Nothing outside the directory, nothing hidden, nothing missing.
    for path in [
        "/assets/../secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "/%2e%2e/secret.txt",
        "/assets/link.txt",
        "/assets/.hidden.js",
        "/assets/img",
        "/assets/nope.js",
        "/secret.txt",
        "/nope",
    ] {
        let r = l.get(path).await;
        problem(&r, 404, "not_found");
        assert!(!r.text().contains("top secret"), "{path}");
    }

    // API routes keep precedence over the page.
    for path in ["/threads", "/catalog", "/unread", "/threads/thr_1/messages"] {
        let r = l.get(path).await;
        problem(&r, 401, "unauthenticated");
    }

    l.gateway.shutdown().await;
}

#[tokio::test]
async fn e_mail_links_open_the_thread_on_the_gateways_page() {
    let l = local(true, |_| {}).await;
    // LIAISON_APP_URL is the gateway's own origin unless set...
    assert_eq!(l.gateway.app_url(), l.gateway.url());
    assert_eq!(l.gateway.env().app_url, l.gateway.url());
    // ...and the link notify-reply renders is a page route.
    is_index(&l.get("/messages/thr_01J00000000000000000000000").await);
    l.gateway.shutdown().await;

    let l = local(false, |c| {
        c.app_url = Some("https://app.agency.example/".into())
    })
    .await;
    assert_eq!(l.gateway.app_url(), "https://app.agency.example");
    l.gateway.shutdown().await;
}

#[tokio::test]
async fn an_unbuilt_page_says_how_to_build_it() {
    let l = local(false, |_| {}).await;
    for path in ["/", "/messages/thr_1", "/signin"] {
        let r = l.get(path).await;
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert!(r.text().contains("make web"), "{}", r.text());
        secure_html(&r);
    }
    // The rest still works.
    assert_eq!(l.get("/config.json").await.status, 200);
    assert_eq!(l.get("/dev/people").await.status, 200);
    problem(&l.get("/assets/index.js").await, 404, "not_found");
    problem(&l.get("/threads").await, 401, "unauthenticated");
    l.gateway.shutdown().await;
}

#[tokio::test]
async fn the_dev_sign_in_lists_the_directory_and_mints_its_tokens() {
    let l = local(false, |_| {}).await;

    let r = l.get("/dev/people").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let people = r.json()["people"].as_array().cloned().expect("people");
    let ids: Vec<&str> = people
        .iter()
        .filter_map(|p| p["user_id"].as_str())
        .collect();
    assert_eq!(ids, ["u_chris", "u_alex", "u_dana", "u_bea", "u_max"]);
    assert!(people.contains(&json!({
        "user_id": "u_chris", "name": "Chris", "role": "client",
        "account_id": "acc_acme", "account_name": "Acme Beauty",
        "label": "Chris — Acme Beauty, client"
    })));
    assert!(people.contains(&json!({
        "user_id": "u_dana", "name": "Dana", "role": "manager",
        "label": "Dana — account manager"
    })));
    let r = l.send("HEAD", "/dev/people", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    // A token like the ones `make dev` prints, and it works on the API.
    for (who, path) in [("u_chris", "/catalog"), ("u_dana", "/threads")] {
        let r = l.token_for(json!({"user_id": who})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("cache-control"), "no-store");
        let body = r.json();
        let token = body["token"].as_str().expect("a token");
        let claims = jwt::verify(jwt::DEFAULT_SECRET.as_bytes(), token).expect("verifies");
        let person = demo::find(&demo::directory(), who).expect("a demo person");
        for (k, v) in person.claims() {
            assert_eq!(claims[&k], v, "{who}: {k}");
        }
        let exp = claims["exp"].as_i64().expect("exp");
        let iat = claims["iat"].as_i64().expect("iat");
        assert_eq!(exp - iat, demo::TOKEN_HOURS * 3600);
        let expires_at = time::OffsetDateTime::parse(
            body["expires_at"].as_str().expect("expires_at"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339");
        assert_eq!(expires_at.unix_timestamp(), exp, "{body}");
        let r = l
            .send(
                "GET",
                path,
                &[("authorization", &format!("Bearer {token}"))],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{who} {path}: {}", r.text());
    }
    // The manager's token says so.
    let r = l.token_for(json!({"user_id": "u_dana"})).await;
    let claims = jwt::verify(
        jwt::DEFAULT_SECRET.as_bytes(),
        r.json()["token"].as_str().unwrap_or_default(),
    )
    .expect("verifies");
    assert_eq!(claims["cognito:groups"], json!(["account-managers"]));
    assert!(claims.get("custom:account_id").is_none());

    // Bad requests name what is wrong.
    problem(
        &l.token_for(json!({"user_id": "u_nobody"})).await,
        404,
        "not_found",
    );
    let b = problem(&l.token_for(json!({})).await, 400, "validation_failed");
    assert_eq!(b["errors"][0]["field"], "user_id", "{b}");
    let b = problem(
        &l.token_for(json!({"user_id": 7})).await,
        400,
        "validation_failed",
    );
    assert_eq!(b["errors"][0]["field"], "user_id", "{b}");
    problem(
        &l.token_for(json!({"user_id": ""})).await,
        400,
        "validation_failed",
    );
    let r = l
        .http
        .send(
            "POST",
            &format!("{}/dev/token", l.gateway.url()),
            &[("content-type", "application/json")],
            Some(b"{\"user_id\":".to_vec()),
        )
        .await
        .expect("answers");
    problem(&r, 400, "malformed_json");
    let r = l
        .http
        .send(
            "POST",
            &format!("{}/dev/token", l.gateway.url()),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(b"user_id=u_chris".to_vec()),
        )
        .await
        .expect("answers");
    problem(&r, 415, "unsupported_media_type");
    // A fetch() that labelled its JSON text/plain, or not at all, is fine.
    for headers in [vec![("content-type", "text/plain;charset=UTF-8")], vec![]] {
        let r = l
            .http
            .send(
                "POST",
                &format!("{}/dev/token", l.gateway.url()),
                &headers,
                Some(b"{\"user_id\":\"u_chris\"}".to_vec()),
            )
            .await
            .expect("answers");
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
    }
    let r = l
        .http
        .send(
            "POST",
            &format!("{}/dev/token", l.gateway.url()),
            &[("content-type", "application/json")],
            Some(vec![b' '; 10 * 1024]),
        )
        .await
        .expect("answers");
    problem(&r, 413, "payload_too_large");
    let r = l.get("/dev/token").await;
    problem(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), "POST");
    let r = l.send("POST", "/dev/people", &[], None).await;
    problem(&r, 405, "method_not_allowed");
    problem(&l.get("/dev/nope").await, 404, "not_found");

    // This machine only: a foreign Host (DNS rebinding) or Origin is refused.
    for headers in [
        vec![("host", "evil.example:3000")],
        vec![("host", "localhost.evil.example")],
        vec![("origin", "https://evil.example")],
    ] {
        let r = l.send("GET", "/dev/people", &headers, None).await;
        problem(&r, 403, "forbidden");
        let mut h = headers.clone();
        h.push(("content-type", "application/json"));
        let r = l
            .send(
                "POST",
                "/dev/token",
                &h,
                Some(json!({"user_id": "u_chris"})),
            )
            .await;
        problem(&r, 403, "forbidden");
    }
    // The page's own origin, and the API's CORS origins, are fine.
    let own = l.gateway.url();
    for origin in [own.as_str(), "http://localhost:5173"] {
        let r = l
            .send(
                "POST",
                "/dev/token",
                &[("content-type", "application/json"), ("origin", origin)],
                Some(json!({"user_id": "u_chris"})),
            )
            .await;
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
    }
    let r = l
        .send(
            "GET",
            "/dev/people",
            &[("host", &format!("localhost:{}", l.gateway.addr().port()))],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    l.gateway.shutdown().await;
}

/// An address of this machine that is not loopback, if it has one.
fn outside_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: this only picks the outgoing interface.
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn the_dev_sign_in_is_off_with_a_real_secret_and_off_this_machine() {
    let l = local(true, |c| {
        c.jwt_secret = "a-secret-of-this-deployment-only".into();
        c.addr = "0.0.0.0:0".parse().expect("an address");
    })
    .await;
    let port = l.gateway.addr().port();
    let base = format!("http://127.0.0.1:{port}");

    let r = l
        .http
        .get(&format!("{base}/dev/people"), &[])
        .await
        .expect("answers");
    let b = problem(&r, 403, "forbidden");
    assert!(
        b["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("LIAISON_DEV_JWT_SECRET"),
        "{b}"
    );
    let r = l
        .http
        .send(
            "POST",
            &format!("{base}/dev/token"),
            &[("content-type", "application/json")],
            Some(br#"{"user_id":"u_chris"}"#.to_vec()),
        )
        .await
        .expect("answers");
    problem(&r, 403, "forbidden");
    let r = l
        .http
        .get(&format!("{base}/config.json"), &[])
        .await
        .expect("answers");
    assert_eq!(r.json()["dev_sign_in"], false);
    // The page itself is served as ever.
    let r = l.http.get(&format!("{base}/"), &[]).await.expect("answers");
    is_index(&r);

    // From another machine (here: this one's outside address), refused
    // before anything else.
    if let Some(ip) = outside_address() {
        let host = match ip {
            std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        for (h, why) in [
            (host.clone(), "outside Host"),
            (format!("127.0.0.1:{port}"), "loopback Host, outside peer"),
        ] {
            let r = l
                .http
                .get(&format!("http://{host}/dev/people"), &[("host", &h)])
                .await
                .expect("answers");
            let b = problem(&r, 403, "forbidden");
            assert!(
                b["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("this machine only"),
                "{why}: {b}"
            );
        }
    }
    l.gateway.shutdown().await;
}

#[test]
fn the_web_directory_is_under_the_repository_unless_absolute() {
    let root = liaison_local::web::repo_root();
    assert!(root.join("infra/local/Cargo.toml").is_file());
    assert_eq!(
        liaison_local::web::resolve_dir("web/dist"),
        root.join("web/dist")
    );
    assert_eq!(
        liaison_local::web::resolve_dir("/srv/page"),
        Path::new("/srv/page")
    );
}

/// The page PUTs uploads straight to the bucket from the gateway's origin,
/// whatever its port: the bucket's CORS names it (moto answers any origin,
/// S3 does not, so this reads the configuration).
#[tokio::test]
async fn the_bucket_takes_uploads_from_the_pages_origin() {
    let l = local(false, |_| {}).await;
    let s3 = liaison::aws::s3_client(l.gateway.aws());
    let cors = s3
        .get_bucket_cors()
        .bucket(&l.gateway.env().names.bucket)
        .send()
        .await
        .expect("the bucket has CORS");
    let origins: Vec<String> = cors
        .cors_rules()
        .iter()
        .filter(|r| r.allowed_methods().iter().any(|m| m == "PUT"))
        .flat_map(|r| r.allowed_origins().to_vec())
        .collect();
    let own = l.gateway.url();
    let localhost = format!("http://localhost:{}", l.gateway.addr().port());
    for origin in [own.as_str(), localhost.as_str(), "http://127.0.0.1:3000"] {
        assert!(origins.iter().any(|o| o == origin), "{origin}: {origins:?}");
    }
    // Uploads in parts read each part's ETag from S3's answer.
    assert!(
        cors.cors_rules().iter().any(|r| r
            .expose_headers()
            .iter()
            .any(|h| h.eq_ignore_ascii_case("etag"))),
        "the bucket's CORS must expose ETag"
    );
    l.gateway.shutdown().await;
}
