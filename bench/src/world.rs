//! The bench's own resources on the local AWS, the demo directory and
//! thread the sample events name, and the handlers in-process (as
//! tests/it/support.rs wires them) for counting round trips per API call.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

use aws_config::SdkConfig;
use lambda_http::Body;
use liaison::aws::RoundTrips;
use liaison::http::{CursorCodec, GatewayRequest};
use liaison::provision::{Names, Provisioned};
use liaison::store::Store;
use serde_json::{json, Map, Value};

pub const CURSOR_SECRET: &str = "liaison-bench-cursor-secret";
pub const APP_URL: &str = "https://app.liaison.example";
/// The thread the sample events name: Acme's general thread.
pub const EVENTS_THREAD: &str = "thr_2yfk89v78sw2b9ztehvg93sw9h";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct World {
    db: aws_sdk_dynamodb::Client,
    pub names: Names,
    pub provisioned: Provisioned,
    pub trips: RoundTrips,
    pub thread: String,
    open_thread: open_thread::App,
    list_threads: list_threads::App,
    get_catalog: get_catalog::App,
    send_message: send_message::App,
    list_messages: list_messages::App,
    mark_read: mark_read::App,
    presign_attachment: presign_attachment::App,
}

/// Who calls: verified JWT claims as API Gateway passes them on.
pub fn claims(user: &str) -> Map<String, Value> {
    let v = match user {
        "u_dana" => json!({"sub": "u_dana", "name": "Dana", "email": "dana@agency.example",
                           "cognito:groups": "[account-managers]"}),
        other => json!({"sub": other, "name": other, "email": format!("{other}@acme.example"),
                        "custom:account_id": "acc_acme"}),
    };
    v.as_object().cloned().unwrap_or_default()
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl World {
    /// Provisions everything under `prefix`, loads the sample directory
    /// (events/sync-directory.json) and opens the sample events' thread.
    pub async fn new(aws: &SdkConfig, prefix: &str, directory: Value) -> Result<Self, BoxError> {
        let names = Names::with_prefix(prefix);
        table_without_stream(&aws_sdk_dynamodb::Client::new(aws), &names.table).await?;
        liaison::provision::bucket(
            &liaison::attachments_s3_client(aws),
            &names.bucket,
            &liaison::provision::LOCAL_CORS_ORIGINS,
        )
        .await?;
        let (queue_url, dead_letter_queue_url) =
            liaison::provision::queues(&aws_sdk_sqs::Client::new(aws), &names).await?;
        liaison::provision::sender(&aws_sdk_sesv2::Client::new(aws), &names.from_email).await?;
        let provisioned = Provisioned {
            queue_url,
            dead_letter_queue_url,
            stream_arn: None,
        };
        let trips = RoundTrips::new();
        let db = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(aws)
                .interceptor(trips.clone())
                .build(),
        );
        let store = Store::new(db, &names.table);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(aws)
                .force_path_style(aws.endpoint_url().is_some())
                .interceptor(trips.clone())
                .build(),
        );
        let attachments = liaison::attachments::Attachments::new(s3, &names.bucket);
        let cursors = || CursorCodec::new(CURSOR_SECRET.as_bytes());
        sync_directory::handle(
            &sync_directory::App {
                store: store.clone(),
            },
            directory,
        )
        .await
        .map_err(|e| format!("sync directory: {e}"))?;
        let mut w = Self {
            db: aws_sdk_dynamodb::Client::new(aws),
            names,
            provisioned,
            trips,
            thread: String::new(),
            open_thread: open_thread::App {
                store: store.clone(),
            },
            list_threads: list_threads::App {
                store: store.clone(),
                cursors: cursors(),
            },
            get_catalog: get_catalog::App {
                store: store.clone(),
            },
            send_message: send_message::App {
                store: store.clone(),
                attachments: attachments.clone(),
            },
            list_messages: list_messages::App {
                store: store.clone(),
                cursors: cursors(),
                attachments: attachments.clone(),
            },
            mark_read: mark_read::App {
                store: store.clone(),
            },
            presign_attachment: presign_attachment::App {
                store: store.clone(),
                attachments,
            },
        };
        let opened = w
            .call(
                "u_chris",
                "POST",
                "/threads",
                Some(json!({"scope": {"kind": "general"}})),
            )
            .await?;
        w.thread = opened.body["id"]
            .as_str()
            .ok_or_else(|| format!("open thread: {} {}", opened.status, opened.body))?
            .to_owned();
        Ok(w)
    }

    /// Every key in the table.
    pub async fn keys(&self) -> Result<HashSet<(String, String)>, BoxError> {
        let mut keys = HashSet::new();
        let mut start = None;
        loop {
            let out = self
                .db
                .scan()
                .table_name(&self.names.table)
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items() {
                let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                if let (Some(pk), Some(sk)) = (get("pk"), get("sk")) {
                    keys.insert((pk, sk));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Deletes every item not in `baseline` (messages, claims, attachments,
    /// notification records an invocation added). moto copies a whole
    /// table for each item of a transaction, so a table that grew over a
    /// run would make later sends slower than earlier ones: here every
    /// invocation meets the table the same size.
    pub async fn restore(&self, baseline: &HashSet<(String, String)>) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
        let extra: Vec<WriteRequest> = self
            .keys()
            .await?
            .difference(baseline)
            .map(|(pk, sk)| {
                let key = [
                    ("pk".to_owned(), AttributeValue::S(pk.clone())),
                    ("sk".to_owned(), AttributeValue::S(sk.clone())),
                ];
                DeleteRequest::builder()
                    .set_key(Some(key.into_iter().collect()))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
            })
            .collect::<Result<_, _>>()?;
        for chunk in extra.chunks(25) {
            self.db
                .batch_write_item()
                .request_items(&self.names.table, chunk.to_vec())
                .send()
                .await?;
        }
        Ok(())
    }

    /// The environment Lambda would give the functions (less the AWS
    /// endpoint and credentials, which the caller adds).
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("LIAISON_TABLE", self.names.table.clone()),
            ("LIAISON_BUCKET", self.names.bucket.clone()),
            ("LIAISON_QUEUE_URL", self.provisioned.queue_url.clone()),
            (
                "LIAISON_DEAD_LETTER_QUEUE_URL",
                self.provisioned.dead_letter_queue_url.clone(),
            ),
            ("LIAISON_FROM_EMAIL", self.names.from_email.clone()),
            ("LIAISON_APP_URL", APP_URL.to_owned()),
            ("LIAISON_CURSOR_SECRET", CURSOR_SECRET.to_owned()),
            ("LIAISON_NOTIFY_DELAY_SECONDS", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Calls the route's handler in-process, as API Gateway would.
    pub async fn call(
        &self,
        user: &str,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Resp, BoxError> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut params = BTreeMap::new();
        let route = match (method, segments.as_slice()) {
            ("GET", ["catalog"]) => "GET /catalog",
            ("POST", ["threads"]) => "POST /threads",
            ("GET", ["threads"]) => "GET /threads",
            ("GET", ["unread"]) => "GET /unread",
            ("GET", ["threads", id]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                "GET /threads/{thread_id}"
            }
            ("POST", ["threads", id, "messages"]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                "POST /threads/{thread_id}/messages"
            }
            ("GET", ["threads", id, "messages"]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                "GET /threads/{thread_id}/messages"
            }
            ("POST", ["threads", id, "attachments"]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                "POST /threads/{thread_id}/attachments"
            }
            ("GET", ["threads", id, "attachments", att]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                params.insert("attachment_id".to_owned(), att.to_string());
                "GET /threads/{thread_id}/attachments/{attachment_id}"
            }
            ("POST", ["threads", id, "read"]) => {
                params.insert("thread_id".to_owned(), id.to_string());
                "POST /threads/{thread_id}/read"
            }
            other => return Err(format!("no route for {other:?}").into()),
        };
        let mut headers = BTreeMap::new();
        if body.is_some() {
            headers.insert("content-type".to_owned(), "application/json".to_owned());
        }
        let req = GatewayRequest {
            method: method.to_owned(),
            route_key: route.to_owned(),
            raw_path: path.to_owned(),
            raw_query: query.to_owned(),
            headers,
            path_parameters: params,
            claims: Some(claims(user)),
            body: body.map(|b| b.to_string()),
        }
        .to_request()?;
        let resp = match route {
            "GET /catalog" => get_catalog::handle(&self.get_catalog, req).await,
            "POST /threads" => open_thread::handle(&self.open_thread, req).await,
            "POST /threads/{thread_id}/messages" => {
                send_message::handle(&self.send_message, req).await
            }
            "GET /threads/{thread_id}/messages" => {
                list_messages::handle(&self.list_messages, req).await
            }
            "POST /threads/{thread_id}/read" => mark_read::handle(&self.mark_read, req).await,
            "POST /threads/{thread_id}/attachments"
            | "GET /threads/{thread_id}/attachments/{attachment_id}" => {
                presign_attachment::handle(&self.presign_attachment, req).await
            }
            _ => list_threads::handle(&self.list_threads, req).await,
        };
        let status = resp.status().as_u16();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Ok(Resp { status, body })
    }

    /// A new message from `user` in the sample thread; its id.
    pub async fn say(&self, user: &str, key: &str) -> Result<String, BoxError> {
        let r = self
            .call(
                user,
                "POST",
                &format!("/threads/{}/messages", self.thread),
                Some(json!({"body": "Bench message", "client_message_id": key})),
            )
            .await?;
        r.body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("send: {} {}", r.status, r.body).into())
    }
}

/// The table of `liaison::store::schema`, as `liaison::provision::table`
/// creates it but without the stream: moto keeps every stream record in
/// the table and copies the whole table for each item of a transaction, so
/// sends would slow down as a run goes on. Nothing here reads the stream
/// (relay-messages gets its events from the harness); on DynamoDB a
/// stream costs a writer nothing.
async fn table_without_stream(db: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    use liaison::store::schema;
    let key = |attr: &str, kt: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kt)
            .build()
    };
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(schema::PK, KeyType::Hash)?)
        .key_schema(key(schema::SK, KeyType::Range)?);
    for attr in schema::key_attributes() {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        );
    }
    for index in schema::INDEXES {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.pk, KeyType::Hash)?)
                .key_schema(key(index.sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        );
    }
    req.send().await?;
    Ok(())
}

