//! Key layout (DESIGN.md "Data model"). Ids never contain `#`, so keys
//! cannot collide.
//!
//! ```text
//! ACCOUNT#{acc}        PROFILE                 name, users, managers
//! ACCOUNT#{acc}        CAT#{cl}[#{cp}[#{cr}]]  catalog entries (never deleted)
//! ACCOUNT_THREADS#{acc} THREAD#{thr}           the account's threads (scope key)
//! THREAD#{thr}         META                    the thread: scope, activity, counts
//! THREAD#{thr}         INBOX#{user}            one person's view: read position, unread
//! THREAD#{thr}         MSG#{ulid}              a message (the outbox the stream relays)
//! THREAD#{thr}         IDEM#{user}#{cmid}      a send's idempotency claim
//! THREAD#{thr}         ATT#{ulid}              an attachment (pending, then bound)
//! UPLOADS#{user}       DAY#{n}                 a person's unsent uploads presigned on UTC day n (TTL)
//! NOTIFY#{user}        NOTIFIED#{ulid}         a notification record (TTL)
//! ```

use crate::domain::{AccountId, ThreadId, UserId};

pub fn account(acc: &AccountId) -> String {
    format!("ACCOUNT#{acc}")
}
pub const PROFILE: &str = "PROFILE";
pub const CATALOG_PREFIX: &str = "CAT#";

pub fn account_threads(acc: &AccountId) -> String {
    format!("ACCOUNT_THREADS#{acc}")
}
pub fn thread_pointer(thread: &ThreadId) -> String {
    format!("THREAD#{thread}")
}

pub fn thread(thread: &ThreadId) -> String {
    format!("THREAD#{thread}")
}
pub const META: &str = "META";
pub const INBOX_PREFIX: &str = "INBOX#";
pub fn inbox(user: &UserId) -> String {
    format!("{INBOX_PREFIX}{user}")
}
pub const MESSAGE_PREFIX: &str = "MSG#";

pub fn by_user(user: &UserId) -> String {
    format!("USER#{user}")
}
pub fn by_user_account(user: &UserId, acc: &AccountId) -> String {
    format!("USER#{user}#ACCOUNT#{acc}")
}
pub fn unread_by_user(user: &UserId) -> String {
    format!("UNREAD#{user}")
}
pub fn unread_by_user_account(user: &UserId, acc: &AccountId) -> String {
    format!("UNREAD#{user}#ACCOUNT#{acc}")
}
/// Sorts a person's threads by last activity (ties broken by thread id).
pub fn activity(at: &str, thread: &ThreadId) -> String {
    format!("{at}#{thread}")
}

/// Whether a key names a message item (what the stream relay looks for).
pub fn is_message(pk: &str, sk: &str) -> bool {
    pk.starts_with("THREAD#") && sk.starts_with(MESSAGE_PREFIX)
}
