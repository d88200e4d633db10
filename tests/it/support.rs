//! A private world per test: its own table (and later bucket and queue) on
//! the local AWS that `make test` started, handlers wired to it, and
//! helpers to call them as API Gateway would.

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::EventRecord;
use lambda_http::Body;
use liaison::aws::RoundTrips;
use liaison::store::Store;
use liaison_local::apigw::GatewayRequest;
use liaison_local::{Clients, FunctionEnv, Functions};
use serde_json::{json, Map, Value};

pub const CURSOR_SECRET: &[u8] = b"test-cursor-secret-0123456789";
pub const APP_URL: &str = "https://app.liaison.example";
/// The API's public URL in e-mails (unsubscribe links).
pub const API_URL: &str = "https://api.liaison.example";

/// A caller's verified JWT claims.
#[derive(Debug, Clone)]
pub struct Who(pub Map<String, Value>);

pub fn client(user: &str, account: &str) -> Who {
    Who(
        json!({"sub": user, "name": user, "email": format!("{user}@client.example"),
               "custom:account_id": account})
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )
}

pub fn manager(user: &str) -> Who {
    Who(
        json!({"sub": user, "name": user, "email": format!("{user}@agency.example"),
               "cognito:groups": "[account-managers]"})
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )
}

/// The demo directory's people (see [`directory`]): Acme's client users
/// Chris and Alex, and its manager Dana.
pub fn chris() -> Who {
    client("u_chris", "acc_acme")
}

pub fn alex() -> Who {
    client("u_alex", "acc_acme")
}

pub fn dana() -> Who {
    manager("u_dana")
}

/// Opens the thread of `scope` as Chris; its id.
pub async fn chris_thread(w: &World, scope: Value) -> String {
    w.open(&chris(), None, scope).await["id"]
        .as_str()
        .expect("a thread id")
        .to_owned()
}

/// Chris's general thread at Acme (opened, or found open); its id.
pub async fn general_thread(w: &World) -> String {
    chris_thread(w, general()).await
}

/// A caller with no usable identity.
pub fn nobody() -> Who {
    Who(Map::new())
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(self.content_type, "application/problem+json");
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        self.body
    }
}

pub async fn aws() -> SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "these tests need a local AWS: run them with `make test`"
    );
    liaison::aws::sdk_config().await
}

pub struct World {
    #[allow(dead_code)]
    pub aws: SdkConfig,
    pub names: liaison::provision::Names,
    pub store: Store,
    pub trips: RoundTrips,
    /// Every function's `App`, wired as the local gateway wires them.
    pub functions: Functions,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    #[allow(dead_code)]
    pub attachments: liaison::attachments::Attachments,
}

impl World {
    /// A world with its own table, and the demo directory loaded.
    pub async fn new() -> Self {
        let w = Self::empty().await;
        w.sync(directory()).await;
        w
    }

    /// A world with its own, empty table (and bucket, queues, sender).
    pub async fn empty() -> Self {
        Self::empty_with(None).await
    }

    /// [`World::empty`] whose functions' DynamoDB capacity `meter` counts.
    #[allow(dead_code)]
    pub async fn metered(meter: &liaison::capacity::Meter) -> Self {
        Self::empty_with(Some(meter)).await
    }

    async fn empty_with(meter: Option<&liaison::capacity::Meter>) -> Self {
        let aws = aws().await;
        let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut names = liaison::provision::Names::with_prefix(&prefix);
        // A sender of its own, so this test finds its e-mails among all sent.
        names.from_email = format!("{prefix}@agency.example");
        let provisioned = liaison::provision::all(&aws, &names)
            .await
            .expect("create the table, bucket, queues and sender");
        let trips = RoundTrips::new();
        let clients = match meter {
            Some(m) => Clients::metered(&aws, &trips, m),
            None => Clients::counted(&aws, &trips),
        };
        let env = FunctionEnv {
            names: names.clone(),
            queue_url: provisioned.queue_url.clone(),
            dead_letter_queue_url: provisioned.dead_letter_queue_url.clone(),
            app_url: APP_URL.to_owned(),
            api_url: API_URL.to_owned(),
            cursor_secret: CURSOR_SECRET.to_vec(),
            notify_delay: std::time::Duration::ZERO,
            reply_domain: liaison_local::DEV_REPLY_DOMAIN.to_owned(),
            reply_secrets: liaison_local::DEV_REPLY_SECRETS.to_owned(),
        };
        Self {
            functions: Functions::new(&clients, &env),
            store: Store::new(clients.dynamodb, &names.table),
            attachments: liaison::attachments::Attachments::new(clients.s3, &names.bucket),
            queue_url: provisioned.queue_url,
            dead_letter_queue_url: provisioned.dead_letter_queue_url,
            aws,
            names,
            trips,
        }
    }

