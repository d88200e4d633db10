//! End to end through the local gateway (`infra/local`), over real HTTP:
//! each test starts its own gateway on port 0, on its own freshly
//! provisioned resources with the demo directory loaded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use liaison_local::client::{HttpClient, HttpResponse};
use liaison_local::{demo, jwt, Config, Gateway};
use serde_json::{json, Map, Value};

use crate::support;

const SECRET: &str = jwt::DEFAULT_SECRET;

struct Local {
    gateway: Gateway,
    http: HttpClient,
}

async fn local() -> Local {
    Local::start(support::gateway_config("e").await).await
}

fn claims_of(id: &str) -> Map<String, Value> {
    support::demo_claims(id)
}

fn token(id: &str) -> String {
    support::demo_token(id)
}

impl Local {
    async fn start(config: Config) -> Self {
        Local {
            gateway: Gateway::start(config).await.expect("the gateway starts"),
            http: HttpClient::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> HttpResponse {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.http
            .send(
                method,
                &format!("{}{path}", self.gateway.url()),
                &headers,
                body.map(|b| b.to_string().into_bytes()),
            )
            .await
            .expect("the gateway answers")
    }

    async fn as_user(
        &self,
        id: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> HttpResponse {
        self.call(method, path, Some(&format!("Bearer {}", token(id))), body)
            .await
    }
}

#[track_caller]
fn expect(r: &HttpResponse, status: u16) -> Value {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text());
    r.json()
}

#[track_caller]
fn problem(r: &HttpResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text());
    assert_eq!(r.header("content-type"), "application/problem+json");
    let body = r.json();
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status);
}