/// One API call's round trips against DESIGN.md's target.
pub struct Trips {
    pub operation: &'static str,
    pub target: Option<usize>,
    pub counted: usize,
    pub status: u16,
}

/// Counts round trips per API call, each on its own fresh state.
pub async fn count_round_trips(w: &World) -> Result<Vec<Trips>, BoxError> {
    let t = w.thread.clone();
    let mut out = Vec::new();
    let mut measure = |operation, target, counted, status| {
        out.push(Trips {
            operation,
            target,
            counted,
            status,
        })
    };
    macro_rules! call {
        ($user:expr, $method:expr, $path:expr, $body:expr) => {{
            w.trips.take();
            let p = String::from($path);
            let r = w.call($user, $method, &p, $body).await?;
            (w.trips.take(), r)
        }};
    }

    let scope = json!({"scope": {"kind": "client", "client_id": "cl_glow"}});
    let (n, r) = call!("u_chris", "POST", "/threads", Some(scope.clone()));
    measure("open thread (new)", Some(2), n, r.status);
    let (n, r) = call!("u_chris", "POST", "/threads", Some(scope));
    measure("open thread (existing)", Some(1), n, r.status);

    let path = format!("/threads/{t}/messages");
    let (n, r) = call!(
        "u_dana",
        "POST",
        path.as_str(),
        Some(json!({"body": "Round trips", "client_message_id": "rt-1"}))
    );
    measure("send message", Some(2), n, r.status);

    let (n, r) = call!(
        "u_dana",
        "POST",
        format!("/threads/{t}/attachments"),
        Some(json!({"filename": "hook.png", "content_type": "image/png", "size": 3}))
    );
    measure("presign upload", Some(1), n, r.status);
    let attachment = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    upload(&r.body, b"png")?;
    let (n, r) = call!(
        "u_dana",
        "POST",
        path.as_str(),
        Some(json!({"body": "", "client_message_id": "rt-2", "attachment_ids": [attachment]}))
    );
    measure("send message, 1 attachment", Some(3), n, r.status);
    let (n, r) = call!(
        "u_chris",
        "GET",
        format!("/threads/{t}/attachments/{attachment}"),
        None
    );
    measure("presign download", Some(1), n, r.status);

    let (n, r) = call!("u_dana", "GET", "/threads?limit=20", None);
    measure("list threads", Some(1), n, r.status);
    let (n, r) = call!("u_chris", "GET", format!("/threads/{t}"), None);
    measure("get thread", None, n, r.status);
    let (n, r) = call!("u_chris", "GET", format!("{path}?limit=20"), None);
    measure("list messages", Some(2), n, r.status);
    let (n, r) = call!("u_chris", "GET", "/unread", None);
    measure("unread count", Some(1), n, r.status);
    let (n, r) = call!(
        "u_chris",
        "POST",
        format!("/threads/{t}/read"),
        Some(json!({}))
    );
    measure("mark read", Some(1), n, r.status);
    let (n, r) = call!("u_chris", "GET", "/catalog", None);
    measure("catalog", None, n, r.status);
    Ok(out)
}

/// PUTs `bytes` to a presigned upload as a browser would (plain HTTP: the
/// harness's own clients talk to moto directly).
fn upload(presigned: &Value, bytes: &[u8]) -> Result<(), BoxError> {
    let url = presigned["upload"]["url"]
        .as_str()
        .ok_or("presign answered no upload url")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("upload url is not http")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut req = format!("PUT {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n");
    for (k, v) in presigned["upload"]["headers"]
        .as_object()
        .into_iter()
        .flatten()
    {
        req.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap_or_default()));
    }
    req.push_str("\r\n");
    let mut conn = std::net::TcpStream::connect(authority)?;
    conn.write_all(req.as_bytes())?;
    conn.write_all(bytes)?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "upload refused: {}",
            answer.lines().next().unwrap_or_default()
        )
        .into());
    }
    Ok(())
}
