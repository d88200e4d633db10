//! The baseline every function's init is held to: the runtime's own
//! hello-world (tracing subscriber, Tokio, `lambda_runtime::run`), echoing
//! its event, built with the release profile like the functions.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
