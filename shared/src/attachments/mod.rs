//! Attachments: what may be uploaded, and S3 — presigned uploads and
//! downloads, and the check that an upload is what was declared. Bytes go
//! straight between the client and S3; no Lambda ever carries them.
//!
//! # A sent attachment never changes or vanishes
//!
//! What a message's attachment serves is fixed when the message is sent and
//! stays while the message exists; uploads never sent are deleted. Two
//! mechanisms, both in place before the send's transaction commits:
//!
//! - **Write-once uploads.** The presigned PUT signs `If-None-Match: *` (an
//!   S3 conditional write): it creates the object or fails with `412`, it can
//!   never replace it. So the bytes, type and length that send-message
//!   checked with HeadObject are the bytes every download serves, for as long
//!   as the upload URL lives and after; a second PUT also cannot reset the
//!   object's tags (a refused request changes nothing). Nobody else writes
//!   the key: no role puts objects with caller input.
//! - **Bound before the commit.** Uploads carry `liaison-state=pending`
//!   (signed into the PUT) and the bucket expires pending objects after
//!   [`UNBOUND_EXPIRY_DAYS`]. send-message retags each upload
//!   `liaison-state=bound` ([`Attachments::mark_bound`]) after checking it and
//!   *before* the transaction that binds it to the message, so by the time a
//!   message lists an attachment its object is already out of the expiry
//!   rule. Nothing after the commit (the relay, a retry) has to succeed for
//!   it to stay; the relay's own retagging is an idempotent leftover.
//!
//! Why not the alternatives: a server-side copy to a final key at bind time
//! still needs the final object to be non-expiring before the commit (the
//! same pre-commit step as here), doubles storage for two days, takes seconds
//! per GiB inside an API call (videos are up to 5 GiB, ten per message,
//! under API Gateway's 30 s), and two racing sends of one upload could each
//! copy different bytes to the one final key unless the source is immutable
//! anyway. Versioning with the version pinned keeps the bytes but not the
//! object: the pinned version still carries the tag the lifecycle rule reads,
//! so it needs the same pre-commit retag, plus noncurrent-version rules and
//! storage for every overwrite.
//!
//! The trade-off, written down: S3's lifecycle sees only S3, and an object
//! tagged bound for a send that then failed looks exactly like one of a send
//! that committed; one must be kept, so both are. So send-message refuses
//! everything it can *before* tagging: a `client_message_id` already used
//! (the idempotency claim is read in the same BatchGetItem as the thread and
//! the uploads) answers the original message or `409` without looking at
//! any upload, and an upload not the author's, already bound, of the wrong
//! size or type, or near its expiry is refused before the retag. What is
//! left are true races, where the transaction refuses after the retag: two
//! sends with one `client_message_id` at once (the loser's uploads, if they
//! differ), a send losing an upload to a concurrent send, a thread change
//! making the author no longer a participant, an upload crossing the expiry
//! margin within the send, or contention outlasting the retries. Such an
//! upload stays pending in the table, so the client's retry of the send
//! binds it; only one abandoned after such a failed send is kept without a
//! message. The alternative order (bind, then retag) loses a listed file
//! whenever the retag fails for good, which is the bug this replaces.
//! Undoing the tag after a failed send is not safe either: the same
//! author's concurrent send may have bound the upload meanwhile, and tags
//! have no condition. The leak is bounded by the pending-upload cap
//! ([`crate::store::MAX_PENDING_UPLOADS`] uploads and
//! [`crate::store::MAX_PENDING_UPLOAD_BYTES`] per person per UTC day): an
//! upload leaked this way was never bound in the table, so it still counts
//! against its day's cap (its slot is never freed).
//!
//! # Files that arrive by e-mail
//!
//! `receive-reply` is the one role that writes attachment objects itself:
//! the files of an answer to a notification
//! ([`Attachments::put_inbound_file`]), under ids derived from the SES
//! message id, with their checked type and already tagged bound, before
//! the send that lists them. Only a delivery of that same e-mail can write
//! those keys again, and only with the same bytes; once a message lists
//! them (its idempotency claim exists) they are not written at all. The
//! raw e-mails SES stores under [`INBOUND_PREFIX`] expire after
//! [`INBOUND_EXPIRY_DAYS`]; the function may read them but not write there.
//!
//! # Late binds
//!
//! DynamoDB's TTL deletes an expired pending record up to ~48 h late, and
//! the bucket deletes a pending object about [`UNBOUND_EXPIRY_DAYS`] after
//! its upload. A send therefore binds an upload only while its record has
//! at least [`crate::store::BIND_MARGIN_SECONDS`] (a day) left; otherwise it
//! answers `422 attachment_expired` before checking or tagging the object,
//! and the transaction's bind condition says the same (`expires_at >
//! now + margin`), so a bound object is never one the lifecycle rule is
//! about to delete.

