//! `receive-reply` — SES receiving → a message in the thread: an answer to
//! a notification's `reply+{key}@` address, judged by the eight checks of
//! `liaison::reply` and posted by the key's recipient through the send
//! path. A refused e-mail is logged with its reason and never answered.
//!
//! SES's receipt rule stores the raw e-mail under `inbound/{messageId}`
//! (S3 action), then invokes this function asynchronously with the event
//! (Lambda action). Per e-mail, in order:
//!
//! 0. the raw e-mail is read from the bucket (missing or not MIME:
//!    `unreadable`);
//! 1. SES's verdicts: virus or spam FAIL;
//! 2. exactly one recipient is a reply address of this deployment (with
//!    none, a recipient `unsubscribe+{token}@{domain}`, a notification's
//!    `List-Unsubscribe` mailto, mutes the thread for the token's person if
//!    the token verifies, its reply key's row is live and the person still
//!    takes part: outcome `unsubscribed`, never answered; else refused at
//!    check 3 like a reply key);
//! 3. the key's HMAC checks out, its row exists and has not expired, and
//!    its recipient is still a participant of the thread;
//! 4. `From` is one mailbox, the address the key was issued to, and
//!    DMARC did not FAIL and SPF or DKIM PASSed;
//! 5. not automatic (auto-replies, bulk, bounces, mailer-daemon);
//! 6. the sender's rate limit (`liaison::store::REPLIES_PER_MINUTE` and
//!    `REPLIES_PER_HOUR`);
//! 7. the trimmed text, or a file, is left (a long text is cut with a note);
//! 8. files follow the app's upload rules (others are left out with a note).
//!
//! Then the message is sent as the key's recipient, with the name and side
//! the thread records for them, through the same transaction as
//! `POST /threads/{id}/messages`, with `client_message_id`
//! `email-{SES message id}`: a redelivered event replays the one message.
//! Files are stored and recorded like uploads (ids derived from the SES
//! message id, so a redelivery reuses them) and bound by that send.
//!
//! A refused e-mail answers `Ok` (nothing to retry, nothing sent back); a
//! failure of AWS answers `Err`, and Lambda retries the event (every step
//! is idempotent). Logs carry the SES message id, the reason and the
//! check, never an address or a body.

use aws_lambda_events::event::ses::{SimpleEmailEvent, SimpleEmailService};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use liaison::attachments::{object_key, Attachments};
use liaison::domain::{
    AttachmentId, AttachmentRef, Author, ClientMessageId, KeyLayout, Message, ScanState, ThreadId,
    Timestamp,
};
use liaison::reply::inbound::{self, Verdicts};
use liaison::reply::{unsubscribe_token_in_address, Refusal, ReplySettings};
use liaison::store::{
    send_fingerprint, AttachmentRecord, NewMessage, RateOutcome, SendOutcome, Store,
};

pub struct App {
    pub store: Store,
    /// The bucket: raw e-mails under `inbound/`, attachments as uploads.
    pub attachments: Attachments,
    pub settings: ReplySettings,
}

type Error = lambda_runtime::Error;

/// What became of one e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Posted as a new message.
    Posted(Message),
    /// Posted already, by an earlier delivery of the same e-mail.
    Replayed(Message),
    Refused(Refusal),
    /// The e-mail's `client_message_id` names a different message (only if
    /// the same e-mail was read differently by an earlier version).
    Conflict,
    /// Sent to `unsubscribe+{token}@` (a `List-Unsubscribe` mailto): the
    /// token's person no longer gets e-mail about this thread.
    Unsubscribed(ThreadId),
}

impl Outcome {
    fn to_json(&self, ses_id: &str) -> Value {
        let message = |m: &Message| {
            json!({
                "thread_id": m.thread_id.as_str(),
                "message_id": m.id.to_string(),
                "attachments": m.attachments.len(),
                "urgent": m.urgent,
            })
        };
        match self {
            Outcome::Posted(m) => {
                json!({"ses_message_id": ses_id, "outcome": "posted", "message": message(m)})
            }
            Outcome::Replayed(m) => {
                json!({"ses_message_id": ses_id, "outcome": "replayed", "message": message(m)})
            }
            Outcome::Refused(r) => json!({
                "ses_message_id": ses_id, "outcome": "refused",
                "reason": r.as_str(), "check": r.check(),
            }),
            Outcome::Conflict => json!({"ses_message_id": ses_id, "outcome": "conflict"}),
            Outcome::Unsubscribed(thread) => json!({
                "ses_message_id": ses_id, "outcome": "unsubscribed",
                "thread_id": thread.as_str(),
            }),
        }
    }
}

/// What became of each e-mail of the event (for logs and tests):
/// `{"results": [{"ses_message_id", "outcome": "posted" | "replayed" |
/// "refused" | "conflict", "message" | "reason" + "check"}]}`.
pub async fn handle(app: &App, event: SimpleEmailEvent) -> Result<Value, Error> {
    let mut results = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let ses_id = record.ses.mail.message_id.clone().unwrap_or_default();
        let outcome = receive(app, &record.ses, Timestamp::now()).await?;
        log(&ses_id, &outcome);
        results.push(outcome.to_json(&ses_id));
    }
    Ok(json!({ "results": results }))
}

