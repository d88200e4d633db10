//! One-click unsubscribe (RFC 8058): `GET|POST /unsubscribe/{token}` with
//! no sign-in, the `unsubscribe+{token}@` mailto through receive-reply,
//! and the gateways letting exactly these two routes through without a JWT.

use aws_lambda_events::event::ses::SimpleEmailEvent;
use aws_sdk_dynamodb::types::AttributeValue as A;
use lambda_http::Body;
use liaison::domain::{ThreadId, Timestamp, UserId};
use liaison::notify::email::escape_html;
use liaison::reply::ReplyKeys;
use liaison::store::Store;
use liaison_local::apigw::GatewayRequest;
use liaison_local::client::HttpClient;
use liaison_local::Gateway;
use mail_builder::MessageBuilder;
use serde_json::{json, Value};

use crate::support::*;

const DOMAIN: &str = liaison_local::DEV_REPLY_DOMAIN;

fn keys() -> ReplyKeys {
    ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS).expect("dev secrets")
}

/// Writes a reply key's row for (thread, user) as the notifier does
/// (`REPLY#{key}` / `KEY`), valid `ttl_secs` from now (negative: expired).
async fn write_key(store: &Store, table: &str, key: &str, thread: &str, user: &str, ttl_secs: i64) {
    let now = Timestamp::now();
    store
        .client()
        .put_item()
        .table_name(table)
        .item("pk", A::S(format!("REPLY#{key}")))
        .item("sk", A::S("KEY".into()))
        .item("account_id", A::S("acc_acme".into()))
        .item("thread_id", A::S(thread.into()))
        .item("user_id", A::S(user.into()))
        .item("address", A::S(format!("{user}@acme.example")))
        .item("issued_at", A::S(now.to_string()))
        .item(
            "expires_at",
            A::N((now.unix_seconds() + ttl_secs).to_string()),
        )
        .send()
        .await
        .expect("put the key's row");
}

/// A reply key for (thread, user) stored as the notifier stores it, and
/// its unsubscribe token.
async fn token_for(w: &World, thread: &str, user: &str, ttl_secs: i64) -> String {
    let key = keys().mint();
    write_key(
        &w.store,
        &w.names.table,
        key.as_str(),
        thread,
        user,
        ttl_secs,
    )
    .await;
    keys().mute_token(&key).expect("a token")
}

struct Page {
    status: u16,
    headers: lambda_http::http::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    #[track_caller]
    fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.json()["code"], code, "{}", self.body);
        self.private();
    }

    #[track_caller]
    fn html(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "text/html; charset=utf-8");
        assert!(self.body.starts_with("<!doctype html>"), "{}", self.body);
        assert!(self.body.contains("<html lang=\"en\">"));
        assert!(self.body.contains("<title>"));
        assert!(!self.body.contains("<script"));
        self.private();
        &self.body
    }

    /// Every answer: not cached, no referrer (the URL is a credential), a
    /// CSP without script or style, never a redirect.
    #[track_caller]
    fn private(&self) {
        assert!(!(300..400).contains(&self.status));
        assert!(self.header("location").is_empty());
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("referrer-policy"), "no-referrer");
        let csp = self.header("content-security-policy");
        for d in [
            "default-src 'none'",
            "script-src 'none'",
            "style-src 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(d), "{csp}");
        }
    }
}