    pub async fn sync(&self, event: Value) -> sync_directory::Counts {
        sync_directory::handle(&self.functions.sync_directory, event)
            .await
            .expect("sync")
    }

    /// Calls the route's handler with the request API Gateway would send.
    pub async fn call(
        &self,
        who: &Who,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Resp {
        self.call_raw(who, method, path_and_query, body.map(|b| b.to_string()))
            .await
    }

    pub async fn call_raw(
        &self,
        who: &Who,
        method: &str,
        path_and_query: &str,
        body: Option<String>,
    ) -> Resp {
        let claims = (!who.0.is_empty()).then(|| who.0.clone());
        let (route, req) = GatewayRequest::routed(method, path_and_query, claims, body)
            .unwrap_or_else(|other| panic!("no route for {method} {path_and_query}: {other:?}"));
        let req = req.to_request().expect("request");
        let resp = self
            .functions
            .http(route.function, req)
            .await
            .unwrap_or_else(|| panic!("{} is not an HTTP function", route.function));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Resp {
            status,
            content_type,
            body,
        }
    }

    /// Opens a thread and returns it (201 or 200).
    pub async fn open(&self, who: &Who, account: Option<&str>, scope: Value) -> Value {
        let mut body = json!({ "scope": scope });
        if let Some(a) = account {
            body["account_id"] = json!(a);
        }
        let r = self.call(who, "POST", "/threads", Some(body)).await;
        assert!(r.status == 201 || r.status == 200, "open failed: {r:?}");
        r.body
    }

    /// Runs the local gateway's stand-in malware scanner once over this
    /// world's bucket, with no delay: every attachment object not scanned
    /// yet gets its result (clean, or infected if it holds the EICAR
    /// string) through record-scan. What it scanned.
    pub async fn scan(&self) -> Vec<liaison_local::scanner::Scanned> {
        let region = self
            .aws
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        liaison_local::scanner::StandIn::new(
            liaison::aws::s3_client(&self.aws),
            &self.names.bucket,
            region,
            std::time::Duration::ZERO,
        )
        .pass(&self.functions)
        .await
        .expect("a scan pass")
    }

    /// Every item of one partition (for "nothing changed" checks).
    pub async fn partition(&self, pk: &str) -> Vec<Value> {
        let out = self
            .store
            .client()
            .query()
            .table_name(&self.names.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(pk.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("query");
        out.items().iter().map(item_json).collect()
    }
}

/// The demo directory: Acme (two client users, one manager, two clients
/// with campaigns and creatives, one archived campaign) and Beta (its own
/// user and manager).
pub fn directory() -> Value {
    json!({"accounts": [
        {"id": "acc_acme", "name": "Acme Beauty",
         "managers": [{"id": "u_dana", "email": "dana@agency.example", "name": "Dana"}],
         "users": [{"id": "u_chris", "email": "chris@acme.example", "name": "Chris"},
                   {"id": "u_alex", "email": "alex@acme.example", "name": "Alex"}],
         "clients": [
            {"id": "cl_glow", "name": "Glow Serum", "campaigns": [
                {"id": "cp_spring", "name": "Spring launch", "creatives": [
                    {"id": "cr_hook2", "name": "Hook v2"},
                    {"id": "cr_old", "name": "Old cut", "archived": true}]},
                {"id": "cp_winter", "name": "Winter", "archived": true}]},
            {"id": "cl_tonic", "name": "Night Tonic", "campaigns": [
                {"id": "cp_launch", "name": "Launch", "creatives": [
                    {"id": "cr_teaser", "name": "Teaser"}]}]}]},
        {"id": "acc_beta", "name": "Beta Foods",
         "managers": [{"id": "u_max", "email": "max@agency.example", "name": "Max"}],
         "users": [{"id": "u_bea", "email": "bea@beta.example", "name": "Bea"}],
         "clients": [{"id": "cl_crunch", "name": "Crunch", "campaigns": []}]}
    ]})
}

/// Acme with one campaign of `creatives` creatives (Chris and Alex as
/// client users, Dana as manager), and its `creatives + 2` scopes.
pub fn wide_acme(creatives: usize) -> (Value, Vec<Value>) {
    let list: Vec<Value> = (0..creatives)
        .map(|i| json!({"id": format!("cr_{i:03}"), "name": format!("Cut {i}")}))
        .collect();
    let directory = json!({"accounts": [{"id": "acc_acme", "name": "Acme",
        "managers": [{"id": "u_dana", "email": "dana@agency.example", "name": "Dana"}],
        "users": [{"id": "u_chris", "email": "chris@acme.example", "name": "Chris"},
                  {"id": "u_alex", "email": "alex@acme.example", "name": "Alex"}],
        "clients": [{"id": "cl_a", "name": "A", "campaigns": [
            {"id": "cp_a", "name": "A1", "creatives": list}]}]}]});
    let mut scopes = vec![
        json!({"kind": "client", "client_id": "cl_a"}),
        json!({"kind": "campaign", "client_id": "cl_a", "campaign_id": "cp_a"}),
    ];
    for i in 0..creatives {
        scopes.push(json!({"kind": "creative", "client_id": "cl_a", "campaign_id": "cp_a", "creative_id": format!("cr_{i:03}")}));
    }
    (directory, scopes)
}

/// A seeded generator, so a failing run reproduces.
pub fn seeded(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed)
}

pub fn general() -> Value {
    json!({"kind": "general"})
}

/// An item as DynamoDB JSON (`{"S": ...}`, maps sorted), for comparing
/// table contents.
pub fn item_json(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Value {
    serde_json::to_value(serde_dynamo::Item::from(item.clone())).expect("DynamoDB JSON")
}

/// The operation an SDK request calls, by its `X-Amz-Target` header
/// (`DynamoDB_20120810.TransactWriteItems` → `TransactWriteItems`): for
/// interceptors that fault one operation.
pub fn target_of(request: &aws_smithy_runtime_api::http::Request) -> &str {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    target.rsplit('.').next().unwrap_or_default()
}

/// The local gateway's settings for a test of its own: fresh resources
/// (`tag` and a new id as the name prefix, e-mail from
/// `{prefix}@agency.example`), port 0, the demo directory loaded, no mail
/// printed.
pub async fn gateway_config(tag: &str) -> liaison_local::Config {
    let prefix = format!("{tag}{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut names = liaison::provision::Names::with_prefix(&prefix);
    names.from_email = format!("{prefix}@agency.example");
    let mut config = liaison_local::Config::new(aws().await, names);
    config.addr = "127.0.0.1:0".parse().expect("an address");
    config.directory = Some(liaison_local::demo::directory());
    config.print_mail = false;
    config.smtp_addr = None;
    config
}

/// A demo person's claims, as the dev sign-in puts them in a token.
pub fn demo_claims(id: &str) -> Map<String, Value> {
    liaison_local::demo::find(&liaison_local::demo::directory(), id)
        .expect("a demo person")
        .claims()
}

/// A demo person's token, signed with the gateway's dev secret.
pub fn demo_token(id: &str) -> String {
    let secret = liaison_local::jwt::DEFAULT_SECRET.as_bytes();
    liaison_local::jwt::mint(secret, &demo_claims(id), 3600)
}

/// A table of its own, with its stream, for the stream mapping's tests.
pub struct StreamTable {
    pub aws: SdkConfig,
    pub db: aws_sdk_dynamodb::Client,
    pub name: String,
    pub stream_arn: String,
}

impl StreamTable {
    /// Provisioned as the app's table is (`tag` and a new id name it).
    pub async fn new(tag: &str) -> Self {
        let aws = aws().await;
        let db = aws_sdk_dynamodb::Client::new(&aws);
        let name = format!(
            "{tag}{}-table",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let stream_arn = liaison::provision::table(&db, &name)
            .await
            .expect("a table")
            .expect("with a stream");
        Self {
            aws,
            db,
            name,
            stream_arn,
        }
    }

    /// A put of the item (`pk`, `sk`), for more attributes and `send()`.
    pub fn put(
        &self,
        pk: &str,
        sk: &str,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        self.db
            .put_item()
            .table_name(&self.name)
            .item("pk", A::S(pk.into()))
            .item("sk", A::S(sk.into()))
    }
}

/// Of requests racing to create one thing: how many created it (201;
/// the others must answer 200) and the ids all of them answered.
pub async fn racing_creates(
    mut set: tokio::task::JoinSet<Resp>,
) -> (usize, std::collections::HashSet<String>) {
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    while let Some(r) = set.join_next().await {
        let r = r.expect("a request");
        match r.status {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected {other}: {}", r.body),
        }
        ids.insert(r.body["id"].as_str().expect("an id").to_owned());
    }
    (created, ids)
}

/// Asks to upload a file to thread `t`.
pub async fn presign_raw(
    w: &World,
    who: &Who,
    t: &str,
    filename: &str,
    content_type: &str,
    size: u64,
) -> Resp {
    w.call(
        who,
        "POST",
        &format!("/threads/{t}/attachments"),
        Some(json!({"filename": filename, "content_type": content_type, "size": size})),
    )
    .await
}

/// The object key of upload `id` of thread `t` (every upload since the
/// key lost its account: `liaison::attachments::object_key`).
pub fn upload_key(t: &str, id: &str) -> String {
    format!("t/{t}/{id}")
}

/// Makes upload `id` of thread `t` (of Acme) what the version before the
/// key lost its account wrote: its record names its account and no key
/// layout, and its object, if `bytes` are given, is where that version's
/// presigned PUT put it (`{account}/{thread}/{id}`, with its type and the
/// pending tag; nothing under the new key). The old key.
pub async fn as_previous_version(
    w: &World,
    t: &str,
    id: &str,
    object: Option<(&str, &[u8])>,
) -> String {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", A::S(format!("THREAD#{t}")))
        .key("sk", A::S(format!("ATT#{id}")))
        .update_expression("REMOVE key_layout SET account_id = :acc")
        .condition_expression("attribute_exists(pk) AND key_layout = :thread")
        .expression_attribute_values(":acc", A::S("acc_acme".into()))
        .expression_attribute_values(":thread", A::S("thread".into()))
        .send()
        .await
        .expect("the record, as the previous version wrote it");
    let old = format!("acc_acme/{t}/{id}");
    if let Some((content_type, bytes)) = object {
        liaison::aws::s3_client(&w.aws)
            .put_object()
            .bucket(&w.names.bucket)
            .key(&old)
            .content_type(content_type)
            .tagging(liaison::attachments::PENDING_TAG)
            .body(bytes.to_vec().into())
            .send()
            .await
            .expect("the object, as the previous version's upload URL put it");
    }
    old
}

/// The tags of the object at `key` in the bucket, as (key, value) pairs.
pub async fn object_tags(w: &World, key: &str) -> Vec<(String, String)> {
    liaison::aws::s3_client(&w.aws)
        .get_object_tagging()
        .bucket(&w.names.bucket)
        .key(key)
        .send()
        .await
        .expect("tags")
        .tag_set
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

/// Whether the bucket holds `key`.
pub async fn stored_at(w: &World, key: &str) -> bool {
    liaison::aws::s3_client(&w.aws)
        .head_object()
        .bucket(&w.names.bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// The attachment id a presign answer names.
pub fn id_of(presigned: &Value) -> String {
    presigned["attachment_id"]
        .as_str()
        .expect("an attachment id")
        .to_owned()
}

/// PUTs `bytes` to an upload answer's URL with the headers it names; the
/// status and body.
pub async fn put_upload(presigned: &Value, bytes: &[u8]) -> (u16, Vec<u8>) {
    let headers: Vec<(String, String)> = presigned["upload"]["headers"]
        .as_object()
        .expect("upload headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let url = presigned["upload"]["url"].as_str().expect("an upload URL");
    let (status, _, body) = http("PUT", url, &headers, bytes).await;
    (status, body)
}

/// Sends `body` with attachments `ids` to thread `t`.
pub async fn send(w: &World, who: &Who, t: &str, body: &str, ids: &[&str]) -> Resp {
    w.call(
        who,
        "POST",
        &format!("/threads/{t}/messages"),
        Some(json!({"body": body, "attachment_ids": ids, "client_message_id": key()})),
    )
    .await
}

/// A query parameter of a (presigned) URL, percent-decoded.
pub fn param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// An INSERT stream record of a stored item (its new image and `seq`),
/// as the stream mapping hands it over.
pub async fn stream_record(w: &World, pk: &str, sk: &str, seq: u64) -> EventRecord {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let item = w
        .store
        .client()
        .get_item()
        .table_name(&w.names.table)
        .key("pk", A::S(pk.to_owned()))
        .key("sk", A::S(sk.to_owned()))
        .send()
        .await
        .expect("get")
        .item
        .expect("the item");
    let mut r = EventRecord::default();
    r.event_name = "INSERT".into();
    r.change.new_image = item.into();
    r.change.sequence_number = Some(seq.to_string());
    r
}

/// A string attribute of a stream record's keys ("" if there is none).
pub fn record_key(record: &EventRecord, name: &str) -> String {
    match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

static NEXT_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh idempotency key.
pub fn key() -> String {
    format!(
        "k-{}",
        NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

impl World {
    /// Sends a message (fresh key) and returns it.
    pub async fn say(&self, who: &Who, thread: &str, body: &str) -> Value {
        self.call(
            who,
            "POST",
            &format!("/threads/{thread}/messages"),
            Some(json!({"body": body, "client_message_id": key()})),
        )
        .await
        .expect(201)
    }

    /// Marks a thread read for `who` (up to `message`, or the newest).
    pub async fn read(&self, who: &Who, thread: &str, message: Option<&str>) -> Value {
        let body = match message {
            Some(m) => json!({"message_id": m}),
            None => json!({}),
        };
        self.call(who, "POST", &format!("/threads/{thread}/read"), Some(body))
            .await
            .expect(200)
    }

    /// The thread as `who` sees it.
    pub async fn thread(&self, who: &Who, thread: &str) -> Value {
        self.call(who, "GET", &format!("/threads/{thread}"), None)
            .await
            .expect(200)
    }
}

/// A plain HTTP/1.1 exchange (the local AWS speaks plain HTTP), for
/// following presigned URLs as a browser would, by the gateway's client;
/// as patient as a browser (moto can take long on a busy box).
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = liaison_local::client::HttpClient::new()
        .with_timeout(std::time::Duration::from_secs(600))
        .send(method, url, &headers, Some(body.to_vec()))
        .await
        .expect("an HTTP exchange");
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (r.status, headers, r.body.to_vec())
}

/// A file of `size` bytes that starts as a real file of `content_type`
/// does (its signature, which a send checks: `liaison::attachments::
/// is_declared_type`), then filler. WebM's signature takes 362 bytes; the
/// others fit in 24.
pub fn file_of(content_type: &str, size: usize) -> Vec<u8> {
    let head: Vec<u8> = match content_type {
        "image/png" => b"\x89PNG\r\n\x1a\n".to_vec(),
        "image/jpeg" => b"\xff\xd8\xff\xe0".to_vec(),
        "image/gif" => b"GIF89a".to_vec(),
        "image/webp" => b"RIFF\x1a\0\0\0WEBPVP8L".to_vec(),
        "video/mp4" | "video/quicktime" => b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec(),
        "video/webm" => std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/files/sample.webm"
        ))
        .expect("the WebM sample"),
        "application/pdf" => b"%PDF-1.4\n".to_vec(),
        "application/zip" => b"PK\x03\x04".to_vec(),
        other => panic!("no signature for {other}"),
    };
    assert!(
        head.len() <= size,
        "{content_type} needs {} bytes",
        head.len()
    );
    let mut bytes = head;
    bytes.extend((bytes.len()..size).map(|i| (i % 251) as u8));
    bytes
}