mod multipart;
mod policy;
mod sniff;

use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Tag, Tagging};
use aws_sdk_s3::Client;

pub use multipart::{Completion, FinishedPart, ABORT_INCOMPLETE_DAYS, ABORT_INCOMPLETE_RULE};
pub use policy::{
    check_multipart, check_single_put, check_upload, PartPlan, Upload, UploadError, MAX_PARTS,
    MULTIPART_TYPES, SINGLE_PUT_MAX,
};
pub use sniff::{detected, is_declared_type, Head, SNIFF_BYTES};

use crate::domain::{AccountId, AttachmentId, AttachmentRef, KeyLayout, ThreadId, Timestamp};

/// How long presigned upload and download links live.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The tag every upload carries until a message binds it; the bucket's
/// lifecycle rule deletes objects still tagged pending after
/// [`UNBOUND_EXPIRY_DAYS`].
pub const PENDING_TAG: &str = "liaison-state=pending";
/// How long an upload tagged pending lives (the bucket's lifecycle rule;
/// the template says the same). An upload URL lives 15 minutes and a send
/// binds the upload right after: two days leaves ample room for a slow
/// client.
pub const UNBOUND_EXPIRY_DAYS: i32 = 2;
/// The id of that lifecycle rule.
pub const UNBOUND_EXPIRY_RULE: &str = "expire-unbound-uploads";
/// The tag value of a pending upload.
pub const PENDING_TAG_VALUE: &str = "pending";
/// The tag a bound upload carries instead.
pub const BOUND_TAG_VALUE: &str = "bound";
pub const STATE_TAG_KEY: &str = "liaison-state";

/// Where SES receiving stores each raw e-mail (the receipt rule's S3
/// action, `ObjectKeyPrefix`); the bucket expires them after
/// [`INBOUND_EXPIRY_DAYS`].
pub const INBOUND_PREFIX: &str = "inbound/";
/// How long a raw incoming e-mail stays in the bucket: past Lambda's
/// retries of the receiving function (6 hours), short enough that message
/// bodies are not kept twice.
pub const INBOUND_EXPIRY_DAYS: i32 = 7;
/// The id of that lifecycle rule.
pub const INBOUND_EXPIRY_RULE: &str = "expire-inbound-email";

/// The key of the raw e-mail SES stored for message `ses_message_id`.
pub fn inbound_key(ses_message_id: &str) -> String {
    format!("{INBOUND_PREFIX}{ses_message_id}")
}

/// A presigned request: where and how to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: Timestamp,
}

/// What S3 holds under an attachment's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub content_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("s3 {op} failed: {message}")]
pub struct S3Error {
    op: &'static str,
    message: String,
}

impl S3Error {
    /// S3 said there is no such object.
    pub fn is_no_such_key(&self) -> bool {
        self.message == "NoSuchKey"
    }

    /// An SDK error as it may be logged: S3's error code, or the kind of
    /// failure; the whole text (which can quote the request) only at DEBUG.
    fn sdk<E>(op: &'static str, err: &E) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        tracing::debug!(op, error = %DisplayErrorContext(err), "s3 error detail");
        let message = match err.code() {
            Some(code) => code.to_owned(),
            None => err.to_string(),
        };
        Self { op, message }
    }
}

/// The attachments bucket.
#[derive(Debug, Clone)]
pub struct Attachments {
    s3: crate::aws::LazyClient<Client>,
    bucket: String,
}

/// Where every attachment stored since presigning became one round trip
/// is kept: `t/{thread}/{attachment}` ([`KeyLayout::Thread`]).
pub const THREAD_PREFIX: &str = "t/";

