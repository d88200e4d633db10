//! Notification records, one per (recipient, message): claimed with a
//! conditional write before the e-mail is sent, completed after. A claim
//! whose lease ran out (the notifier crashed mid-send) can be taken again,
//! so a crash retries instead of losing the e-mail; a completed record
//! (`sent`, with SES's message id, or `rejected`, with SES's error code)
//! means that message is never e-mailed to that person again. What is left
//! between SES accepting and the completion landing is written down at
//! `Notifier::notify_person`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::attr::{n, s, Item, Reader};
use super::messages::read_message;
use super::threads::{read_inbox_row, read_record, InboxRow, ThreadRecord};
use super::{key, keys, schema, Store, StoreError};
use crate::domain::{AccountId, AccountProfile, Message, MessageId, ThreadId, Timestamp, UserId};

/// How long a claim holds before another notifier may take it over.
pub const CLAIM_LEASE_SECONDS: i64 = 120;
/// How long completed records are kept (longer than any redelivery).
pub const SENT_RECORD_DAYS: i64 = 30;
/// The most messages one e-mail covers (older unread ones are in the app).
pub const MAX_MESSAGES_PER_EMAIL: i32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationState {
    /// Someone is sending it now (lease not yet run out).
    Sending,
    Sent,
    /// SES refused the e-mail for good (an address it will not take, a
    /// message it will not send): never tried again.
    Rejected,
}

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

fn record_key(user: &UserId, message: &MessageId) -> Item {
    key(format!("NOTIFY#{user}"), format!("NOTIFIED#{message}"))
}

impl Store {
    /// The thread (with participants) and the account's people: one
    /// BatchGetItem.
    pub async fn notify_context(
        &self,
        account: &AccountId,
        thread: &ThreadId,
    ) -> Result<Option<(ThreadRecord, AccountProfile)>, StoreError> {
        let items = self
            .batch_get(vec![
                key(keys::thread(thread), keys::META),
                key(keys::account(account), keys::PROFILE),
            ])
            .await?;
        let mut record = None;
        let mut profile = None;
        for item in &items {
            if Reader::new(item).s(schema::SK)? == keys::META {
                record = Some(read_record(item)?);
            } else {
                profile = Some(super::directory::read_profile(item)?);
            }
        }
        Ok(record.zip(profile))
    }

    /// Several people's rows of one thread.
    pub async fn inbox_rows(
        &self,
        thread: &ThreadId,
        users: &[&UserId],
    ) -> Result<Vec<InboxRow>, StoreError> {
        let items = self
            .batch_get(
                users
                    .iter()
                    .map(|u| key(keys::thread(thread), keys::inbox(u)))
                    .collect(),
            )
            .await?;
        items.iter().map(read_inbox_row).collect()
    }

    /// The newest messages after `after` (all, if `None`), oldest first.
    pub async fn messages_after(
        &self,
        thread: &ThreadId,
        after: Option<MessageId>,
    ) -> Result<Vec<Message>, StoreError> {
        let lower = match after {
            Some(id) => format!("{}{id}", keys::MESSAGE_PREFIX),
            None => keys::MESSAGE_PREFIX.to_owned(),
        };
        // Newest first with a limit, then flipped: the cap drops the oldest.
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::thread(thread)))
            .expression_attribute_values(":from", s(format!("{lower}\u{0}")))
            .expression_attribute_values(":to", s(format!("{}\u{7f}", keys::MESSAGE_PREFIX)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(MAX_MESSAGES_PER_EMAIL)
            .send()
            .await
            .map_err(|e| StoreError::aws("Query", e))?;
        let mut messages = out
            .items()
            .iter()
            .map(read_message)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Which of these messages are already sent, or being sent, to `user`.
    pub async fn notification_states(
        &self,
        user: &UserId,
        messages: &[MessageId],
    ) -> Result<HashMap<MessageId, NotificationState>, StoreError> {
        let items = self
            .batch_get(messages.iter().map(|m| record_key(user, m)).collect())
            .await?;
        let now = Timestamp::now().unix_millis();
        let mut states = HashMap::new();
        for item in &items {
            let r = Reader::new(item);
            let id = r.parse_opt("message_id", MessageId::parse)?;
            match r.s("notify_state")? {
                "sent" => {
                    states.insert(id, NotificationState::Sent);
                }
                "rejected" => {
                    states.insert(id, NotificationState::Rejected);
                }
                _ if r.n("lease_until")? > now => {
                    states.insert(id, NotificationState::Sending);
                }
                // A lease that ran out: the sender died; it is free again.
                _ => {}
            }
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
        let now = Timestamp::now();
        let lease = now.unix_millis() + CLAIM_LEASE_SECONDS * 1000;
        let mut items = Vec::new();
        for m in messages {
            let mut item = record_key(user, m);
            item.extend([
                ("type".into(), s("notification")),
                ("message_id".into(), s(m.to_string())),
                ("notify_state".into(), s("sending")),
                ("lease_until".into(), n(lease)),
                (
                    schema::TTL_ATTRIBUTE.into(),
                    n(now.unix_seconds() + SENT_RECORD_DAYS * 86_400),
                ),
            ]);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(
                    "attribute_not_exists(pk) OR (notify_state = :sending AND lease_until < :now)",
                )
                .expression_attribute_values(":sending", s("sending"))
                .expression_attribute_values(":now", n(now.unix_millis()))
                .build()
                .map_err(|e| StoreError::Aws {
                    op: "TransactWriteItems",
                    message: e.to_string(),
                })?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self
            .db
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(_),
                ) => Ok(false),
                _ => Err(StoreError::aws("TransactWriteItems", err)),
            },
        }
    }

    /// The e-mail to `user` about `messages` is settled for good: SES
    /// accepted it (with its message id) or refused it for good. One
    /// transaction, tried up to [`COMPLETE_ATTEMPTS`] times with backoff
    /// (on top of the SDK's own retries), because after SES accepted an
    /// e-mail this write is all that stands between a retry and a second
    /// e-mail.
    pub async fn complete_notifications(
        &self,
        user: &UserId,
        messages: &[MessageId],
        outcome: &Completion,
    ) -> Result<(), StoreError> {
        let mut backoff = super::Backoff::new(COMPLETE_ATTEMPTS);
        loop {
            match self.complete_once(user, messages, outcome).await {
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
            let update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(record_key(user, m)))
                .update_expression(
                    "SET notify_state = :state, #detail = :detail, settled_at = :at REMOVE lease_until",
                )
                .expression_attribute_names("#detail", detail_name)
                .expression_attribute_values(":state", s(state))
                .expression_attribute_values(":detail", s(detail.as_str()))
                .expression_attribute_values(":at", n(Timestamp::now().unix_millis()))
                .build()
                .map_err(|e| StoreError::Aws {
                    op: "TransactWriteItems",
                    message: e.to_string(),
                })?;
            items.push(TransactWriteItem::builder().update(update).build());
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
                .set_key(Some(record_key(user, m)))
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
