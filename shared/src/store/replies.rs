//! STAND-IN (helper "receive"): the minimal reply-key read that
//! `receive-reply` codes against, exactly the plan's API. Helper "out"
//! owns this file; the integrator keeps their version at merge.
//!
//! `REPLY#{key}` / `KEY`: account_id, thread_id, user_id, address,
//! issued_at, expires_at (the table's TTL attribute, epoch s).

use super::attr::Reader;
use super::{keys, schema, Store, StoreError};
use crate::domain::{AccountId, ThreadId, UserId};
use crate::reply::ReplyKey;

/// A reply key's row: who may answer which thread, from which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyKeyRecord {
    pub key: ReplyKey,
    pub account: AccountId,
    pub thread: ThreadId,
    pub user: UserId,
    /// The recipient's e-mail address when the key was issued.
    pub address: String,
    /// When the key stops answering (epoch seconds).
    pub expires_at: i64,
}

impl Store {
    /// The row of a (verified) reply key, read consistently.
    pub async fn reply_key(&self, key: &ReplyKey) -> Result<Option<ReplyKeyRecord>, StoreError> {
        let Some(item) = self
            .get(keys::key(format!("REPLY#{}", key.as_str()), "KEY"))
            .await?
        else {
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
}
