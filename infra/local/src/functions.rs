//! The functions this gateway hosts, each built once from explicit
//! resource names (as its `main.rs` builds it from the environment), and
//! the three ways AWS invokes them: an HTTP route, a direct invocation,
//! an event source mapping.
//!
//! Wiring a new function crate in means, here: its `App` in [`Functions`]
//! and [`Functions::new`], its name in [`Functions::hosts`], and a match arm
//! in [`Functions::http`] (HTTP functions) or [`Functions::relay_messages`]
//! / [`Functions::notify_reply`]. Each place is marked `WIRE`.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::{Body, Request, Response};
use lambda_runtime::Diagnostic;
use liaison::attachments::Attachments;
use liaison::http::CursorCodec;
use liaison::notify::{Mailer, Notifier};
use liaison::provision::Names;
use liaison::store::Store;
use serde_json::{json, Value};

/// What a function's `main.rs` reads from the environment, given directly.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    pub aws: SdkConfig,
    pub names: Names,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub app_url: String,
    pub cursor_secret: Vec<u8>,
    pub notify_delay: Duration,
}

impl FunctionEnv {
    /// The same values as the environment variables a deployed function
    /// gets (for printing, and for `cargo lambda watch`).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        use liaison::config as c;
        vec![
            (c::TABLE, self.names.table.clone()),
            (c::BUCKET, self.names.bucket.clone()),
            (c::QUEUE_URL, self.queue_url.clone()),
            (c::DEAD_LETTER_QUEUE_URL, self.dead_letter_queue_url.clone()),
            (c::FROM_EMAIL, self.names.from_email.clone()),
            (c::APP_URL, self.app_url.clone()),
            (
                c::CURSOR_SECRET,
                String::from_utf8_lossy(&self.cursor_secret).into_owned(),
            ),
            (
                c::NOTIFY_DELAY_SECONDS,
                self.notify_delay.as_secs().to_string(),
            ),
        ]
    }
}

pub struct Functions {
    open_thread: open_thread::App,
    list_threads: list_threads::App,
    get_catalog: get_catalog::App,
    sync_directory: sync_directory::App,
    send_message: send_message::App,
    list_messages: list_messages::App,
    mark_read: mark_read::App,
    presign_attachment: presign_attachment::App,
    relay_messages: relay_messages::App,
    notify_reply: notify_reply::App,
}

