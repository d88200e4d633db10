//! The whole notification pipeline through the local gateway, over HTTP:
//! send → table → stream mapping → relay-messages → queue → queue mapping →
//! notify-reply → SES, with the failed transactions real traffic has
//! (a reused `client_message_id`, a lost attachment race) in between.
//!
//! moto rolls a failed transaction back by replacing the table with a copy;
//! the stream mapping must keep delivering every record of the copy's
//! stream exactly once, and never the rolled-back writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::config as streams_config;
use liaison_local::client::{HttpClient, HttpResponse};
use liaison_local::Gateway;
use serde_json::{json, Value};

use crate::support::{self, seeded};

const DANA: &str = "dana@agency.example";
const CHRIS: &str = "chris@acme.example";
const ALEX: &str = "alex@acme.example";

struct Pipeline {
    gateway: Gateway,
    http: HttpClient,
    from: String,
}

async fn pipeline() -> Pipeline {
    let mut config = support::gateway_config("pl").await;
    config.notify_delay = Duration::from_secs(1);
    let from = config.names.from_email.clone();
    Pipeline {
        gateway: Gateway::start(config).await.expect("the gateway starts"),
        http: HttpClient::new(),
        from,
    }
}

impl Pipeline {
    async fn call(&self, user: &str, method: &str, path: &str, body: Value) -> HttpResponse {
        let auth = format!("Bearer {}", support::demo_token(user));
        self.http
            .send(
                method,
                &format!("{}{path}", self.gateway.url()),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                Some(body.to_string().into_bytes()),
            )
            .await
            .expect("the gateway answers")
    }

    async fn open(&self, user: &str, body: Value) -> String {
        let r = self.call(user, "POST", "/threads", body).await;
        assert!(r.status == 201 || r.status == 200, "open: {}", r.text());
        r.json()["id"].as_str().expect("a thread id").to_owned()
    }

    async fn send(
        &self,
        user: &str,
        thread: &str,
        body: &str,
        key: &str,
        attachments: &[&str],
    ) -> HttpResponse {
        self.call(
            user,
            "POST",
            &format!("/threads/{thread}/messages"),
            json!({"body": body, "client_message_id": key, "attachment_ids": attachments}),
        )
        .await
    }

    /// An uploaded, not yet sent attachment of `user` in `thread`.
    async fn upload(&self, user: &str, thread: &str) -> String {
        let r = self
            .call(
                user,
                "POST",
                &format!("/threads/{thread}/attachments"),
                json!({"filename": "cut.gif", "content_type": "image/gif", "size": 6}),
            )
            .await;
        assert_eq!(r.status, 201, "presign: {}", r.text());
        let p = r.json();
        let headers: Vec<(String, String)> = p["upload"]["headers"]
            .as_object()
            .expect("upload headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let (status, _, _) = support::http(
            "PUT",
            p["upload"]["url"].as_str().expect("an upload url"),
            &headers,
            b"GIF89a",
        )
        .await;
        assert_eq!(status, 200);
        p["attachment_id"]
            .as_str()
            .expect("an attachment id")
            .to_owned()
    }

    /// Two sends bind one attachment at once: exactly one wins. The bodies
    /// of the winner (`Some`) and the loser.
    async fn race(self: &Arc<Self>, user: &str, thread: &str, tag: &str) -> (String, String) {
        let id = self.upload(user, thread).await;
        let bodies = [format!("{tag}-racer-a"), format!("{tag}-racer-b")];
        let keys = [format!("{tag}-a"), format!("{tag}-b")];
        let ids = [id.as_str()];
        let (a, b) = tokio::join!(
            self.send(user, thread, &bodies[0], &keys[0], &ids),
            self.send(user, thread, &bodies[1], &keys[1], &ids),
        );
        let statuses = (a.status, b.status);
        match statuses {
            (201, s) if (400..500).contains(&s) => (bodies[0].clone(), bodies[1].clone()),
            (s, 201) if (400..500).contains(&s) => (bodies[1].clone(), bodies[0].clone()),
            _ => panic!(
                "one racer wins, one loses: {statuses:?} {} {}",
                a.text(),
                b.text()
            ),
        }
    }
}

