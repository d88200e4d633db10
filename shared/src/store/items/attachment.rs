//! Attachment records: pending from presign until a message binds them.

use crate::domain::{
    AccountId, AttachmentId, AttachmentRef, MessageId, ScanState, ThreadId, Timestamp, UserId,
};
use crate::store::attr::{n, s, Item, Reader};
use crate::store::{keys, schema, StoreError, BIND_MARGIN_SECONDS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub file: AttachmentRef,
    pub thread: ThreadId,
    pub account: AccountId,
    pub author: UserId,
    /// The message it belongs to, once sent.
    pub message: Option<MessageId>,
    /// When the pending record expires (unix seconds; `None` once bound).
    /// Read only: [`crate::store::Store::create_attachment`] sets its own.
    pub expires_at: Option<i64>,
    /// The S3 multipart upload, for a file uploaded in parts.
    pub multipart: Option<MultipartUpload>,
}

/// A file uploaded in parts: S3's upload id and how the file is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u64,
}

impl AttachmentRecord {
    /// Whether a send may still bind it at `now` (unix seconds): at least
    /// [`BIND_MARGIN_SECONDS`] before its record expires.
    pub fn bindable_at(&self, now: i64) -> bool {
        self.expires_at
            .is_some_and(|e| e > now.saturating_add(BIND_MARGIN_SECONDS))
    }
}

/// A new, pending record that expires at `expires_at` (unix seconds).
pub(in crate::store) fn attachment_item(a: &AttachmentRecord, expires_at: i64) -> Item {
    let mut item = keys::attachment(&a.thread, &a.file.id);
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
        ("scan".into(), s(a.file.scan.as_str())),
        ("created_at".into(), s(Timestamp::now().to_string())),
        (schema::TTL_ATTRIBUTE.into(), n(expires_at)),
    ]);
    if let Some(m) = &a.multipart {
        item.extend([
            ("upload_id".into(), s(&m.upload_id)),
            ("part_size".into(), n(m.part_size)),
            ("part_count".into(), n(m.part_count)),
        ]);
    }
    item
}

pub(in crate::store) fn read_attachment(item: &Item) -> Result<AttachmentRecord, StoreError> {
    let r = Reader::new(item);
    Ok(AttachmentRecord {
        file: AttachmentRef {
            id: r.parse("attachment_id", AttachmentId::parse)?,
            filename: r.s("filename")?.to_owned(),
            content_type: r.s("content_type")?.to_owned(),
            size: r.n("size")?.max(0) as u64,
            scan: read_scan(&r)?,
        },
        thread: r.parse("thread_id", ThreadId::parse)?,
        account: r.parse("account_id", AccountId::parse)?,
        author: r.parse("author_id", UserId::parse)?,
        message: r.opt_parse("message_id", MessageId::parse)?,
        expires_at: r.opt_n(schema::TTL_ATTRIBUTE)?,
        multipart: match r.opt_s("upload_id")? {
            Some(upload_id) => Some(MultipartUpload {
                upload_id: upload_id.to_owned(),
                part_size: r.n("part_size")?.max(0) as u64,
                part_count: r.n("part_count")?.max(0) as u64,
            }),
            None => None,
        },
    })
}

/// An item's `scan` attribute; items written before scanning existed have
/// none and are pending (never downloadable until a scan result lands).
pub(in crate::store) fn read_scan(r: &Reader<'_>) -> Result<ScanState, StoreError> {
    Ok(r.opt_parse("scan", ScanState::parse)?.unwrap_or_default())
}