#[tokio::test]
async fn the_api_over_http() {
    let l = local().await;

    let catalog = expect(&l.as_user("u_chris", "GET", "/catalog", None).await, 200);
    assert_eq!(catalog["account"]["id"], "acc_acme");
    assert_eq!(catalog["clients"][0]["id"], "cl_glow");

    let scope =
        json!({"scope": {"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}});
    let opened = expect(
        &l.as_user("u_chris", "POST", "/threads", Some(scope.clone()))
            .await,
        201,
    );
    let id = opened["id"].as_str().expect("a thread id").to_owned();
    assert_eq!(opened["scope"]["label"], "Glow Serum › Spring launch");
    let again = expect(
        &l.as_user("u_chris", "POST", "/threads", Some(scope.clone()))
            .await,
        200,
    );
    assert_eq!(again["id"], id.as_str());
    // The manager's claims (cognito:groups as API Gateway passes it) work too.
    let mut for_manager = scope.clone();
    for_manager["account_id"] = json!("acc_acme");
    let theirs = expect(
        &l.as_user("u_dana", "POST", "/threads", Some(for_manager))
            .await,
        200,
    );
    assert_eq!(theirs["id"], id.as_str());

    let list = expect(&l.as_user("u_dana", "GET", "/threads", None).await, 200);
    assert_eq!(list["threads"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["threads"][0]["id"], id.as_str());
    assert_eq!(list["next_cursor"], Value::Null);

    let one = expect(
        &l.as_user("u_alex", "GET", &format!("/threads/{id}"), None)
            .await,
        200,
    );
    assert_eq!(one["id"], id.as_str());
    let unread = expect(&l.as_user("u_chris", "GET", "/unread", None).await, 200);
    assert_eq!(unread, json!({"unread_threads": 0}));

    // Another tenant: the thread does not exist for them.
    problem(
        &l.as_user("u_bea", "GET", &format!("/threads/{id}"), None)
            .await,
        404,
        "not_found",
    );
    problem(
        &l.as_user("u_max", "GET", "/catalog?account_id=acc_acme", None)
            .await,
        404,
        "not_found",
    );

    // Routing.
    problem(
        &l.as_user("u_chris", "GET", "/nope", None).await,
        404,
        "not_found",
    );
    // `/` is the page's (tests/it/page.rs); other unknown paths are not found.
    problem(
        &l.call("GET", "/threads/thr_1/nope", None, None).await,
        404,
        "not_found",
    );
    let r = l.as_user("u_chris", "DELETE", "/threads", None).await;
    problem(&r, 405, "method_not_allowed");
    assert!(r.header("allow").contains("POST"));

    l.gateway.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_are_401_before_any_function() {
    let l = local().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let good = token("u_chris");
    let payload = good.split('.').nth(1).unwrap_or_default().to_owned();
    let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    // As minted (iss, aud, exp), then with one thing changed.
    let (issuer, audience) = jwt::expected();
    let mut minted = claims_of("u_chris");
    minted.insert("iss".into(), json!(issuer));
    minted.insert("aud".into(), json!(audience));
    minted.insert("exp".into(), json!(now + 3600));
    let with = |claim: &str, value: Value| {
        let mut c = minted.clone();
        c.insert(claim.into(), value);
        jwt::sign(SECRET.as_bytes(), &c)
    };
    let without = |claim: &str| {
        let mut c = minted.clone();
        c.remove(claim);
        jwt::sign(SECRET.as_bytes(), &c)
    };
    let not_yet = with("nbf", json!(now + 600));

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("not Bearer", Some(format!("Basic {good}"))),
        ("no scheme", Some(good.clone())),
        ("garbage", Some("Bearer garbage".into())),
        ("empty", Some("Bearer ".into())),
        (
            "wrong signature",
            Some(format!(
                "Bearer {}",
                jwt::mint(b"not-the-secret", &claims_of("u_chris"), 3600)
            )),
        ),
        ("alg none", Some(format!("Bearer {none}.{payload}."))),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                jwt::mint(SECRET.as_bytes(), &claims_of("u_chris"), -60)
            )),
        ),
        ("not yet valid", Some(format!("Bearer {not_yet}"))),
        ("no exp", Some(format!("Bearer {}", without("exp")))),
        (
            "wrong iss",
            Some(format!(
                "Bearer {}",
                with("iss", json!("https://elsewhere.example"))
            )),
        ),
        ("no iss", Some(format!("Bearer {}", without("iss")))),
        (
            "wrong aud",
            Some(format!("Bearer {}", with("aud", json!("another-client")))),
        ),
        ("no aud", Some(format!("Bearer {}", without("aud")))),
    ];
    for (what, auth) in &cases {
        for (method, path) in [
            ("GET", "/threads"),
            ("POST", "/threads"),
            ("GET", "/catalog"),
            ("GET", "/threads/thr_doesnotexist"),
        ] {
            let r = l
                .call(
                    method,
                    path,
                    auth.as_deref(),
                    Some(json!({"scope": {"kind": "general"}})),
                )
                .await;
            assert_eq!(r.status, 401, "{what} on {method} {path}: {}", r.text());
            problem(&r, 401, "unauthenticated");
            assert_eq!(r.header("www-authenticate"), "Bearer");
        }
    }
    // The control: the claims they were made from are accepted.
    let control = format!("Bearer {}", jwt::sign(SECRET.as_bytes(), &minted));
    expect(&l.call("GET", "/threads", Some(&control), None).await, 200);
    // Nothing ran: no thread was opened by any of those POSTs.
    let list = expect(&l.as_user("u_chris", "GET", "/threads", None).await, 200);
    assert_eq!(list["threads"], json!([]));

    l.gateway.shutdown().await;
}

#[tokio::test]
async fn the_gateway_refuses_the_public_secret_off_loopback() {
    let aws = support::aws().await;
    let mut config = Config::new(aws, liaison::provision::Names::with_prefix("never-made"));
    config.addr = "0.0.0.0:0".parse().expect("an address");
    match Gateway::start(config).await {
        Err(liaison_local::StartError::PublicWithDefaultSecret(_)) => {}
        Err(e) => panic!("wrong refusal: {e}"),
        Ok(_) => panic!("it must not serve the public dev secret off loopback"),
    }
}

#[tokio::test]
async fn the_invoke_api_runs_sync_directory() {
    let l = local().await;
    let invoke = |payload: Vec<u8>, function: &'static str| {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            l.gateway.url()
        );
        let http = l.http.clone();
        async move {
            http.send("POST", &url, &[], Some(payload))
                .await
                .expect("the Invoke API answers")
        }
    };

    // The platform adds Bea's colleague Ben to Beta.
    let mut dir = demo::directory();
    dir["accounts"][1]["users"]
        .as_array_mut()
        .expect("users")
        .push(json!({"id": "u_ben", "email": "ben@beta.example", "name": "Ben"}));
    let r = invoke(dir.to_string().into_bytes(), "sync-directory").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-function-error"), "");
    assert_eq!(
        r.json(),
        json!({"accounts": 2, "users": 4, "managers": 2, "clients": 3, "campaigns": 3, "creatives": 3})
    );
    let ben = jwt::mint(
        SECRET.as_bytes(),
        &demo::Person {
            id: "u_ben".into(),
            name: "Ben".into(),
            email: "ben@beta.example".into(),
            account: Some("acc_beta".into()),
        }
        .claims(),
        600,
    );
    let catalog = expect(
        &l.call("GET", "/catalog", Some(&format!("Bearer {ben}")), None)
            .await,
        200,
    );
    assert_eq!(catalog["account"]["id"], "acc_beta");

    // A function error is a 200 with X-Amz-Function-Error, as Lambda does.
    let r = invoke(
        br#"{"accounts": [{"id": "acc_x"}]}"#.to_vec(),
        "sync-directory",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), "Unhandled");
    let err = r.json();
    assert_eq!(err["errorType"], "ValidationFailed");
    assert!(
        err["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("accounts[0].name"),
        "{err}"
    );

    let r = invoke(b"{not json".to_vec(), "sync-directory").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("x-amzn-errortype"),
        "InvalidRequestContentException"
    );
    let r = invoke(b"{}".to_vec(), "no-such-function").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-amzn-errortype"), "ResourceNotFoundException");

    // HTTP functions take API Gateway events directly, as on Lambda.
    let event = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/get-catalog.json"),
    )
    .expect("events/get-catalog.json");
    let r = invoke(event, "get-catalog").await;
    assert_eq!(r.status, 200);
    let answer = r.json();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("a JSON body");
    assert_eq!(body["account"]["id"], "acc_acme");

    l.gateway.shutdown().await;
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_queue_mapping_honours_batch_item_failures() {
    use aws_sdk_sqs::types::QueueAttributeName as Q;
    let aws = support::aws().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let name = format!("q{}", ulid::Ulid::new().to_string().to_lowercase());
    // A short visibility timeout, so the failed message comes back quickly.
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(Q::VisibilityTimeout, "1")
        .send()
        .await
        .expect("a queue")
        .queue_url
        .expect("its url");
    for body in ["ok", "fail-once"] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .expect("sent");
    }

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (stopper, shutdown) = liaison_local::stopper();
    let log = seen.clone();
    let task = liaison_local::queue::start(
        sqs.clone(),
        url.clone(),
        liaison_local::queue::QueueOptions {
            idle_interval: Duration::from_millis(200),
            ..Default::default()
        },
        move |event: aws_lambda_events::event::sqs::SqsEvent| {
            let log = log.clone();
            async move {
                let mut failures = Vec::new();
                for m in &event.records {
                    let body = m.body.clone().unwrap_or_default();
                    let first = {
                        let mut log = log.lock().map_err(|e| e.to_string())?;
                        let first = !log.contains(&body);
                        log.push(body.clone());
                        first
                    };
                    assert_eq!(m.event_source.as_deref(), Some("aws:sqs"));
                    if body == "fail-once" && first {
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = m.message_id.clone().unwrap_or_default();
                        failures.push(failure);
                    }
                }
                let mut answer = SqsBatchResponse::default();
                answer.batch_item_failures = failures;
                Ok::<_, String>(answer)
            }
        },
        shutdown,
    )
    .await
    .expect("the mapping starts");

    let count = |body: &'static str| {
        let seen = seen.clone();
        move || {
            let n = seen
                .lock()
                .map(|s| s.iter().filter(|b| *b == body).count())
                .unwrap_or(0);
            async move { n }
        }
    };
    let fails = count("fail-once");
    eventually(
        "the failed message comes back",
        Duration::from_secs(20),
        || {
            let f = fails();
            async move { f.await >= 2 }
        },
    )
    .await;
    // Longer than the visibility timeout: a message left undeleted would be back.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count("ok")().await, 1, "the succeeded message was deleted");
    assert_eq!(count("fail-once")().await, 2, "deleted after it succeeded");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(Q::All)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    for a in [
        Q::ApproximateNumberOfMessages,
        Q::ApproximateNumberOfMessagesNotVisible,
    ] {
        assert_eq!(attrs.get(&a).map(String::as_str), Some("0"), "{a:?}");
    }
    stopper.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