/// The object key of `file`, an attachment of `thread`: the server's, never
/// the caller's file name.
///
/// # Key layouts
///
/// New files are stored under `t/{thread}/{attachment}`; files stored
/// before, under `{account}/{thread}/{attachment}`, stay where they are
/// ([`KeyLayout::Account`]). Why the account left the key: presign must
/// name the key in the same round trip as the transaction that records the
/// upload, and a manager's token names no account (they may work for
/// several), so the account cost a read of their inbox row first. The
/// thread and the attachment id are all the key needs: the id is minted
/// per upload, and a thread belongs to one account for good. The tenant
/// check is unchanged and never was the key: the transaction's condition
/// on the caller's inbox row (and, for a client, on its account) decides,
/// and nothing is presigned before it committed.
///
/// Why keep the old objects where they are rather than copy them: a copy
/// takes seconds per GiB (videos are up to 5 GiB), would have to retag and
/// rescan, and changes what a sent message serves; a marker on the items
/// that name a file (the attachment record, the message's entry) costs a
/// few bytes. No key of one layout can be a key of another file: the
/// first segment is `t`, an account id (`t` and `inbound` are reserved:
/// sync-directory refuses them) or `inbound` (raw e-mails, never an
/// attachment); and the attachment id is minted per file, so two files
/// never share a thread and an id. Bucket-wide rules (the lifecycle's tag
/// filter, the policy that serves only clean objects, GuardDuty) name no
/// prefix but `inbound/`, so they cover both layouts.
pub fn object_key(thread: &ThreadId, file: &AttachmentRef) -> String {
    match &file.key {
        KeyLayout::Thread => format!("{THREAD_PREFIX}{thread}/{}", file.id),
        KeyLayout::Account(account) => format!("{account}/{thread}/{}", file.id),
    }
}

/// An object key that may name an attachment: `{prefix}/{thread}/{id}`,
/// the prefix being `t` or an account id (not `inbound`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentKey {
    pub thread: ThreadId,
    pub id: AttachmentId,
    prefix: String,
}

impl AttachmentKey {
    /// The attachment `key` names, in either layout; `None` for raw
    /// e-mails under [`INBOUND_PREFIX`] and anything else.
    pub fn parse(key: &str) -> Option<Self> {
        if key.starts_with(INBOUND_PREFIX) {
            return None;
        }
        let mut parts = key.split('/');
        let (prefix, thread, id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        // `t` is also a well-formed account id: an account of that name
        // stored before it was reserved could have made the key.
        if AccountId::parse(prefix).is_err() {
            return None;
        }
        Some(Self {
            thread: ThreadId::parse(thread).ok()?,
            id: AttachmentId::parse(id).ok()?,
            prefix: prefix.to_owned(),
        })
    }

    /// The layouts under which a file of this thread and id has this key
    /// (one, or two for the prefix `t`): a record matches the key only if
    /// its layout is one of them.
    pub fn layouts(&self) -> Vec<KeyLayout> {
        let mut out = Vec::with_capacity(2);
        if format!("{}/", self.prefix) == THREAD_PREFIX {
            out.push(KeyLayout::Thread);
        }
        if let Ok(account) = AccountId::parse(self.prefix.as_str()) {
            out.push(KeyLayout::Account(account));
        }
        out
    }

    /// Whether `file` (of [`Self::thread`]) is stored under this key.
    pub fn names(&self, file: &AttachmentRef) -> bool {
        file.id == self.id && self.layouts().contains(&file.key)
    }
}

impl std::fmt::Display for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.prefix, self.thread, self.id)
    }
}

fn presign_config() -> Result<PresigningConfig, S3Error> {
    PresigningConfig::expires_in(LINK_LIFETIME).map_err(|e| S3Error {
        op: "presign",
        message: e.to_string(),
    })
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266/8187): the
/// UTF-8 name percent-encoded, and an ASCII fallback for old clients in
/// which anything not printable ASCII becomes `_`, `"` becomes `'` and `\`
/// becomes `_`. The name is cleaned first (one line, no control or invisible
/// format characters), so even a name stored before names were cleaned
/// cannot forge a header line or reorder what the user sees.
pub fn content_disposition(filename: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let clean = crate::domain::clean_line(filename);
    let clean = if clean.is_empty() {
        "attachment".to_owned()
    } else {
        clean
    };
    let fallback: String = clean
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '_',
            ' '..='~' => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&clean, ATTR_CHAR)
    )
}

impl Attachments {
    pub fn new(s3: Client, bucket: impl Into<String>) -> Self {
        Self {
            s3: crate::aws::LazyClient::ready(s3),
            bucket: bucket.into(),
        }
    }

