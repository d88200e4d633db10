//! The functions this gateway hosts, wired once for every process that
//! runs them in-process (the gateway, the tests' `World`, the bench):
//! [`Clients`] are the SDK clients they share, built by the caller (tests
//! and the bench attach the round-trip counter, fault tests their own
//! interceptors); [`FunctionEnv`] is what each function's `main.rs` reads
//! from the environment, given directly; [`Functions::new`] builds every
//! `App` from the two, and [`Functions::http`] / [`Functions::invoke`] are
//! the one dispatch from a function's name to its handler. The three ways
//! AWS invokes them: an HTTP route ([`crate::routes::ROUTES`]), a direct
//! invocation, an event source mapping.
//!
//! Wiring a new function crate in means, here: its `App` in [`Functions`]
//! and [`Functions::new`], its name in [`Functions::NAMES`], and an arm in
//! [`Functions::http`] (HTTP functions, whose routes go in
//! [`crate::routes::ROUTES`]) or [`Functions::invoke`]; elsewhere, only
//! this crate's `Cargo.toml` and, for routes, the `cargo lambda watch`
//! router in the workspace `Cargo.toml`. `tests/it/wiring.rs` and
//! `tests/it/infra.rs` fail until the names, dispatch, routes, router and
//! environment agree with the function crates and the template.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::ses::SimpleEmailEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use lambda_http::{Body, Request, Response};
use lambda_runtime::Diagnostic;
use liaison::attachments::Attachments;
use liaison::aws::RoundTrips;
use liaison::http::CursorCodec;
use liaison::notify::{Mailer, Notifier};
use liaison::provision::Names;
use liaison::reply::{ReplyKeys, ReplySettings};
use liaison::store::Store;
use serde_json::Value;

/// The SDK clients the functions use, one of each, shared by all of them.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Path-style when an endpoint override (a local AWS) is configured.
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
}

impl Clients {
    /// The clients a function's `main.rs` builds from this configuration.
    pub fn new(aws: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(aws),
            s3: liaison::aws::s3_client(aws),
            sqs: aws_sdk_sqs::Client::new(aws),
            ses: aws_sdk_sesv2::Client::new(aws),
        }
    }

    /// The same clients with `interceptor` on every one of them.
    pub fn intercepted(self, interceptor: impl Intercept + Clone + 'static) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                self.dynamodb
                    .config()
                    .to_builder()
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                self.s3
                    .config()
                    .to_builder()
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                self.sqs
                    .config()
                    .to_builder()
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            ses: aws_sdk_sesv2::Client::from_conf(
                self.ses
                    .config()
                    .to_builder()
                    .interceptor(interceptor)
                    .build(),
            ),
        }
    }

    /// [`Clients::new`], every request any of them puts on the wire counted
    /// by `trips` (DESIGN.md's round trips per call).
    pub fn counted(aws: &SdkConfig, trips: &RoundTrips) -> Self {
        Self::new(aws).intercepted(trips.clone())
    }

    /// [`Clients::counted`], and the DynamoDB client's capacity computed
    /// by `meter` (DynamoDB's rules: see `liaison::capacity`).
    pub fn metered(aws: &SdkConfig, trips: &RoundTrips, meter: &liaison::capacity::Meter) -> Self {
        let mut clients = Self::counted(aws, trips);
        clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(
            clients
                .dynamodb
                .config()
                .to_builder()
                .interceptor(meter.clone())
                .build(),
        );
        clients
    }
}

/// What a function's `main.rs` reads from the environment (besides the AWS
/// configuration), given directly.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    pub names: Names,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub app_url: String,
    /// The API's public base URL (e-mails' unsubscribe links).
    pub api_url: String,
    pub cursor_secret: Vec<u8>,
    pub notify_delay: Duration,
    /// The domain of reply addresses (`reply+{key}@{domain}`).
    pub reply_domain: String,
    /// The reply keys' secrets (`version:secret,…`).
    pub reply_secrets: String,
}

impl FunctionEnv {
    /// The same values as the environment variables a deployed function
    /// gets: the bench gives them to the functions' processes, and
    /// `tests/it/infra.rs` holds `[workspace.metadata.lambda.env]` (for
    /// `cargo lambda watch`) to `make dev`'s.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        use liaison::config as c;
        vec![
            (c::TABLE, self.names.table.clone()),
            (c::BUCKET, self.names.bucket.clone()),
            (c::QUEUE_URL, self.queue_url.clone()),
            (c::DEAD_LETTER_QUEUE_URL, self.dead_letter_queue_url.clone()),
            (c::FROM_EMAIL, self.names.from_email.clone()),
            (c::APP_URL, self.app_url.clone()),
            (c::API_URL, self.api_url.clone()),
            (
                c::CURSOR_SECRET,
                String::from_utf8_lossy(&self.cursor_secret).into_owned(),
            ),
            (
                c::NOTIFY_DELAY_SECONDS,
                self.notify_delay.as_secs().to_string(),
            ),
            (c::REPLY_DOMAIN, self.reply_domain.clone()),
            (c::REPLY_SECRETS, self.reply_secrets.clone()),
        ]
    }
}

