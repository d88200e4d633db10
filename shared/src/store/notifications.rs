//! Notification records, one per (recipient, message): claimed with a
//! conditional write before the e-mail is sent, completed after. A claim
//! whose lease ran out (the notifier crashed mid-send) can be taken again,
//! so a crash retries instead of losing the e-mail; a completed record
//! (`sent`, with SES's message id, or `rejected`, with SES's error code)
//! means that message is never e-mailed to that person again. What is left
//! between SES accepting and the completion landing is written down at
//! `Notifier::notify_person`.

use std::collections::HashMap;

use super::attr::{n, s, Reader};
use super::items::{
    notification_claim_item, read_notification_state, read_profile, read_record, NotificationState,
    ThreadRecord,
};
use super::keys::{self, Kind};
use super::replies::{
    issue_in_thread_mail, last_email_in_thread_mail, reply_key_item, ReplyKeyRecord,
};
use super::tx::{self, Backoff, UpdateItem};
use super::{Store, StoreError};
use crate::domain::{AccountId, AccountProfile, MessageId, ThreadId, Timestamp, UserId};

/// How long a claim holds before another notifier may take it over.
pub const CLAIM_LEASE_SECONDS: i64 = 120;
/// How long completed records are kept (longer than any redelivery).
pub const SENT_RECORD_DAYS: i64 = 30;
/// The most messages one e-mail covers (older unread ones are in the app).
pub const MAX_MESSAGES_PER_EMAIL: i32 = 50;

/// How an e-mail about some messages ended, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// SES accepted it; its message id (to match bounces and complaints).
    Sent { ses_message_id: String },
    /// SES refused it for good; its error code (never the message text,
    /// which can quote the address).
    Rejected { ses_error: String },
}

/// How often the write that records a settled e-mail is tried.
pub const COMPLETE_ATTEMPTS: u32 = 5;

impl Store {
    /// The thread (with participants) and the account's people: one
    /// BatchGetItem.
    pub async fn notify_context(
        &self,
        account: &AccountId,
        thread: &ThreadId,
    ) -> Result<Option<(ThreadRecord, AccountProfile)>, StoreError> {
        let items = self
            .batch_get(vec![keys::meta(thread), keys::profile(account)])
            .await?;
        let mut record = None;
        let mut profile = None;
        for item in &items {
            if Reader::new(item).kind()? == Kind::Meta {
                record = Some(read_record(item)?);
            } else {
                profile = Some(read_profile(item)?);
            }
        }
        Ok(record.zip(profile))
    }

    /// Which of these messages are already sent, or being sent, to `user`.
    pub async fn notification_states(
        &self,
        user: &UserId,
        messages: &[MessageId],
    ) -> Result<HashMap<MessageId, NotificationState>, StoreError> {
        let items = self
            .batch_get(
                messages
                    .iter()
                    .map(|m| keys::notification(user, m))
                    .collect(),
            )
            .await?;
        let now = Timestamp::now();
        let mut states = HashMap::new();
        for item in &items {
            states.extend(read_notification_state(item, now)?);
        }
        Ok(states)
    }

    /// Claims all of `messages` for an e-mail to `user`, or none (`false`
    /// when another notifier holds or finished one of them).
    pub async fn claim_notifications(
        &self,
        user: &UserId,
        messages: &[MessageId],
    ) -> Result<bool, StoreError> {
        self.claim_notifications_issuing(user, messages, None).await
    }

    /// [`claim_notifications`](Self::claim_notifications), writing in the
    /// same transaction a newly minted reply key (its row, and the person's
    /// `MAIL#` row in the thread naming it), so the key exists before SES
    /// sees its address.
    pub async fn claim_notifications_issuing(
        &self,
        user: &UserId,
        messages: &[MessageId],
        issue: Option<&ReplyKeyRecord>,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let lease = now.unix_millis() + CLAIM_LEASE_SECONDS * 1000;
        let mut items = Vec::with_capacity(messages.len());
        for m in messages {
            let item = notification_claim_item(
                user,
                m,
                lease,
                now.unix_seconds() + SENT_RECORD_DAYS * 86_400,
            );
            items.push(tx::put_if(
                &self.table,
                item,
                Some(
                    "attribute_not_exists(pk) OR (notify_state = :sending AND lease_until < :now)",
                ),
                vec![(":sending", s("sending")), (":now", n(now.unix_millis()))],
            )?);
        }
        if let Some(record) = issue {
            items.push(tx::put(&self.table, reply_key_item(record, now), None)?);
            items.push(tx::update(&self.table, issue_in_thread_mail(record))?);
        }
        // Cancelled: another notifier holds or finished one of them.
        Ok(self.transact(items).await?.is_none())
    }

    /// The e-mail to `user` about `messages` in `thread` is settled for
    /// good: SES accepted it (with its message id, also kept as the
    /// thread's last e-mail to them, for `In-Reply-To`) or refused it for
    /// good. One transaction, tried up to [`COMPLETE_ATTEMPTS`] times with
    /// backoff (on top of the SDK's own retries), because after SES
    /// accepted an e-mail this write is all that stands between a retry
    /// and a second e-mail.
    pub async fn complete_notifications(
        &self,
        thread: &ThreadId,
        user: &UserId,
        messages: &[MessageId],
        outcome: &Completion,
    ) -> Result<(), StoreError> {
        let mut backoff = Backoff::new(COMPLETE_ATTEMPTS);
        loop {
            match self.complete_once(thread, user, messages, outcome).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, recipient_id = %user, "recording a settled notification failed; trying again");
                    if !backoff.wait().await {
                        return Err(e);
                    }
                }
            }
        }
    }

    async fn complete_once(
        &self,
        thread: &ThreadId,
        user: &UserId,
        messages: &[MessageId],
        outcome: &Completion,
    ) -> Result<(), StoreError> {
        let (state, detail_name, detail) = match outcome {
            Completion::Sent { ses_message_id } => ("sent", "ses_message_id", ses_message_id),
            Completion::Rejected { ses_error } => ("rejected", "ses_error", ses_error),
        };
        let mut items = Vec::with_capacity(messages.len());
        for m in messages {
            // Unconditional: whatever the record holds now (our claim, or a
            // claim retaken after our lease ran out), the e-mail is settled.
            items.push(tx::update(
                &self.table,
                UpdateItem {
                    key: keys::notification(user, m),
                    expression:
                        "SET notify_state = :state, #detail = :detail, settled_at = :at REMOVE lease_until"
                            .into(),
                    condition: None,
                    names: vec![("#detail", detail_name)],
                    values: vec![
                        (":state", s(state)),
                        (":detail", s(detail.as_str())),
                        (":at", n(Timestamp::now().unix_millis())),
                    ],
                },
            )?);
        }
        if let Completion::Sent { ses_message_id } = outcome {
            items.push(tx::update(
                &self.table,
                last_email_in_thread_mail(thread, user, ses_message_id),
            )?);
        }
        self.db
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| StoreError::aws("TransactWriteItems", e))?;
        Ok(())
    }

    /// The e-mail failed: free the claims so a retry can send them.
    pub async fn release_notifications(
        &self,
        user: &UserId,
        messages: &[MessageId],
    ) -> Result<(), StoreError> {
        for m in messages {
            let result = self
                .db
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(keys::notification(user, m)))
                .condition_expression("notify_state = :sending")
                .expression_attribute_values(":sending", s("sending"))
                .send()
                .await;
            match result {
                Ok(_) => {}
                // Already completed or gone: nothing to free.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(StoreError::aws("DeleteItem", e)),
            }
        }
        Ok(())
    }
}
