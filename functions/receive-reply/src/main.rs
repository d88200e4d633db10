use aws_lambda_events::event::ses::SimpleEmailEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::attachments::Attachments;
use liaison::store::Store;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = receive_reply::App {
        store: Store::from_env(&aws)?,
        attachments: Attachments::from_env(&aws)?,
        settings: liaison::config::reply_settings()?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<SimpleEmailEvent>| async move {
            receive_reply::handle(app, event.payload).await
        },
    ))
    .await
}
