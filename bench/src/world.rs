//! The bench's own resources on the local AWS, the demo directory and
//! thread the sample events name, and the handlers in-process (wired as
//! the local gateway and the tests wire them) for counting round trips per
//! API call.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;

use aws_config::SdkConfig;
use lambda_http::Body;
use liaison::aws::RoundTrips;
use liaison::provision::{Names, Stream};
use liaison_local::apigw::GatewayRequest;
use liaison_local::{Clients, FunctionEnv, Functions};
use serde_json::{json, Map, Value};

pub const CURSOR_SECRET: &str = "liaison-bench-cursor-secret";
pub const APP_URL: &str = "https://app.liaison.example";
/// The thread the sample events name: Acme's general thread.
pub const EVENTS_THREAD: &str = "thr_2yfk89v78sw2b9ztehvg93sw9h";
/// The start of a PNG (what send's content check reads).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct World {
    db: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    /// What the functions' processes are given (as `function_env`).
    pub env: FunctionEnv,
    pub trips: RoundTrips,
    pub thread: String,
    functions: Functions,
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
    /// Provisions everything under `prefix` (the table without its stream:
    /// see [`Stream::Off`]; relay-messages gets its events from the
    /// harness), loads the sample directory (events/sync-directory.json)
    /// and opens the sample events' thread.
    pub async fn new(aws: &SdkConfig, prefix: &str, directory: Value) -> Result<Self, BoxError> {
        let names = Names::with_prefix(prefix);
        let provisioned = liaison::provision::all_with(aws, &names, Stream::Off).await?;
        let env = FunctionEnv {
            names,
            queue_url: provisioned.queue_url,
            dead_letter_queue_url: provisioned.dead_letter_queue_url,
            app_url: APP_URL.to_owned(),
            api_url: "https://api.liaison.example".to_owned(),
            cursor_secret: CURSOR_SECRET.as_bytes().to_vec(),
            notify_delay: Duration::ZERO,
            reply_domain: liaison_local::DEV_REPLY_DOMAIN.to_owned(),
            reply_secrets: liaison_local::DEV_REPLY_SECRETS.to_owned(),
        };
        let trips = RoundTrips::new();
        let functions = Functions::new(&Clients::counted(aws, &trips), &env);
        functions
            .sync_directory(directory)
            .await
            .map_err(|e| format!("sync directory: {}", e.error_message))?;
        let mut w = Self {
            db: aws_sdk_dynamodb::Client::new(aws),
            s3: liaison::aws::s3_client(aws),
            env,
            trips,
            thread: String::new(),
            functions,
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

    /// The row of the reply key a mute (unsubscribe) token stands for, as
    /// the notifier writes it: `user` in the bench's thread, an hour left.
    pub async fn reply_key_row(
        &self,
        token: &str,
        user: &str,
        address: &str,
    ) -> Result<(), BoxError> {
        let key = liaison::reply::ReplyKeys::parse(&self.env.reply_secrets)?
            .verify_mute_token(token)
            .map_err(|e| format!("the event's unsubscribe token: {e:?}"))?;
        let record = liaison::store::ReplyKeyRecord {
            key,
            account: liaison::domain::AccountId::parse("acc_acme")?,
            thread: liaison::domain::ThreadId::parse(&self.thread)?,
            user: liaison::domain::UserId::parse(user)?,
            address: address.to_owned(),
            expires_at: liaison::domain::Timestamp::now().unix_seconds() + 3600,
        };
        let item = liaison::store::seed::reply_key_items(&record);
        self.db
            .put_item()
            .table_name(&self.env.names.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// Every key in the table.
    pub async fn keys(&self) -> Result<HashSet<(String, String)>, BoxError> {
        let mut keys = HashSet::new();
        let mut start = None;
        loop {
            let out = self
                .db
                .scan()
                .table_name(&self.env.names.table)
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
                .request_items(&self.env.names.table, chunk.to_vec())
                .send()
                .await?;
        }
        Ok(())
    }

    /// The environment Lambda would give the functions (less the AWS
    /// endpoint and credentials, which the caller adds).
    pub fn function_env(&self) -> Vec<(String, String)> {
        self.env
            .vars()
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
        let body = body.map(|b| b.to_string());
        let (route, req) = GatewayRequest::routed(method, path_and_query, Some(claims(user)), body)
            .map_err(|other| format!("no route for {method} {path_and_query}: {other:?}"))?;
        let req = req.to_request()?;
        let resp = self
            .functions
            .http(route.function, req)
            .await
            .ok_or_else(|| format!("{} is not an HTTP function", route.function))?;
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
        Some(json!({"filename": "hook.png", "content_type": "image/png", "size": PNG.len()}))
    );
    measure("presign upload", Some(1), n, r.status);
    let attachment = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    upload(&r.body, PNG)?;
    let (n, r) = call!(
        "u_dana",
        "POST",
        path.as_str(),
        Some(json!({"body": "", "client_message_id": "rt-2", "attachment_ids": [attachment]}))
    );
    measure("send message, 1 attachment", Some(3), n, r.status);
    // The stand-in malware scanner passes it (downloads wait for a clean
    // scan); not counted.
    liaison_local::scanner::StandIn::new(
        w.s3.clone(),
        &w.env.names.bucket,
        "us-east-1",
        Duration::ZERO,
    )
    .pass(&w.functions)
    .await?;
    w.trips.take();
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
pub fn upload(presigned: &Value, bytes: &[u8]) -> Result<(), BoxError> {
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
