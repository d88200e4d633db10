use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::store::Store;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
    let app = sync_directory::App {
        store: Store::from_env(&aws)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        sync_directory::handle(app, event.payload).await
    }))
    .await
}
