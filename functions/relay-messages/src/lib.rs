//! `relay-messages` — DynamoDB stream → SQS.
//!
//! The message item is the outbox: for every new message in the stream this
//! puts one notification job on the queue (delayed by
//! `LIAISON_NOTIFY_DELAY_SECONDS`, in batches of 10), and marks the
//! message's attachments as bound in S3 so the bucket's cleanup rule keeps
//! them. Every other item is ignored. Records that fail are reported (the
//! earliest one: the stream retries from there), so nothing is skipped;
//! duplicates are harmless because the notifier is idempotent.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use liaison::attachments::{object_key, Attachments};
use liaison::domain::{AccountId, Message};
use liaison::notify::Job;
use liaison::store::{inserted_message, InsertedMessage, Item};

pub struct App {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub delay: Duration,
    pub attachments: Attachments,
}

/// A new message from the stream, with the record's sequence number.
struct NewMessage {
    sequence: String,
    account: AccountId,
    message: Message,
}

/// The new message a record carries: `None` for any other record, the
/// record's sequence number for a message image this code cannot read.
fn new_message(record: &EventRecord) -> Option<Result<NewMessage, String>> {
    let image: Item = record.change.new_image.clone().into();
    let inserted = inserted_message(&record.event_name, &image)?;
    let sequence = record.change.sequence_number.clone().unwrap_or_default();
    Some(match inserted {
        Ok(InsertedMessage { account, message }) => Ok(NewMessage {
            sequence,
            account,
            message,
        }),
        Err(e) => {
            tracing::error!(error = %e, "unreadable message image in stream");
            Err(sequence)
        }
    })
}

pub async fn handle(app: &App, event: Event) -> DynamoDbEventResponse {
    let mut failed: Vec<String> = Vec::new();
    let mut relay: Vec<NewMessage> = Vec::new();
    for record in &event.records {
        match new_message(record) {
            None => {}
            Some(Ok(m)) => relay.push(m),
            // An image this code cannot read will not get better: report it
            // so the mapping's retries and failure destination take over.
            Some(Err(seq)) => failed.push(seq),
        }
    }

    // send-message tags each upload bound before the transaction that
    // stores the message, so no listed file depends on this; it stays, as
    // an idempotent retag, for messages stored before send-message did.
    for m in &relay {
        for a in &m.message.attachments {
            let key = object_key(&m.message.thread_id, a);
            if let Err(e) = app.attachments.mark_bound(&key, None).await {
                tracing::warn!(error = %e, message_id = %m.message.id, "could not mark attachment bound");
                failed.push(m.sequence.clone());
                break;
            }
        }
    }

    for chunk in relay.chunks(10) {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, m) in chunk.iter().enumerate() {
            let job = Job {
                account_id: m.account.to_string(),
                thread_id: m.message.thread_id.to_string(),
                message_id: m.message.id.to_string(),
                author_role: m.message.author.role,
            };
            let body = serde_json::to_string(&job).unwrap_or_default();
            match SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .delay_seconds(app.delay.as_secs() as i32)
                .build()
            {
                Ok(entry) => entries.push(entry),
                Err(_) => failed.push(m.sequence.clone()),
            }
        }
        let result = app
            .sqs
            .send_message_batch()
            .queue_url(&app.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match result {
            Ok(out) => {
                for f in out.failed() {
                    if let Some(m) = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                        tracing::warn!(code = f.code(), message_id = %m.message.id, "queue refused a job");
                        failed.push(m.sequence.clone());
                    }
                }
            }
            Err(e) => {
                // SQS's code only: the error's text can quote the request.
                use aws_sdk_sqs::error::ProvideErrorMetadata;
                tracing::warn!(code = e.code().unwrap_or("none"), kind = %e, "queue unavailable");
                failed.extend(chunk.iter().map(|m| m.sequence.clone()));
            }
        }
    }
    tracing::info!(
        records = event.records.len(),
        relayed = relay.len(),
        failed = failed.len(),
        "stream batch relayed"
    );

    // The stream retries from the earliest failed record, so report that one.
    let earliest = failed
        .into_iter()
        .min_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    let mut response = DynamoDbEventResponse::default();
    if let Some(seq) = earliest {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(seq);
        response.batch_item_failures.push(failure);
    }
    response
}
