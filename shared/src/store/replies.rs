//! Reply keys and the e-mail state of one person in one thread.
//!
//! ```text
//! REPLY#{key}   KEY          account_id, thread_id, user_id, address, issued_at, expires_at (TTL)
//! THREAD#{thr}  MAIL#{user}  reply_key, reply_key_expires_at, reply_address, last_email_id
//! ```
//!
//! A key row binds a reply address to one (thread, recipient) and to the
//! address the key was e-mailed to; receive-reply reads it
//! ([`Store::reply_key`]). The `MAIL#` row is the notifier's: the key it
//! last issued to this person in this thread (reused while it has more
//! than a third of its life left, the person's address is unchanged and
//! the key still verifies), and SES's message id of the last notification
//! e-mailed to them there (`In-Reply-To`, so mail clients thread them).
//!
//! No extra round trip per notification: the `MAIL#` rows (and the
//! recipients' `PREFS#` rows) are read in the same BatchGetItem as the
//! recipients' inbox rows
//! ([`Store::recipient_rows`]), a new key is written in the claim's
//! transaction (before SES sees the address), and the last SES id in the
//! completion's transaction.

use std::collections::HashMap;

use super::attr::{n, s, Item, Reader};
use super::items::{read_inbox_row, InboxRow};
use super::keys::{self, Kind};
use super::tx::UpdateItem;
use super::{schema, Store, StoreError};
use crate::domain::{AccountId, EmailPreference, ThreadId, Timestamp, UserId};
use crate::reply::ReplyKey;

/// A reply key's row: who may answer through it, where, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyKeyRecord {
    pub key: ReplyKey,
    pub account: AccountId,
    pub thread: ThreadId,
    pub user: UserId,
    /// The recipient's address when the key was issued: only mail from it
    /// is accepted.
    pub address: String,
    /// Epoch seconds; the key answers while `expires_at > now`.
    pub expires_at: i64,
}

/// The notifier's record of e-mail to one person in one thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadMail {
    /// The key last issued (its text: the notifier verifies it before
    /// reusing it).
    pub reply_key: Option<String>,
    /// Epoch seconds.
    pub reply_key_expires_at: Option<i64>,
    /// The address the key was issued to.
    pub reply_address: Option<String>,
    /// SES's message id of the last notification e-mailed.
    pub last_email_id: Option<String>,
}

impl Store {
    /// A reply key's row, read consistently (`None`: never issued, or
    /// removed by TTL after it expired). Expiry is the caller's to check.
    pub async fn reply_key(&self, key: &ReplyKey) -> Result<Option<ReplyKeyRecord>, StoreError> {
        let Some(item) = self.get(keys::reply_key(key)).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item);
        Ok(Some(ReplyKeyRecord {
            key: key.clone(),
            account: r.parse("account_id", AccountId::parse)?,
            thread: r.parse("thread_id", ThreadId::parse)?,
            user: r.parse("user_id", UserId::parse)?,
            address: r.s("address")?.to_owned(),
            expires_at: r.n(schema::TTL_ATTRIBUTE)?,
        }))
    }

    /// The inbox rows of `users` in `thread`, their `MAIL#` rows and their
    /// e-mail preferences (`PREFS#` rows): one BatchGetItem (per 33
    /// people), so the notifier decides from current settings at no extra
    /// round trip.
    pub async fn recipient_rows(
        &self,
        thread: &ThreadId,
        users: &[&UserId],
    ) -> Result<RecipientRows, StoreError> {
        let mut wanted = Vec::with_capacity(users.len() * 3);
        let mut prefs_of = HashMap::with_capacity(users.len());
        for u in users {
            wanted.push(keys::inbox(thread, u));
            wanted.push(keys::thread_mail(thread, u));
            let prefs = keys::preferences(u);
            let pk = Reader::new(&prefs).s(schema::PK)?.to_owned();
            prefs_of.insert(pk, (*u).clone());
            wanted.push(prefs);
        }
        let items = self.batch_get(wanted).await?;
        let mut out = RecipientRows {
            inbox: Vec::with_capacity(users.len()),
            ..RecipientRows::default()
        };
        for item in &items {
            let r = Reader::new(item);
            match r.kind()? {
                Kind::Inbox => {
                    out.inbox.push(read_inbox_row(item)?);
                    continue;
                }
                Kind::Preferences => {
                    let user = prefs_of
                        .get(r.s(schema::PK)?)
                        .ok_or_else(|| r.corrupt("a preference row nobody asked for"))?;
                    out.preferences
                        .insert(user.clone(), read_email_preference(&r, user)?);
                    continue;
                }
                _ => {}
            }
            let user = keys::thread_mail_user(r.s(schema::SK)?)
                .ok_or_else(|| r.corrupt("not an inbox, mail or preference row"))?;
            out.mail.insert(
                user,
                ThreadMail {
                    reply_key: r.opt_s("reply_key")?.map(str::to_owned),
                    reply_key_expires_at: r.opt_n("reply_key_expires_at")?,
                    reply_address: r.opt_s("reply_address")?.map(str::to_owned),
                    last_email_id: r.opt_s("last_email_id")?.map(str::to_owned),
                },
            );
        }
        Ok(out)
    }
}

