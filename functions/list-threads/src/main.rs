use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use liaison::http::CursorCodec;
use liaison::store::Store;

// Lambda hands a process one event at a time: one thread runs it (what the
// handler does concurrently still interleaves), and init builds no worker pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    liaison::logging::init();
    let aws = liaison::aws::lambda_sdk_config()?;
    let app = list_threads::App {
        store: Store::from_env(&aws)?,
        cursors: CursorCodec::new(&liaison::config::cursor_secret()?),
    };
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(list_threads::handle(app, req).await)
    }))
    .await
}
