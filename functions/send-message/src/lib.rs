//! `POST /threads/{thread_id}/messages` — send.
//!
//! The message is stored before the call returns, in one DynamoDB
//! transaction with its idempotency claim, the thread's activity and every
//! participant's inbox row: the author's becomes read, the other side's
//! unread. E-mail follows from the table's stream; it never fails a send.
//! The same `client_message_id` again answers the original message (`200`),
//! or `409` if the content differs. Unknown body fields are ignored.

use lambda_http::{Body, Request, Response};
use liaison::domain::{Author, ClientMessageId, MessageBody};
use liaison::http::{self, ApiResult, Fields};
use liaison::store::{NewMessage, SendOutcome, Store};
use liaison::ApiError;
use serde_json::Value;

/// At most this many attachments per message.
pub const MAX_ATTACHMENTS: usize = 10;

pub struct App {
    pub store: Store,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(send(app, &req).await)
}

async fn send(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let json = http::json_object(req)?;
    let fields = Fields::new(&json);

    let client_message_id = ClientMessageId::parse(fields.str("client_message_id")?)
        .map_err(|m| ApiError::field("client_message_id", m))?;
    let body = MessageBody::parse(fields.opt_str("body")?.unwrap_or(""))
        .map_err(|m| ApiError::field("body", m))?;
    let urgent = fields.opt_bool("urgent")?.unwrap_or(false);
    let attachment_ids = attachment_ids(fields.get("attachment_ids"))?;
    if attachment_ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::too_many_attachments(MAX_ATTACHMENTS));
    }
    if body.is_empty() && attachment_ids.is_empty() {
        return Err(ApiError::field(
            "body",
            "must not be empty unless the message has attachments",
        ));
    }
    if let Some(first) = attachment_ids.first() {
        // Uploads arrive with the attachments capability; until then no id
        // names an uploaded attachment.
        return Err(ApiError::attachment_not_uploaded(first));
    }

    let new = NewMessage {
        thread,
        author: Author {
            id: caller.user_id.clone(),
            name: caller.name.clone(),
            role: caller.role,
        },
        client_message_id,
        body,
        urgent,
        attachments: Vec::new(),
    };
    match app.store.send_message(&new, &Vec::new()).await? {
        Ok(SendOutcome::Created(m)) => {
            tracing::info!(thread_id = %m.thread_id, message_id = %m.id, role = m.author.role.as_str(), "message sent");
            Ok(http::json(201, &m))
        }
        Ok(SendOutcome::Replayed(m)) => Ok(http::json(200, &m)),
        Ok(SendOutcome::Conflict) => Err(ApiError::idempotency_conflict()),
        Ok(SendOutcome::NotFound) => Err(ApiError::not_found()),
        Err(_) => Err(ApiError::internal()),
    }
}

/// `attachment_ids`: an optional array of distinct strings.
fn attachment_ids(value: Option<&Value>) -> ApiResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err(ApiError::field("attachment_ids", "must be an array of ids"));
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(id) = item.as_str() else {
            return Err(ApiError::field(
                format!("attachment_ids[{i}]"),
                "must be a string",
            ));
        };
        if ids.iter().any(|seen| seen == id) {
            return Err(ApiError::field(
                format!("attachment_ids[{i}]"),
                "appears twice",
            ));
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}
