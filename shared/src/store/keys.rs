//! Every key of the table, built and recognised here and nowhere else
//! (DESIGN.md "Data model"). Ids never contain `#`, so keys cannot collide.
//!
//! ```text
//! ACCOUNT#{acc}         PROFILE                 name, users, managers
//! ACCOUNT#{acc}         CAT#{cl}[#{cp}[#{cr}]]  catalog entries (never deleted)
//! ACCOUNT_THREADS#{acc} THREAD#{thr}            the account's threads (scope key)
//! THREAD#{thr}          META                    the thread: scope, activity, counts
//! THREAD#{thr}          INBOX#{user}            one person's view: read position, unread
//! THREAD#{thr}          MSG#{ulid}              a message (the outbox the stream relays)
//! THREAD#{thr}          IDEM#{user}#{cmid}      a send's idempotency claim
//! THREAD#{thr}          ATT#{ulid}              an attachment (pending, then bound)
//! UPLOADS#{user}        DAY#{n}                 a person's unsent uploads presigned on UTC day n (TTL)
//! NOTIFY#{user}         NOTIFIED#{ulid}         a notification record (TTL)
//! THREAD#{thr}          MAIL#{user}             e-mail to one person in one thread: reply key, last SES id
//! REPLY#{key}           KEY                     a reply key: thread, recipient, address (TTL)
//! INBOUND#{hash}        MIN#{n} / HOUR#{n}      one sender's replies per minute / hour (TTL)
//! INBOUND#{hash}        MAIL#{ses id}           an e-mail already counted (TTL)
//! PREFS#{user}          PREFS                   a person's e-mail preference (`email`)
//! ```
//!
//! and the index keys of inbox rows: `USER#{user}`, `USER#{user}#ACCOUNT#{acc}`,
//! `UNREAD#{user}`, `UNREAD#{user}#ACCOUNT#{acc}`, each sorted by
//! `{activity}#{thread}`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema;
use crate::domain::{
    AccountId, AttachmentId, CampaignId, ClientId, ClientMessageId, CreativeId, MessageId, Scope,
    ThreadId, UserId,
};

const ACCOUNT: &str = "ACCOUNT#";
const ACCOUNT_THREADS: &str = "ACCOUNT_THREADS#";
const THREAD: &str = "THREAD#";
const PROFILE: &str = "PROFILE";
const CATALOG: &str = "CAT#";
const META: &str = "META";
const INBOX: &str = "INBOX#";
const MESSAGE: &str = "MSG#";
const CLAIM: &str = "IDEM#";
const ATTACHMENT: &str = "ATT#";
const PREFS: &str = "PREFS#";
const PREFS_SK: &str = "PREFS";

/// A key (or an item's attributes): the same type as `attr::Item`.
type Item = HashMap<String, AttributeValue>;

/// A table key from its two parts.
pub(super) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([
        (schema::PK.to_owned(), AttributeValue::S(pk.into())),
        (schema::SK.to_owned(), AttributeValue::S(sk.into())),
    ])
}

fn thread_pk(thread: &ThreadId) -> String {
    format!("{THREAD}{thread}")
}

/// The partition of an account: its profile and catalog.
pub(super) fn account_pk(acc: &AccountId) -> String {
    format!("{ACCOUNT}{acc}")
}

pub(super) fn profile(acc: &AccountId) -> Item {
    key(account_pk(acc), PROFILE)
}

/// A catalog entry's key, from its path (client[, campaign[, creative]]).
pub(super) fn catalog(acc: &AccountId, path: &[&str]) -> Item {
    key(account_pk(acc), format!("{CATALOG}{}", path.join("#")))
}