    /// The bucket named by `LIAISON_BUCKET`, its S3 client built now: for a
    /// function every request of which uses S3.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(
            crate::aws::s3_client(aws),
            crate::config::bucket_name()?,
        ))
    }

    /// The same, with the S3 client built by its first use
    /// ([`crate::aws::LazyClient`]): for a function only some requests of
    /// which touch a file (a message with files, a page of messages with
    /// files), so that a process that never does never builds it.
    pub fn from_env_on_first_use(
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, crate::config::ConfigError> {
        let aws = aws.clone();
        Ok(Self {
            s3: crate::aws::LazyClient::new(move || crate::aws::s3_client(&aws)),
            bucket: crate::config::bucket_name()?,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A PUT that S3 accepts only with exactly this type and length (both
    /// signed), for 15 minutes, and only once: it signs `If-None-Match: *`,
    /// so it can create the object but never replace it (see the module
    /// comment). Computed locally: no round trip.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Link, S3Error> {
        let req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .if_none_match("*")
            .tagging(PENDING_TAG)
            .presigned(presign_config()?)
            .await
            .map_err(|e| S3Error::sdk("presign PutObject", &e))?;
        let mut headers: Vec<(String, String)> = req
            .headers()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        headers.sort();
        Ok(Link {
            url: req.uri().to_owned(),
            headers,
            expires_at: Timestamp::now().plus_seconds(LINK_LIFETIME.as_secs() as i64),
        })
    }

    /// A GET that downloads as an attachment under its original name.
    pub async fn presign_download(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
    ) -> Result<Link, S3Error> {
        let req = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(filename))
            .response_content_type(content_type)
            .presigned(presign_config()?)
            .await
            .map_err(|e| S3Error::sdk("presign GetObject", &e))?;
        Ok(Link {
            url: req.uri().to_owned(),
            headers: Vec::new(),
            expires_at: Timestamp::now().plus_seconds(LINK_LIFETIME.as_secs() as i64),
        })
    }

    /// What was uploaded under `key`, if anything (HeadObject).
    pub async fn stored(&self, key: &str) -> Result<Option<Stored>, S3Error> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Stored {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(e) => {
                let not_found = e
                    .as_service_error()
                    .map(|s| s.is_not_found())
                    .unwrap_or(false)
                    || e.code() == Some("NotFound")
                    || e.raw_response().map(|r| r.status().as_u16()) == Some(404);
                if not_found {
                    Ok(None)
                } else {
                    Err(S3Error::sdk("HeadObject", &e))
                }
            }
        }
    }

    /// The raw e-mail SES stored under `inbound/{ses_message_id}`, if it
    /// is there (GetObject).
    pub async fn inbound_email(&self, ses_message_id: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(inbound_key(ses_message_id))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let missing = e
                    .as_service_error()
                    .map(|s| s.is_no_such_key())
                    .unwrap_or(false)
                    || e.code() == Some("NoSuchKey")
                    || e.raw_response().map(|r| r.status().as_u16()) == Some(404);
                return if missing {
                    Ok(None)
                } else {
                    Err(S3Error::sdk("GetObject", &e))
                };
            }
        };
        let bytes = out.body.collect().await.map_err(|e| S3Error {
            op: "GetObject",
            message: e.to_string(),
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// Stores a file that arrived by e-mail as an upload of it would be
    /// stored (PutObject): under its attachment's key, with its type and a
    /// download name, already tagged bound (the send that lists it follows
    /// at once; a redelivery writes the same bytes to the same key).
    pub async fn put_inbound_file(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), S3Error> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(content_disposition(filename))
            .tagging(format!("{STATE_TAG_KEY}={BOUND_TAG_VALUE}"))
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| S3Error::sdk("PutObject", &e))?;
        Ok(())
    }

    /// Makes a bound object's malware-scan tag (`key` = the scanner's tag
    /// key) say `value`, keeping its other tags: the bucket policy serves
    /// only objects tagged clean, and a retag racing GuardDuty's could have
    /// dropped it. Only for bound objects: their `liaison-state=bound` is
    /// already in the set this reads, so it is kept. Whether it wrote; an
    /// object that is gone is left alone.
    pub async fn ensure_scan_tag(
        &self,
        object: &str,
        key: &str,
        value: &str,
    ) -> Result<bool, S3Error> {
        match self.set_tag(object, key, value).await {
            Err(e) if e.is_no_such_key() => Ok(false),
            written => written,
        }
    }

    /// Marks an upload as bound to a message, so the lifecycle rule that
    /// deletes abandoned uploads leaves it alone. send-message calls it
    /// before the transaction that binds the upload (see the module comment
    /// for why before). Idempotent. Keeps the object's other tags, so the
    /// malware scan's tag survives; S3 has no conditional tagging, so a
    /// scan tag written between the moment the tags were known and this
    /// write would be lost: record-scan puts it back once the file is bound
    /// ([`Attachments::ensure_scan_tag`]).
    ///
    /// `tags_seen` is how many tags the object had when it was last read
    /// (the check's ranged GET says: [`Head::tags`]). Every upload is
    /// created with exactly one, its state tag (`pending`, or `bound` by an
    /// earlier try of the same send): when that is still all there is, the
    /// set is replaced without reading it, one PutObjectTagging. Otherwise
    /// (the scan's tag is already there, or the count is unknown) the set
    /// is read and rewritten with the others kept; a set that says bound
    /// already is not written again.
    pub async fn mark_bound(&self, key: &str, tags_seen: Option<u32>) -> Result<(), S3Error> {
        if tags_seen == Some(1) {
            return self.put_tags(key, vec![state_tag(BOUND_TAG_VALUE)?]).await;
        }
        self.set_tag(key, STATE_TAG_KEY, BOUND_TAG_VALUE)
            .await
            .map(|_| ())
    }

    /// Makes `object`'s tag `key` say `value`, keeping its other tags
    /// (PutObjectTagging replaces the whole set; the malware scan's tag,
    /// which the bucket policy reads, must survive). Whether it wrote: a
    /// tag that already says so is not written again. An object that is
    /// gone is an error ([`S3Error::is_no_such_key`]).
    async fn set_tag(&self, object: &str, key: &str, value: &str) -> Result<bool, S3Error> {
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(object)
            .send()
            .await
            .map_err(|e| S3Error::sdk("GetObjectTagging", &e))?
            .tag_set;
        if tags.iter().any(|t| t.key == key && t.value == value) {
            return Ok(false);
        }
        let mut set: Vec<Tag> = tags.into_iter().filter(|t| t.key != key).collect();
        set.push(tag(key, value)?);
        self.put_tags(object, set).await?;
        Ok(true)
    }

    /// Replaces `object`'s whole tag set (one PutObjectTagging).
    async fn put_tags(&self, object: &str, set: Vec<Tag>) -> Result<(), S3Error> {
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(tag_error)?;
        self.s3
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(object)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| S3Error::sdk("PutObjectTagging", &e))?;
        Ok(())
    }
}

