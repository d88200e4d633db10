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

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use liaison::notify::{Job, Notifier};

/// The SES client: ONE attempt per `SendEmail` (an SDK retry would send
/// the e-mail again inside one call; the job's SQS retry does it instead,
/// after the claims' lease), bounded by [`SES_CONNECT_TIMEOUT`] and
/// [`SES_OPERATION_TIMEOUT`].
pub const SES_ATTEMPTS: u32 = 1;
pub const SES_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const SES_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// The DynamoDB client: the SDK's attempts, each at most
/// [`DB_ATTEMPT_TIMEOUT`], all of one call at most [`DB_OPERATION_TIMEOUT`]
/// (DynamoDB answers in milliseconds; these only cut a hung connection).
pub const DB_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub const DB_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(800);
pub const DB_OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
/// The most the completion write's own backoff sleeps in all
/// (`liaison::store::Backoff`: 10·2^n ms, ±50 %, between its attempts).
pub const COMPLETE_BACKOFF_BOUND: Duration = Duration::from_millis(500);

/// What one recipient can take at most once SES is called: the send, then
/// every try of the completion write with the backoff between them. It
/// must stay under `liaison::notify::TIME_FOR_ONE_RECIPIENT`, the time the
/// notifier wants left before it starts a recipient, so a Lambda timeout
/// does not fall between SES accepting an e-mail and its record.
pub fn worst_case_for_one_recipient() -> Duration {
    SES_OPERATION_TIMEOUT
        + DB_OPERATION_TIMEOUT * liaison::store::COMPLETE_ATTEMPTS
        + COMPLETE_BACKOFF_BOUND
}

/// `aws` for notify-reply's SES client (see [`SES_ATTEMPTS`]).
pub fn ses_config(aws: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    aws.to_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(SES_ATTEMPTS))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(SES_CONNECT_TIMEOUT)
                .operation_attempt_timeout(SES_OPERATION_TIMEOUT)
                .operation_timeout(SES_OPERATION_TIMEOUT)
                .build(),
        )
        .build()
}

/// `aws` for notify-reply's DynamoDB client (see [`DB_OPERATION_TIMEOUT`]).
pub fn db_config(aws: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    aws.to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(DB_CONNECT_TIMEOUT)
                .operation_attempt_timeout(DB_ATTEMPT_TIMEOUT)
                .operation_timeout(DB_OPERATION_TIMEOUT)
                .build(),
        )
        .build()
}

pub struct App {
    pub notifier: Notifier,
    /// Built on first use (`LazyClient`): only a malformed record needs it.
    pub sqs: liaison::aws::LazyClient<aws_sdk_sqs::Client>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build()
    }

    #[test]
    fn ses_makes_one_bounded_attempt() {
        let ses = aws_sdk_sesv2::Client::new(&ses_config(&base()));
        let conf = ses.config();
        assert_eq!(
            conf.retry_config().map(|r| r.max_attempts()),
            Some(SES_ATTEMPTS)
        );
        assert_eq!(SES_ATTEMPTS, 1, "an SDK retry re-sends the e-mail");
        let t = conf.timeout_config().expect("timeouts");
        assert_eq!(t.connect_timeout(), Some(SES_CONNECT_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(SES_OPERATION_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(SES_OPERATION_TIMEOUT));
    }

    #[test]
    fn dynamodb_calls_are_bounded() {
        let aws = db_config(&base());
        let t = aws.timeout_config().expect("timeouts");
        assert_eq!(t.connect_timeout(), Some(DB_CONNECT_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(DB_ATTEMPT_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(DB_OPERATION_TIMEOUT));
        assert_eq!(
            aws.retry_config().map(|r| r.max_attempts()),
            base().retry_config().map(|r| r.max_attempts()),
            "DynamoDB keeps the SDK's retries (its writes are idempotent here)"
        );
    }

    #[test]
    fn one_recipient_fits_in_the_time_the_notifier_keeps_for_it() {
        assert!(
            worst_case_for_one_recipient() < liaison::notify::TIME_FOR_ONE_RECIPIENT,
            "{:?}",
            worst_case_for_one_recipient()
        );
    }
}