impl Functions {
    pub fn new(env: &FunctionEnv) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(&env.aws), &env.names.table);
        let attachments =
            Attachments::new(liaison::attachments_s3_client(&env.aws), &env.names.bucket);
        let sqs = aws_sdk_sqs::Client::new(&env.aws);
        Self {
            open_thread: open_thread::App {
                store: store.clone(),
            },
            list_threads: list_threads::App {
                store: store.clone(),
                cursors: CursorCodec::new(&env.cursor_secret),
            },
            get_catalog: get_catalog::App {
                store: store.clone(),
            },
            sync_directory: sync_directory::App {
                store: store.clone(),
            },
            send_message: send_message::App {
                store: store.clone(),
                attachments: attachments.clone(),
            },
            list_messages: list_messages::App {
                store: store.clone(),
                cursors: CursorCodec::new(&env.cursor_secret),
                attachments: attachments.clone(),
            },
            mark_read: mark_read::App {
                store: store.clone(),
            },
            presign_attachment: presign_attachment::App {
                store: store.clone(),
                attachments: attachments.clone(),
            },
            relay_messages: relay_messages::App {
                sqs: sqs.clone(),
                queue_url: env.queue_url.clone(),
                delay: env.notify_delay,
                attachments,
            },
            notify_reply: notify_reply::App {
                notifier: Notifier {
                    store,
                    mailer: Mailer {
                        ses: aws_sdk_sesv2::Client::new(&env.aws),
                        from: env.names.from_email.clone(),
                        app_url: env.app_url.clone(),
                    },
                },
                sqs,
                dead_letter_queue_url: env.dead_letter_queue_url.clone(),
            },
        }
    }

    /// Whether this gateway hosts the function (for the Invoke API and the
    /// event source mappings; HTTP routes of a missing one answer 501).
    pub fn hosts(name: &str) -> bool {
        matches!(
            name,
            "open-thread"
                | "list-threads"
                | "get-catalog"
                | "sync-directory"
                | "send-message"
                | "list-messages"
                | "mark-read"
                | "presign-attachment"
                | "relay-messages"
                | "notify-reply"
        )
    }

    /// An HTTP function's answer to an API Gateway request; `None` if the
    /// function is not hosted here.
    pub async fn http(&self, function: &str, req: Request) -> Option<Response<Body>> {
        Some(match function {
            "open-thread" => open_thread::handle(&self.open_thread, req).await,
            "list-threads" => list_threads::handle(&self.list_threads, req).await,
            "get-catalog" => get_catalog::handle(&self.get_catalog, req).await,
            "send-message" => send_message::handle(&self.send_message, req).await,
            "list-messages" => list_messages::handle(&self.list_messages, req).await,
            "mark-read" => mark_read::handle(&self.mark_read, req).await,
            "presign-attachment" => presign_attachment::handle(&self.presign_attachment, req).await,
            _ => return None,
        })
    }

    /// `sync-directory`: the directory push (a direct invocation).
    pub async fn sync_directory(&self, event: Value) -> Result<Value, Diagnostic> {
        match sync_directory::handle(&self.sync_directory, event).await {
            Ok(counts) => Ok(serde_json::to_value(counts).unwrap_or(Value::Null)),
            Err(e) => Err(Diagnostic::from(e)),
        }
    }

    /// `relay-messages`, as the table's stream mapping invokes it. The
    /// gateway starts that mapping only once [`Functions::hosts`] names it.
    pub async fn relay_messages(&self, event: StreamEvent) -> Result<Value, Diagnostic> {
        let response = relay_messages::handle(&self.relay_messages, event).await;
        Ok(serde_json::to_value(response).unwrap_or(Value::Null))
    }

    /// `notify-reply`, as the queue's mapping invokes it; its answer is an
    /// `SqsBatchResponse`. The gateway starts that mapping only once
    /// [`Functions::hosts`] names it.
    pub async fn notify_reply(&self, event: SqsEvent) -> Result<Value, Diagnostic> {
        let response = notify_reply::handle(&self.notify_reply, event).await;
        Ok(serde_json::to_value(response).unwrap_or(Value::Null))
    }

    /// A direct invocation (the Lambda Invoke API) with a JSON payload:
    /// `None` if no such function is hosted; otherwise its JSON answer, or
    /// its error as Lambda reports it.
    pub async fn invoke(
        &self,
        function: &str,
        payload: Value,
    ) -> Option<Result<Value, Diagnostic>> {
        if !Self::hosts(function) {
            return None;
        }
        Some(match function {
            "sync-directory" => self.sync_directory(payload).await,
            "relay-messages" => match serde_json::from_value(payload) {
                Ok(ev) => self.relay_messages(ev).await,
                Err(e) => Err(unmarshal(e)),
            },
            "notify-reply" => match serde_json::from_value(payload) {
                Ok(ev) => self.notify_reply(ev).await,
                Err(e) => Err(unmarshal(e)),
            },
            http_function => {
                let req = match lambda_http::request::from_str(&payload.to_string()) {
                    Ok(req) => req,
                    Err(e) => return Some(Err(unmarshal(e))),
                };
                let resp = self.http(http_function, req).await?;
                Ok(gateway_response(resp))
            }
        })
    }
}

fn unmarshal(e: serde_json::Error) -> Diagnostic {
    Diagnostic {
        error_type: "Runtime.UnmarshalError".into(),
        error_message: format!("the payload is not this function's event: {e}"),
    }
}

/// An HTTP function's response as its Lambda answer (API Gateway payload
/// 2.0 response).
pub fn gateway_response(resp: Response<Body>) -> Value {
    let status = resp.status().as_u16();
    let mut headers = serde_json::Map::new();
    for (k, v) in resp.headers() {
        headers.insert(
            k.as_str().to_owned(),
            json!(String::from_utf8_lossy(v.as_bytes())),
        );
    }
    let (body, base64) = match resp.body() {
        Body::Text(t) => (t.clone(), false),
        Body::Binary(b) => {
            use base64::Engine as _;
            (base64::engine::general_purpose::STANDARD.encode(b), true)
        }
        _ => (String::new(), false),
    };
    json!({
        "statusCode": status,
        "headers": headers,
        "body": body,
        "isBase64Encoded": base64,
        "cookies": [],
    })
}
