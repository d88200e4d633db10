//! Attachments, bytes straight between the client and S3:
//! - `POST /threads/{thread_id}/attachments` — checks the declared type,
//!   size and file name, records a pending attachment, and answers a PUT
//!   presigned for 15 minutes over exactly that type and length, write-once
//!   (`If-None-Match: *`), with the pending tag the bucket's cleanup rule
//!   looks for. One round trip for everyone (the transaction that records
//!   it). The object key is `t/{thread}/{attachment_id}`
//!   ([`liaison::attachments::object_key`]): never the caller's file name,
//!   which is stored cleaned. A person's
//!   unsent uploads of the day are capped (`429 too_many_pending_uploads`).
//!   Files over 64 MiB take a multipart upload instead (`413
//!   use_multipart_upload`).
//! - `GET /threads/{thread_id}/attachments/{attachment_id}` — a fresh
//!   download link for an attachment of a sent message, once the malware
//!   scan found it clean (`409 attachment_not_scanned` before,
//!   `403 attachment_infected` if it found a threat).
//!
//! Uploads in parts (`/threads/{thread_id}/uploads…`) are the
//! `upload-parts` function's: their S3 calls and IAM permissions stay out
//! of this one.

use lambda_http::{Body, Request, Response};
use liaison::attachments::{check_single_put, object_key, Attachments};
use liaison::domain::{AttachmentId, AttachmentRef, KeyLayout, ScanState};
use liaison::http::requests::{PresignAttachment, PresignAttachmentJson};
use liaison::http::{self, ApiResult};
use liaison::store::{
    AttachmentRecord, NewAttachment, Store, MAX_PENDING_UPLOADS, MAX_PENDING_UPLOAD_BYTES,
};
use liaison::ApiError;
use serde_json::{json, Map, Value};

pub struct App {
    pub store: Store,
    pub attachments: Attachments,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let result = match req.method().as_str() {
        "GET" => download(app, &req).await,
        "POST" => presign(app, &req).await,
        _ => Err(ApiError::method_not_allowed()),
    };
    http::respond(result)
}

async fn presign(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let asked = PresignAttachment::try_from(http::body::<PresignAttachmentJson>(req)?)?;
    let upload = check_single_put(&asked.filename, &asked.content_type, asked.size)?;

    // One round trip for everyone: the key names no account, so nothing
    // is read first. The record's transaction is the tenant check: the
    // caller's row in this thread must exist (and, for a client, be of
    // their token's account); otherwise 404, nothing written, nothing
    // presigned.
    let record = AttachmentRecord {
        file: AttachmentRef {
            id: AttachmentId::new(),
            filename: upload.filename,
            content_type: upload.content_type.to_owned(),
            size: upload.size,
            scan: ScanState::Pending,
            key: KeyLayout::Thread,
        },
        thread,
        author: caller.user_id.clone(),
        message: None,
        expires_at: None,
        multipart: None,
    };
    match app
        .store
        .create_attachment(&record, caller.account_id.as_ref())
        .await?
    {
        NewAttachment::Recorded => {}
        NewAttachment::NotInThread => return Err(ApiError::not_found()),
        NewAttachment::OverPendingCap => {
            tracing::info!(thread_id = %record.thread, "pending upload cap reached");
            return Err(ApiError::too_many_pending_uploads(
                MAX_PENDING_UPLOADS,
                MAX_PENDING_UPLOAD_BYTES,
            ));
        }
    }
    let key = object_key(&record.thread, &record.file);
    let link = app
        .attachments
        .presign_upload(&key, &record.file.content_type, record.file.size)
        .await?;
    tracing::info!(thread_id = %record.thread, attachment_id = %record.file.id, size = record.file.size, "upload presigned");
    let headers: Map<String, Value> = link
        .headers
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(http::json(
        201,
        &json!({
            "attachment_id": record.file.id,
            "upload": {"method": "PUT", "url": link.url, "headers": headers},
            "expires_at": link.expires_at,
        }),
    ))
}

async fn download(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let id = http::attachment_id(req)?;
    let record = app
        .store
        .bound_attachment(&thread, &caller.user_id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Nobody downloads a file before the malware scan found it clean.
    match record.file.scan {
        ScanState::Clean => {}
        ScanState::Pending => return Err(ApiError::attachment_not_scanned(&id.to_string())),
        ScanState::Infected => return Err(ApiError::attachment_infected(&id.to_string())),
    }
    let link = app
        .attachments
        .presign_download(
            &object_key(&record.thread, &record.file),
            &record.file.filename,
            &record.file.content_type,
        )
        .await?;
    Ok(http::json(
        200,
        &json!({"download_url": link.url, "expires_at": link.expires_at}),
    ))
}