/// Calls the function as API Gateway does for the public route: no claims.
async fn unsub(
    w: &World,
    method: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Page {
    let (route, mut req) = GatewayRequest::routed(
        method,
        &format!("/unsubscribe/{token}"),
        None,
        body.map(str::to_owned),
    )
    .expect("a route");
    assert_eq!(route.function, "unsubscribe");
    assert!(route.public);
    req.headers.clear();
    for (k, v) in headers {
        req.headers.insert((*k).to_owned(), (*v).to_owned());
    }
    let resp =
        unsubscribe::handle(&w.functions.unsubscribe, req.to_request().expect("request")).await;
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Page {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body,
    }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const BROWSER: (&str, &str) = (
    "accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
);

async fn muted(w: &World, thread: &str, user: &str) -> bool {
    w.store
        .inbox_row(
            &ThreadId::parse(thread).expect("a thread id"),
            &UserId::parse(user).expect("a user id"),
        )
        .await
        .expect("read the inbox row")
        .expect("an inbox row")
        .muted
}

async fn label(w: &World, thread: &str) -> String {
    let t = w.thread(&chris(), thread).await;
    t["scope"]["label"].as_str().expect("a label").to_owned()
}

#[tokio::test]
async fn one_click_post_mutes_for_the_tokens_person_only_in_both_encodings() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "Hello Chris").await;
    let label = escape_html(&label(&w, &t).await);

    // A mail provider: RFC 8058's form-encoded body, no Accept.
    let chris_token = token_for(&w, &t, "u_chris", 3600).await;
    let page = unsub(
        &w,
        "POST",
        &chris_token,
        &[FORM],
        Some("List-Unsubscribe=One-Click"),
    )
    .await;
    let html = page.html(200);
    assert!(
        html.contains(&format!(
            "You will no longer get e-mails about <strong>{label}</strong>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"{APP_URL}/messages/{t}\"")),
        "{html}"
    );
    assert!(html.contains("Unmute e-mails"), "the undo hint: {html}");
    assert!(muted(&w, &t, "u_chris").await);
    // The other side is unaffected, and so is Chris's unread state.
    assert!(!muted(&w, &t, "u_dana").await);
    assert_eq!(w.thread(&chris(), &t).await["unread"], true);

    // Again, and several at once (providers retry; scanners follow links
    // while the person clicks): idempotent, every answer 200, still muted.
    let again = || {
        unsub(
            &w,
            "POST",
            &chris_token,
            &[FORM],
            Some("List-Unsubscribe=One-Click"),
        )
    };
    let (a, b, c, d) = tokio::join!(again(), again(), again(), again());
    for page in [a, b, c, d] {
        page.html(200);
    }
    unsub(
        &w,
        "POST",
        &chris_token,
        &[FORM],
        Some("List-Unsubscribe=One-Click"),
    )
    .await
    .html(200);
    assert!(muted(&w, &t, "u_chris").await);

    // The confirmation page's button: an empty form, from a browser; and
    // any other body is ignored (here JSON, from a careless client).
    let dana_token = token_for(&w, &t, "u_dana", 3600).await;
    unsub(&w, "POST", &dana_token, &[FORM, BROWSER], Some(""))
        .await
        .html(200);
    assert!(muted(&w, &t, "u_dana").await);
    let t2 = chris_thread(&w, json!({"kind": "client", "client_id": "cl_glow"})).await;
    let other = token_for(&w, &t2, "u_chris", 3600).await;
    unsub(
        &w,
        "POST",
        &other,
        &[("content-type", "application/json")],
        Some("{\"x\": 1}"),
    )
    .await
    .html(200);
    unsub(&w, "POST", &other, &[], None).await.html(200);
    assert!(muted(&w, &t2, "u_chris").await);
}

#[tokio::test]
async fn get_shows_a_confirmation_page_and_changes_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let label = escape_html(&label(&w, &t).await);
    let token = token_for(&w, &t, "u_chris", 3600).await;
    for headers in [&[BROWSER][..], &[][..]] {
        let page = unsub(&w, "GET", &token, headers, None).await;
        let html = page.html(200);
        assert!(html.contains(&label), "{html}");
        assert!(html.contains("<form method=\"post\">"), "{html}");
        assert!(
            html.contains("<button type=\"submit\">Stop e-mails about this conversation</button>"),
            "{html}"
        );
    }
    assert!(!muted(&w, &t, "u_chris").await);
    // The upper-case token (some clients shout) names the same person.
    unsub(&w, "GET", &token.to_ascii_uppercase(), &[], None)
        .await
        .html(200);
    assert!(!muted(&w, &t, "u_chris").await);
}

#[tokio::test]
async fn forged_malformed_and_foreign_tokens_are_400_and_change_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let key = keys().mint();
    write_key(&w.store, &w.names.table, key.as_str(), &t, "u_chris", 3600).await;
    let token = keys().mute_token(&key).expect("a token");

    // One character changed in the signature.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).expect("ascii");
    // Another deployment's secret, same version and another one.
    let foreign_same_version = ReplyKeys::parse("1:someone-elses-secret-value")
        .expect("secrets")
        .mute_token(&key)
        .expect("a token");
    let foreign_version = ReplyKeys::parse("7:someone-elses-secret-value")
        .expect("secrets")
        .mute_token(
            &ReplyKeys::parse("7:someone-elses-secret-value")
                .unwrap()
                .mint(),
        )
        .expect("a token");
    let cases = [
        ("forged", forged),
        ("foreign secret", foreign_same_version),
        ("foreign version", foreign_version),
        // The reply key itself: purpose-bound, it is no unsubscribe token.
        ("a reply key", key.as_str().to_owned()),
        ("too short", token[..20].to_owned()),
        ("not base32", format!("{}0", &token[..32])),
        ("percent-encoded junk", "%00%2F..".to_owned()),
    ];
    for (what, bad) in &cases {
        for method in ["GET", "POST"] {
            let page = unsub(&w, method, bad, &[FORM], Some("List-Unsubscribe=One-Click")).await;
            page.problem(400, "invalid_token");
            assert_eq!(page.json()["status"], 400, "{what}");
            let page = unsub(&w, method, bad, &[FORM, BROWSER], Some("")).await;
            let html = page.html(400);
            assert!(html.contains("not valid"), "{what}: {html}");
        }
    }
    assert!(!muted(&w, &t, "u_chris").await);
    // The genuine token still works.
    unsub(&w, "POST", &token, &[], None).await.html(200);
    assert!(muted(&w, &t, "u_chris").await);
}

