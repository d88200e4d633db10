//! Faults between the table and the queue, measured end to end: the
//! table's real stream through the local stream mapping into
//! `relay-messages`, the real queue through the local queue mapping into
//! `notify-reply`, and SES (moto's record of sent mail). Each ends with
//! every message stored once, every recipient e-mailed once per message,
//! and nothing in the queue or its dead-letter queue.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_sqs::config as sqs_config;
use liaison::notify::{Mailer, Notifier};
use serde_dynamo::AttributeValue;
use serde_json::json;

use crate::support::*;

const DANA: &str = "dana@agency.example";
const CHRIS: &str = "chris@acme.example";
const ALEX: &str = "alex@acme.example";

/// Fails SendMessageBatch while `refusing` is set, as an SQS that refuses
/// the relay's sends would (counted in `refused`), at most
/// [`MAX_REFUSALS`] times: more than the old mapping's 3 retries, fewer than
/// the 10 the mapping (and the template) allow, however slowly a loaded
/// machine runs the test.
const MAX_REFUSALS: usize = 6;

#[derive(Debug, Clone, Default)]
struct RefuseSends {
    refusing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl sqs_config::Intercept for RefuseSends {
    fn name(&self) -> &'static str {
        "RefuseSends"
    }

    fn read_before_transmit(
        &self,
        context: &sqs_config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &sqs_config::RuntimeComponents,
        _cfg: &mut sqs_config::ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        if target_of(context.request()) == "SendMessageBatch"
            && self.refusing.load(Ordering::SeqCst)
            && self
                .refused
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < MAX_REFUSALS).then_some(n + 1)
                })
                .is_ok()
        {
            return Err("the queue refuses sends (test fault)".into());
        }
        Ok(())
    }
}

