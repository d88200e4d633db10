// The handler's future (the store's nested calls) is deeper than the default
// layout query depth.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::store::Store;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
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
