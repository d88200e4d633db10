//! `POST /threads` — open (or reopen) a scoped thread.
//!
//! Idempotent per (account, scope): the thread id is derived from both, the
//! first call creates the thread with an inbox row for everyone in the
//! account (`201`), and every later call from either side answers the same
//! thread (`200`). Fifty concurrent opens make one thread. The answer
//! carries the scope's context links, from the catalog entries read in the
//! same BatchGetItem as the thread and the profile.

use lambda_http::{Body, Request, Response};
use liaison::access::{member_of, requested_account};
use liaison::domain::{CatalogEntry, LabeledScope, Scope, Thread, ThreadId, ThreadView, Timestamp};
use liaison::http::requests::OpenThreadJson;
use liaison::http::{self, ApiResult};
use liaison::store::{CreateOutcome, Store};
use liaison::ApiError;

pub struct App {
    pub store: Store,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(open(app, &req).await)
}

async fn open(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let body: OpenThreadJson = http::body(req)?;
    let account = requested_account(&caller, body.account_id.as_deref(), true)?
        .ok_or_else(|| ApiError::field("account_id", "is required"))?;
    let scope = body
        .scope
        .ok_or_else(|| ApiError::field("scope", "is required"))?;
    let scope = Scope::try_from(scope).map_err(ApiError::validation)?;
    let scope_key = scope.key();
    let thread_id = ThreadId::for_scope(&account, &scope_key);

    // The directory may change between reading it and creating the thread:
    // creation is conditional on its version, and read again if it moved.
    for _ in 0..5 {
        let ctx = app
            .store
            .open_context(&account, &thread_id, &caller.user_id, &scope)
            .await?;
        let profile = member_of(ctx.profile, &caller)?;
        if let Some(existing) = ctx.existing {
            return Ok(http::json(200, &ThreadView::new(existing, &ctx.catalog)));
        }

        let labeled = label(&scope, &ctx.catalog)?;
        let now = Timestamp::now();
        let thread = Thread {
            id: thread_id.clone(),
            account_id: account.clone(),
            scope: labeled,
            created_at: now,
            created_by: caller.user_id.clone(),
            last_activity_at: now,
            last_message: None,
            message_count: 0,
            unread: false,
            muted: false,
        };
        match app
            .store
            .create_thread(&thread, &scope_key, &profile, ctx.profile_version)
            .await?
        {
            CreateOutcome::Created => {
                tracing::info!(thread_id = %thread.id, account_id = %thread.account_id, "thread opened");
                return Ok(http::json(201, &ThreadView::new(thread, &ctx.catalog)));
            }
            // Someone opened it between our read and our write: answer theirs.
            CreateOutcome::Exists => {
                return match app.store.inbox_row(&thread.id, &caller.user_id).await? {
                    Some(row) => Ok(http::json(200, &ThreadView::new(row.thread, &ctx.catalog))),
                    None => Err(ApiError::not_found()),
                };
            }
            CreateOutcome::DirectoryChanged => {
                tracing::info!(account_id = %account, "directory changed while opening; reading it again");
            }
        }
    }
    Err(ApiError::unavailable())
}

/// Checks each id on the scope's path against the account's catalog and
/// builds the label from their names. Archived entries scope no new thread.
fn label(scope: &Scope, catalog: &[CatalogEntry]) -> ApiResult<LabeledScope> {
    let mut names: Vec<&str> = Vec::new();
    let levels = [
        ("scope.client_id", "client", scope.client().is_some()),
        ("scope.campaign_id", "campaign", scope.campaign().is_some()),
        ("scope.creative_id", "creative", scope.creative().is_some()),
    ];
    for (depth, (field, what, present)) in levels.iter().enumerate() {
        if !present {
            break;
        }
        let entry = catalog.iter().find(|e| {
            Some(&e.client) == scope.client()
                && e.campaign.as_ref() == if depth >= 1 { scope.campaign() } else { None }
                && e.creative.as_ref() == if depth >= 2 { scope.creative() } else { None }
        });
        let parent = match depth {
            0 => "this account".to_owned(),
            1 => "this client".to_owned(),
            _ => "this campaign".to_owned(),
        };
        match entry {
            None => {
                return Err(ApiError::field(
                    *field,
                    format!("no such {what} in {parent}"),
                ))
            }
            Some(e) if e.archived => {
                return Err(ApiError::field(
                    *field,
                    format!("this {what} is archived and cannot scope a new thread"),
                ))
            }
            Some(e) => names.push(&e.name),
        }
    }
    Ok(LabeledScope::new(scope.clone(), &names))
}
