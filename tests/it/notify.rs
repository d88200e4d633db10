//! E-mail on every reply: relay, queue, notifier, SES (read back from
//! moto's record of sent mail).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{json, Value};

use crate::support::*;

#[derive(Debug, Clone)]
pub struct Sent {
    /// SES's message id.
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

/// Every e-mail this world's sender sent, in sending order.
pub async fn sent(w: &World) -> Vec<Sent> {
    sent_from(&w.names.from_email).await
}

/// Every e-mail `from` sent (as moto recorded it), in sending order.
pub async fn sent_from(from_email: &str) -> Vec<Sent> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let url = format!("{endpoint}{}", liaison_local::mail::SENT_EMAIL_PATH);
    let (status, _, body) = http("GET", &url, &[], b"").await;
    assert_eq!(status, 200);
    let data: Value = serde_json::from_slice(&body).unwrap();
    let mut out = Vec::new();
    for m in data["ses"]["RawMessage"].as_array().into_iter().flatten() {
        let Some(raw) = m["raw_data"].as_str() else {
            continue;
        };
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let from = parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_owned();
        if from != from_email {
            continue;
        }
        out.push(Sent {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            to: parsed
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_owned(),
            subject: parsed.subject().unwrap_or("").to_owned(),
            text: parsed
                .body_text(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            html: parsed
                .body_html(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            raw: raw.to_owned(),
        });
    }
    out
}

pub(crate) fn to_count(mails: &[Sent]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in mails {
        *m.entry(s.to.clone()).or_default() += 1;
    }
    m
}

/// The queue record the relay writes for a sent message.
pub(crate) fn record(message: &Value, id: &str) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(id.to_owned());
    r.body = Some(
        json!({
            "account_id": "acc_acme",
            "thread_id": message["thread_id"],
            "message_id": message["id"],
            "author_role": message["author"]["role"],
        })
        .to_string(),
    );
    r
}

pub(crate) async fn deliver(w: &World, records: Vec<SqsMessage>) -> Vec<String> {
    let mut event = SqsEvent::default();
    event.records = records;
    notify_reply::handle(&w.functions.notify_reply, event)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[tokio::test]
async fn each_person_on_the_other_side_once_and_never_the_author() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let m = w
        .say(&chris(), &t, "The Hook scene needs a softer opening")
        .await;
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(
        to_count(&mails),
        BTreeMap::from([("dana@agency.example".to_owned(), 1)])
    );
    let mail = &mails[0];
    assert_eq!(mail.subject, "New message from Chris — General");
    assert!(mail.text.contains("The Hook scene needs a softer opening"));
    assert!(mail.text.contains(&format!("{APP_URL}/messages/{t}")));
    assert!(mail.html.contains(&format!("{APP_URL}/messages/{t}")));
    assert!(mail.raw.contains("Auto-Submitted: auto-generated"));
    assert!(mail.raw.contains("X-Auto-Response-Suppress: All"));

    let reply = w
        .call(
            &dana(),
            "POST",
            &format!("/threads/{t}/messages"),
            Some(json!({"body": "<script>alert('x')</script> on it", "urgent": true, "client_message_id": key()})),
        )
        .await
        .expect(201);
    assert!(deliver(&w, vec![record(&reply, "r2")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(
        to_count(&mails),
        BTreeMap::from([
            ("alex@acme.example".to_owned(), 1),
            ("chris@acme.example".to_owned(), 1),
            ("dana@agency.example".to_owned(), 1),
        ])
    );
    let to_chris = mails.iter().find(|m| m.to == "chris@acme.example").unwrap();
    assert_eq!(to_chris.subject, "[Urgent] New message from Dana — General");
    assert!(
        to_chris.text.contains("<script>alert('x')</script> on it"),
        "text keeps it as text"
    );
    assert!(!to_chris.html.contains("<script>"), "HTML escapes it");
    assert!(to_chris.html.contains("&lt;script&gt;"));
    // The e-mails carry no addresses of anyone else, and no presigned links.
    assert!(!to_chris.raw.contains("X-Amz-Signature"));
}

#[tokio::test]
async fn messages_within_the_delay_go_out_together_and_reading_first_prevents_mail() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let a = w.say(&chris(), &t, "first thought").await;
    let b = w.say(&chris(), &t, "second thought").await;
    let c = w.say(&alex(), &t, "third thought").await;
    // The delay ends for each in turn.
    let failures = deliver(&w, vec![record(&a, "a"), record(&b, "b"), record(&c, "c")]).await;
    assert!(failures.is_empty());
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1, "one e-mail for all three");
    let text = &mails[0].text;
    let (p1, p2, p3) = (
        text.find("first thought").unwrap(),
        text.find("second thought").unwrap(),
        text.find("third thought").unwrap(),
    );
    assert!(p1 < p2 && p2 < p3, "oldest first");
    assert_eq!(mails[0].subject, "New message from Alex — General");

    // Dana replies; Alex reads it in the app before the delay ends.
    let reply = w.say(&dana(), &t, "noted").await;
    w.read(&alex(), &t, None).await;
    deliver(&w, vec![record(&reply, "d")]).await;
    let mails = sent(&w).await;
    assert_eq!(
        to_count(&mails),
        BTreeMap::from([
            ("chris@acme.example".to_owned(), 1),
            ("dana@agency.example".to_owned(), 1),
        ]),
        "Alex read it first"
    );
}

#[tokio::test]
async fn the_same_record_five_times_also_concurrently_sends_once() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    let m = w.say(&dana(), &t, "once only").await;
    for _ in 0..5 {
        assert!(deliver(&w, vec![record(&m, "dup")]).await.is_empty());
    }
    let m2 = w.say(&dana(), &t, "and once more").await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..5 {
        let (w, m2) = (w.clone(), m2.clone());
        set.spawn(async move { deliver(&w, vec![record(&m2, &format!("dup-{i}"))]).await });
    }
    // A delivery that found another one sending asks to be retried (that
    // one might die before SES); the retry finds it all settled.
    let mut retried = Vec::new();
    while let Some(r) = set.join_next().await {
        retried.extend(r.unwrap());
    }
    for id in retried {
        assert!(deliver(&w, vec![record(&m2, &id)]).await.is_empty());
    }
    let mails = sent(&w).await;
    assert_eq!(
        to_count(&mails),
        BTreeMap::from([
            ("alex@acme.example".to_owned(), 2),
            ("chris@acme.example".to_owned(), 2),
        ])
    );
    let bodies: Vec<&str> = mails.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(bodies.iter().filter(|b| b.contains("once only")).count(), 2);
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.contains("and once more"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_failing_ses_is_retried_without_duplicates_and_malformed_records_go_to_the_dlq() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let m = w.say(&chris(), &t, "please retry me").await;

    // SES unreachable on the first attempt.
    let broken = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&w.aws)
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let failing = notify_reply::App {
        notifier: liaison::notify::Notifier {
            store: w.store.clone(),
            mailer: liaison::notify::Mailer {
                ses: broken,
                from: w.names.from_email.clone(),
                app_url: APP_URL.to_owned(),
                api_url: API_URL.to_owned(),
            },
            reply: w.functions.notify_reply.notifier.reply.clone(),
        },
        sqs: liaison::aws::LazyClient::ready(aws_sdk_sqs::Client::new(&w.aws)),
        dead_letter_queue_url: w.dead_letter_queue_url.clone(),
    };
    let mut event = SqsEvent::default();
    event.records = vec![record(&m, "retry-me")];
    let response = notify_reply::handle(&failing, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["retry-me".to_owned()]);
    assert!(sent(&w).await.is_empty());

    // The retry (SQS delivers it again) sends it, once.
    assert!(deliver(&w, vec![record(&m, "retry-me")]).await.is_empty());
    assert!(deliver(&w, vec![record(&m, "retry-me")]).await.is_empty());
    assert_eq!(
        to_count(&sent(&w).await),
        BTreeMap::from([("dana@agency.example".to_owned(), 1)])
    );

    // A malformed record beside a good one: the good one is e-mailed, the
    // malformed one is moved to the dead-letter queue, not retried.
    let good = w.say(&dana(), &t, "still delivered").await;
    let mut bad = SqsMessage::default();
    bad.message_id = Some("bad".into());
    bad.body = Some("{\"thread_id\": 42}".into());
    let failures = deliver(&w, vec![bad, record(&good, "good")]).await;
    assert!(failures.is_empty(), "{failures:?}");
    let mails = sent(&w).await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.text.contains("still delivered"))
            .count(),
        2
    );
    let dlq = aws_sdk_sqs::Client::new(&w.aws)
        .receive_message()
        .queue_url(&w.dead_letter_queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = dlq.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, vec!["{\"thread_id\": 42}"]);
}

