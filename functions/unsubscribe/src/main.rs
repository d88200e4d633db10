use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use liaison::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = liaison::aws::sdk_config().await;
    let app = unsubscribe::App {
        store: Store::from_env(&aws)?,
        keys: liaison::config::reply_settings()?.keys,
        app_url: liaison::config::app_url()?,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(unsubscribe::handle(app, req).await)
    }))
    .await
}
