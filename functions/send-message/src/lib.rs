//! `POST /threads/{thread_id}/messages` — send.
//!
//! The message is stored before the call returns, in one DynamoDB
//! transaction with its idempotency claim, the thread's activity and every
//! participant's inbox row: the author's becomes read, the other side's
//! unread. E-mail follows from the table's stream; it never fails a send.
//! The same `client_message_id` again answers the original message (`200`),
//! or `409` if the content differs; the claim is read with the thread, and
//! answered before any attachment is checked or tagged. Unknown body
//! fields are ignored.
//!
//! Each attachment must have been presigned by the author for this thread,
//! uploaded with the declared size and type (checked with a ranged GET of
//! its first 8 KiB, whose bytes must also be a file of that type: one that
//! is not is deleted, `422 attachment_mismatch`), and
//! not yet belong to a message, and not be within a day of its record's
//! expiry (`attachment_expired`); binding it is part of the transaction, so
//! of two sends racing for one attachment exactly one wins. Once checked,
//! each upload is tagged bound in S3 *before* the transaction, so no file a
//! stored message lists is ever left to the cleanup rule (see
//! `liaison::attachments` for why before, and what that costs).

use lambda_http::{Body, Request, Response};
use liaison::access::side_in;
use liaison::attachments::{detected, is_declared_type, object_key, Attachments};
pub use liaison::domain::MAX_ATTACHMENTS;
use liaison::domain::{AttachmentId, AttachmentRef, Author, Timestamp};
use liaison::http::requests::{SendMessage, SendMessageJson};
use liaison::http::{self, ApiResult};
use liaison::store::{
    send_fingerprint, AttachmentRecord, Discarded, NewMessage, SendOutcome, Store,
};
use liaison::ApiError;

pub struct App {
    pub store: Store,
    pub attachments: Attachments,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(send(app, &req).await)
}

async fn send(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let thread = http::thread_id(req)?;
    let SendMessage {
        client_message_id,
        body,
        urgent,
        attachment_ids: ids,
    } = SendMessage::try_from(http::body::<SendMessageJson>(req)?)?;

    // One read: the thread, the attachments, and whether this
    // client_message_id was used already.
    let ctx = app
        .store
        .send_context(&thread, &ids, Some((&caller.user_id, &client_message_id)))
        .await?;
    let record = match ctx.record {
        Some(r) if r.participants.iter().any(|(u, _)| *u == caller.user_id) => r,
        _ => return Err(ApiError::not_found()),
    };
    // Side and name come from the directory (the thread's participants);
    // the token's editable `name` only for someone it does not name.
    let (role, name) = record
        .member(&caller.user_id)
        .ok_or_else(ApiError::not_found)?;
    let author = Author {
        id: caller.user_id.clone(),
        name: name.map_or_else(|| caller.name.clone(), str::to_owned),
        role: side_in(&caller, &record.thread.account_id, role)?,
    };
    // A used key answers the original message or 409 before any upload is
    // checked or tagged: a replay or a conflict never touches S3, so it
    // cannot leave a tagged upload that no message lists.
    if let Some(claim) = &ctx.claim {
        let fingerprint = send_fingerprint(&body, urgent, &ids);
        let outcome = app.store.answer_claim(&thread, claim, &fingerprint).await?;
        return answer(app, outcome).await;
    }
    let mut new = NewMessage {
        thread,
        author,
        client_message_id,
        body,
        urgent,
        attachments: Vec::new(),
    };
    let mut files: Vec<&AttachmentRecord> = Vec::with_capacity(ids.len());
    let now = Timestamp::now().unix_seconds();
    for id in &ids {
        let found = ctx
            .attachments
            .iter()
            .find(|a| a.file.id == *id && a.author == caller.user_id);
        match found {
            Some(a) if a.message.is_none() && !a.bindable_at(now) => {
                return Err(ApiError::attachment_expired(&a.file.id.to_string()))
            }
            Some(a) if a.message.is_none() => files.push(a),
            Some(a) => {
                // Already bound: the same send, racing this one, may have
                // committed after the claim was read; it answers as a replay.
                new.attachments = ids_as_refs(&ids, &ctx.attachments);
                if let Some(outcome) = app.store.replay_of(&new).await? {
                    return answer(app, outcome).await;
                }
                return Err(ApiError::attachment_not_uploaded(&a.file.id.to_string()));
            }
            None => return Err(ApiError::attachment_not_uploaded(&id.to_string())),
        }
    }
    let tags = verify_uploads(app, &files).await?;
    mark_bound(app, &files, &tags).await?;
    new.attachments = files.iter().map(|a| a.file.clone()).collect();
    let outcome = app.store.send_message(&new, record.clone()).await?;
    answer(app, outcome).await
}

/// The attachments as the message would list them (for replay checks).
fn ids_as_refs(ids: &[AttachmentId], known: &[AttachmentRecord]) -> Vec<AttachmentRef> {
    ids.iter()
        .filter_map(|id| {
            known
                .iter()
                .find(|a| a.file.id == *id)
                .map(|a| a.file.clone())
        })
        .collect()
}

