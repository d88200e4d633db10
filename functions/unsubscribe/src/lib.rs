//! `GET|POST /unsubscribe/{token}` — one-click unsubscribe (RFC 8058), no
//! sign-in: the signed token of an e-mail's `List-Unsubscribe` link mutes
//! that thread for that person.
//!
//! - `GET` answers a confirmation page with one button that POSTs back to
//!   the same URL; it changes nothing (mail and link scanners fetch every
//!   link).
//! - `POST` (any body: `List-Unsubscribe=One-Click` form-encoded from a mail
//!   provider, an empty form from the page's button) mutes the thread for
//!   the token's person, exactly as `PUT /threads/{id}/mute`, and answers a
//!   page saying so. Idempotent; never a redirect.
//!
//! The token stands for a reply key ([`ReplyKeys::verify_mute_token`]); the
//! key's row says whose and which thread, and until when. A token this
//! deployment did not sign is `400 invalid_token`; an unknown or expired
//! row, or a person no longer in the thread, `404 not_found`; either way
//! nothing changes. Errors are `problem+json`, or a short HTML page with
//! the same status for a browser (`Accept: text/html`).
//!
//! Every answer is `Cache-Control: no-store`, `Referrer-Policy: no-referrer`
//! (the URL is a credential) and a CSP that allows no script, no style and
//! no frame. Logs carry the thread id and the outcome, never the token.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use liaison::domain::{ThreadId, Timestamp, UserId};
use liaison::notify::email::escape_html;
use liaison::reply::ReplyKeys;
use liaison::store::Store;
use liaison::{http, ApiError};

pub struct App {
    pub store: Store,
    /// Verifies tokens (they are signed like reply keys).
    pub keys: ReplyKeys,
    /// Where the confirmation pages link to (the app).
    pub app_url: String,
}

/// The pages' Content-Security-Policy: nothing but the page itself, and a
/// form that posts only to this origin.
pub const CSP: &str = "default-src 'none'; style-src 'none'; script-src 'none'; \
     img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a token does not mute anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Not signed by this deployment (malformed, forged, another secret).
    Invalid,
    /// No row, an expired row, or a person no longer in the thread.
    NotFound,
}

/// The thread a live token names.
struct Target {
    thread: ThreadId,
    user: UserId,
    label: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let html = wants_html(&req);
    let mutes = req.method() == Method::POST;
    let token = http::path_param(&req, "token").unwrap_or_default();
    let target = match resolve(app, token).await {
        Ok(Ok(t)) => t,
        Ok(Err(refused)) => {
            tracing::info!(
                method = req.method().as_str(),
                outcome = match refused {
                    Refused::Invalid => "invalid_token",
                    Refused::NotFound => "not_found",
                },
                "unsubscribe refused"
            );
            return refusal(refused, html, &app.app_url);
        }
        Err(err) => return error_page(http::respond(Err(err)), html, &app.app_url),
    };
    if !mutes {
        tracing::info!(thread_id = %target.thread, outcome = "confirm", "unsubscribe page");
        return page(StatusCode::OK, confirm_page(&target));
    }
    match app
        .store
        .set_muted(&target.thread, &target.user, true)
        .await
    {
        Ok(Some(_)) => {
            tracing::info!(thread_id = %target.thread, outcome = "muted", "unsubscribed");
            page(StatusCode::OK, done_page(&target, &app.app_url))
        }
        // Left the thread between the two reads.
        Ok(None) => refusal(Refused::NotFound, html, &app.app_url),
        Err(err) => error_page(http::respond(Err(ApiError::from(err))), html, &app.app_url),
    }
}

/// The token → its live row → the thread, if its person is still in it.
async fn resolve(app: &App, token: &str) -> Result<Result<Target, Refused>, ApiError> {
    let Ok(key) = app.keys.verify_mute_token(token) else {
        return Ok(Err(Refused::Invalid));
    };
    let Some(row) = app.store.reply_key(&key).await? else {
        return Ok(Err(Refused::NotFound));
    };
    if row.expires_at <= Timestamp::now().unix_seconds() {
        return Ok(Err(Refused::NotFound));
    }
    let ctx = app.store.send_context(&row.thread, &[], None).await?;
    let Some(record) = ctx
        .record
        .filter(|r| r.thread.account_id == row.account && r.member(&row.user).is_some())
    else {
        return Ok(Err(Refused::NotFound));
    };
    Ok(Ok(Target {
        thread: row.thread,
        user: row.user,
        label: record.thread.scope.label,
    }))
}

