//! Malware-scan results: recorded on the attachment's record and mirrored
//! onto the message that lists the file.
//!
//! # Ordering and races
//!
//! - **Infected is final.** A clean result is written only under the
//!   condition that the state is not infected; an infected result always
//!   wins. So duplicate, late or out-of-order events (a rescan, a
//!   redelivery) never make an infected file downloadable.
//! - **Record first, then the message.** The record is updated with
//!   `ReturnValues = ALL_NEW`: if it is bound by then, its message id is in
//!   the answer and the message's entry is updated next (conditional on the
//!   entry's id; idempotent). A failure between the two leaves the event on
//!   its queue, and the redelivery does both again.
//! - **A result landing while a send binds the file** is not lost either
//!   way: the send's bind is conditional on the scan state it copied into
//!   the message (see `send.rs`), so a result written before the send's
//!   transaction makes the bind fail and the send retries with the new
//!   state; a result written after it finds the record bound and updates
//!   the message.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attr::{s, Reader};
use super::items::{read_attachment, AttachmentRecord, KEY_LAYOUT, THREAD_LAYOUT};
use super::keys;
use super::{Store, StoreError};
use crate::attachments::AttachmentKey;
use crate::domain::{AttachmentId, KeyLayout, MessageId, ScanState, ThreadId};

/// What recording a scan result came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanRecorded {
    /// The record (and its message's entry, if it is bound) now holds
    /// `state`: the result, or infected if it already was.
    Recorded {
        state: ScanState,
        message: Option<MessageId>,
    },
    /// No attachment record under that key (an aborted or expired upload,
    /// or a key of another account): nothing to record.
    NoRecord,
}

impl Store {
    /// Records the scan `result` of the attachment stored under `object`
    /// (either key layout; a record whose file is stored under another key
    /// is not this object's). Idempotent; see the module comment.
    pub async fn record_scan(
        &self,
        object: &AttachmentKey,
        result: ScanState,
    ) -> Result<ScanRecorded, StoreError> {
        let (thread, id) = (&object.thread, &object.id);
        let record = match self.update_record_scan(object, result).await? {
            Some(r) => r,
            None => return Ok(ScanRecorded::NoRecord),
        };
        if let Some(message) = record.message {
            self.mirror_scan(thread, &message, id, record.file.scan)
                .await?;
        }
        Ok(ScanRecorded::Recorded {
            state: record.file.scan,
            message: record.message,
        })
    }

    /// The record after the result is applied (infected stays infected);
    /// `None` if there is no record whose file is stored under `object`.
    async fn update_record_scan(
        &self,
        object: &AttachmentKey,
        result: ScanState,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        let key = keys::attachment(&object.thread, &object.id);
        let existing = || async {
            Ok::<_, StoreError>(match self.get(key.clone()).await? {
                Some(item) => Some(read_attachment(&item)?).filter(|r| object.names(&r.file)),
                None => None,
            })
        };
        if result == ScanState::Pending {
            // Not a result: nothing changes.
            return existing().await;
        }
        // The record's file must be stored under this very key: of the
        // thread layout (its marker), or of the account layout (no marker,
        // and the key's account is the record's).
        let mut stored_here = Vec::new();
        let mut values = vec![(":scan", s(result.as_str()))];
        for layout in object.layouts() {
            match layout {
                KeyLayout::Thread => {
                    stored_here.push("#layout = :thread_layout");
                    values.push((":thread_layout", s(THREAD_LAYOUT)));
                }
                KeyLayout::Account(account) => {
                    stored_here.push("(attribute_not_exists(#layout) AND account_id = :acc)");
                    values.push((":acc", s(account.as_str())));
                }
            }
        }
        let stored_here = match stored_here.as_slice() {
            [one] => (*one).to_owned(),
            many => format!("({})", many.join(" OR ")),
        };
        let mut condition = format!("attribute_exists(pk) AND {stored_here}");
        if result != ScanState::Infected {
            condition.push_str(" AND (attribute_not_exists(#scan) OR #scan <> :infected)");
        }
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("SET #scan = :scan")
            .condition_expression(condition)
            .expression_attribute_names("#scan", "scan")
            .expression_attribute_names("#layout", KEY_LAYOUT)
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        if result != ScanState::Infected {
            req = req.expression_attribute_values(":infected", s(ScanState::Infected.as_str()));
        }
        match req.send().await {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Some(read_attachment(&item)?)),
                None => existing().await,
            },
            Err(err) => match err.as_service_error() {
                // No record, another account's key, or already infected:
                // read it to tell which.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => existing().await,
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }

    /// Sets the scan state of attachment `id`'s entry on `message`.
    async fn mirror_scan(
        &self,
        thread: &ThreadId,
        message: &MessageId,
        id: &AttachmentId,
        state: ScanState,
    ) -> Result<(), StoreError> {
        let key = keys::message(thread, message);
        let Some(item) = self.get(key.clone()).await? else {
            // A bound record names its message, stored in the same
            // transaction: only a deleted message gets here.
            tracing::warn!(%thread, message_id = %message, attachment_id = %id, "scan result for an attachment whose message is gone");
            return Ok(());
        };
        let wanted = id.to_string();
        let r = Reader::new(&item);
        let index = r.list("attachments")?.iter().position(|v| match v {
            AttributeValue::M(m) => Reader::new(m).opt_s("id").ok().flatten() == Some(&wanted),
            _ => false,
        });
        let Some(i) = index else {
            return Err(r.corrupt(format!("a bound attachment is not listed: {id}")));
        };
        let mut condition = format!("attachments[{i}].id = :id");
        if state != ScanState::Infected {
            condition.push_str(&format!(
                " AND (attribute_not_exists(attachments[{i}].#scan) OR attachments[{i}].#scan <> :infected)"
            ));
        }
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(format!("SET attachments[{i}].#scan = :scan"))
            .condition_expression(condition)
            .expression_attribute_names("#scan", "scan")
            .expression_attribute_values(":id", s(wanted))
            .expression_attribute_values(":scan", s(state.as_str()));
        if state != ScanState::Infected {
            req = req.expression_attribute_values(":infected", s(ScanState::Infected.as_str()));
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                // Already infected: final.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }
}
