//! Single-table DynamoDB access. The only module that knows item shapes and
//! keys; everything it returns is a domain value (or a store type) and its
//! errors are its own ([`StoreError`]); the HTTP edge maps them to
//! problems. No Scan anywhere.
//!
//! - `keys`: every key format; `items`: item ↔ domain conversions;
//!   `tx`: transaction and batch-write helpers, backoff;
//! - operations by what they touch: `threads` (open, create), `inbox`
//!   (listings, unread count, read positions, mute), `send`, `messages`
//!   (reading), `attachments`, `notifications`, `replies` (reply keys, the
//!   last e-mail per person and thread), `preferences` (e-mail preference),
//!   `directory`, `stream`.

mod attachments;
mod attr;
mod directory;
mod inbound;
mod inbox;
mod items;
mod keys;
mod messages;
mod notifications;
mod preferences;
mod replies;
mod scan;
pub mod schema;
#[cfg(feature = "provision")]
pub mod seed;
mod send;
mod stream;
mod threads;
mod tx;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{KeysAndAttributes, WriteRequest};
use aws_sdk_dynamodb::Client;

pub use attachments::{
    Discarded, NewAttachment, BIND_MARGIN_SECONDS, MAX_PENDING_UPLOADS, MAX_PENDING_UPLOAD_BYTES,
    PENDING_TTL_SECONDS,
};
pub use attr::Item;
pub use directory::{AccountSnapshot, Applied};
pub use inbound::{sender_hash, RateLimits, RateOutcome, REPLIES_PER_HOUR, REPLIES_PER_MINUTE};
pub use inbox::{ReadOutcome, Side, ThreadPage, ThreadQuery, UnreadOutcome};
pub use items::{
    AttachmentRecord, Claim, InboxRow, MultipartUpload, NotificationState, ReadState, ThreadRecord,
};
pub use keys::message_position;
pub use messages::MessagePage;
pub use notifications::{
    Completion, CLAIM_LEASE_SECONDS, COMPLETE_ATTEMPTS, MAX_MESSAGES_PER_EMAIL,
};
pub use replies::{RecipientRows, ReplyKeyRecord, ThreadMail};
pub use scan::ScanRecorded;
pub use send::{send_fingerprint, NewMessage, SendContext, SendOutcome};
pub use stream::{inserted_message, InsertedMessage};
pub use threads::{CreateOutcome, OpenContext};
use tx::Backoff;

/// The table, through one client.
#[derive(Debug, Clone)]
pub struct Store {
    db: Client,
    table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or could not be reached.
    #[error("dynamodb {op} failed: {message}")]
    Aws { op: &'static str, message: String },
    /// An item does not have the shape this code writes.
    #[error("item {key} is corrupt: {what}")]
    Corrupt { key: String, what: String },
    /// Transactions kept conflicting; nothing was written.
    #[error("transaction kept conflicting")]
    Contention,
}

impl StoreError {
    /// An SDK error as it may be logged: the service's error code, or the
    /// kind of failure (dispatch, timeout, ...). The whole text, which can
    /// echo parts of the request or response (keys, attribute values), is
    /// logged only at DEBUG, a level deployments do not offer.
    pub(crate) fn aws<E>(op: &'static str, err: E) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        tracing::debug!(op, error = %DisplayErrorContext(&err), "dynamodb error detail");
        let message = match err.code() {
            Some(code) => code.to_owned(),
            None => err.to_string(),
        };
        Self::Aws { op, message }
    }
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.db
    }

    /// One item by key, read consistently.
    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::aws("GetItem", e))?;
        Ok(out.item)
    }

    /// Every item of a partition, read consistently, page after page. Only
    /// for partitions that stay small (an account's directory, its thread
    /// list), never for request paths over growing data.
    async fn partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", attr::s(&pk))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item.map_err(|e| StoreError::aws("Query", e))?);
        }
        Ok(items)
    }

    /// Puts and deletes in batches of 25, resubmitting what DynamoDB leaves
    /// unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut backoff = Backoff::new(8);
            while !pending.is_empty() {
                let out = self
                    .db
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| StoreError::aws("BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() && !backoff.wait().await {
                    return Err(StoreError::Contention);
                }
            }
        }
        Ok(())
    }

    /// Reads items by key (consistently) in batches of 100, resubmitting
    /// unprocessed keys. Order is not preserved.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = chunk.to_vec();
            let mut backoff = Backoff::new(8);
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Aws {
                        op: "BatchGetItem",
                        message: e.to_string(),
                    })?;
                let out = self
                    .db
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| StoreError::aws("BatchGetItem", e))?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() && !backoff.wait().await {
                    return Err(StoreError::Contention);
                }
            }
        }
        Ok(found)
    }
}

/// Where a page ended (DynamoDB's last evaluated key, all strings in this
/// table), as a cursor carries it.
fn page_key(
    last: Option<Item>,
) -> Result<Option<std::collections::BTreeMap<String, String>>, StoreError> {
    last.map(|k| {
        k.into_iter()
            .map(|(name, v)| match v {
                aws_sdk_dynamodb::types::AttributeValue::S(v) => Ok((name, v)),
                _ => Err(StoreError::Corrupt {
                    key: "LastEvaluatedKey".into(),
                    what: format!("{name} is not a string"),
                }),
            })
            .collect()
    })
    .transpose()
}

/// Where the next page starts, from a cursor's position.
fn start_key(position: std::collections::BTreeMap<String, String>) -> Item {
    position.into_iter().map(|(k, v)| (k, attr::s(v))).collect()
}

impl Store {
    /// The store on the table named by `LIAISON_TABLE`.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(Client::new(aws), crate::config::table_name()?))
    }
}

/// The SDK's DynamoDB types, for adapters that convert stream images.
pub mod sdk {
    pub use aws_sdk_dynamodb::types::AttributeValue;
}
