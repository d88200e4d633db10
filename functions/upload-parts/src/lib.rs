//! Uploads in parts, for files too large to risk one PUT (videos, ZIP):
//! - `POST /threads/{thread_id}/uploads` `{filename, content_type, size}` —
//!   checks the declaration like a single upload (for video and ZIP only,
//!   at least two parts), starts the S3 multipart upload under the
//!   server's key with the declared type and the pending tag, and records a
//!   pending attachment that counts against the pending-upload cap like
//!   any other. Answers the id and how to cut the file (`part_size`,
//!   `part_count`), and when it must be completed and sent by.
//! - `POST …/uploads/{attachment_id}/parts` `{part_numbers}` — presigned
//!   `UploadPart` PUTs (15 minutes) for those parts, each signing the
//!   part's exact length. Ask again at any time: to resume after a crash,
//!   or when URLs expired.
//! - `POST …/uploads/{attachment_id}/complete` `{parts: [{part_number,
//!   etag}]}` — every part exactly once, with the ETag S3 answered its PUT
//!   with; S3 assembles them. A wrong ETag or a missing part changes
//!   nothing (`422 upload_parts_invalid`): upload it again and complete
//!   again. Completing again answers the same.
//! - `DELETE …/uploads/{attachment_id}` — aborts the upload (or deletes
//!   the completed, unsent file) and its record, which frees its room in
//!   the cap; a file a sent message lists stays (`409`).
//!
//! Only the upload's author sees it: for anyone else, as for a thread
//! they are not in, it does not exist (`404`). After completion the file
//! is an ordinary unsent upload: a send binds it by its id.

use lambda_http::{Body, Request, Response};
use liaison::attachments::Attachments;
use liaison::attachments::{
    check_multipart, object_key, Completion, FinishedPart, ABORT_INCOMPLETE_DAYS,
};
use liaison::domain::{AttachmentId, AttachmentRef, KeyLayout, ScanState, Timestamp};
use liaison::http::requests::{
    CompleteUpload, CompleteUploadJson, PartUrls, PartUrlsJson, PresignAttachment,
    PresignAttachmentJson,
};
use liaison::http::{self, ApiResult};
use liaison::store::Store;
use liaison::store::{
    AttachmentRecord, Discarded, MultipartUpload, NewAttachment, MAX_PENDING_UPLOADS,
    MAX_PENDING_UPLOAD_BYTES,
};
use liaison::ApiError;
use serde_json::json;

pub struct App {
    pub store: Store,
    pub attachments: Attachments,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(route(app, &req).await)
}