/// The world's two mappings, running: stream → `relay`, queue → notifier.
struct Mappings {
    stopper: liaison_local::Stopper,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Mappings {
    async fn start(w: &World, relay: relay_messages::App) -> Mappings {
        let (stopper, shutdown) = liaison_local::stopper();
        let relay = Arc::new(relay);
        let stream = liaison_local::stream::start(
            aws_sdk_dynamodbstreams::Client::new(&w.aws),
            stream_arn(w).await,
            liaison_local::stream::StreamOptions {
                starting_position: liaison_local::stream::StartingPosition::TrimHorizon,
                poll_interval: Duration::from_millis(100),
                ..Default::default()
            },
            move |event: Event| {
                let relay = relay.clone();
                async move { Ok::<_, String>(relay_messages::handle(&relay, event).await) }
            },
            shutdown.clone(),
        )
        .await
        .expect("the stream mapping starts");
        let queue = queue_mapping(w, shutdown).await;
        Mappings {
            stopper,
            tasks: vec![stream, queue],
        }
    }

    async fn stop(self) {
        self.stopper.stop();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The world's table's stream.
async fn stream_arn(w: &World) -> String {
    aws_sdk_dynamodb::Client::new(&w.aws)
        .describe_table()
        .table_name(&w.names.table)
        .send()
        .await
        .expect("the table")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("a stream")
}

/// The queue → notifier mapping, running until `shutdown`.
async fn queue_mapping(
    w: &World,
    shutdown: liaison_local::Shutdown,
) -> tokio::task::JoinHandle<()> {
    let notify = Arc::new(notifier(w));
    liaison_local::queue::start(
        aws_sdk_sqs::Client::new(&w.aws),
        w.queue_url.clone(),
        liaison_local::queue::QueueOptions {
            idle_interval: Duration::from_millis(200),
            ..Default::default()
        },
        move |event| {
            let notify = notify.clone();
            async move { Ok::<_, String>(notify_reply::handle(&notify, event).await) }
        },
        shutdown,
    )
    .await
    .expect("the queue mapping starts")
}

fn notifier(w: &World) -> notify_reply::App {
    notify_reply::App {
        notifier: Notifier {
            store: w.store.clone(),
            mailer: Mailer {
                ses: aws_sdk_sesv2::Client::new(&w.aws),
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

fn mailbox(w: &World) -> crate::pipeline::Mailbox<'_> {
    crate::pipeline::Mailbox {
        aws: &w.aws,
        from: &w.names.from_email,
        queue_url: &w.queue_url,
        dead_letter_queue_url: &w.dead_letter_queue_url,
    }
}

/// The bodies of the messages stored in `thread`.
async fn stored_bodies(w: &World, thread: &str) -> Vec<String> {
    w.partition(&format!("THREAD#{thread}"))
        .await
        .into_iter()
        .filter(|i| i["sk"]["S"].as_str().is_some_and(|s| s.starts_with("MSG#")))
        .map(|i| i["body"]["S"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Two threads: the clients write in the general one (Dana is told),
/// Dana in a campaign one (Chris and Alex are told). Nobody reads.
async fn two_threads(w: &World) -> (String, String) {
    let general = general_thread(w).await;
    let campaign = w
        .open(
            &chris(),
            None,
            json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
        )
        .await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    (general, campaign)
}

#[tokio::test]
async fn sqs_refusing_the_relays_sends_for_a_while_loses_and_duplicates_nothing() {
    // One message per thread while the queue refuses: the notifier covers
    // a thread's earlier messages with a later job, so a lost job shows
    // only when no later message of its thread follows.
    let w = World::empty().await;
    let (directory, scopes) = wide_acme(6);
    w.sync(directory).await;
    let mut threads = Vec::new();
    for scope in scopes {
        threads.push(
            w.open(&chris(), None, scope).await["id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    let refuse = RefuseSends::default();
    let relay = relay_messages::App {
        sqs: aws_sdk_sqs::Client::from_conf(
            sqs_config::Builder::from(&w.aws)
                .interceptor(refuse.clone())
                .build(),
        ),
        queue_url: w.queue_url.clone(),
        delay: Duration::ZERO,
        attachments: w.attachments.clone(),
    };
    let mappings = Mappings::start(&w, relay).await;

    let mut expected = BTreeSet::new();
    w.say(&chris(), &threads[0], "tok-before").await;
    expected.insert((DANA.to_owned(), "tok-before".to_owned()));
    mailbox(&w)
        .expect_mailed_once(&expected, Duration::from_secs(120))
        .await;

    // The queue refuses for 5 s (and at least 4 sends: longer than the
    // old mapping's 3 retries) while messages keep coming.
    refuse.refusing.store(true, Ordering::SeqCst);
    let refused_from = Instant::now();
    for (i, t) in threads.iter().enumerate() {
        let token = format!("tok-m{i}");
        if i % 2 == 0 {
            w.say(&chris(), t, &token).await;
            expected.insert((DANA.to_owned(), token));
        } else {
            w.say(&dana(), t, &token).await;
            expected.insert((CHRIS.to_owned(), token.clone()));
            expected.insert((ALEX.to_owned(), token));
        }
    }
    while refused_from.elapsed() < Duration::from_secs(5)
        || refuse.refused.load(Ordering::SeqCst) < 4
    {
        assert!(
            refused_from.elapsed() < Duration::from_secs(60),
            "the relay never tried"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if refuse.refused.load(Ordering::SeqCst) < MAX_REFUSALS {
        assert!(
            crate::notify::sent(&w).await.len() == 1,
            "nothing got through while the queue refused"
        );
    }
    refuse.refusing.store(false, Ordering::SeqCst);

    mailbox(&w)
        .expect_mailed_once(&expected, Duration::from_secs(120))
        .await;
    mappings.stop().await;
    let mut bodies = Vec::new();
    for t in &threads {
        bodies.extend(stored_bodies(&w, t).await);
    }
    bodies.sort();
    let mut want: Vec<String> = expected.iter().map(|(_, t)| t.clone()).collect();
    want.sort();
    want.dedup();
    assert_eq!(bodies, want, "every message stored once");
}

/// Every record of the table's stream so far, as the mapping hands them over.
async fn stream_records(w: &World) -> Vec<EventRecord> {
    let arn = stream_arn(w).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&w.aws);
    let shard = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("the stream")
        .stream_description
        .and_then(|d| d.shards)
        .and_then(|s| s.into_iter().next())
        .and_then(|s| s.shard_id)
        .expect("a shard");
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("an iterator")
        .shard_iterator;
    let mut out = Vec::new();
    while let Some(it) = iterator {
        let page = streams
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .expect("records");
        if page.records().is_empty() {
            break;
        }
        out.extend(
            page.records()
                .iter()
                .map(|r| liaison_local::stream::record(r, &arn, "us-east-1")),
        );
        iterator = page.next_shard_iterator;
    }
    out
}

#[tokio::test]
async fn stream_batches_delivered_twice_and_out_of_order_email_each_recipient_once() {
    let w = World::new().await;
    let (general, campaign) = two_threads(&w).await;
    let mut expected = BTreeSet::new();
    for i in 0..6 {
        w.say(&chris(), &general, &format!("tok-c{i}")).await;
        expected.insert((DANA.to_owned(), format!("tok-c{i}")));
        w.say(&dana(), &campaign, &format!("tok-d{i}")).await;
        expected.insert((CHRIS.to_owned(), format!("tok-d{i}")));
        expected.insert((ALEX.to_owned(), format!("tok-d{i}")));
    }
    let records = stream_records(&w).await;
    let messages = records
        .iter()
        .filter(|r| {
            r.event_name == "INSERT"
                && matches!(r.change.keys.get("sk"), Some(AttributeValue::S(s)) if s.starts_with("MSG#"))
        })
        .count();
    assert_eq!(messages, 12);

    // The whole stream in order, then again reversed, then again shuffled
    // with every record twice, in batches of 7: each batch relayed whole.
    let mut rng = seeded(7);
    let mut shuffled: Vec<EventRecord> = records.iter().chain(records.iter()).cloned().collect();
    rng.shuffle(&mut shuffled);
    let reversed: Vec<EventRecord> = records.iter().rev().cloned().collect();
    for run in [&records, &reversed, &shuffled] {
        for batch in run.chunks(7) {
            let event = liaison_local::stream::event(batch);
            let answer = relay_messages::handle(&w.functions.relay_messages, event).await;
            assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
        }
    }

    // The queue now holds each message's job four times, in no order: the
    // notifier, through the queue mapping, e-mails each recipient once.
    let (stopper, shutdown) = liaison_local::stopper();
    let queue = queue_mapping(&w, shutdown).await;
    mailbox(&w)
        .expect_mailed_once(&expected, Duration::from_secs(120))
        .await;
    stopper.stop();
    let _ = tokio::time::timeout(Duration::from_secs(10), queue).await;
    assert_eq!(
        stored_bodies(&w, &general).await.len() + stored_bodies(&w, &campaign).await.len(),
        12,
        "every message stored once"
    );
}
