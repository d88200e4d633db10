use aws_lambda_events::event::ses::SimpleEmailEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::attachments::Attachments;
use liaison::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
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
