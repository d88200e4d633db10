//! Reading messages: one by id, a thread's pages newest first, and the
//! newest ones after a read position (for e-mails).

use std::collections::BTreeMap;

use super::attr::s;
use super::items::read_message;
use super::{keys, schema, Store, StoreError, MAX_MESSAGES_PER_EMAIL};
use crate::domain::{Message, MessageId, ThreadId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next: Option<BTreeMap<String, String>>,
}

impl Store {
    /// One message of a thread.
    pub async fn message(
        &self,
        thread: &ThreadId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        self.get(keys::message(thread, id))
            .await?
            .as_ref()
            .map(read_message)
            .transpose()
    }

    /// A page of a thread's messages, newest first: one Query. It reads one
    /// message past the page, so `next` is set only when older messages
    /// exist (DynamoDB's own `LastEvaluatedKey` is set whenever the limit
    /// is reached, which would offer an empty last page to a thread whose
    /// length is a multiple of the page).
    pub async fn list_messages(
        &self,
        thread: &ThreadId,
        limit: i32,
        start: Option<BTreeMap<String, String>>,
    ) -> Result<MessagePage, StoreError> {
        let (pk, prefix) = keys::messages_of(thread);
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":msg", s(prefix))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit.saturating_add(1))
            .set_exclusive_start_key(start.map(super::start_key))
            .send()
            .await
            .map_err(|e| StoreError::aws("Query", e))?;
        let page = usize::try_from(limit).unwrap_or(0);
        let items = out.items();
        let more = items.len() > page;
        let items = &items[..items.len().min(page)];
        let messages = items
            .iter()
            .map(read_message)
            .collect::<Result<Vec<_>, _>>()?;
        // The position after the page's last message: its table key.
        let next = match items.last() {
            Some(last) if more => super::page_key(Some(
                last.iter()
                    .filter(|(name, _)| *name == schema::PK || *name == schema::SK)
                    .map(|(name, v)| (name.clone(), v.clone()))
                    .collect(),
            ))?,
            _ => None,
        };
        Ok(MessagePage { messages, next })
    }

    /// The newest messages after `after` (all, if `None`), oldest first, at
    /// most [`MAX_MESSAGES_PER_EMAIL`] of them (the cap drops the oldest).
    pub async fn messages_after(
        &self,
        thread: &ThreadId,
        after: Option<MessageId>,
    ) -> Result<Vec<Message>, StoreError> {
        let (pk, _) = keys::messages_of(thread);
        let (from, to) = keys::messages_after(after.as_ref());
        // Newest first with a limit, then flipped.
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
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
}
