// The handler's future (the store's nested calls) is deeper than the default
// layout query depth.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
    let app = record_scan::App {
        store: Store::from_env(&aws)?,
        attachments: liaison::attachments::Attachments::from_env(&aws)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            Ok::<_, Error>(record_scan::handle(app, event.payload).await)
        },
    ))
    .await
}
