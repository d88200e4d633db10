//! `notify-reply` — SQS → SES v2: every reply reaches the other side by
//! e-mail, exactly once per person and message.
//!
//! Each record is a notification job (see `liaison::notify`). A record whose
//! e-mail could not be sent is reported in the `SqsBatchResponse`, so SQS
//! delivers it again (and, after the queue's bounded redrive count, to the
//! dead-letter queue); the rest of the batch completes. A malformed record
//! will never succeed: it is logged and moved to the dead-letter queue at
//! once rather than retried.
//!
//! Within a job every recipient is sent to and recorded on their own (see
//! `liaison::notify::Notifier`): an address SES refuses for good is
//! recorded, logged (`notification = "rejected"`, counted by the template's
//! metric filter) and not retried; the others still get their e-mail; a
//! failure that may pass fails the record, and the redelivery does only the
//! recipients still left. Near the invocation's deadline the handler stops
//! starting e-mails and reports what is left as failed, so a Lambda timeout
//! rarely falls between SES accepting an e-mail and its record.

use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use liaison::notify::{Job, Notifier};

pub struct App {
    pub notifier: Notifier,
    pub sqs: aws_sdk_sqs::Client,
    pub dead_letter_queue_url: String,
}

enum Outcome {
    Done,
    Retry,
}

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    handle_until(app, event, None).await
}

/// [`handle`] for an invocation that ends at `deadline`.
pub async fn handle_until(
    app: &App,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        if let Outcome::Retry = process(app, record, deadline).await {
            if id.is_empty() {
                // Without an id SQS cannot be told which one failed.
                tracing::error!("failed record has no message id");
                continue;
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn process(app: &App, record: &SqsMessage, deadline: Option<Instant>) -> Outcome {
    let body = record.body.as_deref().unwrap_or_default();
    let Some(job) = Job::parse(body) else {
        tracing::error!(
            sqs_message_id = record.message_id.as_deref().unwrap_or(""),
            "malformed notification job; moving it to the dead-letter queue"
        );
        let moved = app
            .sqs
            .send_message()
            .queue_url(&app.dead_letter_queue_url)
            .message_body(if body.is_empty() { "(empty)" } else { body })
            .send()
            .await;
        return match moved {
            Ok(_) => Outcome::Done,
            Err(e) => {
                // The queue's own redrive will get it there instead.
                // SQS's code only: the error's text can quote the request,
                // which here is a job (ids only) but may not stay so.
                use aws_sdk_sqs::error::ProvideErrorMetadata;
                tracing::warn!(code = e.code().unwrap_or("none"), kind = %e, "dead-letter queue unavailable");
                Outcome::Retry
            }
        };
    };
    match app.notifier.process_until(&job, deadline).await {
        Ok(_) => Outcome::Done,
        Err(e) => {
            tracing::warn!(error = %e, thread_id = %job.thread, message_id = %job.message, "notification failed; will retry");
            Outcome::Retry
        }
    }
}
