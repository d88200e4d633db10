use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::attachments::Attachments;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
    let app = relay_messages::App {
        sqs: aws_sdk_sqs::Client::new(&aws),
        queue_url: liaison::config::queue_url()?,
        delay: liaison::config::notify_delay()?,
        attachments: Attachments::from_env(&aws)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            Ok::<_, Error>(relay_messages::handle(app, event.payload).await)
        },
    ))
    .await
}
