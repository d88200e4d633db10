//! Faults around one notification job with three recipients: SES refusing
//! one of them (for good, for a while, with a code nobody classified, or
//! because of the sender), an unclear SES answer, the record of an accepted
//! e-mail failing once or for good, a delivery that died holding a claim,
//! and an invocation cut off between SES accepting and that record. Each
//! ends with every recipient e-mailed exactly once (twice only in the
//! documented window) or recorded as refused, and nothing in the
//! dead-letter queue.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sesv2::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sesv2::error::BoxError;
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::notify::{deliver, record, sent, to_count};
use crate::support::*;

const CHRIS: &str = "chris@acme.example";
const ALEX: &str = "alex@acme.example";
const SAM: &str = "sam@acme.example";

/// The demo directory with a third client user at Acme: a reply from Dana
/// goes to Chris, Alex and Sam, in that (directory) order.
async fn three_recipients() -> (World, String) {
    let w = World::empty().await;
    let mut dir = directory();
    dir["accounts"][0]["users"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "u_sam", "email": SAM, "name": "Sam"}));
    w.sync(dir).await;
    let t = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (w, t)
}

/// Makes SES refuse `SendEmail` for one recipient (matched on the raw
/// message's `To:` header) with an error code and status, while armed. The
/// refused request never reaches SES: it is turned into a harmless read,
/// and its response replaced by the error SES would answer.
#[derive(Debug, Clone)]
struct RefuseSendTo {
    address: &'static str,
    code: &'static str,
    status: u16,
    /// SES's error text.
    message: String,
    armed: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl RefuseSendTo {
    fn new(address: &'static str, code: &'static str, status: u16) -> Self {
        Self {
            address,
            code,
            status,
            message: "refused by the test".to_owned(),
            armed: Arc::new(AtomicBool::new(true)),
            refused: Arc::default(),
        }
    }
}

#[derive(Debug, Clone)]
struct Refused;

impl Storable for Refused {
    type Storer = StoreReplace<Self>;
}

impl Intercept for RefuseSendTo {
    fn name(&self) -> &'static str {
        "RefuseSendTo"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        const SEND: &str = "/v2/email/outbound-emails";
        let request = context.request_mut();
        if !self.armed.load(SeqCst) || !request.uri().ends_with(SEND) {
            return Ok(());
        }
        let Some(body) = request.body().bytes() else {
            return Ok(());
        };
        let body: Value = serde_json::from_slice(body)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body["Content"]["Raw"]["Data"].as_str().unwrap_or_default())?;
        let raw = String::from_utf8_lossy(&raw);
        let to_them = raw
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(self.address));
        if !to_them {
            return Ok(());
        }
        let base = request.uri().trim_end_matches(SEND).to_owned();
        request.set_method("GET")?;
        request.set_uri(format!("{base}/v2/email/contact-lists"))?;
        *request.body_mut() = SdkBody::empty();
        request.headers_mut().remove("content-length");
        request.headers_mut().remove("content-type");
        cfg.interceptor_state().store_put(Refused);
        self.refused.fetch_add(1, SeqCst);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Refused>().is_none() {
            return Ok(());
        }
        let mut response = HttpResponse::new(
            StatusCode::try_from(self.status)?,
            SdkBody::from(json!({ "message": self.message }).to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/json");
        response.headers_mut().insert("x-amzn-errortype", self.code);
        *context.response_mut() = response;
        Ok(())
    }
}

/// Makes DynamoDB refuse the write that records a settled notification
/// (the completion), `times` times, telling `refusing` each time. Nothing
/// reaches the table.
#[derive(Debug, Clone)]
struct RefuseCompletion {
    remaining: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    refusing: Arc<tokio::sync::Notify>,
}

impl RefuseCompletion {
    fn new(times: usize) -> Self {
        Self {
            remaining: Arc::new(AtomicUsize::new(times)),
            refused: Arc::default(),
            refusing: Arc::default(),
        }
    }
}

impl Intercept for RefuseCompletion {
    fn name(&self) -> &'static str {
        "RefuseCompletion"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let transaction = target_of(request) == "TransactWriteItems";
        let completion = request
            .body()
            .bytes()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("notify_state = :state"));
        if transaction
            && completion
            && self
                .remaining
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            self.refused.fetch_add(1, SeqCst);
            self.refusing.notify_one();
            return Err("completion refused by the test".into());
        }
        Ok(())
    }
}