#[tokio::test]
async fn the_relay_queues_one_job_per_new_message_and_ignores_the_rest() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let mut records = Vec::new();
    let mut ids = HashSet::new();
    for i in 0..12u64 {
        let m = w.say(&chris(), &t, &format!("m{i}")).await;
        let id = m["id"].as_str().unwrap().to_owned();
        records
            .push(stream_record(&w, &format!("THREAD#{t}"), &format!("MSG#{id}"), 100 + i).await);
        ids.insert(id);
    }
    // Not messages: the thread, an inbox row, a notification record.
    records.push(stream_record(&w, &format!("THREAD#{t}"), "META", 200).await);
    records.push(stream_record(&w, &format!("THREAD#{t}"), "INBOX#u_dana", 201).await);
    let first = ids.iter().min().unwrap().clone();
    let mut job = SqsMessage::default();
    job.message_id = Some("n".into());
    job.body = Some(json!({"account_id": "acc_acme", "thread_id": t, "message_id": first, "author_role": "client"}).to_string());
    assert!(deliver(&w, vec![job]).await.is_empty());
    records.push(stream_record(&w, "NOTIFY#u_dana", &format!("NOTIFIED#{first}"), 202).await);
    let mut event = Event::default();
    event.records = records.clone();
    let response = relay_messages::handle(&w.functions.relay_messages, event).await;
    assert!(response.batch_item_failures.is_empty());

    let sqs = aws_sdk_sqs::Client::new(&w.aws);
    let mut jobs = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&w.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for msg in out.messages() {
            jobs.push(liaison::notify::Job::parse(msg.body().unwrap()).expect("a job"));
            sqs.delete_message()
                .queue_url(&w.queue_url)
                .receipt_handle(msg.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if jobs.len() >= 12 {
            break;
        }
    }
    let got: HashSet<String> = jobs.iter().map(|j| j.message.to_string()).collect();
    assert_eq!(got, ids);
    assert!(jobs
        .iter()
        .all(|j| j.thread.as_str() == t && j.account.as_str() == "acc_acme"));

    // With the queue unreachable, the earliest record is reported failed.
    let broken = relay_messages::App {
        sqs: sqs.clone(),
        queue_url: format!("{}-missing", w.queue_url),
        delay: std::time::Duration::ZERO,
        attachments: w.attachments.clone(),
    };
    let mut event = Event::default();
    event.records = records;
    let response = relay_messages::handle(&broken, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![Some("100".to_owned())]);
}