async fn route(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    // "/threads/{thread_id}/uploads[/{attachment_id}[/parts|/complete]]"
    let path = req.uri().path().trim_end_matches('/');
    let action = path.split('/').nth(5);
    let has_id = http::path_param(req, "attachment_id").is_some();
    match (req.method().as_str(), has_id, action) {
        ("POST", false, None) => start(app, req).await,
        ("POST", true, Some("parts")) => part_urls(app, req).await,
        ("POST", true, Some("complete")) => complete(app, req).await,
        ("DELETE", true, None) => discard(app, req).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn start(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let asked = PresignAttachment::try_from(http::body::<PresignAttachmentJson>(req)?)?;
    let (upload, plan) = check_multipart(&asked.filename, &asked.content_type, asked.size)?;
    let file = AttachmentRef {
        id: AttachmentId::new(),
        filename: upload.filename,
        content_type: upload.content_type.to_owned(),
        size: upload.size,
        scan: ScanState::Pending,
        key: KeyLayout::Thread,
    };
    // Nobody outside the thread makes S3 start anything: their row is read
    // first (404; for a client, also if it is of another account than
    // their token's). The key needs nothing from it (it names no account),
    // but S3 must mint the upload id before the record that holds it, so
    // this read is the one round trip that keeps S3 untouched for a caller
    // refused: a start is 3 round trips (the read, S3, the transaction),
    // once per file of over 64 MiB and minutes of upload. The transaction
    // checks the row again (it is what proves access; a row gone since the
    // read aborts the upload again).
    let row = app.store.inbox_row(&thread, &caller.user_id).await?;
    let in_thread = row.is_some_and(|row| {
        caller
            .account_id
            .as_ref()
            .is_none_or(|account| *account == row.thread.account_id)
    });
    if !in_thread {
        return Err(ApiError::not_found());
    }
    // S3 first: the record carries its upload id. A refused record aborts
    // it again (and the bucket's rule would, a day later).
    let key = object_key(&thread, &file);
    let upload_id = app
        .attachments
        .create_multipart(&key, upload.content_type)
        .await?;
    let record = AttachmentRecord {
        file,
        thread,
        author: caller.user_id.clone(),
        message: None,
        expires_at: None,
        multipart: Some(MultipartUpload {
            upload_id: upload_id.clone(),
            part_size: plan.part_size,
            part_count: plan.part_count,
        }),
    };
    let refused = match app
        .store
        .create_attachment(&record, caller.account_id.as_ref())
        .await
    {
        Ok(NewAttachment::Recorded) => None,
        Ok(NewAttachment::NotInThread) => Some(ApiError::not_found()),
        Ok(NewAttachment::OverPendingCap) => {
            tracing::info!(thread_id = %record.thread, "pending upload cap reached");
            Some(ApiError::too_many_pending_uploads(
                MAX_PENDING_UPLOADS,
                MAX_PENDING_UPLOAD_BYTES,
            ))
        }
        Err(e) => Some(e.into()),
    };
    if let Some(err) = refused {
        if let Err(e) = app.attachments.abort_multipart(&key, &upload_id).await {
            tracing::warn!(error = %e, "could not abort a refused multipart upload; the bucket's rule will");
        }
        return Err(err);
    }
    tracing::info!(
        thread_id = %record.thread,
        attachment_id = %record.file.id,
        size = record.file.size,
        part_count = plan.part_count,
        "multipart upload started"
    );
    Ok(http::json(
        201,
        &json!({
            "attachment_id": record.file.id,
            "part_size": plan.part_size,
            "part_count": plan.part_count,
            // The bucket aborts an upload left incomplete this long; a
            // send needs the record a day short of its two days, too.
            "expires_at": Timestamp::now().plus_seconds(i64::from(ABORT_INCOMPLETE_DAYS) * 24 * 3600),
        }),
    ))
}

/// The caller's own upload in parts named by the path, or 404.
async fn own_upload(
    app: &App,
    req: &Request,
) -> ApiResult<(AttachmentRecord, MultipartUpload, String)> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let id = http::attachment_id(req)?;
    let record = app
        .store
        .own_upload(&thread, &caller.user_id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let multipart = record.multipart.clone().ok_or_else(ApiError::not_found)?;
    let key = object_key(&record.thread, &record.file);
    Ok((record, multipart, key))
}

async fn part_urls(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let (record, multipart, key) = own_upload(app, req).await?;
    let asked = PartUrls::try_from(http::body::<PartUrlsJson>(req)?)?;
    if record.message.is_some() {
        return Err(ApiError::attachment_already_sent(
            &record.file.id.to_string(),
        ));
    }
    if let Some((i, _)) = asked
        .part_numbers
        .iter()
        .enumerate()
        .find(|(_, n)| **n > multipart.part_count)
    {
        return Err(ApiError::field(
            format!("part_numbers[{i}]"),
            format!("must be at most {} (the part count)", multipart.part_count),
        ));
    }
    let plan = liaison::attachments::PartPlan {
        part_size: multipart.part_size,
        part_count: multipart.part_count,
    };
    let mut parts = Vec::with_capacity(asked.part_numbers.len());
    let mut expires_at = None;
    for n in asked.part_numbers {
        let link = app
            .attachments
            .presign_part(
                &key,
                &multipart.upload_id,
                n,
                plan.part_len(record.file.size, n),
            )
            .await?;
        expires_at = Some(link.expires_at);
        parts.push(json!({"part_number": n, "url": link.url}));
    }
    Ok(http::json(
        200,
        &json!({"parts": parts, "expires_at": expires_at.unwrap_or_else(Timestamp::now)}),
    ))
}

async fn complete(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let (record, multipart, key) = own_upload(app, req).await?;
    let asked = CompleteUpload::try_from(http::body::<CompleteUploadJson>(req)?)?;
    let done = || {
        http::json(
            200,
            &json!({"attachment_id": record.file.id, "size": record.file.size}),
        )
    };
    if record.message.is_some() {
        return Ok(done());
    }
    // Sorted and distinct already: every part exactly once is 1..=count.
    let every_part = asked.parts.len() as u64 == multipart.part_count
        && asked
            .parts
            .iter()
            .zip(1..)
            .all(|((number, _), want)| *number == want);
    if !every_part {
        return Err(ApiError::field(
            "parts",
            format!(
                "must list each of the parts 1 to {} exactly once",
                multipart.part_count
            ),
        ));
    }
    let parts: Vec<FinishedPart> = asked
        .parts
        .into_iter()
        .map(|(number, etag)| FinishedPart { number, etag })
        .collect();
    let id = record.file.id.to_string();
    match app
        .attachments
        .complete_multipart(&key, &multipart.upload_id, &parts)
        .await?
    {
        Completion::Completed => {}
        Completion::PartsInvalid(code) => {
            tracing::info!(thread_id = %record.thread, attachment_id = %id, code, "multipart completion refused");
            return Err(ApiError::upload_parts_invalid(match code.as_str() {
                "EntityTooSmall" => "a part other than the last is too small",
                "InvalidPartOrder" => "the parts are not in order",
                _ => "a part is missing or its ETag is not the one S3 answered its PUT with",
            }));
        }
        Completion::Gone => {
            // Aborted by the bucket's rule: this upload cannot be finished.
            app.store.discard_upload(&record).await?;
            return Err(ApiError::attachment_expired(&id));
        }
    }
    // Each part URL signs its length, so S3 assembles exactly the declared
    // size; a store that does not check signatures could differ, and such
    // a file must not stay.
    match app.attachments.stored(&key).await? {
        Some(s) if s.size == record.file.size => {}
        other => {
            tracing::warn!(
                thread_id = %record.thread,
                attachment_id = %id,
                declared = record.file.size,
                stored = other.map(|s| s.size),
                "multipart upload assembled to another size; discarded"
            );
            if app.store.discard_upload(&record).await? != Discarded::AlreadySent {
                app.attachments.delete_upload(&key).await?;
            }
            return Err(ApiError::upload_parts_invalid(format!(
                "the parts add up to another size than the declared {} bytes; the upload was \
                 deleted, start a new one",
                record.file.size
            )));
        }
    }
    tracing::info!(thread_id = %record.thread, attachment_id = %id, "multipart upload completed");
    Ok(done())
}

async fn discard(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let (record, multipart, key) = own_upload(app, req).await?;
    let id = record.file.id.to_string();
    if record.message.is_some() {
        return Err(ApiError::attachment_already_sent(&id));
    }
    app.attachments
        .abort_multipart(&key, &multipart.upload_id)
        .await?;
    // The record goes first, under the condition that no message binds
    // it; only then the object (a send racing this one fails its bind).
    match app.store.discard_upload(&record).await? {
        Discarded::AlreadySent => return Err(ApiError::attachment_already_sent(&id)),
        Discarded::Deleted | Discarded::Missing => {}
    }
    app.attachments.delete_upload(&key).await?;
    tracing::info!(thread_id = %record.thread, attachment_id = %id, "multipart upload discarded");
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = lambda_http::http::StatusCode::NO_CONTENT;
    Ok(resp)
}