#[tokio::test]
async fn expired_unknown_and_left_are_404_and_change_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let expired = token_for(&w, &t, "u_chris", -1).await;
    // Signed by us but never stored (or removed by TTL).
    let unknown = keys().mute_token(&keys().mint()).expect("a token");
    for token in [&expired, &unknown] {
        for method in ["GET", "POST"] {
            unsub(&w, method, token, &[], None)
                .await
                .problem(404, "not_found");
            let page = unsub(&w, method, token, &[BROWSER], None).await;
            assert!(page.html(404).contains("expired"), "{}", page.body);
        }
    }
    assert!(!muted(&w, &t, "u_chris").await);

    // Chris leaves Acme (the directory changes): his live token stops working.
    let live = token_for(&w, &t, "u_chris", 3600).await;
    let mut dir = directory();
    dir["accounts"][0]["users"] =
        json!([{"id": "u_alex", "email": "alex@acme.example", "name": "Alex"}]);
    w.sync(dir).await;
    unsub(&w, "GET", &live, &[], None)
        .await
        .problem(404, "not_found");
    unsub(
        &w,
        "POST",
        &live,
        &[FORM],
        Some("List-Unsubscribe=One-Click"),
    )
    .await
    .problem(404, "not_found");
}

// ------------------------------------------------------------ the mailto

fn ses_event(id: &str, recipients: &[&str], source: &str, spam: &str) -> SimpleEmailEvent {
    let now = Timestamp::now().to_string();
    let pass = json!({"status": "PASS"});
    let event = json!({"Records": [{
        "eventSource": "aws:ses", "eventVersion": "1.0",
        "ses": {
            "mail": {
                "timestamp": now, "source": source, "messageId": id,
                "destination": recipients, "headersTruncated": false,
                "headers": [], "commonHeaders": {"returnPath": source, "from": [source], "to": recipients,
                                                 "messageId": format!("<{id}@mail.example>"),
                                                 "subject": "unsubscribe"}
            },
            "receipt": {
                "timestamp": now, "processingTimeMillis": 40, "recipients": recipients,
                "spamVerdict": {"status": spam}, "virusVerdict": pass,
                "spfVerdict": pass, "dkimVerdict": pass, "dmarcVerdict": pass,
                "dmarcPolicy": "none",
                "action": {"type": "Lambda", "invocationType": "Event",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:receive-reply"}
            }
        }
    }]});
    serde_json::from_value(event).expect("SES's event")
}

/// An unsubscribe e-mail as a mail provider sends it to the mailto.
async fn mail_to(w: &World, to: &str, spam: &str) -> Value {
    let id = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    // Often from the provider itself, not the person: the token decides.
    let raw = MessageBuilder::new()
        .from(("Mail", "unsubscribe-bot@mail.example"))
        .to(to)
        .subject("unsubscribe")
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body("This message was automatically generated by Mail.")
        .write_to_vec()
        .expect("an e-mail");
    liaison::aws::s3_client(&w.aws)
        .put_object()
        .bucket(&w.names.bucket)
        .key(format!("inbound/{id}"))
        .body(raw.into())
        .send()
        .await
        .expect("put the raw e-mail");
    let answer = w
        .functions
        .receive_reply(ses_event(&id, &[to], "unsubscribe-bot@mail.example", spam))
        .await
        .unwrap_or_else(|d| panic!("receive-reply failed: {}", d.error_message));
    answer["results"][0].clone()
}

#[tokio::test]
async fn the_mailto_mutes_through_receive_reply_and_posts_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let token = token_for(&w, &t, "u_chris", 3600).await;
    let to = format!("unsubscribe+{token}@{DOMAIN}");

    // Spam is refused at check 1 like any e-mail.
    let r = mail_to(&w, &to, "FAIL").await;
    assert_eq!(
        (r["outcome"].as_str(), r["reason"].as_str()),
        (Some("refused"), Some("spam"))
    );
    assert!(!muted(&w, &t, "u_chris").await);

    let r = mail_to(&w, &to, "PASS").await;
    assert_eq!(r["outcome"], "unsubscribed", "{r}");
    assert_eq!(r["thread_id"], t.as_str());
    assert!(muted(&w, &t, "u_chris").await);
    assert!(!muted(&w, &t, "u_dana").await);
    // Nothing was posted.
    let page = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    assert_eq!(page["messages"], json!([]));
    // Again (a second click, or a redelivery): the same.
    assert_eq!(mail_to(&w, &to, "PASS").await["outcome"], "unsubscribed");

    // Forged, unknown, expired, left: refused at check 3, nothing muted.
    let t2 = chris_thread(&w, json!({"kind": "client", "client_id": "cl_glow"})).await;
    let good = token_for(&w, &t2, "u_chris", 3600).await;
    let forged = format!(
        "{}{}",
        &good[..32],
        if good.ends_with('a') { 'b' } else { 'a' }
    );
    let unknown = keys().mute_token(&keys().mint()).expect("a token");
    let expired = token_for(&w, &t2, "u_chris", -1).await;
    for (token, reason) in [
        (&forged, "forged_key"),
        (&unknown, "unknown_key"),
        (&expired, "expired_key"),
    ] {
        let r = mail_to(&w, &format!("unsubscribe+{token}@{DOMAIN}"), "PASS").await;
        assert_eq!(r["outcome"], "refused", "{r}");
        assert_eq!(
            (r["reason"].as_str(), r["check"].as_u64()),
            (Some(reason), Some(3))
        );
    }
    // Another domain's unsubscribe address is not ours.
    let r = mail_to(&w, &format!("unsubscribe+{good}@elsewhere.example"), "PASS").await;
    assert_eq!(r["reason"], "no_reply_address", "{r}");
    assert!(!muted(&w, &t2, "u_chris").await);

    let mut dir = directory();
    dir["accounts"][0]["users"] =
        json!([{"id": "u_alex", "email": "alex@acme.example", "name": "Alex"}]);
    w.sync(dir).await;
    let r = mail_to(&w, &format!("unsubscribe+{good}@{DOMAIN}"), "PASS").await;
    assert_eq!(r["reason"], "not_participant", "{r}");
}