/// Every upload is in S3 with exactly the declared size and type, and its
/// first bytes are a file of that type (one ranged GET each, all at once:
/// its `Content-Range` says the size). A file whose bytes are not its
/// declared type is deleted with its record before anything is tagged or
/// written (`attachment_mismatch` naming `attachment_ids[i]`): it can
/// never be sent, so it is not kept for the cleanup rule. What each GET
/// said of the file's tags, in order, for [`mark_bound`].
async fn verify_uploads(app: &App, files: &[&AttachmentRecord]) -> ApiResult<Vec<Option<u32>>> {
    let mut checks = tokio::task::JoinSet::new();
    for (i, a) in files.iter().enumerate() {
        let bucket = app.attachments.clone();
        let key = object_key(&a.thread, &a.file);
        checks.spawn(async move { (i, bucket.head_of(&key).await) });
    }
    let mut results = vec![None; files.len()];
    while let Some(joined) = checks.join_next().await {
        let (i, stored) = joined.map_err(|e| {
            tracing::error!(error = %e, "attachment check task failed");
            ApiError::internal()
        })?;
        results[i] = Some(stored?);
    }
    let mut spoofed: Vec<(usize, &AttachmentRecord)> = Vec::new();
    let mut tags = Vec::with_capacity(files.len());
    for (i, (a, stored)) in files.iter().zip(results).enumerate() {
        let id = a.file.id.to_string();
        let stored = stored.flatten();
        tags.push(stored.as_ref().and_then(|s| s.tags));
        match stored {
            None => return Err(ApiError::attachment_not_uploaded(&id)),
            Some(s)
                if s.size != a.file.size
                    || s.content_type.as_deref().map(|t| t.to_ascii_lowercase())
                        != Some(a.file.content_type.clone()) =>
            {
                return Err(ApiError::attachment_mismatch(&id))
            }
            Some(s) if !is_declared_type(&a.file.content_type, &s.bytes) => {
                tracing::warn!(
                    thread_id = %a.thread,
                    attachment_id = %id,
                    declared = %a.file.content_type,
                    detected = detected(&s.bytes),
                    "upload is not its declared type; deleted"
                );
                spoofed.push((i, a));
            }
            Some(_) => {}
        }
    }
    let Some((first, a)) = spoofed.first() else {
        return Ok(tags);
    };
    for (_, a) in &spoofed {
        discard(app, a).await?;
    }
    let mut err = ApiError::attachment_content_mismatch(
        format!("attachment_ids[{first}]"),
        &a.file.id.to_string(),
        &a.file.content_type,
    );
    for (i, a) in &spoofed[1..] {
        err.errors.push(liaison::domain::FieldError::new(
            format!("attachment_ids[{i}]"),
            format!(
                "is not a {} file; the upload was deleted",
                a.file.content_type
            ),
        ));
    }
    Err(err)
}

/// Deletes an upload that can never be sent: its record (while unsent;
/// frees its room in the cap), then its object.
async fn discard(app: &App, a: &AttachmentRecord) -> ApiResult<()> {
    if app.store.discard_upload(a).await? == Discarded::AlreadySent {
        return Ok(());
    }
    app.attachments
        .delete_upload(&object_key(&a.thread, &a.file))
        .await?;
    Ok(())
}

/// Takes every checked upload out of the bucket's cleanup rule, before the
/// transaction that binds them: a message is never stored listing a file
/// that could expire. All at once; one PutObjectTagging each when the
/// check's GET saw only the state tag (`tags_seen`), else a read of the
/// set first, so that the scan's tag is kept. If the send then fails, the
/// uploads stay pending in the table and a retry binds them.
async fn mark_bound(
    app: &App,
    files: &[&AttachmentRecord],
    tags_seen: &[Option<u32>],
) -> ApiResult<()> {
    let mut tags = tokio::task::JoinSet::new();
    for (a, seen) in files.iter().zip(tags_seen.iter().copied()) {
        let bucket = app.attachments.clone();
        let key = object_key(&a.thread, &a.file);
        let id = a.file.id.to_string();
        tags.spawn(async move { (id, bucket.mark_bound(&key, seen).await) });
    }
    while let Some(joined) = tags.join_next().await {
        let (id, tagged) = joined.map_err(|e| {
            tracing::error!(error = %e, "attachment tagging task failed");
            ApiError::internal()
        })?;
        match tagged {
            Ok(()) => {}
            // Discarded by its author since it was checked (an upload in
            // parts): it is gone, and so is its record.
            Err(e) if e.is_no_such_key() => return Err(ApiError::attachment_not_uploaded(&id)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn answer(app: &App, outcome: SendOutcome) -> ApiResult<Response<Body>> {
    match outcome {
        SendOutcome::Created(m) => {
            tracing::info!(
                thread_id = %m.thread_id,
                message_id = %m.id,
                role = m.author.role.as_str(),
                attachments = m.attachments.len(),
                "message sent"
            );
            Ok(http::json(
                201,
                &http::message_view(&app.attachments, &m).await?,
            ))
        }
        SendOutcome::Replayed(m) => Ok(http::json(
            200,
            &http::message_view(&app.attachments, &m).await?,
        )),
        SendOutcome::Conflict => Err(ApiError::idempotency_conflict()),
        SendOutcome::NotFound => Err(ApiError::not_found()),
        SendOutcome::AttachmentTaken(id) => Err(ApiError::attachment_not_uploaded(&id.to_string())),
    }
}
