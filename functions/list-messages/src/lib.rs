//! `GET /threads/{thread_id}/messages` — the thread's messages, newest
//! first, `?limit=` (1–100, default 50) and `?cursor=` as for threads.
//! Each attachment carries a fresh presigned download link (15 minutes).

use lambda_http::{Body, Request, Response};
use liaison::access::side_in;
use liaison::attachments::Attachments;
use liaison::http::{self, ApiResult, CursorCodec};
use liaison::store::{message_position, Store};
use liaison::ApiError;
use serde_json::json;

pub struct App {
    pub store: Store,
    pub cursors: CursorCodec,
    pub attachments: Attachments,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(list(app, &req).await)
}

async fn list(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let limit = http::limit(req)?;
    let scope = format!("messages:{thread}");
    let start = http::query_param(req, "cursor")
        .map(|c| app.cursors.decode(c, caller.user_id.as_str(), &scope))
        .transpose()?;
    // The access check (the caller's inbox row) runs beside the page read;
    // nothing is answered unless it passes.
    let (row, page) = tokio::join!(
        app.store.inbox_row(&thread, &caller.user_id),
        app.store.list_messages(&thread, limit, start)
    );
    let Some(row) = row? else {
        return Err(ApiError::not_found());
    };
    side_in(&caller, &row.thread.account_id, row.role)?;
    let page = page?;
    // A page ends early when its JSON would pass the Lambda response limit
    // (100 bodies of 10,000 escaped control characters are over 6 MB); the
    // cursor then resumes after the last message that fitted. The first
    // message always fits (at most ~80 KB).
    let mut budget = http::PAGE_BUDGET_BYTES;
    let mut next = page.next;
    let mut messages = Vec::with_capacity(page.messages.len());
    for (i, m) in page.messages.iter().enumerate() {
        let view = http::message_view(&app.attachments, m).await?;
        let size = http::response_bytes(&view);
        if i > 0 && size > budget {
            next = Some(message_position(&thread, &page.messages[i - 1].id));
            break;
        }
        budget = budget.saturating_sub(size);
        messages.push(view);
    }
    let next_cursor = next
        .filter(|_| !messages.is_empty())
        .map(|k| app.cursors.encode(caller.user_id.as_str(), &scope, k));
    Ok(http::json(
        200,
        &json!({"messages": messages, "next_cursor": next_cursor}),
    ))
}
