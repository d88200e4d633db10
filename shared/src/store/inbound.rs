//! Incoming e-mail (`receive-reply`): the per-sender rate limit (check 6)
//! and the attachment records of an e-mail's files.
//!
//! # Rate limit
//!
//! Per sender address, at most [`REPLIES_PER_MINUTE`] replies a minute and
//! [`REPLIES_PER_HOUR`] an hour (fixed windows, like Zulip's). The address
//! is kept only as a hash in the keys:
//!
//! ```text
//! INBOUND#{hash}  MIN#{minute}   count, expires_at
//! INBOUND#{hash}  HOUR#{hour}    count, expires_at
//! INBOUND#{hash}  MAIL#{ses id}  expires_at   (this e-mail was counted)
//! ```
//!
//! One transaction raises both counters under their limits and puts the
//! e-mail's mark: a redelivered e-mail (Lambda retries an asynchronous
//! invocation after an error) finds its mark and passes without being
//! counted again, so an AWS failure after the count never turns into a
//! refusal. Nothing is counted for a refused e-mail.

use sha2::{Digest, Sha256};

use super::attachments::{upload_day, uploads_day_delta};
use super::attr::n;
use super::items::{attachment_item, AttachmentRecord};
use super::keys;
use super::tx::{self, UpdateItem};
use super::{schema, Store, StoreError, PENDING_TTL_SECONDS};
use crate::domain::Timestamp;

/// At most this many replies from one sender in a minute.
pub const REPLIES_PER_MINUTE: u32 = 50;
/// At most this many replies from one sender in an hour.
pub const REPLIES_PER_HOUR: u32 = 600;
/// How long an e-mail's "counted" mark lives: past the 6 hours Lambda
/// keeps retrying an asynchronous event.
const COUNTED_MARK_SECONDS: i64 = 24 * 3600;

/// The key of a sender: a hash of the lower-cased address (no address in
/// the table's keys or in logs).
pub fn sender_hash(address: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"liaison-inbound-sender:");
    h.update(address.trim().to_lowercase().as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A sender's limits, per fixed minute and per fixed hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_minute: u32,
    pub per_hour: u32,
}

impl RateLimits {
    /// What receive-reply holds every sender to.
    pub const REPLIES: Self = Self {
        per_minute: REPLIES_PER_MINUTE,
        per_hour: REPLIES_PER_HOUR,
    };
}

/// What counting an e-mail against its sender's limit came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateOutcome {
    /// Counted (or counted already, on a redelivery): go on.
    Allowed,
    /// Over the minute's or the hour's limit: refused, not counted.
    Limited,
}

impl Store {
    /// Counts e-mail `ses_id` from `sender` at `now` against the sender's
    /// limits ([`RateLimits::REPLIES`]): one transaction (see the module
    /// comment).
    pub async fn count_reply(
        &self,
        sender: &str,
        ses_id: &str,
        now: Timestamp,
    ) -> Result<RateOutcome, StoreError> {
        self.count_reply_within(sender, ses_id, now, RateLimits::REPLIES)
            .await
    }

    /// [`Store::count_reply`] against other limits.
    pub async fn count_reply_within(
        &self,
        sender: &str,
        ses_id: &str,
        now: Timestamp,
        limits: RateLimits,
    ) -> Result<RateOutcome, StoreError> {
        let hash = sender_hash(sender);
        let secs = now.unix_seconds();
        let (minute, hour) = (secs.div_euclid(60), secs.div_euclid(3600));
        let counter = |key, limit: u32, expires_at: i64| {
            tx::update(
                &self.table,
                UpdateItem {
                    key,
                    expression: format!(
                        "ADD reply_count :one SET {ttl} = :ttl",
                        ttl = schema::TTL_ATTRIBUTE
                    ),
                    condition: Some("attribute_not_exists(reply_count) OR reply_count < :max"),
                    names: vec![],
                    values: vec![(":one", n(1)), (":max", n(limit)), (":ttl", n(expires_at))],
                },
            )
        };
        let mut mark = keys::inbound_counted(&hash, ses_id);
        mark.insert(schema::TTL_ATTRIBUTE.into(), n(secs + COUNTED_MARK_SECONDS));
        // Item order matters: the outcome is read from reason 0.
        let items = vec![
            tx::put(&self.table, mark, Some("attribute_not_exists(pk)"))?,
            counter(
                keys::inbound_minute(&hash, minute),
                limits.per_minute,
                (minute + 2) * 60,
            )?,
            counter(
                keys::inbound_hour(&hash, hour),
                limits.per_hour,
                (hour + 2) * 3600,
            )?,
        ];
        // One sender's e-mails at once touch the same counters: DynamoDB
        // cancels all but one (TransactionConflict), which are retried.
        match self.transact_retrying(items, 10).await? {
            None => Ok(RateOutcome::Allowed),
            Some(c) if c.condition_failed(0) => Ok(RateOutcome::Allowed),
            Some(_) => Ok(RateOutcome::Limited),
        }
    }

    /// Records an e-mail's files as pending uploads of its author (as
    /// presign would, so the send binds them the same way), in one
    /// transaction. Not held to the presign cap: the day's counter is
    /// raised without a condition by what the send will lower again (the
    /// send lowers the counter of the uploads' day; ids carry the day the
    /// e-mail arrived). Idempotent: a redelivery finds its records and
    /// changes nothing.
    pub async fn record_inbound_attachments(
        &self,
        files: &[AttachmentRecord],
    ) -> Result<(), StoreError> {
        let Some(first) = files.first() else {
            return Ok(());
        };
        let expires_at = Timestamp::now().unix_seconds() + PENDING_TTL_SECONDS;
        let mut items = Vec::with_capacity(files.len() + 1);
        for a in files {
            items.push(tx::put(
                &self.table,
                attachment_item(a, expires_at),
                Some("attribute_not_exists(pk)"),
            )?);
        }
        // The ids share the e-mail's day; counted on that day's counter.
        let day = upload_day(&first.file.id);
        let today: Vec<&AttachmentRecord> = files
            .iter()
            .filter(|a| upload_day(&a.file.id) == day)
            .collect();
        let bytes: u64 = today.iter().map(|a| a.file.size).sum();
        items.push(tx::update(
            &self.table,
            uploads_day_delta(&first.author, day, today.len() as i64, bytes as i64),
        )?);
        // Only the puts have conditions: if one failed, an earlier delivery
        // of the same e-mail recorded them all (one transaction).
        self.transact_retrying(items, 8).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_is_hashed_case_insensitively_and_never_kept() {
        let a = sender_hash("Chris@Acme.example");
        assert_eq!(a, sender_hash(" chris@acme.example"));
        assert_ne!(a, sender_hash("alex@acme.example"));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("chris"));
    }
}
