//! `POST /threads/{thread_id}/read` — mark read, up to the newest message
//! (`{}`) or a given one (`{"message_id": ...}`). The read position never
//! moves backwards; the answer is the caller's read state after.

use lambda_http::{Body, Request, Response};
use liaison::http::requests::{MarkRead, MarkReadJson};
use liaison::http::{self, ApiResult};
use liaison::store::{ReadOutcome, ReadState, Store};
use liaison::ApiError;

pub struct App {
    pub store: Store,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(mark(app, &req).await)
}

async fn mark(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let MarkRead { up_to } = MarkRead::try_from(http::body::<MarkReadJson>(req)?)?;
    let state: ReadState = match up_to {
        None => app
            .store
            .mark_read_latest(&thread, &caller.user_id)
            .await?
            .ok_or_else(ApiError::not_found)?,
        Some(id) => match app
            .store
            .mark_read_up_to(&thread, &caller.user_id, &id)
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
