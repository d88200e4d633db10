//! The SQS → function event source mapping, as Lambda runs it with
//! `ReportBatchItemFailures`: poll up to 10 messages, hand them to the
//! function as an `SqsEvent`, then delete the ones that succeeded. Messages
//! named in the answer's `batchItemFailures` (or the whole batch, if the
//! function fails or answers unusably) stay on the queue and come back when
//! their visibility timeout ends; the queue's redrive policy moves them to
//! the dead-letter queue after `maxReceiveCount` receives.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::Shutdown;

#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Messages per batch (1–10).
    pub batch_size: i32,
    /// ReceiveMessage long-poll (0–20 s). Lambda long-polls; but the moto
    /// of `make dev` and the tests serves one request at a time, where a
    /// long poll would stall every other call, so the default is a short
    /// poll...
    pub wait_seconds: i32,
    /// ... and this pause after a poll that found nothing.
    pub idle_interval: Duration,
    pub region: String,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            batch_size: 10,
            wait_seconds: 0,
            idle_interval: Duration::from_millis(500),
            region: "us-east-1".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading the queue {queue_url} failed: {message}")]
pub struct QueueError {
    queue_url: String,
    message: String,
}

/// A received message as Lambda delivers it.
pub fn message(m: &Message, queue_arn: &str, region: &str) -> SqsMessage {
    let base64 = |b: &aws_sdk_sqs::primitives::Blob| {
        let mut data = Base64Data::default();
        data.0 = b.as_ref().to_vec();
        data
    };
    let mut out = SqsMessage::default();
    out.message_id = Some(m.message_id.clone().unwrap_or_default());
    out.receipt_handle = Some(m.receipt_handle.clone().unwrap_or_default());
    out.body = Some(m.body.clone().unwrap_or_default());
    out.md5_of_body = Some(m.md5_of_body.clone().unwrap_or_default());
    out.md5_of_message_attributes = m.md5_of_message_attributes.clone();
    out.attributes = m
        .attributes
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    out.message_attributes = m
        .message_attributes
        .iter()
        .flatten()
        .map(|(k, v)| {
            let mut attr = SqsMessageAttribute::default();
            attr.string_value = v.string_value.clone();
            attr.binary_value = v.binary_value.as_ref().map(base64);
            attr.string_list_values = v.string_list_values.clone().unwrap_or_default();
            attr.binary_list_values = v.binary_list_values.iter().flatten().map(base64).collect();
            attr.data_type = Some(v.data_type.clone());
            (k.clone(), attr)
        })
        .collect();
    out.event_source = Some("aws:sqs".into());
    out.event_source_arn = Some(queue_arn.to_owned());
    out.aws_region = Some(region.to_owned());
    out
}

/// Which of `ids` the function's answer leaves failed: none for full
/// success, all when the answer is unusable (an unknown or empty
/// `itemIdentifier` fails the whole batch, as on Lambda).
pub(crate) fn failed_ids(answer: &Value, ids: &[String]) -> Vec<String> {
    match crate::stream::reported_failures(answer) {
        Ok(None) => Vec::new(),
        Ok(Some(failed)) if failed.iter().all(|f| ids.contains(f)) => failed,
        _ => ids.to_vec(),
    }
}

/// Starts the mapping; it polls until `shutdown`.
pub async fn start<H, Fut, R, E>(
    client: aws_sdk_sqs::Client,
    queue_url: String,
    options: QueueOptions,
    handler: H,
    shutdown: Shutdown,
) -> Result<JoinHandle<()>, QueueError>
where
    H: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: Display + Send + 'static,
{
    let queue_arn = client
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| QueueError {
            queue_url: queue_url.clone(),
            message: format!("GetQueueAttributes: {}", DisplayErrorContext(&e)),
        })?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let mut stop = shutdown.0;
    Ok(tokio::spawn(async move {
        loop {
            if crate::is_stopped(&stop) {
                return;
            }
            let receive = client
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(options.batch_size.clamp(1, 10))
                .wait_time_seconds(options.wait_seconds.clamp(0, 20))
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send();
            let out = tokio::select! {
                _ = stop.changed() => return,
                out = receive => out,
            };
            let messages = match out {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %DisplayErrorContext(&e), queue = %queue_url, "ReceiveMessage failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(options.idle_interval) => {}
                }
                continue;
            }
            deliver(
                &client,
                &queue_url,
                &queue_arn,
                &options.region,
                &messages,
                &handler,
            )
            .await;
        }
    }))
}

async fn deliver<H, Fut, R, E>(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    region: &str,
    messages: &[Message],
    handler: &H,
) where
    H: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: Display + Send + 'static,
{
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| message(m, queue_arn, region))
        .collect();
    let ids: Vec<String> = messages
        .iter()
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let failed = match crate::stream::invoke(handler(event)).await {
        Ok(answer) => failed_ids(&serde_json::to_value(answer).unwrap_or(Value::Null), &ids),
        Err(e) => {
            tracing::warn!(error = %e, messages = ids.len(), "queue batch failed; it comes back after the visibility timeout");
            ids.clone()
        }
    };
    if !failed.is_empty() {
        tracing::info!(
            failed = failed.len(),
            of = ids.len(),
            "messages left on the queue for a retry"
        );
    }
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            !failed
                .iter()
                .any(|f| Some(f.as_str()) == m.message_id.as_deref())
        })
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle.clone())
                .build()
                .ok()
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    match client
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) if !out.failed.is_empty() => {
            tracing::warn!(
                failed = out.failed.len(),
                "some processed messages could not be deleted"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %DisplayErrorContext(&e), "DeleteMessageBatch failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_follow_lambdas_rules() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        assert!(failed_ids(&Value::Null, &ids).is_empty());
        assert!(failed_ids(&json!({"batchItemFailures": []}), &ids).is_empty());
        assert_eq!(
            failed_ids(
                &json!({"batchItemFailures": [{"itemIdentifier": "b"}]}),
                &ids
            ),
            vec!["b".to_owned()]
        );
        // An identifier that is not in the batch fails the whole batch.
        assert_eq!(
            failed_ids(
                &json!({"batchItemFailures": [{"itemIdentifier": "x"}]}),
                &ids
            ),
            ids
        );
    }

    #[test]
    fn messages_become_lambdas_sqs_event() {
        let m = Message::builder()
            .message_id("m1")
            .receipt_handle("r1")
            .body(r#"{"thread_id":"thr_1"}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .build();
        let mut ev = SqsEvent::default();
        ev.records = vec![message(&m, "arn:aws:sqs:us-east-1:1:q", "us-east-1")];
        // What the function gets is what serde makes of Lambda's JSON.
        let ev: SqsEvent =
            serde_json::from_value(serde_json::to_value(ev).expect("JSON")).expect("an SQS event");
        assert_eq!(ev.records[0].message_id.as_deref(), Some("m1"));
        assert_eq!(ev.records[0].attributes["ApproximateReceiveCount"], "1");
        assert_eq!(ev.records[0].event_source.as_deref(), Some("aws:sqs"));
    }
}
