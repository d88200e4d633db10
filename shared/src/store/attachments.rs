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

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::attr::{n, s, Reader};
use super::items::{attachment_item, read_attachment, AttachmentRecord};
use super::keys::{self, Kind};
use super::tx::{self, UpdateItem};
use super::{schema, Store, StoreError};
use crate::domain::{AccountId, AttachmentId, AttachmentRef, ThreadId, Timestamp, UserId};

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
pub(super) const QUOTA_UPLOADS: &str = "pending_uploads";
pub(super) const QUOTA_BYTES: &str = "pending_bytes";

/// The UTC day (days since the epoch) an upload was presigned: its id is a
/// ULID minted at presign time, so the id alone says which counter it is in.
pub(super) fn upload_day(id: &AttachmentId) -> u64 {
    id.ulid().timestamp_ms() / DAY_MS
}

/// A counter outlives every upload it counts: the day, plus the pending
/// records' TTL, plus a day.
pub(super) fn quota_expiry(day: u64) -> i64 {
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
    tx::update(
        table,
        uploads_day_delta(author, today, -(count as i64), -(bytes as i64)),
    )
    .map(Some)
}

/// The unconditional update adding `count` uploads and `bytes` to
/// `author`'s pending counter of `day` (negative to release), recreating a
/// counter that is gone with its TTL.
pub(super) fn uploads_day_delta(
    author: &UserId,
    day: u64,
    count: i64,
    bytes: i64,
) -> UpdateItem<'static> {
    UpdateItem {
        key: keys::uploads_day(author, day),
        expression: format!(
            "ADD {QUOTA_UPLOADS} :n, {QUOTA_BYTES} :b SET {ttl} = if_not_exists({ttl}, :ttl)",
            ttl = schema::TTL_ATTRIBUTE
        ),
        condition: None,
        names: vec![],
        values: vec![
            (":n", n(count)),
            (":b", n(bytes)),
            (":ttl", n(quota_expiry(day))),
        ],
    }
}

/// What discarding an unsent upload came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discarded {
    Deleted,
    /// A message binds it: it stays.
    AlreadySent,
    /// No record any more (discarded or expired meanwhile).
    Missing,
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

impl Store {
    /// Records a pending upload, if `author` is in the thread and under the
    /// pending-upload cap: one transaction (a check of their inbox row, the
    /// put, and the day's counter raised under the cap). The row check is
    /// the tenant check: only a participant has a row in the thread, and
    /// `account` (a client's, from their token) must also be the row's
    /// (the thread's). A manager's token names no account: their row alone
    /// decides, as a read of it would have (nothing else is needed: the
    /// file's key names no account, see
    /// [`crate::attachments::object_key`]).
    pub async fn create_attachment(
        &self,
        a: &AttachmentRecord,
        account: Option<&AccountId>,
    ) -> Result<NewAttachment, StoreError> {
        if a.file.size > MAX_PENDING_UPLOAD_BYTES {
            return Ok(NewAttachment::OverPendingCap);
        }
        let day = upload_day(&a.file.id);
        let expires_at = Timestamp::now().unix_seconds() + PENDING_TTL_SECONDS;
        // Item order matters: the outcome is read from reasons 0 and 2.
        let items = vec![
            match account {
                Some(account) => tx::check(
                    &self.table,
                    keys::inbox(&a.thread, &a.author),
                    "attribute_exists(pk) AND account_id = :acc",
                    vec![(":acc", s(account.as_str()))],
                )?,
                None => tx::check(
                    &self.table,
                    keys::inbox(&a.thread, &a.author),
                    "attribute_exists(pk)",
                    vec![],
                )?,
            },
            tx::put(
                &self.table,
                attachment_item(a, expires_at),
                Some("attribute_not_exists(pk)"),
            )?,
            tx::update(
                &self.table,
                UpdateItem {
                    key: keys::uploads_day(&a.author, day),
                    expression: format!(
                        "ADD {QUOTA_UPLOADS} :one, {QUOTA_BYTES} :size SET {ttl} = :ttl",
                        ttl = schema::TTL_ATTRIBUTE
                    ),
                    condition: Some(&format!(
                        "attribute_not_exists({QUOTA_UPLOADS}) OR \
                         ({QUOTA_UPLOADS} < :max_uploads AND {QUOTA_BYTES} <= :room)"
                    )),
                    names: vec![],
                    values: vec![
                        (":one", n(1)),
                        (":size", n(a.file.size)),
                        (":ttl", n(quota_expiry(day))),
                        (":max_uploads", n(MAX_PENDING_UPLOADS)),
                        (
                            ":room",
                            n(MAX_PENDING_UPLOAD_BYTES.saturating_sub(a.file.size)),
                        ),
                    ],
                },
            )?,
        ];
        // Two presigns of one person at once touch one counter: DynamoDB
        // cancels one of them (TransactionConflict), which is retried.
        match self.transact_retrying(items, 8).await? {
            None => Ok(NewAttachment::Recorded),
            Some(c) if c.condition_failed(0) => Ok(NewAttachment::NotInThread),
            Some(c) if c.condition_failed(2) => Ok(NewAttachment::OverPendingCap),
            Some(c) => Err(c.into_error()),
        }
    }

    /// `user`'s own upload `id` in `thread`, sent or not, if `user` is in
    /// the thread: one BatchGetItem.
    pub async fn own_upload(
        &self,
        thread: &ThreadId,
        user: &UserId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        Ok(self
            .member_and_attachment(thread, user, id)
            .await?
            .filter(|r| r.author == *user))
    }

    /// Deletes `a`'s record while it is still an unsent upload of its
    /// author, and takes it off the pending-upload cap, in one transaction.
    /// The caller deletes the object after (a send that loses the record
    /// to this fails its bind condition).
    pub async fn discard_upload(&self, a: &AttachmentRecord) -> Result<Discarded, StoreError> {
        let mut items = vec![tx::delete(
            &self.table,
            keys::attachment(&a.thread, &a.file.id),
            "attachment_state = :pending AND author_id = :author",
            vec![
                (":pending", s("pending")),
                (":author", s(a.author.as_str())),
            ],
        )?];
        items.extend(release_pending(
            &self.table,
            &a.author,
            std::slice::from_ref(&a.file),
        )?);
        match self.transact_retrying(items, 8).await? {
            None => Ok(Discarded::Deleted),
            Some(c) if c.condition_failed(0) => {
                let now = self.get(keys::attachment(&a.thread, &a.file.id)).await?;
                match now.as_ref().map(read_attachment).transpose()? {
                    Some(r) if r.message.is_some() => Ok(Discarded::AlreadySent),
                    _ => Ok(Discarded::Missing),
                }
            }
            Some(c) => Err(c.into_error()),
        }
    }

    async fn member_and_attachment(
        &self,
        thread: &ThreadId,
        user: &UserId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        let items = self
            .batch_get(vec![
                keys::inbox(thread, user),
                keys::attachment(thread, id),
            ])
            .await?;
        let mut member = false;
        let mut record = None;
        for item in &items {
            if Reader::new(item).kind()? == Kind::Inbox {
                member = true;
            } else {
                record = Some(read_attachment(item)?);
            }
        }
        Ok(record.filter(|_| member))
    }

    /// A sent attachment, if `user` is in its thread: one BatchGetItem.
    pub async fn bound_attachment(
        &self,
        thread: &ThreadId,
        user: &UserId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        Ok(self
            .member_and_attachment(thread, user, id)
            .await?
            .filter(|r| r.message.is_some()))
    }
}
