use lambda_runtime::{service_fn, Error, LambdaEvent};
use liaison::store::Store;
use serde_json::Value;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = sync_directory::App {
        store: Store::from_env(&aws)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        sync_directory::handle(app, event.payload).await
    }))
    .await
}
