use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use liaison::attachments::Attachments;
use liaison::store::Store;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = send_message::App {
        store: Store::from_env(&aws)?,
        attachments: Attachments::from_env_on_first_use(&aws)?,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(send_message::handle(app, req).await)
    }))
    .await
}