// ------------------------------------------------------------ the gateway

/// Over real HTTP: the unsubscribe routes need no token (and ignore a bad
/// one); every other route still answers 401 without one.
#[tokio::test]
async fn only_the_unsubscribe_routes_are_public_in_the_local_gateway() {
    let config = gateway_config("un").await;
    let table = config.names.table.clone();
    let gateway = Gateway::start(config).await.expect("the gateway starts");
    let http = HttpClient::new();
    let base = gateway.url();
    let bearer = format!("Bearer {}", demo_token("u_chris"));
    let opened = http
        .send(
            "POST",
            &format!("{base}/threads"),
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            Some(
                json!({"scope": {"kind": "general"}})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await
        .expect("the gateway answers");
    let t: Value = serde_json::from_slice(&opened.body).expect("a thread");
    let t = t["id"].as_str().expect("an id").to_owned();
    let store = Store::new(aws_sdk_dynamodb::Client::new(gateway.aws()), &table);
    let key = keys().mint();
    write_key(&store, &table, key.as_str(), &t, "u_chris", 3600).await;
    let token = keys().mute_token(&key).expect("a token");
    let url = format!("{base}/unsubscribe/{token}");

    let page = http
        .send("GET", &url, &[("authorization", "Bearer garbage")], None)
        .await
        .expect("an answer");
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let done = http
        .send(
            "POST",
            &url,
            &form,
            Some(b"List-Unsubscribe=One-Click".to_vec()),
        )
        .await
        .expect("an answer");
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert!(String::from_utf8_lossy(&done.body).contains("You will no longer get e-mails"));
    let row = store
        .inbox_row(
            &ThreadId::parse(&t).unwrap(),
            &UserId::parse("u_chris").unwrap(),
        )
        .await
        .expect("read")
        .expect("a row");
    assert!(row.muted);
    let bad = http
        .send("POST", &format!("{base}/unsubscribe/nope"), &[], None)
        .await
        .expect("an answer");
    assert_eq!(bad.status, 400);

    // Every other route: 401 without a token.
    for r in liaison_local::routes::ROUTES.iter().filter(|r| !r.public) {
        let path = r
            .path
            .replace("{thread_id}", &t)
            .replace("{attachment_id}", "01JD8X3V6M9Q2R7T4W5Y8Z0ABC");
        let resp = http
            .send(
                r.method,
                &format!("{base}{path}"),
                &[("content-type", "application/json")],
                Some(b"{}".to_vec()),
            )
            .await
            .expect("an answer");
        assert_eq!(resp.status, 401, "{} {path}", r.method);
    }
    gateway.shutdown().await;
}