/// The notifier of `w`, with its SES and/or DynamoDB clients intercepted.
fn app_with(
    w: &World,
    ses: Option<RefuseSendTo>,
    db: Option<RefuseCompletion>,
) -> notify_reply::App {
    // One attempt per call, as notify-reply's main.rs (not its timeouts:
    // moto under a parallel suite is slow).
    let mut ses_conf = aws_sdk_sesv2::config::Builder::from(&w.aws).retry_config(
        aws_sdk_sesv2::config::retry::RetryConfig::standard()
            .with_max_attempts(notify_reply::SES_ATTEMPTS),
    );
    if let Some(i) = ses {
        ses_conf = ses_conf.interceptor(i);
    }
    let store = match db {
        Some(i) => liaison::store::Store::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&w.aws)
                    .interceptor(i)
                    .build(),
            ),
            &w.names.table,
        ),
        None => w.store.clone(),
    };
    notify_reply::App {
        notifier: liaison::notify::Notifier {
            store,
            mailer: liaison::notify::Mailer {
                ses: aws_sdk_sesv2::Client::from_conf(ses_conf.build()),
                from: w.names.from_email.clone(),
                app_url: APP_URL.to_owned(),
                api_url: API_URL.to_owned(),
            },
            reply: w.functions.notify_reply.notifier.reply.clone(),
        },
        sqs: liaison::aws::LazyClient::ready(aws_sdk_sqs::Client::new(&w.aws)),
        dead_letter_queue_url: w.dead_letter_queue_url.clone(),
    }
}

