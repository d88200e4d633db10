//! The caller's threads:
//! - `GET /threads` — newest activity first, `?limit=`, `?cursor=`,
//!   `?unread=true`, and for managers `?account_id=` (default: all their
//!   accounts);
//! - `GET /threads/{thread_id}` — one thread, with its scope's context
//!   links;
//! - `GET /unread` — how many of the caller's threads are unread.
//!
//! Each reads only the caller's inbox rows: one Query or GetItem (the one
//! thread then reads its scope's catalog entries for their links: one
//! BatchGetItem of at most three keys, none for General). Only rows
//! where the caller is on the side their token claims count (a client's only
//! in their own account): see `access::side_in`.

use lambda_http::{Body, Request, Response};
use liaison::access::{member_of, requested_account, side_in};
use liaison::domain::{Role, ThreadView};
use liaison::http::{self, ApiResult, CursorCodec};
use liaison::store::{Store, ThreadQuery};
use liaison::ApiError;
use serde_json::json;

pub struct App {
    pub store: Store,
    pub cursors: CursorCodec,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let result = if http::path_param(&req, "thread_id").is_some() {
        get(app, &req).await
    } else if req.uri().path().trim_end_matches('/').ends_with("/unread") {
        unread(app, &req).await
    } else {
        list(app, &req).await
    };
    http::respond(result)
}

async fn list(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let account = requested_account(&caller, http::query_param(req, "account_id"), false)?;
    let query = ThreadQuery {
        user: caller.user_id.clone(),
        // A client acts only in their own account (they may manage another).
        account,
        role: caller.role,
        unread_only: http::bool_param(req, "unread")?,
        limit: http::limit(req)?,
    };
    let scope = query.cursor_scope();
    let start = http::query_param(req, "cursor")
        .map(|c| app.cursors.decode(c, caller.user_id.as_str(), &scope))
        .transpose()?;
    let page = match &query.account {
        // A manager naming an account that is not theirs gets 404, as
        // everywhere; the check runs beside the listing, not before it.
        Some(acc) if caller.role == Role::Manager => {
            let (profile, page) = tokio::join!(
                app.store.profile(acc),
                app.store.list_threads(&query, start)
            );
            member_of(profile?, &caller)?;
            page?
        }
        _ => app.store.list_threads(&query, start).await?,
    };
    // A page filtered by side may come back empty with more to read.
    let next_cursor = page
        .next
        .map(|k| app.cursors.encode(caller.user_id.as_str(), &scope, k));
    Ok(http::json(
        200,
        &json!({"threads": page.threads, "next_cursor": next_cursor}),
    ))
}

async fn get(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    match app.store.inbox_row(&thread, &caller.user_id).await? {
        Some(row) => {
            side_in(&caller, &row.thread.account_id, row.role)?;
            // The scope is known only from the row: a second round trip.
            let catalog = app
                .store
                .scope_catalog(&row.thread.account_id, &row.thread.scope.scope)
                .await?;
            Ok(http::json(200, &ThreadView::new(row.thread, &catalog)))
        }
        None => Err(ApiError::not_found()),
    }
}

/// The badge counts up to this many unread threads, then says "more"
/// (infra/openapi.yaml `Unread`): a COUNT pays for every row it counts
/// (~1 KB each), so 10 rows keep it near one read unit at any size.
pub const UNREAD_CAP: u64 = 9;

async fn unread(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let account = match caller.role {
        Role::Client => caller.account_id.as_ref(),
        Role::Manager => None,
    };
    let (count, more) = app
        .store
        .count_unread(&caller.user_id, account, caller.role, UNREAD_CAP)
        .await?;
    let body = if more {
        json!({"unread_threads": count, "more": true})
    } else {
        json!({"unread_threads": count})
    };
    Ok(http::json(200, &body))
}