/// A browser (or anyone asking for HTML) gets pages, others problem+json.
fn wants_html(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

fn invalid_token() -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_token",
        title: "Invalid link",
        detail: "This unsubscribe link is not valid. Mute the conversation in Liaison instead."
            .into(),
        errors: Vec::new(),
    }
}

fn refusal(refused: Refused, html: bool, app_url: &str) -> Response<Body> {
    let err = match refused {
        Refused::Invalid => invalid_token(),
        Refused::NotFound => ApiError::not_found(),
    };
    if html {
        let text = match refused {
            Refused::Invalid => "This unsubscribe link is not valid. It may have been mistyped or cut short.",
            Refused::NotFound => "This unsubscribe link has expired, or you no longer take part in this conversation.",
        };
        return page(err.status, error_body(err.title, text, app_url));
    }
    secured(http::problem(&err))
}

/// A problem from the store (503, 500): as a page for a browser.
fn error_page(problem: Response<Body>, html: bool, app_url: &str) -> Response<Body> {
    if !html {
        return secured(problem);
    }
    let status = problem.status();
    let text = if status == StatusCode::SERVICE_UNAVAILABLE {
        "Liaison is busy right now and nothing was changed. Please try again in a moment."
    } else {
        "Something went wrong and nothing was changed. Please try again later."
    };
    page(status, error_body("Please try again", text, app_url))
}

fn page(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secured(resp)
}

/// The headers every answer carries.
fn secured(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    resp
}

fn document(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <title>{} — Liaison</title>\n</head>\n<body>\n<main>\n{main}</main>\n</body>\n</html>\n",
        escape_html(title)
    )
}

fn confirm_page(t: &Target) -> String {
    let label = escape_html(&t.label);
    document(
        "Stop e-mails about this conversation?",
        &format!(
            "<h1>Stop e-mails about this conversation?</h1>\n\
             <p>You get an e-mail for each new message in <strong>{label}</strong>.</p>\n\
             <form method=\"post\">\n\
             <button type=\"submit\">Stop e-mails about this conversation</button>\n\
             </form>\n\
             <p>You will still see its messages in Liaison.</p>\n"
        ),
    )
}

fn done_page(t: &Target, app_url: &str) -> String {
    let label = escape_html(&t.label);
    let link = escape_html(&format!(
        "{}/messages/{}",
        app_url.trim_end_matches('/'),
        t.thread
    ));
    document(
        "E-mails stopped",
        &format!(
            "<h1>E-mails stopped</h1>\n\
             <p role=\"status\">You will no longer get e-mails about <strong>{label}</strong>.</p>\n\
             <p>Its messages still show in Liaison. Changed your mind? \
             <a href=\"{link}\">Open the conversation</a> and choose \
             “Unmute e-mails” in its header.</p>\n"
        ),
    )
}

fn error_body(title: &str, text: &str, app_url: &str) -> String {
    let link = escape_html(&format!("{}/messages", app_url.trim_end_matches('/')));
    document(
        title,
        &format!(
            "<h1>{}</h1>\n<p>{}</p>\n\
             <p>You can mute any conversation in <a href=\"{link}\">Liaison</a> \
             with “Mute e-mails” in its header.</p>\n",
            escape_html(title),
            escape_html(text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_the_label_and_post_to_themselves() {
        let t = Target {
            thread: ThreadId::parse("thr_01jd8x3v6m9q2r7t4w5y8z0abc").unwrap(),
            user: UserId::parse("u_chris").unwrap(),
            label: "Acme <b>Spring</b> & \"more\"".into(),
        };
        let confirm = confirm_page(&t);
        assert!(confirm.contains("Acme &lt;b&gt;Spring&lt;/b&gt; &amp; &quot;more&quot;"));
        assert!(confirm.contains("<html lang=\"en\">"));
        assert!(confirm.contains("<form method=\"post\">"));
        assert!(!confirm.contains("action="));
        assert!(!confirm.contains("<script") && !confirm.contains("style"));
        let done = done_page(&t, "https://app.example/");
        assert!(done.contains("https://app.example/messages/thr_01jd8x3v6m9q2r7t4w5y8z0abc"));
        assert!(done.contains("You will no longer get e-mails about"));
    }
}
