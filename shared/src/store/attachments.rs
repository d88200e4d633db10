//! Attachment records: pending from presign until a message binds them.
//! Pending records expire (TTL) so abandoned ones vanish.
//!
//! Each person's unsent uploads are capped per UTC day, by count and bytes
//! ([`MAX_PENDING_UPLOADS`], [`MAX_PENDING_UPLOAD_BYTES`]): a counter item per
//! (person, UTC day the upload was presigned) that the presign transaction
//! raises under a condition and the send transaction lowers for each of
//! that day's uploads it binds. So a person can stage many messages' worth
//! of files, but cannot fill the bucket with uploads they never send (which
//! S3 keeps for two days), nor run up presigns without limit.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use super::attr::{n, s, Item, Reader};
use super::threads::{is_conditional_failure, is_conflict, opt_message_id};
use super::{key, keys, schema, Backoff, Store, StoreError};
use crate::domain::{
    AccountId, AttachmentId, AttachmentRef, MessageId, ThreadId, Timestamp, UserId,
};

/// How long an upload may stay unsent before its record expires.
pub const PENDING_TTL_SECONDS: i64 = 2 * 24 * 3600;

/// A send binds an upload only while its record has at least this long
/// left before it expires (`expires_at`): DynamoDB deletes expired records
/// up to ~48 h late, and the bucket's rule deletes the pending object about
/// as long after its upload as the record lives, so an upload bound late
/// could be deleted before (or while) it is retagged. A day of margin keeps
/// every bound object a day clear of its lifecycle expiry.
pub const BIND_MARGIN_SECONDS: i64 = 24 * 3600;

/// At most this many of one person's uploads presigned on one UTC day may
/// be unsent: five messages' worth at the 10-attachment limit, far above
/// what a person stages by hand, low enough that a script is stopped early.
pub const MAX_PENDING_UPLOADS: u64 = 50;
/// At most this many bytes of them: ten of the largest videos (1 GiB each),
/// a full message of them, so no legitimate send is ever blocked; a
/// runaway client can leave at most this much per day for the bucket's
/// two-day cleanup.
pub const MAX_PENDING_UPLOAD_BYTES: u64 = 10 * 1024 * 1024 * 1024;

const DAY_MS: u64 = 24 * 3600 * 1000;
const QUOTA_UPLOADS: &str = "pending_uploads";
const QUOTA_BYTES: &str = "pending_bytes";

/// The UTC day (days since the epoch) an upload was presigned: its id is a
/// ULID minted at presign time, so the id alone says which counter it is in.
fn upload_day(id: &AttachmentId) -> u64 {
    id.ulid().timestamp_ms() / DAY_MS
}

fn quota_key(user: &UserId, day: u64) -> Item {
    key(format!("UPLOADS#{user}"), format!("DAY#{day}"))
}

/// A counter outlives every upload it counts: the day, plus the pending
/// records' TTL, plus a day.
fn quota_expiry(day: u64) -> i64 {
    ((day + 1) * DAY_MS / 1000) as i64 + PENDING_TTL_SECONDS + 24 * 3600
}

/// The transaction item (if any) that takes `attachments` (all `author`'s,
/// being bound by a send) off today's pending counter. Only today's: a
/// counter only limits presigns on its own day, so lowering a past day's
/// would change nothing, and this keeps the send to at most one extra item
/// (3 + 80 people + 10 attachments + 1 ≤ DynamoDB's 100). Unconditional: a
/// counter that is gone is recreated, with its TTL.
pub(super) fn release_pending(
    table: &str,
    author: &UserId,
    attachments: &[AttachmentRef],
) -> Result<Option<TransactWriteItem>, StoreError> {
    let today = Timestamp::now().unix_millis().max(0) as u64 / DAY_MS;
    let (count, bytes) = attachments
        .iter()
        .filter(|a| upload_day(&a.id) == today)
        .fold((0u64, 0u64), |(c, b), a| (c + 1, b + a.size));
    if count == 0 {
        return Ok(None);
    }
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(quota_key(author, today)))
        .update_expression(format!(
            "ADD {QUOTA_UPLOADS} :n, {QUOTA_BYTES} :b SET {ttl} = if_not_exists({ttl}, :ttl)",
            ttl = schema::TTL_ATTRIBUTE
        ))
        .expression_attribute_values(":n", n(-(count as i64)))
        .expression_attribute_values(":b", n(-(bytes as i64)))
        .expression_attribute_values(":ttl", n(quota_expiry(today)))
        .build()
        .map_err(|e| StoreError::Aws {
            op: "TransactWriteItems",
            message: e.to_string(),
        })?;
    Ok(Some(TransactWriteItem::builder().update(update).build()))
}

