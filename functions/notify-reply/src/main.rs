use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::notify::{Mailer, Notifier};
use liaison::store::Store;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = notify_reply::App {
        notifier: Notifier {
            // Bounded calls, one SES attempt: see `worst_case_for_one_recipient`.
            store: Store::from_env(&notify_reply::db_config(&aws))?,
            mailer: Mailer {
                ses: aws_sdk_sesv2::Client::new(&notify_reply::ses_config(&aws)),
                from: liaison::config::from_email()?,
                app_url: liaison::config::app_url()?,
                api_url: liaison::config::api_url()?,
            },
            reply: liaison::config::reply_settings()?,
        },
        // Only a record that can never succeed goes to the dead-letter
        // queue: most processes never build this client.
        sqs: {
            let aws = aws.clone();
            liaison::aws::LazyClient::new(move || aws_sdk_sqs::Client::new(&aws))
        },
        dead_letter_queue_url: liaison::config::dead_letter_queue_url()?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            // The invocation's end, as an Instant (Lambda gives epoch ms).
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let left =
                std::time::Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            let deadline = std::time::Instant::now() + left;
            Ok::<_, Error>(notify_reply::handle_until(app, event.payload, Some(deadline)).await)
        },
    ))
    .await
}