fn log(ses_id: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Posted(m) => tracing::info!(
            ses_message_id = ses_id,
            thread_id = %m.thread_id,
            message_id = %m.id,
            role = m.author.role.as_str(),
            attachments = m.attachments.len(),
            "reply posted"
        ),
        Outcome::Replayed(m) => tracing::info!(
            ses_message_id = ses_id,
            thread_id = %m.thread_id,
            message_id = %m.id,
            "reply already posted (redelivery)"
        ),
        Outcome::Refused(r) => {
            use Refusal::*;
            match r {
                Virus | ForgedKey | WrongSender | NotAuthenticated | RateLimited => {
                    tracing::warn!(
                        ses_message_id = ses_id,
                        reason = r.as_str(),
                        check = r.check(),
                        "reply refused"
                    )
                }
                _ => tracing::info!(
                    ses_message_id = ses_id,
                    reason = r.as_str(),
                    check = r.check(),
                    "reply refused"
                ),
            }
        }
        Outcome::Conflict => tracing::warn!(
            ses_message_id = ses_id,
            "reply's client_message_id names a different message; not posted"
        ),
        Outcome::Unsubscribed(thread) => tracing::info!(
            ses_message_id = ses_id,
            thread_id = %thread,
            outcome = "unsubscribed",
            "thread muted by a List-Unsubscribe e-mail"
        ),
    }
}

/// A check's refusal ends the e-mail's handling with `Ok(Refused)`.
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        }
    };
}

/// The checks in order, then the send.
async fn receive(app: &App, ses: &SimpleEmailService, now: Timestamp) -> Result<Outcome, Error> {
    let mail = &ses.mail;
    let receipt = &ses.receipt;
    // The SES message id names the raw object and the idempotency key.
    let ses_id = mail.message_id.as_deref().unwrap_or_default();
    let cmid = check!(ClientMessageId::parse(&format!("email-{ses_id}"))
        .ok()
        .filter(|_| !ses_id.is_empty() && !ses_id.contains(['/', '.']))
        .ok_or(Refusal::Unreadable));
    let raw = check!(app
        .attachments
        .inbound_email(ses_id)
        .await?
        .ok_or(Refusal::Unreadable));

    // 1. SES's verdicts.
    let verdicts = Verdicts::from_receipt(receipt);
    check!(inbound::check_verdicts(&verdicts));

    // 2. One reply address of this deployment; or, with none, a
    // `List-Unsubscribe` mailto (`unsubscribe+{token}@`).
    let key_text = inbound::reply_key_in(&receipt.recipients, &app.settings.domain);
    if key_text == Err(Refusal::NoReplyAddress) {
        let domain = &app.settings.domain;
        if let Some(token) = receipt
            .recipients
            .iter()
            .find_map(|r| unsubscribe_token_in_address(r, domain))
        {
            return unsubscribe(app, token, now).await;
        }
    }
    let key_text = check!(key_text);

    // 3. The key: signed by us, known, current, its person still in the thread.
    let key = check!(app
        .settings
        .keys
        .verify(key_text)
        .map_err(|_| Refusal::ForgedKey));
    let row = check!(app.store.reply_key(&key).await?.ok_or(Refusal::UnknownKey));
    if row.expires_at <= now.unix_seconds() {
        return Ok(Outcome::Refused(Refusal::ExpiredKey));
    }
    // The thread (its participants follow the directory) and whether this
    // e-mail was posted already: one read, reused by the send.
    let ctx = app
        .store
        .send_context(&row.thread, &[], Some((&row.user, &cmid)))
        .await?;
    let record = check!(ctx
        .record
        .filter(|r| r.thread.account_id == row.account && r.member(&row.user).is_some())
        .ok_or(Refusal::NotParticipant));

    // 4. From the person the key was issued to, authenticated.
    let incoming = check!(inbound::parse(&raw));
    let sender = check!(incoming.sender());
    check!(inbound::check_sender(&sender, &row.address, &verdicts));

    // 5. Written by a person.
    check!(incoming.automatic(mail.source.as_deref().unwrap_or("")));

    // 6. The sender's rate limit (a redelivery is not counted twice).
    if app.store.count_reply(&sender, ses_id, now).await? == RateOutcome::Limited {
        return Ok(Outcome::Refused(Refusal::RateLimited));
    }

    // 7 + 8. The text and the files.
    let content = check!(incoming.content());
    let urgent = incoming.urgent();

    let Some((role, name)) = record.member(&row.user) else {
        return Ok(Outcome::Refused(Refusal::NotParticipant));
    };
    let author = Author {
        id: row.user.clone(),
        name: name.map_or_else(|| row.user.as_str().to_owned(), str::to_owned),
        role,
    };
    let received_ms = mail.timestamp.timestamp_millis().max(0) as u64;
    let files: Vec<AttachmentRecord> = content
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| AttachmentRecord {
            file: AttachmentRef {
                id: attachment_id(ses_id, received_ms, i),
                filename: f.filename.clone(),
                content_type: f.content_type.to_owned(),
                size: f.bytes.len() as u64,
                scan: ScanState::Pending,
                key: KeyLayout::Thread,
            },
            thread: row.thread.clone(),
            author: row.user.clone(),
            message: None,
            expires_at: None,
            multipart: None,
        })
        .collect();

    // Posted already (a redelivery): the original message, without
    // touching S3.
    if let Some(claim) = &ctx.claim {
        let fingerprint = send_fingerprint(&content.body, urgent, files.iter().map(|a| &a.file.id));
        let outcome = app
            .store
            .answer_claim(&row.thread, claim, &fingerprint)
            .await?;
        return finish(outcome);
    }

    store_files(app, &files, content.files).await?;
    app.store.record_inbound_attachments(&files).await?;
    let new = NewMessage {
        thread: row.thread.clone(),
        author,
        client_message_id: cmid,
        body: content.body,
        urgent,
        attachments: files.into_iter().map(|a| a.file).collect(),
    };
    let outcome = app.store.send_message(&new, record).await?;
    finish(outcome)
}