#[tokio::test]
async fn two_hundred_messages_in_twenty_threads_match_a_model() {
    let w = World::empty().await;
    let (directory, scopes) = wide_acme(18);
    w.sync(directory).await;
    let mut threads = Vec::new();
    for s in scopes {
        threads.push(
            w.open(&chris(), None, s).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let people = [
        ("chris@acme.example", chris(), "client"),
        ("alex@acme.example", alex(), "client"),
        ("dana@agency.example", dana(), "manager"),
    ];
    let mut rng = seeded(42);
    // (thread, id, body, role) of every message; read position per (person, thread).
    let mut messages: Vec<(String, String, String, &str)> = Vec::new();
    let mut read: HashMap<(usize, String), String> = HashMap::new();
    let mut records = Vec::new();
    for n in 0..200 {
        let t = threads[rng.usize(..20)].clone();
        let p = rng.usize(..3);
        let body = format!("token-{n:03}-end");
        let m = w.say(&people[p].1, &t, &body).await;
        let id = m["id"].as_str().unwrap().to_owned();
        read.insert((p, t.clone()), id.clone());
        messages.push((t.clone(), id, body, people[p].2));
        records.push(record(&m, &format!("rec-{n}")));
        if rng.usize(..4) == 0 {
            let reader = rng.usize(..3);
            let rt = threads[rng.usize(..20)].clone();
            let s = w.read(&people[reader].1, &rt, None).await;
            if let Some(pos) = s["last_read_message_id"].as_str() {
                read.insert((reader, rt), pos.to_owned());
            }
        }
    }
    // Every record delivered twice, in a shuffled order, in batches of 10.
    let mut all: Vec<SqsMessage> = records.iter().chain(records.iter()).cloned().collect();
    rng.shuffle(&mut all);
    for batch in all.chunks(10) {
        assert!(deliver(&w, batch.to_vec()).await.is_empty());
    }

    let mut expected = HashSet::new();
    for (t, id, body, role) in &messages {
        for (p, (email, _, prole)) in people.iter().enumerate() {
            let unread = read.get(&(p, t.clone())).is_none_or(|pos| id > pos);
            if prole != role && unread {
                expected.insert((email.to_string(), body.clone()));
            }
        }
    }
    let mut got = Vec::new();
    for mail in sent(&w).await {
        for token in mail
            .text
            .split_whitespace()
            .filter(|w| w.starts_with("token-"))
        {
            got.push((mail.to.clone(), token.to_owned()));
        }
    }
    let unique: HashSet<_> = got.iter().cloned().collect();
    assert_eq!(
        got.len(),
        unique.len(),
        "no (recipient, message) pair twice"
    );
    assert_eq!(unique, expected);
}