/// What the notifier reads of its recipients in one thread
/// ([`Store::recipient_rows`]).
#[derive(Debug, Clone, Default)]
pub struct RecipientRows {
    /// Their inbox rows (none for someone no longer in the thread).
    pub inbox: Vec<InboxRow>,
    /// Their e-mail state in the thread (none: never e-mailed there).
    pub mail: HashMap<UserId, ThreadMail>,
    /// Their e-mail preferences (none: never set, i.e. `all`).
    pub preferences: HashMap<UserId, EmailPreference>,
}

impl RecipientRows {
    /// `user`'s e-mail preference (`all` unless they set another).
    pub fn preference(&self, user: &UserId) -> EmailPreference {
        self.preferences.get(user).copied().unwrap_or_default()
    }
}

/// A `PREFS#` row's `email`. A value this code does not know (written by
/// a newer version) reads as `all`: a preference is never a reason to lose
/// an e-mail.
fn read_email_preference(r: &Reader<'_>, user: &UserId) -> Result<EmailPreference, StoreError> {
    Ok(match r.opt_s("email")? {
        None => EmailPreference::default(),
        Some(text) => EmailPreference::parse(text).unwrap_or_else(|_| {
            tracing::warn!(recipient_id = %user, "unknown e-mail preference; e-mailing as `all`");
            EmailPreference::default()
        }),
    })
}

/// A new key's row.
pub(super) fn reply_key_item(record: &ReplyKeyRecord, issued_at: Timestamp) -> Item {
    let mut item = keys::reply_key(&record.key);
    item.extend([
        ("type".into(), s("reply_key")),
        ("account_id".into(), s(record.account.as_str())),
        ("thread_id".into(), s(record.thread.as_str())),
        ("user_id".into(), s(record.user.as_str())),
        ("address".into(), s(&record.address)),
        ("issued_at".into(), s(issued_at.to_string())),
        (schema::TTL_ATTRIBUTE.into(), n(record.expires_at)),
    ]);
    item
}

/// A `MAIL#` row's update in a transaction: `set` (and `#type`).
fn thread_mail_update(
    thread: &ThreadId,
    user: &UserId,
    set: &str,
    mut values: Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>,
) -> UpdateItem<'static> {
    values.push((":mail", s("thread_mail")));
    UpdateItem {
        key: keys::thread_mail(thread, user),
        expression: format!("SET #type = :mail, {set}"),
        condition: None,
        names: vec![("#type", "type")],
        values,
    }
}

/// The `MAIL#` row's update naming a newly issued key.
pub(super) fn issue_in_thread_mail(record: &ReplyKeyRecord) -> UpdateItem<'static> {
    thread_mail_update(
        &record.thread,
        &record.user,
        "reply_key = :key, reply_key_expires_at = :exp, reply_address = :addr",
        vec![
            (":key", s(record.key.as_str())),
            (":exp", n(record.expires_at)),
            (":addr", s(&record.address)),
        ],
    )
}

/// The `MAIL#` row's update recording the last notification's SES id.
pub(super) fn last_email_in_thread_mail(
    thread: &ThreadId,
    user: &UserId,
    ses_message_id: &str,
) -> UpdateItem<'static> {
    thread_mail_update(
        thread,
        user,
        "last_email_id = :id",
        vec![(":id", s(ses_message_id))],
    )
}
