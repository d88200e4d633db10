use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::attachments::Attachments;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = relay_messages::App {
        sqs: aws_sdk_sqs::Client::new(&aws),
        queue_url: liaison::config::queue_url()?,
        delay: liaison::config::notify_delay()?,
        attachments: Attachments::from_env_on_first_use(&aws)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            Ok::<_, Error>(relay_messages::handle(app, event.payload).await)
        },
    ))
    .await
}
