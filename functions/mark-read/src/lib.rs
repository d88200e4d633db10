//! The reader's own state, one function for its five routes:
//! - `POST /threads/{thread_id}/read` — mark read, up to the newest message
//!   (`{}`) or a given one (`{"message_id": ...}`); the read position never
//!   moves backwards. Answers the caller's read state after.
//! - `POST /threads/{thread_id}/unread` — mark unread: the read position
//!   goes back to just before the newest message from the other side (what
//!   was read stays un-e-mailed). Answers the read state after.
//! - `PUT` / `DELETE /threads/{thread_id}/mute` — stop / resume e-mail about
//!   the thread for the caller: one conditional UpdateItem. Answers
//!   `{thread_id, muted}`.
//! - `GET` / `PUT /me/notifications` — the caller's e-mail preference
//!   (`all` until set): one GetItem / PutItem.
//!
//! Only the caller's own inbox row is read or written, and only where they
//! are on the side their token claims (`access::side_in`, as `store::Side`); anyone else's
//! thread, or a malformed id, is 404. Bodies other than the read's and the
//! preference's are ignored.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use liaison::domain::{EmailPreference, Principal, ThreadId};
use liaison::http::requests::{MarkRead, MarkReadJson, NotificationPreferencesJson};
use liaison::http::{self, ApiResult};
use liaison::store::{ReadOutcome, ReadState, Side, Store, UnreadOutcome};
use liaison::ApiError;
use serde_json::json;

pub struct App {
    pub store: Store,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(route(app, &req).await)
}

async fn route(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let path = req.uri().path().trim_end_matches('/');
    let method = req.method();
    if path.ends_with("/me/notifications") {
        return match *method {
            Method::GET => preference(app, &caller).await,
            Method::PUT => set_preference(app, req, &caller).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let thread = http::thread_id(req)?;
    match (method.clone(), path.rsplit('/').next()) {
        (Method::POST, Some("read")) => mark_read(app, req, &caller, &thread).await,
        (Method::POST, Some("unread")) => mark_unread(app, &caller, &thread).await,
        (Method::PUT, Some("mute")) => mute(app, &caller, &thread, true).await,
        (Method::DELETE, Some("mute")) => mute(app, &caller, &thread, false).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn mark_read(
    app: &App,
    req: &Request,
    caller: &Principal,
    thread: &ThreadId,
) -> ApiResult<Response<Body>> {
    let MarkRead { up_to } = MarkRead::try_from(http::body::<MarkReadJson>(req)?)?;
    let state: ReadState = match up_to {
        None => app
            .store
            .mark_read_latest(thread, &caller.user_id)
            .await?
            .ok_or_else(ApiError::not_found)?,
        Some(id) => match app
            .store
            .mark_read_up_to(thread, &caller.user_id, &id)
            .await?
        {
            ReadOutcome::Read(state) => state,
            ReadOutcome::NotFound => return Err(ApiError::not_found()),
            ReadOutcome::NoSuchMessage => {
                return Err(ApiError::field(
                    "message_id",
                    "is not a message of this thread",
                ))
            }
        },
    };
    Ok(http::json(200, &state))
}

async fn mark_unread(
    app: &App,
    caller: &Principal,
    thread: &ThreadId,
) -> ApiResult<Response<Body>> {
    match app
        .store
        .mark_unread(thread, &caller.user_id, &Side::of(caller))
        .await?
    {
        UnreadOutcome::Unread(state) => {
            tracing::info!(thread_id = %thread, unread = state.unread, "marked unread");
            Ok(http::json(200, &state))
        }
        UnreadOutcome::NotFound => Err(ApiError::not_found()),
    }
}

async fn mute(
    app: &App,
    caller: &Principal,
    thread: &ThreadId,
    muted: bool,
) -> ApiResult<Response<Body>> {
    let muted = app
        .store
        .set_muted_as(thread, &caller.user_id, &Side::of(caller), muted)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(thread_id = %thread, muted, "mute set");
    Ok(http::json(
        200,
        &json!({"thread_id": thread, "muted": muted}),
    ))
}

async fn preference(app: &App, caller: &Principal) -> ApiResult<Response<Body>> {
    let email = app.store.preferences(&caller.user_id).await?;
    Ok(http::json(200, &json!({"email": email})))
}

async fn set_preference(app: &App, req: &Request, caller: &Principal) -> ApiResult<Response<Body>> {
    let wanted = EmailPreference::try_from(http::body::<NotificationPreferencesJson>(req)?)?;
    let email = app.store.set_preferences(&caller.user_id, wanted).await?;
    tracing::info!(email = email.as_str(), "e-mail preference set");
    Ok(http::json(200, &json!({"email": email})))
}