#[tokio::test]
async fn the_stream_mapping_delivers_inserted_items() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let table = support::StreamTable::new("s").await;
    let put = |sk: &str| {
        table
            .put("THREAD#thr_e2e", sk)
            .item("body", A::S(format!("body of {sk}")))
            .item("urgent", A::Bool(false))
            .send()
    };
    // Written before the mapping starts: LATEST skips it.
    put("MSG#0").await.expect("put");

    let events: Arc<Mutex<Vec<EventRecord>>> = Arc::default();
    let (stopper, shutdown) = liaison_local::stopper();
    let log = events.clone();
    let sk_of = |r: &EventRecord| support::record_key(r, "sk");
    let task = liaison_local::stream::start(
        aws_sdk_dynamodbstreams::Client::new(&table.aws),
        table.stream_arn.clone(),
        liaison_local::stream::StreamOptions {
            poll_interval: Duration::from_millis(100),
            ..Default::default()
        },
        move |event: aws_lambda_events::event::dynamodb::Event| {
            let log = log.clone();
            async move {
                let mut answer = DynamoDbEventResponse::default();
                let mut log = log.lock().map_err(|e| e.to_string())?;
                for r in &event.records {
                    let sk = sk_of(r);
                    let first = !log.iter().any(|e| sk_of(e) == sk);
                    log.push(r.clone());
                    // MSG#2 fails once: it and what follows it come again.
                    if sk == "MSG#2" && first {
                        let mut failure = DynamoDbBatchItemFailure::default();
                        failure.item_identifier = r.change.sequence_number.clone();
                        answer.batch_item_failures.push(failure);
                        break;
                    }
                }
                Ok::<_, String>(answer)
            }
        },
        shutdown,
    )
    .await
    .expect("the mapping starts");

    for sk in ["MSG#1", "MSG#2", "MSG#3"] {
        put(sk).await.expect("put");
    }
    let delivered = |events: &Arc<Mutex<Vec<EventRecord>>>| -> Vec<String> {
        events
            .lock()
            .map(|e| e.iter().map(sk_of).collect())
            .unwrap_or_default()
    };
    eventually("the inserts are delivered", Duration::from_secs(20), || {
        let got = delivered(&events);
        async move { got.iter().filter(|s| *s == "MSG#3").count() >= 1 }
    })
    .await;
    let got = delivered(&events);
    assert!(
        !got.contains(&"MSG#0".to_owned()),
        "LATEST starts after it: {got:?}"
    );
    assert_eq!(got.iter().filter(|s| *s == "MSG#1").count(), 1, "{got:?}");
    assert_eq!(
        got.iter().filter(|s| *s == "MSG#2").count(),
        2,
        "retried: {got:?}"
    );
    assert_eq!(got.iter().filter(|s| *s == "MSG#3").count(), 1, "{got:?}");

    let first = events.lock().map(|e| e[0].clone()).unwrap_or_default();
    use serde_dynamo::AttributeValue as D;
    assert_eq!(first.event_name, "INSERT");
    assert_eq!(first.event_source.as_deref(), Some("aws:dynamodb"));
    assert_eq!(
        first.event_source_arn.as_deref(),
        Some(table.stream_arn.as_str())
    );
    let image = &first.change.new_image;
    assert_eq!(image.get("body"), Some(&D::S("body of MSG#1".into())));
    assert_eq!(image.get("urgent"), Some(&D::Bool(false)));
    assert_eq!(
        first.change.keys.get("pk"),
        Some(&D::S("THREAD#thr_e2e".into()))
    );
    assert!(first.change.sequence_number.is_some());

    stopper.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