async fn deliver_with(app: &notify_reply::App, message: &Value, id: &str) -> Vec<String> {
    let mut event = SqsEvent::default();
    event.records = vec![record(message, id)];
    notify_reply::handle(app, event)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// `(notify_state, detail)` of each of `user`'s notification records.
async fn records_of(w: &World, user: &str) -> Vec<(String, String)> {
    w.partition(&format!("NOTIFY#{user}"))
        .await
        .iter()
        .map(|r| {
            let state = r["notify_state"]["S"].as_str().unwrap_or("").to_owned();
            let detail = ["ses_message_id", "ses_error"]
                .iter()
                .find_map(|k| r[*k]["S"].as_str())
                .unwrap_or("")
                .to_owned();
            (state, detail)
        })
        .collect()
}

async fn dead_letters(w: &World) -> usize {
    aws_sdk_sqs::Client::new(&w.aws)
        .receive_message()
        .queue_url(&w.dead_letter_queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages()
        .len()
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(a, n)| (a.to_string(), *n)).collect()
}

/// Lambda's JSON log lines (as `lambda_runtime`'s subscriber writes them),
/// captured for this test's thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn ses_refusing_one_of_three_for_good_records_it_and_the_others_get_theirs() {
    use lambda_http::tracing::subscriber::util::SubscriberInitExt as _;
    let logs = Logs::default();
    let writer = logs.clone();
    // The test runtime is single-threaded: everything below logs here.
    let _guard = lambda_http::tracing::subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .with_max_level(lambda_http::tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .set_default();

    let (w, t) = three_recipients().await;
    // Chris comes first in directory order: before the fix nobody after
    // them was ever e-mailed.
    let refuse = RefuseSendTo::new(CHRIS, "MessageRejected", 400);
    let app = app_with(&w, Some(refuse.clone()), None);
    let m = w.say(&dana(), &t, "first of two").await;
    assert!(
        deliver_with(&app, &m, "r1").await.is_empty(),
        "recorded, not retried"
    );
    assert_eq!(
        refuse.refused.load(SeqCst),
        1,
        "SES was asked once for Chris"
    );
    assert_eq!(to_count(&sent(&w).await), counts(&[(ALEX, 1), (SAM, 1)]));
    assert_eq!(
        records_of(&w, "u_chris").await,
        vec![("rejected".to_owned(), "MessageRejected".to_owned())]
    );
    for user in ["u_alex", "u_sam"] {
        let records = records_of(&w, user).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, "sent");
        assert!(!records[0].1.is_empty(), "SES's message id is kept");
    }

    // Redelivered, and a later message: Chris's refusal is not retried,
    // the new message is tried once for them, the others get it.
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    let m2 = w.say(&dana(), &t, "second of two").await;
    assert!(deliver_with(&app, &m2, "r2").await.is_empty());
    assert_eq!(refuse.refused.load(SeqCst), 2);
    let mails = sent(&w).await;
    assert_eq!(to_count(&mails), counts(&[(ALEX, 2), (SAM, 2)]));
    assert!(mails
        .iter()
        .filter(|m| m.text.contains("second of two"))
        .all(|m| !m.text.contains("first of two")));
    assert_eq!(records_of(&w, "u_chris").await.len(), 2);
    assert_eq!(dead_letters(&w).await, 0);

    // Visible: one log line per refusal, with the user id and SES's code,
    // in the field the template's metric filter counts; no address
    // anywhere in the logs.
    let lines = logs.lines();
    let refusals: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| {
            l["fields"][liaison::notify::REJECTED_LOG_FIELD] == liaison::notify::REJECTED_LOG_VALUE
        })
        .collect();
    assert_eq!(refusals.len(), 2, "{lines:#?}");
    assert!(
        refusals
            .iter()
            .all(|l| l["fields"]["recipient_id"] == "u_chris"
                && l["fields"]["ses_error"] == "MessageRejected"
                && l["level"] == "ERROR"),
        "at ERROR, so LogLevel=ERROR keeps them for the metric filter"
    );
    assert!(
        lines.iter().all(|l| !l.contains("acme.example")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn ses_failing_unclearly_keeps_the_claim_and_the_retry_after_the_lease_sends_once() {
    let (w, t) = three_recipients().await;
    // Alex, in the middle, gets a 503: SES may or may not have sent it.
    let refuse = RefuseSendTo::new(ALEX, "ServiceUnavailable", 503);
    let app = app_with(&w, Some(refuse.clone()), None);
    let m = w.say(&dana(), &t, "through an outage").await;
    assert_eq!(deliver_with(&app, &m, "r1").await, vec!["r1".to_owned()]);
    assert_eq!(
        refuse.refused.load(SeqCst),
        1,
        "SES asked once, not retried"
    );
    // An outage concerns everyone: the job stopped at Alex, Chris is done.
    assert_eq!(to_count(&sent(&w).await), counts(&[(CHRIS, 1)]));
    assert_eq!(
        records_of(&w, "u_alex").await,
        vec![("sending".to_owned(), String::new())],
        "the claim is kept: SES may have accepted"
    );

    // Delivered again within the lease (SES back): Alex is not e-mailed,
    // Sam is, and the job is not done yet.
    refuse.armed.store(false, SeqCst);
    assert_eq!(deliver_with(&app, &m, "r1").await, vec!["r1".to_owned()]);
    assert_eq!(to_count(&sent(&w).await), counts(&[(CHRIS, 1), (SAM, 1)]));

    // SQS redelivers after its visibility timeout, when the lease has run
    // out: Alex gets it once (twice only had SES accepted the first).
    expire_leases(&w, "u_alex").await;
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    each_emailed_once(&w).await;
    assert_eq!(dead_letters(&w).await, 0);
}

#[tokio::test]
async fn ses_throttling_frees_the_claim_and_the_retry_sends_at_once() {
    let (w, t) = three_recipients().await;
    // A 429: SES certainly did not send it.
    let refuse = RefuseSendTo::new(ALEX, "TooManyRequestsException", 429);
    let app = app_with(&w, Some(refuse.clone()), None);
    let m = w.say(&dana(), &t, "throttled").await;
    assert_eq!(deliver_with(&app, &m, "r1").await, vec!["r1".to_owned()]);
    assert_eq!(refuse.refused.load(SeqCst), 1);
    assert!(records_of(&w, "u_alex").await.is_empty(), "claim released");
    refuse.armed.store(false, SeqCst);
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    each_emailed_once(&w).await;
    assert_eq!(dead_letters(&w).await, 0);
}

#[tokio::test]
async fn a_refusal_naming_the_sender_fails_the_job_instead_of_rejecting_the_recipient() {
    let (w, t) = three_recipients().await;
    // SES's sandbox answer for an unverified From address: every e-mail of
    // every job would get it; it says nothing about Chris.
    let mut refuse = RefuseSendTo::new(CHRIS, "MessageRejected", 400);
    refuse.message = format!(
        "Email address is not verified. The following identities failed the check in region EU-WEST-1: {}",
        w.names.from_email
    );
    let app = app_with(&w, Some(refuse.clone()), None);
    let m = w.say(&dana(), &t, "from an unverified sender").await;
    assert_eq!(deliver_with(&app, &m, "r1").await, vec!["r1".to_owned()]);
    assert!(
        records_of(&w, "u_chris").await.is_empty(),
        "not recorded as rejected; claim freed"
    );
    assert!(
        sent(&w).await.is_empty(),
        "the job stopped: it concerns everyone"
    );

    // The sender is fixed: the retry e-mails everyone once.
    refuse.armed.store(false, SeqCst);
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    each_emailed_once(&w).await;
}

#[tokio::test]
async fn a_delivery_that_died_holding_a_claim_before_ses_is_retried_not_lost() {
    let (w, t) = three_recipients().await;
    let m = w.say(&dana(), &t, "claimed, then the sender died").await;
    // Another delivery of this job claimed Chris's e-mail and died before
    // calling SES (its claim is live for 120 s).
    let chris = liaison::domain::UserId::parse("u_chris").unwrap();
    let id = liaison::domain::MessageId::parse(m["id"].as_str().unwrap()).unwrap();
    assert!(w.store.claim_notifications(&chris, &[id]).await.unwrap());

    // This delivery leaves Chris to it, but must not acknowledge the job:
    // nothing else would ever bring Chris's e-mail back.
    assert_eq!(
        deliver(&w, vec![record(&m, "r1")]).await,
        vec!["r1".to_owned()]
    );
    assert_eq!(to_count(&sent(&w).await), counts(&[(ALEX, 1), (SAM, 1)]));

    // SQS redelivers after its visibility timeout (longer than the lease).
    expire_leases(&w, "u_chris").await;
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    each_emailed_once(&w).await;
    assert_eq!(dead_letters(&w).await, 0);
}

/// Alex, Chris and Sam each e-mailed exactly once.
async fn each_emailed_once(w: &World) {
    assert_eq!(
        to_count(&sent(w).await),
        counts(&[(ALEX, 1), (CHRIS, 1), (SAM, 1)])
    );
}

/// Runs `user`'s live claims out, as 120 s would (SQS's 180 s visibility
/// timeout means a redelivery always comes after that).
async fn expire_leases(w: &World, user: &str) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let pk = format!("NOTIFY#{user}");
    for r in w.partition(&pk).await {
        if r["notify_state"]["S"] != "sending" {
            continue;
        }
        let sk = r["sk"]["S"].as_str().unwrap().to_owned();
        w.store
            .client()
            .update_item()
            .table_name(&w.names.table)
            .key("pk", A::S(pk.clone()))
            .key("sk", A::S(sk))
            .update_expression("SET lease_until = :past")
            .expression_attribute_values(":past", A::N("0".into()))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_unclassified_refusal_of_one_recipient_holds_up_only_them() {
    let (w, t) = three_recipients().await;
    // A 4xx code nobody classified: retried, but for Chris alone.
    let refuse = RefuseSendTo::new(CHRIS, "SomethingNewException", 400);
    let app = app_with(&w, Some(refuse.clone()), None);
    let m = w.say(&dana(), &t, "hold up only Chris").await;
    assert_eq!(deliver_with(&app, &m, "r1").await, vec!["r1".to_owned()]);
    assert_eq!(to_count(&sent(&w).await), counts(&[(ALEX, 1), (SAM, 1)]));

    refuse.armed.store(false, SeqCst);
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    each_emailed_once(&w).await;
    assert_eq!(dead_letters(&w).await, 0);
}

#[tokio::test]
async fn a_record_write_failing_once_after_ses_accepted_is_retried_and_sends_once() {
    let (w, t) = three_recipients().await;
    let refuse = RefuseCompletion::new(1);
    let app = app_with(&w, None, Some(refuse.clone()));
    let m = w.say(&dana(), &t, "recorded on the second try").await;
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    assert_eq!(refuse.refused.load(SeqCst), 1);
    assert!(deliver_with(&app, &m, "r1").await.is_empty());
    each_emailed_once(&w).await;
    for user in ["u_chris", "u_alex", "u_sam"] {
        let records = records_of(&w, user).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, "sent");
    }
    assert_eq!(dead_letters(&w).await, 0);
}

#[tokio::test]
async fn an_invocation_cut_off_after_ses_accepted_is_not_sent_again_within_the_lease() {
    let (w, t) = three_recipients().await;
    // Chris's e-mail is accepted, then the record of it never lands and the
    // invocation dies (a Lambda timeout): the handler's future is dropped
    // while it retries the write.
    let refuse = RefuseCompletion::new(usize::MAX);
    let app = app_with(&w, None, Some(refuse.clone()));
    let m = w.say(&dana(), &t, "cut off").await;
    tokio::select! {
        biased;
        _ = refuse.refusing.notified() => {}
        _ = deliver_with(&app, &m, "r1") => panic!("the job should not finish"),
    }
    assert_eq!(to_count(&sent(&w).await), counts(&[(CHRIS, 1)]));
    assert_eq!(
        records_of(&w, "u_chris").await,
        vec![("sending".to_owned(), String::new())],
        "the claim is held, not released"
    );

    // Delivered again within the lease: Chris is not e-mailed again, the
    // others are, and the job is retried (Chris's claim is still live).
    refuse.remaining.store(0, SeqCst);
    assert_eq!(
        deliver(&w, vec![record(&m, "r1")]).await,
        vec!["r1".to_owned()]
    );
    each_emailed_once(&w).await;
    assert_eq!(dead_letters(&w).await, 0);

    // The window that is left (see `Notifier::notify_person`): once the
    // lease has run out, a delivery takes the claim over and Chris gets
    // this message a second time — once, not more.
    expire_leases(&w, "u_chris").await;
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    assert_eq!(
        to_count(&sent(&w).await),
        counts(&[(ALEX, 1), (CHRIS, 2), (SAM, 1)])
    );
}

#[tokio::test]
async fn near_the_deadline_no_email_is_started_and_the_retry_sends_them_all() {
    let (w, t) = three_recipients().await;
    let m = w.say(&dana(), &t, "after the deadline").await;
    let mut event = SqsEvent::default();
    event.records = vec![record(&m, "r1")];
    let deadline = std::time::Instant::now() + liaison::notify::TIME_FOR_ONE_RECIPIENT / 2;
    let response =
        notify_reply::handle_until(&w.functions.notify_reply, event, Some(deadline)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(sent(&w).await.is_empty());
    for user in ["u_chris", "u_alex", "u_sam"] {
        assert!(records_of(&w, user).await.is_empty(), "nothing claimed");
    }
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    each_emailed_once(&w).await;
}

/// The template counts the log lines the notifier writes for a refused
/// recipient (the field the test above finds) and alarms on them.
#[test]
fn the_template_counts_refused_recipients_and_alarms_on_them() {
    use serde_yaml::Value as Yaml;
    fn untag(v: &Yaml) -> &Yaml {
        match v {
            Yaml::Tagged(t) => untag(&t.value),
            other => other,
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let template: Yaml = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let filter = resources
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::Logs::MetricFilter")
                && untag(&r["Properties"]["LogGroupName"]).as_str() == Some("NotifyReplyLogs")
        })
        .expect("a metric filter on notify-reply's log group");
    assert_eq!(
        filter["Properties"]["FilterPattern"].as_str(),
        Some(
            format!(
                "{{ $.fields.{} = \"{}\" }}",
                liaison::notify::REJECTED_LOG_FIELD,
                liaison::notify::REJECTED_LOG_VALUE
            )
            .as_str()
        )
    );
    let metric = &filter["Properties"]["MetricTransformations"][0];
    let alarm = resources
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && r["Properties"]["MetricName"] == metric["MetricName"]
                && untag(&r["Properties"]["Namespace"]) == untag(&metric["MetricNamespace"])
        })
        .expect("an alarm on the refused-recipient metric");
    assert_eq!(alarm["Properties"]["Threshold"].as_u64(), Some(0));
    assert!(!alarm["Properties"]["AlarmActions"]
        .as_sequence()
        .unwrap()
        .is_empty());
}
