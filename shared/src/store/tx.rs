//! Building and running writes: transaction items, batch write requests,
//! what a cancelled transaction says, and retrying with backoff.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, DeleteRequest, Put, PutRequest,
    TransactWriteItem, Update, WriteRequest,
};

use super::attr::Item;
use super::{Store, StoreError};

/// Retries: exponential backoff with jitter.
pub(super) struct Backoff {
    attempt: u32,
    max_attempts: u32,
}

impl Backoff {
    pub(super) fn new(max_attempts: u32) -> Self {
        Self {
            attempt: 0,
            max_attempts,
        }
    }

    /// Waits before the next attempt; `false` when attempts are used up.
    pub(super) async fn wait(&mut self) -> bool {
        self.attempt += 1;
        if self.attempt >= self.max_attempts {
            return false;
        }
        let base = 10u64 << self.attempt.min(6);
        let jitter = fastrand::u64(0..base);
        tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
        true
    }
}

fn build_error(op: &'static str) -> impl Fn(BuildError) -> StoreError {
    move |e| StoreError::Aws {
        op,
        message: e.to_string(),
    }
}

/// Expression attribute values from pairs.
pub(super) fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A transaction's put, under `condition` if given.
pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    put_if(table, item, condition, vec![])
}

/// A transaction's put under a condition with values.
pub(super) fn put_if(
    table: &str,
    item: Item,
    condition: Option<&str>,
    vals: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut b = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned));
    if !vals.is_empty() {
        b = b.set_expression_attribute_values(Some(values(vals)));
    }
    let put = b.build().map_err(build_error("TransactWriteItems"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A transaction's update of the item at `key`.
pub(super) struct UpdateItem<'a> {
    pub key: Item,
    pub expression: String,
    pub condition: Option<&'a str>,
    pub names: Vec<(&'a str, &'a str)>,
    pub values: Vec<(&'a str, AttributeValue)>,
}

pub(super) fn update(table: &str, u: UpdateItem<'_>) -> Result<TransactWriteItem, StoreError> {
    let mut b = Update::builder()
        .table_name(table)
        .set_key(Some(u.key))
        .update_expression(u.expression)
        .set_condition_expression(u.condition.map(str::to_owned));
    for (k, v) in u.names {
        b = b.expression_attribute_names(k, v);
    }
    if !u.values.is_empty() {
        b = b.set_expression_attribute_values(Some(values(u.values)));
    }
    let update = b.build().map_err(build_error("TransactWriteItems"))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A transaction's check that the item at `key` meets `condition`.
pub(super) fn check(
    table: &str,
    key: Item,
    condition: &str,
    vals: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut b = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    if !vals.is_empty() {
        b = b.set_expression_attribute_values(Some(values(vals)));
    }
    let check = b.build().map_err(build_error("TransactWriteItems"))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// A transaction's delete of the item at `key`, under `condition`.
pub(super) fn delete(
    table: &str,
    key: Item,
    condition: &str,
    vals: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut b = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    if !vals.is_empty() {
        b = b.set_expression_attribute_values(Some(values(vals)));
    }
    let delete = b.build().map_err(build_error("TransactWriteItems"))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A batch write's put.
pub(super) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(build_error("BatchWriteItem"))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// A batch write's delete.
pub(super) fn delete_request(key: Item) -> Result<WriteRequest, StoreError> {
    let del = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(build_error("BatchWriteItem"))?;
    Ok(WriteRequest::builder().delete_request(del).build())
}

/// Why DynamoDB cancelled a transaction, item by item (in request order).
pub(super) struct Cancelled(Vec<CancellationReason>);

impl Cancelled {
    /// Whether item `index`'s condition failed.
    pub(super) fn condition_failed(&self, index: usize) -> bool {
        self.0
            .get(index)
            .and_then(|r| r.code())
            .is_some_and(|c| c == "ConditionalCheckFailed")
    }

    /// Whether any item's condition failed.
    pub(super) fn any_condition_failed(&self) -> bool {
        (0..self.0.len()).any(|i| self.condition_failed(i))
    }

    /// Whether another transaction got in the way (worth retrying as is).
    pub(super) fn conflict(&self) -> bool {
        self.0
            .iter()
            .any(|r| matches!(r.code(), Some("TransactionConflict")))
    }

    /// The cancellation as an error, naming only the reasons' codes.
    pub(super) fn into_error(self) -> StoreError {
        let codes: Vec<&str> = self.0.iter().map(|r| r.code().unwrap_or("None")).collect();
        StoreError::Aws {
            op: "TransactWriteItems",
            message: format!("TransactionCanceled [{}]", codes.join(", ")),
        }
    }
}

/// The reasons of a cancelled transaction; any other failure as an error.
fn cancelled(err: SdkError<TransactWriteItemsError>) -> Result<Cancelled, StoreError> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Ok(Cancelled(c.cancellation_reasons().to_vec()))
        }
        _ => Err(StoreError::aws("TransactWriteItems", err)),
    }
}

impl Store {
    /// Runs a transaction once: `Ok(None)` if it committed, the reasons if
    /// DynamoDB cancelled it, an error for any other failure.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Cancelled>, StoreError> {
        match self
            .db
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(err) => cancelled(err).map(Some),
        }
    }

    /// Runs a transaction, trying it again (up to `attempts` times, with
    /// backoff) while other transactions are all that cancel it: `Ok(None)`
    /// once it committed, the reasons if a condition failed, `Contention`
    /// when the attempts ran out, an error for anything else.
    pub(super) async fn transact_retrying(
        &self,
        items: Vec<TransactWriteItem>,
        attempts: u32,
    ) -> Result<Option<Cancelled>, StoreError> {
        let mut backoff = Backoff::new(attempts);
        loop {
            match self.transact(items.clone()).await? {
                None => return Ok(None),
                Some(c) if c.any_condition_failed() => return Ok(Some(c)),
                Some(c) if c.conflict() => {
                    if !backoff.wait().await {
                        return Err(StoreError::Contention);
                    }
                }
                Some(c) => return Err(c.into_error()),
            }
        }
    }
}