/// Where a test's e-mails go and its jobs wait: watched cheaply (queue
/// attributes) and read (moto's whole state, a heavy call on a moto that
/// serves one request at a time) only when the queue is idle.
pub(crate) struct Mailbox<'a> {
    pub aws: &'a aws_config::SdkConfig,
    pub from: &'a str,
    pub queue_url: &'a str,
    pub dead_letter_queue_url: &'a str,
}

impl Mailbox<'_> {
    /// The messages in a queue: visible, in flight, delayed.
    async fn queued(&self, url: &str) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as Q;
        let attrs = aws_sdk_sqs::Client::new(self.aws)
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Q::All)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            Q::ApproximateNumberOfMessages,
            Q::ApproximateNumberOfMessagesNotVisible,
            Q::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .map(|a| {
            attrs
                .get(a)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(usize::MAX / 4)
        })
        .sum()
    }

    /// (recipient, token) for every `tok-…` word in every e-mail sent.
    async fn mailed(&self) -> Vec<(String, String)> {
        let mut got = Vec::new();
        for mail in crate::notify::sent_from(self.from).await {
            for word in mail.text.split_whitespace() {
                let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
                if word.starts_with("tok-") {
                    got.push((mail.to.clone(), word.to_owned()));
                }
            }
        }
        got
    }

    /// Waits until every expected (recipient, token) was e-mailed.
    pub async fn wait_mailed(&self, expected: &BTreeSet<(String, String)>, wait: Duration) {
        let start = Instant::now();
        loop {
            if self.queued(self.queue_url).await == 0 {
                let got: BTreeSet<_> = self.mailed().await.into_iter().collect();
                if expected.is_subset(&got) {
                    return;
                }
                let missing: Vec<_> = expected.difference(&got).take(5).collect();
                assert!(
                    start.elapsed() < wait,
                    "{} of {} e-mails missing after {:?}, e.g. {missing:?}",
                    expected.difference(&got).count(),
                    expected.len(),
                    start.elapsed()
                );
            }
            assert!(
                start.elapsed() < wait + Duration::from_secs(30),
                "the queue never emptied"
            );
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }

    /// Waits until every expected (recipient, token) was e-mailed and the
    /// queue is drained, then a little longer, and asserts each was
    /// e-mailed exactly once, nothing else was, and nothing went to the
    /// dead-letter queue.
    pub async fn expect_mailed_once(&self, expected: &BTreeSet<(String, String)>, wait: Duration) {
        self.wait_mailed(expected, wait).await;
        // Longer than a notify delay and a few polls: duplicates would show.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
        for pair in self.mailed().await {
            *count.entry(pair).or_default() += 1;
        }
        let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "e-mailed more than once: {twice:?}");
        let unexpected: Vec<_> = count.keys().filter(|k| !expected.contains(*k)).collect();
        assert!(
            unexpected.is_empty(),
            "e-mailed but never stored: {unexpected:?}"
        );
        let start = Instant::now();
        while self.queued(self.queue_url).await != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "jobs left in the queue"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(
            self.queued(self.dead_letter_queue_url).await,
            0,
            "nothing in the dead-letter queue"
        );
    }
}

impl Pipeline {
    fn mailbox(&self) -> Mailbox<'_> {
        let env = self.gateway.env();
        Mailbox {
            aws: self.gateway.aws(),
            from: &self.from,
            queue_url: &env.queue_url,
            dead_letter_queue_url: &env.dead_letter_queue_url,
        }
    }
}