/// A `List-Unsubscribe` e-mail (RFC 8058's mailto): the token is the
/// authority, as for `POST /unsubscribe/{token}` (its sender is often the
/// mail provider, so `From` is not checked). It mutes the thread for the
/// token's person if this deployment signed the token, its reply key's row
/// is live and the person still takes part in the thread; else it is
/// refused like a reply key (check 3). Never answered.
async fn unsubscribe(app: &App, token: &str, now: Timestamp) -> Result<Outcome, Error> {
    let key = check!(app
        .settings
        .keys
        .verify_mute_token(token)
        .map_err(|_| Refusal::ForgedKey));
    let row = check!(app.store.reply_key(&key).await?.ok_or(Refusal::UnknownKey));
    if row.expires_at <= now.unix_seconds() {
        return Ok(Outcome::Refused(Refusal::ExpiredKey));
    }
    let ctx = app.store.send_context(&row.thread, &[], None).await?;
    check!(ctx
        .record
        .filter(|r| r.thread.account_id == row.account && r.member(&row.user).is_some())
        .ok_or(Refusal::NotParticipant));
    match app.store.set_muted(&row.thread, &row.user, true).await? {
        Some(_) => Ok(Outcome::Unsubscribed(row.thread)),
        None => Ok(Outcome::Refused(Refusal::NotParticipant)),
    }
}

fn finish(outcome: SendOutcome) -> Result<Outcome, Error> {
    match outcome {
        SendOutcome::Created(m) => Ok(Outcome::Posted(m)),
        SendOutcome::Replayed(m) => Ok(Outcome::Replayed(m)),
        SendOutcome::Conflict => Ok(Outcome::Conflict),
        // Left the thread while the e-mail was being read.
        SendOutcome::NotFound => Ok(Outcome::Refused(Refusal::NotParticipant)),
        // Only another delivery of this e-mail binds these ids: its retry
        // finds the claim and replays.
        SendOutcome::AttachmentTaken(id) => {
            Err(format!("attachment {id} was bound by another send; retrying").into())
        }
    }
}

/// The id of the e-mail's `index`-th file: the same on every delivery of
/// the e-mail (a ULID whose time is when SES received it, and whose random
/// part is a hash of the SES message id and the index).
pub fn attachment_id(ses_id: &str, received_ms: u64, index: usize) -> AttachmentId {
    let mut h = Sha256::new();
    h.update(b"liaison-inbound-file:");
    h.update(ses_id.as_bytes());
    h.update(b":");
    h.update(index.to_string().as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let random = u128::from_be_bytes(bytes) >> 48;
    AttachmentId::from_ulid(ulid::Ulid::from_parts(received_ms, random))
}

/// Puts every file in the bucket, all at once.
async fn store_files(
    app: &App,
    records: &[AttachmentRecord],
    files: Vec<inbound::InboundFile>,
) -> Result<(), Error> {
    let mut puts = tokio::task::JoinSet::new();
    for (a, f) in records.iter().zip(files) {
        let bucket = app.attachments.clone();
        let key = object_key(&a.thread, &a.file);
        let filename = a.file.filename.clone();
        puts.spawn(async move {
            bucket
                .put_inbound_file(&key, &filename, f.content_type, f.bytes)
                .await
        });
    }
    while let Some(joined) = puts.join_next().await {
        joined??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_are_stable_per_email_and_index() {
        let a = attachment_id("0100abc", 1_764_000_000_000, 0);
        assert_eq!(a, attachment_id("0100abc", 1_764_000_000_000, 0));
        assert_ne!(a, attachment_id("0100abc", 1_764_000_000_000, 1));
        assert_ne!(a, attachment_id("0100abd", 1_764_000_000_000, 0));
        assert_eq!(a.ulid().timestamp_ms(), 1_764_000_000_000);
        assert!(AttachmentId::parse(&a.to_string()).is_ok());
    }
}
