//! Attachment records: pending from presign until a message binds them.

use crate::domain::{
    AccountId, AttachmentId, AttachmentRef, KeyLayout, MessageId, ScanState, ThreadId, Timestamp,
    UserId,
};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::attr::{n, s, Item, Reader};
use crate::store::{keys, schema, StoreError, BIND_MARGIN_SECONDS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    /// The file; its `key` says where its object is.
    pub file: AttachmentRef,
    pub thread: ThreadId,
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
        ("author_id".into(), s(a.author.as_str())),
        ("filename".into(), s(&a.file.filename)),
        ("content_type".into(), s(&a.file.content_type)),
        ("size".into(), n(a.file.size)),
        ("attachment_state".into(), s("pending")),
        ("scan".into(), s(a.file.scan.as_str())),
        ("created_at".into(), s(Timestamp::now().to_string())),
        (schema::TTL_ATTRIBUTE.into(), n(expires_at)),
    ]);
    // A new file has the thread layout, and a manager's presign does not
    // know the account; the account layout (the record's account) is only
    // written by tests, as the previous version wrote records.
    match &a.file.key {
        KeyLayout::Account(account) => item.extend([("account_id".into(), s(account.as_str()))]),
        KeyLayout::Thread => item.extend(key_layout_attr(&a.file.key)),
    }
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
            key: read_key_layout(&r, || r.parse("account_id", AccountId::parse))?,
        },
        thread: r.parse("thread_id", ThreadId::parse)?,
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

/// The attribute saying which layout a file's object key follows
/// ([`KeyLayout`]); items written before it have none.
pub(in crate::store) const KEY_LAYOUT: &str = "key_layout";
/// Its value for [`KeyLayout::Thread`].
pub(in crate::store) const THREAD_LAYOUT: &str = "thread";

/// The marker an attachment record or a message's entry stores for a file
/// of the thread layout; none for the account layout (as before the marker
/// existed: the account is on the item).
pub(in crate::store) fn key_layout_attr(key: &KeyLayout) -> Option<(String, AttributeValue)> {
    match key {
        KeyLayout::Thread => Some((KEY_LAYOUT.into(), s(THREAD_LAYOUT))),
        KeyLayout::Account(_) => None,
    }
}

/// The layout of a file's key: the marker's, or, without one, the account
/// layout with the account `account` reads (the record's own, or the
/// message's: the thread's either way).
pub(in crate::store) fn read_key_layout(
    r: &Reader<'_>,
    account: impl FnOnce() -> Result<AccountId, StoreError>,
) -> Result<KeyLayout, StoreError> {
    match r.opt_s(KEY_LAYOUT)? {
        Some(THREAD_LAYOUT) => Ok(KeyLayout::Thread),
        Some(other) => Err(r.corrupt(format!("unknown {KEY_LAYOUT}: {other}"))),
        None => Ok(KeyLayout::Account(account()?)),
    }
}

/// An item's `scan` attribute; items written before scanning existed have
/// none and are pending (never downloadable until a scan result lands).
pub(in crate::store) fn read_scan(r: &Reader<'_>) -> Result<ScanState, StoreError> {
    Ok(r.opt_parse("scan", ScanState::parse)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: KeyLayout) -> AttachmentRecord {
        let acme = AccountId::parse("acc_acme").unwrap();
        AttachmentRecord {
            file: AttachmentRef {
                id: AttachmentId::new(),
                filename: "a.png".into(),
                content_type: "image/png".into(),
                size: 3,
                scan: ScanState::Pending,
                key,
            },
            thread: ThreadId::for_scope(&acme, "general"),
            author: UserId::parse("u_dana").unwrap(),
            message: None,
            expires_at: Some(9),
            multipart: None,
        }
    }

    #[test]
    fn a_record_keeps_its_key_layout() {
        let new = record(KeyLayout::Thread);
        let item = attachment_item(&new, 9);
        assert_eq!(item.get(KEY_LAYOUT), Some(&s(THREAD_LAYOUT)));
        assert!(
            !item.contains_key("account_id"),
            "a manager's presign does not know it"
        );
        assert_eq!(read_attachment(&item).unwrap(), new);

        // As the version before the marker wrote it: the account, no marker.
        let old = record(KeyLayout::Account(AccountId::parse("acc_acme").unwrap()));
        let item = attachment_item(&old, 9);
        assert!(!item.contains_key(KEY_LAYOUT));
        assert_eq!(item.get("account_id"), Some(&s("acc_acme")));
        assert_eq!(read_attachment(&item).unwrap(), old);

        let mut odd = item.clone();
        odd.insert(KEY_LAYOUT.into(), s("elsewhere"));
        assert!(read_attachment(&odd).is_err());
        let mut lost = item;
        lost.remove("account_id");
        assert!(read_attachment(&lost).is_err());
    }
}