/// What recording a new upload came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAttachment {
    Recorded,
    /// The author is not in the thread.
    NotInThread,
    /// The author already has [`MAX_PENDING_UPLOADS`] unsent uploads from
    /// today, or this one would take them over [`MAX_PENDING_UPLOAD_BYTES`].
    OverPendingCap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub file: AttachmentRef,
    pub thread: ThreadId,
    pub account: AccountId,
    pub author: UserId,
    /// The message it belongs to, once sent.
    pub message: Option<MessageId>,
    /// When the pending record expires (unix seconds; `None` once bound).
    /// Read only: [`Store::create_attachment`] sets its own.
    pub expires_at: Option<i64>,
}

impl AttachmentRecord {
    /// Whether a send may still bind it at `now` (unix seconds): at least
    /// [`BIND_MARGIN_SECONDS`] before its record expires.
    pub fn bindable_at(&self, now: i64) -> bool {
        self.expires_at
            .is_some_and(|e| e > now.saturating_add(BIND_MARGIN_SECONDS))
    }
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
        expires_at: r.opt_n(schema::TTL_ATTRIBUTE)?,
    })
}

impl Store {
    /// Records a pending upload, if `author` is in the thread and under the
    /// pending-upload cap: one transaction (a check of their inbox row, the
    /// put, and the day's counter raised under the cap).
    pub async fn create_attachment(
        &self,
        a: &AttachmentRecord,
    ) -> Result<NewAttachment, StoreError> {
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
        if a.file.size > MAX_PENDING_UPLOAD_BYTES {
            return Ok(NewAttachment::OverPendingCap);
        }
        let day = upload_day(&a.file.id);
        let counter = Update::builder()
            .table_name(&self.table)
            .set_key(Some(quota_key(&a.author, day)))
            .update_expression(format!(
                "ADD {QUOTA_UPLOADS} :one, {QUOTA_BYTES} :size SET {ttl} = :ttl",
                ttl = schema::TTL_ATTRIBUTE
            ))
            .condition_expression(format!(
                "attribute_not_exists({QUOTA_UPLOADS}) OR \
                 ({QUOTA_UPLOADS} < :max_uploads AND {QUOTA_BYTES} <= :room)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":size", n(a.file.size))
            .expression_attribute_values(":ttl", n(quota_expiry(day)))
            .expression_attribute_values(":max_uploads", n(MAX_PENDING_UPLOADS))
            .expression_attribute_values(
                ":room",
                n(MAX_PENDING_UPLOAD_BYTES.saturating_sub(a.file.size)),
            )
            .build()
            .map_err(build)?;
        // Two presigns of one person at once touch one counter: DynamoDB
        // cancels one of them (TransactionConflict), which is retried.
        let mut backoff = Backoff::new(8);
        loop {
            let result = self
                .db
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(check.clone())
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().put(put.clone()).build())
                .transact_items(TransactWriteItem::builder().update(counter.clone()).build())
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(NewAttachment::Recorded),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                err.as_service_error()
            {
                let reasons = c.cancellation_reasons();
                if is_conditional_failure(reasons, 0) {
                    return Ok(NewAttachment::NotInThread);
                }
                if is_conditional_failure(reasons, 2) {
                    return Ok(NewAttachment::OverPendingCap);
                }
                if is_conflict(reasons) {
                    if backoff.wait().await {
                        continue;
                    }
                    return Err(StoreError::Contention);
                }
            }
            return Err(StoreError::aws("TransactWriteItems", err));
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