fn tag_error(e: aws_sdk_s3::error::BuildError) -> S3Error {
    S3Error {
        op: "PutObjectTagging",
        message: e.to_string(),
    }
}

fn tag(key: &str, value: &str) -> Result<Tag, S3Error> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(tag_error)
}

fn state_tag(value: &str) -> Result<Tag, S3Error> {
    tag(STATE_TAG_KEY, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ScanState;

    fn file(key: KeyLayout) -> AttachmentRef {
        AttachmentRef {
            id: AttachmentId::new(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size: 1,
            scan: ScanState::Pending,
            key,
        }
    }

    #[test]
    fn new_files_are_keyed_by_thread_older_ones_by_account() {
        let acme = AccountId::parse("acc_acme").unwrap();
        let thread = ThreadId::for_scope(&acme, "general");
        let new = file(KeyLayout::Thread);
        assert_eq!(object_key(&thread, &new), format!("t/{thread}/{}", new.id));
        let old = file(KeyLayout::Account(acme.clone()));
        assert_eq!(
            object_key(&thread, &old),
            format!("acc_acme/{thread}/{}", old.id)
        );
        // Each key names its own file, in its own layout only.
        for (f, other) in [(&new, &old), (&old, &new)] {
            let key = AttachmentKey::parse(&object_key(&thread, f)).unwrap();
            assert_eq!((&key.thread, key.id), (&thread, f.id));
            assert_eq!(key.to_string(), object_key(&thread, f));
            assert!(key.names(f));
            assert!(!key.names(&AttachmentRef {
                id: f.id,
                ..other.clone()
            }));
        }
        // A file of another account under the same thread and id is not it.
        let beta = AttachmentRef {
            key: KeyLayout::Account(AccountId::parse("acc_beta").unwrap()),
            ..old.clone()
        };
        assert!(!AttachmentKey::parse(&object_key(&thread, &old))
            .unwrap()
            .names(&beta));
    }

    #[test]
    fn only_attachment_keys_parse() {
        let acme = AccountId::parse("acc_acme").unwrap();
        let thread = ThreadId::for_scope(&acme, "general");
        let id = AttachmentId::new();
        for key in [
            format!("inbound/{thread}/{id}"),
            format!("inbound/{id}"),
            format!("t/{thread}"),
            format!("t/{thread}/{id}/x"),
            format!("t/thr_nope/{id}"),
            format!("t/{thread}/nope"),
            format!("a b/{thread}/{id}"),
            format!("/{thread}/{id}"),
            "malware-protection-resource-validation-object".to_owned(),
        ] {
            assert_eq!(AttachmentKey::parse(&key), None, "{key}");
        }
        // `t` is both the new prefix and a well-formed (now reserved)
        // account id: an account named so before could have made the key.
        let key = AttachmentKey::parse(&format!("t/{thread}/{id}")).unwrap();
        assert_eq!(
            key.layouts(),
            vec![
                KeyLayout::Thread,
                KeyLayout::Account(AccountId::parse("t").unwrap())
            ]
        );
        let key = AttachmentKey::parse(&format!("T/{thread}/{id}")).unwrap();
        assert_eq!(
            key.layouts(),
            vec![KeyLayout::Account(AccountId::parse("T").unwrap())]
        );
    }

    #[test]
    fn disposition_escapes_everything_but_attr_chars() {
        assert_eq!(
            content_disposition("hook v2 (final).png"),
            "attachment; filename=\"hook v2 (final).png\"; filename*=UTF-8''hook%20v2%20%28final%29.png"
        );
        assert_eq!(
            content_disposition("café\".pdf"),
            "attachment; filename=\"caf_'.pdf\"; filename*=UTF-8''caf%C3%A9%22.pdf"
        );
    }

    /// The header value has exactly the two parameters, the fallback is
    /// printable ASCII without quotes or backslashes, and the encoded form is
    /// only attr-chars and escapes.
    fn assert_well_formed(value: &str) {
        assert!(
            value.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "not printable ASCII: {value:?}"
        );
        let rest = value.strip_prefix("attachment; filename=\"").unwrap();
        let (fallback, rest) = rest.split_once("\"; filename*=UTF-8''").unwrap();
        assert!(!fallback.contains(['"', '\\']), "{fallback:?}");
        assert!(!fallback.is_empty());
        assert!(rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~%".contains(&b)));
    }

    #[test]
    fn hostile_names_cannot_break_the_header() {
        let quotes = content_disposition("a\"; filename=\"evil.exe");
        assert_well_formed(&quotes);
        assert!(quotes.starts_with("attachment; filename=\"a'; filename='evil.exe\"; "));
        assert!(quotes.ends_with("a%22%3B%20filename%3D%22evil.exe"));

        let crlf = content_disposition("a.png\r\nSet-Cookie: x=1");
        assert_well_formed(&crlf);
        assert!(
            crlf.contains("filename=\"a.png Set-Cookie: x=1\""),
            "{crlf}"
        );

        let backslash = content_disposition("a\\\\b.png");
        assert_well_formed(&backslash);
        assert!(backslash.contains("filename=\"a__b.png\""), "{backslash}");

        // U+202E would show "invoice_fdp.exe" as "invoice_exe.pdf".
        let bidi = content_disposition("invoice_\u{202E}fdp.exe");
        assert_well_formed(&bidi);
        assert!(bidi.contains("filename=\"invoice_fdp.exe\""), "{bidi}");
        assert!(bidi.ends_with("UTF-8''invoice_fdp.exe"), "{bidi}");
        assert!(!bidi.contains("%E2%80%AE"));

        let zero_width = content_disposition("\u{200B}\u{FEFF}\u{2066}");
        assert_well_formed(&zero_width);
        assert_eq!(
            zero_width,
            "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"
        );

        let long = format!("{}.png", "é".repeat(2000));
        let value = content_disposition(&long);
        assert_well_formed(&value);
        assert!(value.contains(&format!("filename=\"{}.png\"", "_".repeat(2000))));

        let emoji = content_disposition("👩\u{200D}💻 brief.pdf");
        assert_well_formed(&emoji);
        assert!(emoji.contains("filename=\"___ brief.pdf\""), "{emoji}");
    }
}
