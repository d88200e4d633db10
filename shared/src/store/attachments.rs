//! Attachment records: pending from presign until a message binds them.
//! Pending records expire (TTL) so abandoned ones vanish.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};

use super::attr::{n, s, Item, Reader};
use super::threads::{is_conditional_failure, opt_message_id};
use super::{key, keys, schema, Store, StoreError};
use crate::domain::{
    AccountId, AttachmentId, AttachmentRef, MessageId, ThreadId, Timestamp, UserId,
};

/// How long an upload may stay unsent before its record expires.
pub const PENDING_TTL_SECONDS: i64 = 2 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub file: AttachmentRef,
    pub thread: ThreadId,
    pub account: AccountId,
    pub author: UserId,
    /// The message it belongs to, once sent.
    pub message: Option<MessageId>,
}

pub(super) fn attachment_key(thread: &ThreadId, id: &AttachmentId) -> Item {
    key(keys::thread(thread), format!("ATT#{id}"))
}

pub(super) fn read_attachment(item: &Item) -> Result<AttachmentRecord, StoreError> {
    let r = Reader::new(item);
    Ok(AttachmentRecord {
        file: AttachmentRef {
            id: r.parse_opt("attachment_id", AttachmentId::parse)?,
            filename: r.s("filename")?.to_owned(),
            content_type: r.s("content_type")?.to_owned(),
            size: r.n("size")?.max(0) as u64,
        },
        thread: r.parse_opt("thread_id", ThreadId::parse)?,
        account: r.parse("account_id", |v| AccountId::parse(v))?,
        author: r.parse("author_id", |v| UserId::parse(v))?,
        message: opt_message_id(&r, "message_id")?,
    })
}

impl Store {
    /// Records a pending upload, if `author` is in the thread: one
    /// transaction (a check of their inbox row and the put). `false` when
    /// they are not.
    pub async fn create_attachment(&self, a: &AttachmentRecord) -> Result<bool, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Aws {
            op: "TransactWriteItems",
            message: e.to_string(),
        };
        let mut item = attachment_key(&a.thread, &a.file.id);
        item.extend([
            ("type".into(), s("attachment")),
            ("attachment_id".into(), s(a.file.id.to_string())),
            ("thread_id".into(), s(a.thread.as_str())),
            ("account_id".into(), s(a.account.as_str())),
            ("author_id".into(), s(a.author.as_str())),
            ("filename".into(), s(&a.file.filename)),
            ("content_type".into(), s(&a.file.content_type)),
            ("size".into(), n(a.file.size)),
            ("attachment_state".into(), s("pending")),
            ("created_at".into(), s(Timestamp::now().to_string())),
            (
                schema::TTL_ATTRIBUTE.into(),
                n(Timestamp::now().unix_seconds() + PENDING_TTL_SECONDS),
            ),
        ]);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::thread(&a.thread), keys::inbox(&a.author))))
            .condition_expression("attribute_exists(pk) AND account_id = :acc")
            .expression_attribute_values(":acc", s(a.account.as_str()))
            .build()
            .map_err(build)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if is_conditional_failure(c.cancellation_reasons(), 0) =>
                {
                    Ok(false)
                }
                _ => Err(StoreError::aws("TransactWriteItems", err)),
            },
        }
    }

    /// A sent attachment, if `user` is in its thread: one BatchGetItem.
    pub async fn bound_attachment(
        &self,
        thread: &ThreadId,
        user: &UserId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        let items = self
            .batch_get(vec![
                key(keys::thread(thread), keys::inbox(user)),
                attachment_key(thread, id),
            ])
            .await?;
        let mut member = false;
        let mut record = None;
        for item in &items {
            if Reader::new(item)
                .s(schema::SK)?
                .starts_with(keys::INBOX_PREFIX)
            {
                member = true;
            } else {
                record = Some(read_attachment(item)?);
            }
        }
        Ok(record.filter(|r| member && r.message.is_some()))
    }
}
