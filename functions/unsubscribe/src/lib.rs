//! `GET|POST /unsubscribe/{token}` — one-click unsubscribe (RFC 8058), no
//! sign-in: the signed token of an e-mail's `List-Unsubscribe` link mutes
//! that thread for that person. (Skeleton: issue 15 part "unsub".)

use lambda_http::{Body, Request, Response};
use liaison::reply::ReplyKeys;
use liaison::store::Store;

pub struct App {
    pub store: Store,
    /// Verifies tokens (they are signed like reply keys).
    pub keys: ReplyKeys,
    /// Where the confirmation pages link to (the app).
    pub app_url: String,
}

pub async fn handle(_app: &App, _req: Request) -> Response<Body> {
    liaison::http::respond(Err(liaison::ApiError::not_found()))
}
