//! `receive-reply` — SES receiving → a message in the thread: an answer to
//! a notification's `reply+{key}@` address, judged by the eight checks of
//! `liaison::reply` and posted by the key's recipient through the send
//! path. A refused e-mail is logged with its reason and never answered.

use aws_lambda_events::event::ses::SimpleEmailEvent;
use liaison::attachments::Attachments;
use liaison::reply::ReplySettings;
use liaison::store::Store;

pub struct App {
    pub store: Store,
    /// The bucket: raw e-mails under `inbound/`, attachments as uploads.
    pub attachments: Attachments,
    pub settings: ReplySettings,
}

/// What became of each e-mail of the event (for logs and tests).
pub async fn handle(
    _app: &App,
    _event: SimpleEmailEvent,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    Ok(serde_json::json!({}))
}