/// The catalog keys along a scope's path.
pub(super) fn scope_catalog(acc: &AccountId, scope: &Scope) -> Vec<Item> {
    let ids: Vec<&str> = [
        scope.client().map(ClientId::as_str),
        scope.campaign().map(CampaignId::as_str),
        scope.creative().map(CreativeId::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    (1..=ids.len()).map(|i| catalog(acc, &ids[..i])).collect()
}

/// The partition listing an account's threads.
pub(super) fn account_threads_pk(acc: &AccountId) -> String {
    format!("{ACCOUNT_THREADS}{acc}")
}

/// A thread's pointer in its account's list.
pub(super) fn thread_pointer(acc: &AccountId, thread: &ThreadId) -> Item {
    key(account_threads_pk(acc), thread_pk(thread))
}

/// The thread a pointer's sort key names.
pub(super) fn pointed_thread(sk: &str) -> Option<ThreadId> {
    sk.strip_prefix(THREAD)
        .and_then(|id| ThreadId::parse(id).ok())
}

pub(super) fn meta(thread: &ThreadId) -> Item {
    key(thread_pk(thread), META)
}

pub(super) fn inbox(thread: &ThreadId, user: &UserId) -> Item {
    key(thread_pk(thread), format!("{INBOX}{user}"))
}

fn message_sk(id: &MessageId) -> String {
    format!("{MESSAGE}{id}")
}

pub(super) fn message(thread: &ThreadId, id: &MessageId) -> Item {
    key(thread_pk(thread), message_sk(id))
}

/// Where a page of messages that ends at `id` continues (a cursor's
/// position): the listing resumes with the next older message.
pub fn message_position(thread: &ThreadId, id: &MessageId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (schema::PK.to_owned(), thread_pk(thread)),
        (schema::SK.to_owned(), message_sk(id)),
    ])
}

/// Key condition values for a thread's messages: the partition and the
/// sort keys' common prefix.
pub(super) fn messages_of(thread: &ThreadId) -> (String, &'static str) {
    (thread_pk(thread), MESSAGE)
}

/// The sort-key range of a thread's messages newer than `after` (all of
/// them, if `None`), for `sk BETWEEN :from AND :to`.
pub(super) fn messages_after(after: Option<&MessageId>) -> (String, String) {
    let lower = match after {
        Some(id) => message_sk(id),
        None => MESSAGE.to_owned(),
    };
    (format!("{lower}\u{0}"), format!("{MESSAGE}\u{7f}"))
}

pub(super) fn claim(thread: &ThreadId, author: &UserId, cmid: &ClientMessageId) -> Item {
    key(
        thread_pk(thread),
        format!("{CLAIM}{author}#{}", cmid.as_str()),
    )
}

pub(super) fn attachment(thread: &ThreadId, id: &AttachmentId) -> Item {
    key(thread_pk(thread), format!("{ATTACHMENT}{id}"))
}

/// A person's counter of unsent uploads presigned on UTC day `day`.
pub(super) fn uploads_day(user: &UserId, day: u64) -> Item {
    key(format!("UPLOADS#{user}"), format!("DAY#{day}"))
}

/// The record of e-mailing `message` to `user`.
pub(super) fn notification(user: &UserId, message: &MessageId) -> Item {
    key(format!("NOTIFY#{user}"), format!("NOTIFIED#{message}"))
}

pub(super) fn by_user(user: &UserId) -> String {
    format!("USER#{user}")
}
pub(super) fn by_user_account(user: &UserId, acc: &AccountId) -> String {
    format!("USER#{user}#{ACCOUNT}{acc}")
}
pub(super) fn unread_by_user(user: &UserId) -> String {
    format!("UNREAD#{user}")
}
pub(super) fn unread_by_user_account(user: &UserId, acc: &AccountId) -> String {
    format!("UNREAD#{user}#{ACCOUNT}{acc}")
}
/// Sorts a person's threads by last activity (ties broken by thread id).
pub(super) fn activity(at: &str, thread: &ThreadId) -> String {
    format!("{at}#{thread}")
}

/// What an item is, by its key: for reads that fetch several kinds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Profile,
    Catalog,
    Meta,
    Inbox,
    Message,
    Claim,
    Attachment,
    Preferences,
    Other,
}

/// The kind of the item with these keys.
pub(super) fn kind(pk: &str, sk: &str) -> Kind {
    if pk.starts_with(ACCOUNT) {
        if sk == PROFILE {
            Kind::Profile
        } else if sk.starts_with(CATALOG) {
            Kind::Catalog
        } else {
            Kind::Other
        }
    } else if pk.starts_with(THREAD) {
        if sk == META {
            Kind::Meta
        } else if sk.starts_with(INBOX) {
            Kind::Inbox
        } else if sk.starts_with(MESSAGE) {
            Kind::Message
        } else if sk.starts_with(CLAIM) {
            Kind::Claim
        } else if sk.starts_with(ATTACHMENT) {
            Kind::Attachment
        } else {
            Kind::Other
        }
    } else if pk.starts_with(PREFS) && sk == PREFS_SK {
        Kind::Preferences
    } else {
        Kind::Other
    }
}

// Inbound

/// The partition of one sender's e-mail counters (the sender's address
/// only as a hash: see `store::inbound`).
fn inbound_pk(sender_hash: &str) -> String {
    format!("INBOUND#{sender_hash}")
}

