use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use liaison::attachments::Attachments;
use liaison::http::CursorCodec;
use liaison::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
    let app = list_messages::App {
        store: Store::from_env(&aws)?,
        attachments: Attachments::from_env(&aws)?,
        cursors: CursorCodec::new(&liaison::config::cursor_secret()?),
    };
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(list_messages::handle(app, req).await)
    }))
    .await
}