#[tokio::test]
async fn e_mail_keeps_coming_after_a_conflict_and_a_lost_race() {
    let started = Instant::now();
    let p = Arc::new(pipeline().await);
    let t = p
        .open("u_chris", json!({"scope": {"kind": "general"}}))
        .await;
    let mut expected = BTreeSet::new();

    // Each step waits for its e-mail, as a person trying `make dev` would.
    let r = p
        .send("u_chris", &t, "tok-first hook please", "c-1", &[])
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    expected.insert((DANA.to_owned(), "tok-first".to_owned()));
    p.mailbox()
        .wait_mailed(&expected, Duration::from_secs(60))
        .await;
    // The same client_message_id with another body: 409, a failed transaction.
    let r = p
        .send("u_chris", &t, "tok-never another body", "c-1", &[])
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // Two sends binding one attachment: one loses.
    let (won, _) = p.race("u_chris", &t, "tok-race").await;
    expected.insert((DANA.to_owned(), won));
    p.mailbox()
        .wait_mailed(&expected, Duration::from_secs(60))
        .await;
    // A plain send afterwards is e-mailed.
    let r = p.send("u_chris", &t, "tok-last thanks", "c-2", &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    expected.insert((DANA.to_owned(), "tok-last".to_owned()));
    p.mailbox()
        .expect_mailed_once(&expected, Duration::from_secs(60))
        .await;
    eprintln!("conflict-and-race pipeline: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_long_run_of_mixed_traffic_emails_every_message_once() {
    let started = Instant::now();
    let p = Arc::new(pipeline().await);
    // Clients write in the general thread (Dana is told), Dana in a
    // campaign thread (Chris and Alex are told); nobody reads, so every
    // stored message is e-mailed to every one on the other side.
    let general = p
        .open("u_chris", json!({"scope": {"kind": "general"}}))
        .await;
    let campaign = p
        .open(
            "u_chris",
            json!({"scope": {"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}}),
        )
        .await;
    let mut expected = BTreeSet::new();
    let mut stored = |user: &str, token: &str| {
        let to: &[&str] = if user == "u_dana" {
            &[CHRIS, ALEX]
        } else {
            &[DANA]
        };
        for r in to {
            expected.insert(((*r).to_owned(), token.to_owned()));
        }
    };
    let mut rng = seeded(13);
    let mut used: Vec<(String, String, String, String)> = Vec::new(); // user, thread, key, body
    let (mut sends, mut conflicts, mut replays, mut races) = (0, 0, 0, 0);
    for n in 0..45 {
        let (user, thread) = match rng.usize(..3) {
            0 => ("u_chris", &general),
            1 => ("u_alex", &general),
            _ => ("u_dana", &campaign),
        };
        match rng.usize(..6) {
            0 if !used.is_empty() => {
                // A used key with another body: 409, nothing stored.
                let (u, t, k, _) = &used[rng.usize(..used.len())];
                let r = p.send(u, t, &format!("tok-no{n}"), k, &[]).await;
                assert_eq!(r.status, 409, "{}", r.text());
                conflicts += 1;
            }
            1 if !used.is_empty() => {
                // A replay of a send: the same message again, nothing new.
                let (u, t, k, b) = &used[rng.usize(..used.len())];
                let r = p.send(u, t, b, k, &[]).await;
                assert_eq!(r.status, 200, "{}", r.text());
                replays += 1;
            }
            2 if user != "u_dana" => {
                let (won, _) = p.race(user, thread, &format!("tok-r{n}")).await;
                stored(user, &won);
                races += 1;
            }
            _ => {
                let (key, body) = (format!("m-{n}"), format!("tok-m{n}"));
                let r = p.send(user, thread, &body, &key, &[]).await;
                assert_eq!(r.status, 201, "{}", r.text());
                stored(user, &body);
                used.push((user.to_owned(), thread.clone(), key, body));
                sends += 1;
            }
        }
    }
    assert!(
        conflicts >= 3 && replays >= 3 && races >= 3 && sends >= 15,
        "a mixed run: {sends} sends, {conflicts} conflicts, {replays} replays, {races} races"
    );

    p.mailbox()
        .expect_mailed_once(&expected, Duration::from_secs(120))
        .await;
    eprintln!(
        "mixed pipeline: {sends} sends, {conflicts} conflicts, {replays} replays, {races} races, {} e-mail pairs in {:?}",
        expected.len(),
        started.elapsed()
    );
}

/// Holds the next GetRecords on the wire, after its iterator was taken,
/// until released (so a test can roll a transaction back in between);
/// counts the stream calls by operation.
#[derive(Debug, Clone, Default)]
struct HoldNextRead {
    armed: Arc<AtomicBool>,
    holding: Arc<AtomicBool>,
    released: Arc<AtomicBool>,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl HoldNextRead {
    fn take_calls(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.calls.lock().expect("calls"))
    }
}

impl streams_config::Intercept for HoldNextRead {
    fn name(&self) -> &'static str {
        "HoldNextRead"
    }

    fn read_before_transmit(
        &self,
        context: &streams_config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &streams_config::RuntimeComponents,
        _cfg: &mut streams_config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodbstreams::error::BoxError> {
        let operation = support::target_of(context.request()).to_owned();
        *self
            .calls
            .lock()
            .expect("calls")
            .entry(operation.clone())
            .or_default() += 1;
        if operation == "GetRecords" && self.armed.swap(false, Ordering::SeqCst) {
            // Blocks the mapping's own runtime (see the test), never the test's.
            self.holding.store(true, Ordering::SeqCst);
            let start = Instant::now();
            while !self.released.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.holding.store(false, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The (event name, pk) of every record the mapping delivered, in order.
type Delivered = Arc<Mutex<Vec<(String, String)>>>;

/// The mapping's options here: from the stream's start, polled often.
fn from_the_start() -> liaison_local::stream::StreamOptions {
    liaison_local::stream::StreamOptions {
        starting_position: liaison_local::stream::StartingPosition::TrimHorizon,
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    }
}

/// A function that records what it was given in `log`.
fn record(
    log: &Delivered,
    event: &aws_lambda_events::event::dynamodb::Event,
) -> Result<DynamoDbEventResponse, String> {
    let mut log = log.lock().map_err(|e| e.to_string())?;
    for r in &event.records {
        log.push((r.event_name.clone(), support::record_key(r, "pk")));
    }
    Ok(DynamoDbEventResponse::default())
}

/// Waits (90 s at most) until a record of `pk` was delivered.
async fn wait_for(delivered: &Delivered, pk: &str) {
    let start = Instant::now();
    while !delivered
        .lock()
        .map(|d| d.iter().any(|(_, p)| p == pk))
        .unwrap_or(false)
    {
        assert!(start.elapsed() < Duration::from_secs(90), "{pk} never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_stream_mapping_outlives_rollbacks_and_never_delivers_a_rolled_back_write() {
    use aws_sdk_dynamodb::types::{AttributeValue as A, Put, TransactWriteItem, Update};
    let t = support::StreamTable::new("rb").await;
    let (aws, db, table) = (&t.aws, &t.db, t.name.as_str());
    let put = |pk: &str| t.put(pk, "X").send();
    // Writes `phantom`, then fails on `a` (it exists) and changes `b`:
    // moto applies the first and the last before it rolls all back.
    let failing = || {
        let key = |pk: &str| {
            std::collections::HashMap::from([
                ("pk".to_owned(), A::S(pk.into())),
                ("sk".to_owned(), A::S("X".into())),
            ])
        };
        let put_new = |pk: &str| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(key(pk)))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .expect("a put"),
                )
                .build()
        };
        db.transact_write_items()
            .transact_items(put_new("phantom"))
            .transact_items(put_new("a"))
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(table)
                            .set_key(Some(key("b")))
                            .update_expression("SET touched = :t")
                            .expression_attribute_values(":t", A::Bool(true))
                            .build()
                            .expect("an update"),
                    )
                    .build(),
            )
            .send()
    };
    put("a").await.expect("put");
    put("b").await.expect("put");

    let hold = HoldNextRead::default();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        streams_config::Builder::from(aws)
            .interceptor(hold.clone())
            .build(),
    );
    let delivered: Delivered = Arc::default();
    let log = delivered.clone();
    let (stopper, shutdown) = liaison_local::stopper();
    // The mapping runs on a runtime of its own, which the held read blocks.
    let mapping = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let task = mapping.spawn(liaison_local::stream::start(
        streams,
        t.stream_arn.clone(),
        from_the_start(),
        move |event: aws_lambda_events::event::dynamodb::Event| {
            let log = log.clone();
            async move { record(&log, &event) }
        },
        shutdown,
    ));
    let task = task
        .await
        .expect("the mapping's runtime")
        .expect("the mapping starts");
    wait_for(&delivered, "b").await;

    // A rollback while a read is on its way: the read was given an
    // iterator of the table that is about to be replaced.
    hold.armed.store(true, Ordering::SeqCst);
    let start = Instant::now();
    while !hold.holding.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no read held: {:?}",
            hold.take_calls()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(failing().await.is_err(), "the transaction fails");
    hold.released.store(true, Ordering::SeqCst);
    put("c").await.expect("put");
    wait_for(&delivered, "c").await;
    // A rollback between polls, then more writes.
    assert!(failing().await.is_err(), "the transaction fails");
    put("d").await.expect("put");
    put("e").await.expect("put");
    wait_for(&delivered, "e").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = delivered.lock().map(|d| d.clone()).unwrap_or_default();
    let want: Vec<(String, String)> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|pk| ("INSERT".to_owned(), (*pk).to_owned()))
        .collect();
    assert_eq!(
        got, want,
        "every stored write once, in order, and nothing rolled back"
    );

    // What an idle shard costs per poll: counted over at least 2 s and 3
    // reads (a moto busy with the rest of the suite can take seconds to
    // answer one call).
    hold.take_calls();
    let start = Instant::now();
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (op, n) in hold.take_calls() {
            *calls.entry(op).or_default() += n;
        }
        let reads = calls.get("GetRecords").copied().unwrap_or(0);
        if reads >= 3 && start.elapsed() >= Duration::from_secs(2) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "it polls: {calls:?}"
        );
    }
    let reads = calls.get("GetRecords").copied().unwrap_or(0);
    let iterators = calls.get("GetShardIterator").copied().unwrap_or(0);
    eprintln!(
        "idle stream calls in {:?} at a 50 ms poll interval: {calls:?}",
        start.elapsed()
    );
    assert!(
        iterators.abs_diff(reads) <= 1,
        "one fresh iterator per read, one read per idle poll: {calls:?}"
    );

    stopper.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    mapping.shutdown_background();
}

/// A function that panics fails its batch, as on Lambda: the mapping
/// retries it and goes on polling (a panic used to end the poller, and
/// `make dev` e-mailed nothing more).
#[tokio::test]
async fn a_panicking_function_fails_its_batch_and_the_mapping_goes_on() {
    let t = support::StreamTable::new("pn").await;
    let put = |pk: &str| t.put(pk, "X").send();
    let delivered: Delivered = Arc::default();
    let log = delivered.clone();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (_stopper, shutdown) = liaison_local::stopper();
    let _task = liaison_local::stream::start(
        aws_sdk_dynamodbstreams::Client::new(&t.aws),
        t.stream_arn.clone(),
        from_the_start(),
        move |event: aws_lambda_events::event::dynamodb::Event| {
            let log = log.clone();
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("the first invocation panics");
                }
                record(&log, &event)
            }
        },
        shutdown,
    )
    .await
    .expect("the mapping starts");
    put("a").await.expect("put");
    wait_for(&delivered, "a").await;
    put("b").await.expect("put");
    wait_for(&delivered, "b").await;
    assert_eq!(
        delivered.lock().map(|d| d.clone()).unwrap_or_default(),
        [
            ("INSERT".to_owned(), "a".to_owned()),
            ("INSERT".to_owned(), "b".to_owned())
        ]
    );
}