/// A sender's count of replies in minute `minute` (since the epoch).
pub(super) fn inbound_minute(sender_hash: &str, minute: i64) -> Item {
    key(inbound_pk(sender_hash), format!("MIN#{minute}"))
}

/// A sender's count of replies in hour `hour` (since the epoch).
pub(super) fn inbound_hour(sender_hash: &str, hour: i64) -> Item {
    key(inbound_pk(sender_hash), format!("HOUR#{hour}"))
}

/// The mark that e-mail `ses_id` was counted (so a redelivery is not).
pub(super) fn inbound_counted(sender_hash: &str, ses_id: &str) -> Item {
    key(inbound_pk(sender_hash), format!("MAIL#{ses_id}"))
}

/// A person's e-mail preference (`email`: all | urgent_only | off;
/// missing: all).
pub(super) fn preferences(user: &UserId) -> Item {
    key(format!("{PREFS}{user}"), PREFS_SK)
}

// Reply keys
//
// ```text
// REPLY#{key}   KEY          a reply key: its thread, recipient, address, expiry (TTL)
// THREAD#{thr}  MAIL#{user}  e-mail to one person in one thread: their reply key, the last SES id
// ```

const REPLY: &str = "REPLY#";
const REPLY_KEY: &str = "KEY";
const MAIL: &str = "MAIL#";

/// The row of a reply key.
pub(super) fn reply_key(reply: &crate::reply::ReplyKey) -> Item {
    key(format!("{REPLY}{reply}"), REPLY_KEY)
}

/// The e-mail state of `user` in `thread`: their reply key, the last
/// notification's SES message id.
pub(super) fn thread_mail(thread: &ThreadId, user: &UserId) -> Item {
    key(thread_pk(thread), format!("{MAIL}{user}"))
}

/// The person a thread's `MAIL#` sort key names.
pub(super) fn thread_mail_user(sk: &str) -> Option<UserId> {
    sk.strip_prefix(MAIL).and_then(|id| UserId::parse(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(k: &Item) -> (String, String) {
        let get = |n: &str| match &k[n] {
            AttributeValue::S(v) => v.clone(),
            _ => panic!("not a string"),
        };
        (get(schema::PK), get(schema::SK))
    }

    #[test]
    fn every_key_is_recognised_as_its_kind() {
        let acc = AccountId::parse("acc").unwrap();
        let thr = ThreadId::for_scope(&AccountId::parse("acc").unwrap(), "general");
        let user = UserId::parse("u").unwrap();
        let msg = MessageId::from_ulid(ulid::Ulid::new());
        let att = AttachmentId::new();
        let cmid = ClientMessageId::parse("c-1").unwrap();
        let cases = [
            (profile(&acc), Kind::Profile),
            (catalog(&acc, &["cl", "cp"]), Kind::Catalog),
            (meta(&thr), Kind::Meta),
            (inbox(&thr, &user), Kind::Inbox),
            (message(&thr, &msg), Kind::Message),
            (claim(&thr, &user, &cmid), Kind::Claim),
            (attachment(&thr, &att), Kind::Attachment),
            (thread_pointer(&acc, &thr), Kind::Other),
            (uploads_day(&user, 3), Kind::Other),
            (notification(&user, &msg), Kind::Other),
        ];
        for (k, want) in cases {
            let (pk, sk) = parts(&k);
            assert_eq!(kind(&pk, &sk), want, "{pk} {sk}");
        }
    }

    #[test]
    fn a_pointer_names_its_thread() {
        let acc = AccountId::parse("acc").unwrap();
        let thr = ThreadId::for_scope(&AccountId::parse("acc").unwrap(), "general");
        let (_, sk) = parts(&thread_pointer(&acc, &thr));
        assert_eq!(pointed_thread(&sk), Some(thr));
        assert_eq!(pointed_thread("CAT#x"), None);
    }

    #[test]
    fn messages_after_excludes_the_given_message_and_includes_newer() {
        let thr = ThreadId::for_scope(&AccountId::parse("acc").unwrap(), "general");
        let a = MessageId::from_ulid(ulid::Ulid::new());
        let b = MessageId::from_ulid(a.ulid().increment().unwrap());
        let (from, to) = messages_after(Some(&a));
        let (_, sk_a) = parts(&message(&thr, &a));
        let (_, sk_b) = parts(&message(&thr, &b));
        assert!(sk_a < from && from < sk_b && sk_b < to);
        let (from, _) = messages_after(None);
        assert!(from < sk_a);
    }
}