#[tokio::test]
async fn a_message_sent_over_http_arrives_by_email_through_stream_and_queue() {
    let mut config = support::gateway_config("p").await;
    config.notify_delay = Duration::from_secs(1);
    let from = config.names.from_email.clone();
    let table = config.names.table.clone();
    let local = Local::start(config).await;
    let opened = local
        .as_user(
            "u_chris",
            "POST",
            "/threads",
            Some(json!({"scope": {"kind": "general"}})),
        )
        .await;
    assert_eq!(opened.status, 201);
    let thread: Value = serde_json::from_slice(&opened.body).expect("JSON");
    let t = thread["id"].as_str().expect("an id");
    let started = Instant::now();
    let sent = local
        .as_user(
            "u_chris",
            "POST",
            &format!("/threads/{t}/messages"),
            Some(json!({"body": "Pipeline check: softer opening please", "client_message_id": "e2e-1"})),
        )
        .await;
    assert_eq!(sent.status, 201);

    // Stream poller -> relay-messages -> queue (1 s delay) -> queue poller
    // -> notify-reply -> SES.
    // The notifier completes a record per (recipient, message) once SES
    // took the e-mail: watch for it (cheap), then read what SES recorded.
    let aws = support::aws().await;
    let db = aws_sdk_dynamodb::Client::new(&aws);
    loop {
        let records = db
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S("NOTIFY#u_dana".into()),
            )
            .send()
            .await
            .expect("query");
        let sent = records.items().iter().any(|i| {
            matches!(i.get("notify_state"), Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) if s == "sent")
        });
        if sent || started.elapsed() > Duration::from_secs(40) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    let mails = crate::notify::sent_from(&from).await;
    assert_eq!(mails.len(), 1, "one e-mail, to the manager");
    assert_eq!(mails[0].to, "dana@agency.example");
    assert!(mails[0]
        .text
        .contains("Pipeline check: softer opening please"));
    assert!(
        elapsed < Duration::from_secs(15),
        "arrived after {elapsed:?}"
    );
    // Nothing more arrives (no duplicates from the pollers).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(crate::notify::sent_from(&from).await.len(), 1);
}