/// Every function's `App`, built once.
pub struct Functions {
    pub open_thread: open_thread::App,
    pub list_threads: list_threads::App,
    pub get_catalog: get_catalog::App,
    pub sync_directory: sync_directory::App,
    pub send_message: send_message::App,
    pub list_messages: list_messages::App,
    pub mark_read: mark_read::App,
    pub presign_attachment: presign_attachment::App,
    pub upload_parts: upload_parts::App,
    pub relay_messages: relay_messages::App,
    pub notify_reply: notify_reply::App,
    pub receive_reply: receive_reply::App,
    pub unsubscribe: unsubscribe::App,
    pub record_scan: record_scan::App,
}

impl Functions {
    /// The functions hosted here, by crate (and binary) name.
    pub const NAMES: &'static [&'static str] = &[
        "open-thread",
        "list-threads",
        "get-catalog",
        "sync-directory",
        "send-message",
        "list-messages",
        "mark-read",
        "presign-attachment",
        "upload-parts",
        "relay-messages",
        "notify-reply",
        "receive-reply",
        "unsubscribe",
        "record-scan",
    ];

    /// Every `App` as its `main.rs` builds it, from these clients and values.
    pub fn new(clients: &Clients, env: &FunctionEnv) -> Self {
        let store = Store::new(clients.dynamodb.clone(), &env.names.table);
        let attachments = Attachments::new(clients.s3.clone(), &env.names.bucket);
        let reply = ReplySettings {
            domain: env.reply_domain.clone(),
            keys: ReplyKeys::parse(&env.reply_secrets)
                .unwrap_or_else(|e| panic!("reply secrets: {e}")),
            key_ttl: liaison::reply::DEFAULT_KEY_TTL,
        };
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
            upload_parts: upload_parts::App {
                store: store.clone(),
                attachments: attachments.clone(),
            },
            relay_messages: relay_messages::App {
                sqs: clients.sqs.clone(),
                queue_url: env.queue_url.clone(),
                delay: env.notify_delay,
                attachments: attachments.clone(),
            },
            unsubscribe: unsubscribe::App {
                store: store.clone(),
                keys: reply.keys.clone(),
                app_url: env.app_url.clone(),
            },
            record_scan: record_scan::App {
                store: store.clone(),
                attachments: attachments.clone(),
            },
            receive_reply: receive_reply::App {
                store: store.clone(),
                attachments,
                settings: reply.clone(),
            },
            notify_reply: notify_reply::App {
                notifier: Notifier {
                    store,
                    reply,
                    mailer: Mailer {
                        ses: clients.ses.clone(),
                        from: env.names.from_email.clone(),
                        app_url: env.app_url.clone(),
                        api_url: env.api_url.clone(),
                    },
                },
                sqs: liaison::aws::LazyClient::ready(clients.sqs.clone()),
                dead_letter_queue_url: env.dead_letter_queue_url.clone(),
            },
        }
    }

    /// Whether this gateway hosts the function (for the Invoke API and the
    /// event source mappings; HTTP routes of a missing one answer 501).
    pub fn hosts(name: &str) -> bool {
        Self::NAMES.contains(&name)
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
            "upload-parts" => upload_parts::handle(&self.upload_parts, req).await,
            "unsubscribe" => unsubscribe::handle(&self.unsubscribe, req).await,
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

    /// `record-scan`, as the scan-result queue's mapping invokes it (the
    /// local gateway's stand-in scanner does the same); its answer is an
    /// `SqsBatchResponse`.
    pub async fn record_scan(&self, event: SqsEvent) -> Result<Value, Diagnostic> {
        let response = record_scan::handle(&self.record_scan, event).await;
        Ok(serde_json::to_value(response).unwrap_or(Value::Null))
    }

    /// `receive-reply`, as SES receiving invokes it (the local gateway's
    /// SMTP listener does the same).
    pub async fn receive_reply(&self, event: SimpleEmailEvent) -> Result<Value, Diagnostic> {
        receive_reply::handle(&self.receive_reply, event)
            .await
            .map_err(Diagnostic::from)
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
            "record-scan" => match serde_json::from_value(payload) {
                Ok(ev) => self.record_scan(ev).await,
                Err(e) => Err(unmarshal(e)),
            },
            "receive-reply" => match serde_json::from_value(payload) {
                Ok(ev) => self.receive_reply(ev).await,
                Err(e) => Err(unmarshal(e)),
            },
            http_function => {
                let req = match lambda_http::request::from_str(&payload.to_string()) {
                    Ok(req) => req,
                    Err(e) => return Some(Err(unmarshal(e))),
                };
                let resp = self.http(http_function, req).await?;
                Ok(serde_json::to_value(crate::apigw::gateway_response(resp))
                    .unwrap_or(Value::Null))
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
