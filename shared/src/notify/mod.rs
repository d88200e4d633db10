//! E-mail on every reply: who gets told, what one e-mail covers, sending
//! through SES, and never twice.
//!
//! A notification job names one new message. For each person on the other
//! side of the thread, the notifier gathers every message from the other
//! side that they have neither read nor been e-mailed about (so messages
//! that arrived during the delay go out together, oldest first), claims
//! them, sends one e-mail, and completes the claims.

pub mod email;

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, MessageId, Role, ThreadId};
use crate::store::{Store, StoreError};

pub use email::{render, to_mime, Email};

/// The queue message: which new message to tell people about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub account_id: String,
    pub thread_id: String,
    pub message_id: String,
    pub author_role: Role,
}

/// A job with its ids checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedJob {
    pub account: AccountId,
    pub thread: ThreadId,
    pub message: MessageId,
    pub author_role: Role,
}

impl Job {
    /// `None` for anything that is not a job this code wrote.
    pub fn parse(body: &str) -> Option<CheckedJob> {
        let job: Job = serde_json::from_str(body).ok()?;
        Some(CheckedJob {
            account: AccountId::parse(job.account_id).ok()?,
            thread: ThreadId::parse(&job.thread_id)?,
            message: MessageId::parse(&job.message_id)?,
            author_role: job.author_role,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ses SendEmail failed: {0}")]
    Ses(String),
    #[error("e-mail could not be built: {0}")]
    Build(String),
    #[error("notification claims kept changing")]
    Contention,
}

/// Sends e-mails as raw MIME through SES v2.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub ses: aws_sdk_sesv2::Client,
    pub from: String,
    pub app_url: String,
}

impl Mailer {
    pub async fn send(&self, email: &Email) -> Result<(), NotifyError> {
        let raw = to_mime(email, &self.from).map_err(|e| NotifyError::Build(e.to_string()))?;
        let content = EmailContent::builder()
            .raw(
                RawMessage::builder()
                    .data(Blob::new(raw))
                    .build()
                    .map_err(|e| NotifyError::Build(e.to_string()))?,
            )
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to.email).build())
            .content(content)
            .send()
            .await
            // SES error messages can quote addresses: keep only the kind.
            .map_err(|e| {
                NotifyError::Ses(match &e {
                    aws_sdk_sesv2::error::SdkError::ServiceError(s) => {
                        s.err().meta().code().unwrap_or("service error").to_owned()
                    }
                    aws_sdk_sesv2::error::SdkError::DispatchFailure(_) => "dispatch failure".into(),
                    aws_sdk_sesv2::error::SdkError::TimeoutError(_) => "timeout".into(),
                    _ => "request failed".into(),
                })
            })?;
        Ok(())
    }
}

pub struct Notifier {
    pub store: Store,
    pub mailer: Mailer,
}

impl Notifier {
    /// Handles one job; the number of e-mails sent. An error means nothing
    /// is lost: claims of a failed send are released for the retry.
    pub async fn process(&self, job: &CheckedJob) -> Result<usize, NotifyError> {
        let Some((record, profile)) = self.store.notify_context(&job.account, &job.thread).await?
        else {
            tracing::warn!(thread_id = %job.thread, "notification for a thread that does not exist");
            return Ok(0);
        };
        let side = job.author_role.other();
        // People on the other side who are (still) in the account and the thread.
        let recipients: Vec<_> = profile
            .people_on(side)
            .iter()
            .filter(|p| {
                record
                    .participants
                    .iter()
                    .any(|(u, r)| *u == p.id && *r == side)
            })
            .collect();
        if recipients.is_empty() {
            return Ok(0);
        }
        let ids: Vec<_> = recipients.iter().map(|p| &p.id).collect();
        let rows = self.store.inbox_rows(&job.thread, &ids).await?;
        let oldest_read = rows.iter().map(|r| r.read_position).min().flatten();
        let recent = self.store.messages_after(&job.thread, oldest_read).await?;
        let mut sent = 0;
        for person in recipients {
            let Some(row) = rows.iter().find(|r| r.user == person.id) else {
                continue;
            };
            let unread: Vec<_> = recent
                .iter()
                .filter(|m| m.author.role != side && row.read_position.is_none_or(|p| m.id > p))
                .collect();
            if unread.is_empty() {
                continue;
            }
            let mut attempts = 0;
            loop {
                attempts += 1;
                let states = self
                    .store
                    .notification_states(
                        &person.id,
                        &unread.iter().map(|m| m.id).collect::<Vec<_>>(),
                    )
                    .await?;
                let due: Vec<_> = unread
                    .iter()
                    .filter(|m| !states.contains_key(&m.id))
                    .map(|m| (*m).clone())
                    .collect();
                if due.is_empty() {
                    // Sent already, or being sent by another delivery of
                    // this job: theirs to finish. Should that one crash, its
                    // SQS message comes back after its lease ran out.
                    break;
                }
                let due_ids: Vec<MessageId> = due.iter().map(|m| m.id).collect();
                if !self.store.claim_notifications(&person.id, &due_ids).await? {
                    if attempts >= 5 {
                        return Err(NotifyError::Contention);
                    }
                    continue;
                }
                let mail = render(person, &record.thread, &due, &self.mailer.app_url);
                if let Err(e) = self.mailer.send(&mail).await {
                    self.store
                        .release_notifications(&person.id, &due_ids)
                        .await?;
                    return Err(e);
                }
                self.store
                    .complete_notifications(&person.id, &due_ids)
                    .await?;
                tracing::info!(
                    thread_id = %job.thread,
                    recipient_id = %person.id,
                    messages = due.len(),
                    "notification e-mailed"
                );
                sent += 1;
                break;
            }
        }
        Ok(sent)
    }
}
