//! Outgoing e-mail for reply by e-mail: every notification's `Reply-To`
//! carries a key bound to (thread, recipient, address), kept in the table;
//! the next e-mail of the thread answers the previous one; times read in
//! the recipient's zone. Read back from the raw e-mails moto's SES accepted.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use liaison::domain::{TimeZone, Timestamp};
use liaison::reply::{key_in_address, ReplyKey, ReplyKeys};
use serde_json::{json, Value};

use crate::notify::{deliver, record, sent, Sent};
use crate::support::*;

const DOMAIN: &str = liaison_local::DEV_REPLY_DOMAIN;

fn dev_keys() -> ReplyKeys {
    ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS).unwrap()
}

/// What a mail client reads from an e-mail's headers.
struct Headers {
    reply_name: String,
    reply_address: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    message_id: String,
}

fn headers(mail: &Sent) -> Headers {
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.raw.as_bytes())
        .unwrap();
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .expect("a Reply-To");
    Headers {
        reply_name: reply_to.name().unwrap_or_default().to_owned(),
        reply_address: reply_to.address().unwrap_or_default().to_owned(),
        in_reply_to: parsed.in_reply_to().as_text().map(str::to_owned),
        references: parsed.references().as_text().map(str::to_owned),
        message_id: parsed.message_id().unwrap_or_default().to_owned(),
    }
}

/// The key of an e-mail's reply address, checked as receive-reply checks it.
fn key_of(mail: &Sent) -> ReplyKey {
    let h = headers(mail);
    let text = key_in_address(&h.reply_address, DOMAIN).expect("a reply address of this domain");
    dev_keys().verify(text).expect("a key that verifies")
}

/// Every reply key row of the world's table (a test-only Scan).
async fn key_rows(w: &World) -> Vec<Value> {
    let out = w
        .store
        .client()
        .scan()
        .table_name(&w.names.table)
        .filter_expression("begins_with(pk, :reply)")
        .expression_attribute_values(":reply", AttributeValue::S("REPLY#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().iter().map(item_json).collect()
}

/// The person's `MAIL#` row in the thread.
async fn mail_row(w: &World, thread: &str, user: &str) -> Value {
    w.partition(&format!("THREAD#{thread}"))
        .await
        .into_iter()
        .find(|i| i["sk"]["S"] == format!("MAIL#{user}"))
        .expect("a MAIL row")
}

fn mails_to<'a>(mails: &'a [Sent], to: &str) -> Vec<&'a Sent> {
    mails.iter().filter(|m| m.to == to).collect()
}

#[tokio::test]
async fn a_notification_answers_to_a_key_bound_to_its_thread_recipient_and_address() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    let m = w
        .say(&chris(), &t, "The Hook scene needs a softer opening")
        .await;
    // Five deliveries at once: one e-mail, one key.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..5 {
        let (w, m) = (w.clone(), m.clone());
        set.spawn(async move { deliver(&w, vec![record(&m, &format!("r-{i}"))]).await });
    }
    let mut retried = Vec::new();
    while let Some(r) = set.join_next().await {
        retried.extend(r.unwrap());
    }
    for id in retried {
        assert!(deliver(&w, vec![record(&m, &id)]).await.is_empty());
    }
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, "dana@agency.example");
    let h = headers(mail);
    assert_eq!(h.reply_name, "Chris via Liaison");
    assert!(h.reply_address.starts_with("reply+"), "{}", h.reply_address);
    assert!(h.reply_address.ends_with(&format!("@{DOMAIN}")));
    assert!(
        mail.raw.replace("\r\n ", " ").contains(&format!(
            "Reply-To: \"Chris via Liaison\" <{}>",
            h.reply_address
        )),
        "{}",
        mail.raw
    );
    assert_eq!(h.in_reply_to, None, "the thread's first e-mail to Dana");
    assert_eq!(h.references, None);
    let domain = w.names.from_email.rsplit_once('@').unwrap().1;
    assert!(
        h.message_id.ends_with(&format!("@{domain}")),
        "{}",
        h.message_id
    );
    assert!(mail.raw.contains("Auto-Submitted: auto-generated"));
    assert!(mail.raw.contains("X-Auto-Response-Suppress: All"));
    let line = mail
        .text
        .find("Reply to this e-mail to answer in Liaison")
        .unwrap();
    assert!(
        line < mail.text.find("softer opening").unwrap(),
        "above the messages"
    );
    assert!(mail
        .html
        .contains("Reply to this e-mail to answer in Liaison"));

    // The key's row names the thread, the recipient and their address.
    let key = key_of(mail);
    let row = w
        .store
        .reply_key(&key)
        .await
        .unwrap()
        .expect("the key's row");
    assert_eq!(row.key, key);
    assert_eq!(row.account.as_str(), "acc_acme");
    assert_eq!(row.thread.as_str(), t);
    assert_eq!(row.user.as_str(), "u_dana");
    assert_eq!(row.address, "dana@agency.example");
    let ninety_days = Timestamp::now().unix_seconds() + 90 * 86_400;
    assert!(
        (ninety_days - 60..=ninety_days).contains(&row.expires_at),
        "{}",
        row.expires_at
    );
    assert_eq!(key_rows(&w).await.len(), 1, "one key for one e-mail");
    let forged = dev_keys().mint();
    assert_eq!(
        w.store.reply_key(&forged).await.unwrap(),
        None,
        "never issued"
    );
}

#[tokio::test]
async fn the_next_email_of_a_thread_answers_the_last_and_reuses_the_key() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let first = w.say(&chris(), &t, "first").await;
    w.trips.take();
    assert!(deliver(&w, vec![record(&first, "a")]).await.is_empty());
    let minting = w.trips.take();
    let second = w.say(&alex(), &t, "second").await;
    w.trips.take();
    assert!(deliver(&w, vec![record(&second, "b")]).await.is_empty());
    let reusing = w.trips.take();
    // Three reads for the job (thread and profile; inbox and MAIL rows;
    // the messages), then per recipient: notification states, the claim
    // (with a new key's rows), SES, the completion (with the last e-mail
    // id). A new key costs no round trip of its own.
    assert_eq!(
        (minting, reusing),
        (7, 7),
        "round trips per one-recipient job"
    );

    let mails = sent(&w).await;
    assert_eq!(mails.len(), 2);
    let (a, b) = (&mails[0], &mails[1]);
    assert!(a.text.contains("first") && b.text.contains("second"));
    assert_eq!(key_of(a), key_of(b), "the key is reused");
    assert_eq!(headers(b).reply_name, "Alex via Liaison");
    // us-east-1: SES's Message-ID is `<{id}@email.amazonses.com>`.
    let previous = format!("{}@email.amazonses.com", a.id);
    assert_eq!(headers(b).in_reply_to.as_deref(), Some(previous.as_str()));
    assert_eq!(headers(b).references.as_deref(), Some(previous.as_str()));
    assert!(
        b.raw.contains(&format!("In-Reply-To: <{previous}>")),
        "{}",
        b.raw
    );
    let row = mail_row(&w, &t, "u_dana").await;
    assert_eq!(row["last_email_id"]["S"], b.id.as_str());
    assert_eq!(row["reply_key"]["S"], key_of(a).as_str());
    assert_eq!(key_rows(&w).await.len(), 1);

    // Each person has a key of their own in the thread.
    let reply = w.say(&dana(), &t, "on it").await;
    assert!(deliver(&w, vec![record(&reply, "c")]).await.is_empty());
    let mails = sent(&w).await;
    let to_chris = mails_to(&mails, "chris@acme.example");
    let to_alex = mails_to(&mails, "alex@acme.example");
    let (kc, ka) = (key_of(to_chris[0]), key_of(to_alex[0]));
    assert_ne!(kc, ka);
    assert_ne!(kc, key_of(a));
    assert_eq!(headers(to_chris[0]).reply_name, "Dana via Liaison");
    assert_eq!(headers(to_chris[0]).in_reply_to, None);
    let row = w.store.reply_key(&kc).await.unwrap().unwrap();
    assert_eq!(
        (row.user.as_str(), row.address.as_str()),
        ("u_chris", "chris@acme.example")
    );
    assert_eq!(key_rows(&w).await.len(), 3);
}

#[tokio::test]
async fn a_key_near_expiry_a_changed_address_or_a_retired_secret_gets_a_new_key() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let next_mail_to_dana = |body: &'static str| {
        let w = &w;
        let t = t.clone();
        async move {
            let m = w.say(&chris(), &t, body).await;
            assert!(deliver(w, vec![record(&m, body)]).await.is_empty());
            sent(w).await.into_iter().last().unwrap()
        }
    };
    let k1 = key_of(&next_mail_to_dana("one").await);

    // A third of its life left (less a minute): a new key; the old one
    // keeps its row (and answers until it expires).
    let ttl = 90 * 86_400;
    let almost = Timestamp::now().unix_seconds() + ttl / 3 - 60;
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", AttributeValue::S(format!("THREAD#{t}")))
        .key("sk", AttributeValue::S("MAIL#u_dana".into()))
        .update_expression("SET reply_key_expires_at = :e")
        .expression_attribute_values(":e", AttributeValue::N(almost.to_string()))
        .send()
        .await
        .unwrap();
    let k2 = key_of(&next_mail_to_dana("two").await);
    assert_ne!(k1, k2);
    assert!(w.store.reply_key(&k1).await.unwrap().is_some());
    assert_eq!(
        mail_row(&w, &t, "u_dana").await["reply_key"]["S"],
        k2.as_str()
    );
    assert_eq!(
        key_of(&next_mail_to_dana("three").await),
        k2,
        "fresh again: reused"
    );

    // Dana's address changes in the directory: a key for the new one.
    let mut dir = directory();
    dir["accounts"][0]["managers"][0]["email"] = json!("dana.new@agency.example");
    w.sync(dir).await;
    let mail = next_mail_to_dana("four").await;
    assert_eq!(mail.to, "dana.new@agency.example");
    let k3 = key_of(&mail);
    assert_ne!(k3, k2);
    let row = w.store.reply_key(&k3).await.unwrap().unwrap();
    assert_eq!(row.address, "dana.new@agency.example");
    let old = w.store.reply_key(&k2).await.unwrap().unwrap();
    assert_eq!(
        old.address, "dana@agency.example",
        "a key stays bound to its address"
    );

    // The secret that signed it is retired: a key signed by the new one.
    let rotated = ReplyKeys::parse("2:the-next-reply-secret-0123").unwrap();
    let app = notify_reply::App {
        notifier: liaison::notify::Notifier {
            store: w.store.clone(),
            mailer: w.functions.notify_reply.notifier.mailer.clone(),
            reply: liaison::reply::ReplySettings {
                keys: rotated.clone(),
                ..w.functions.notify_reply.notifier.reply.clone()
            },
        },
        sqs: liaison::aws::LazyClient::ready(aws_sdk_sqs::Client::new(&w.aws)),
        dead_letter_queue_url: w.dead_letter_queue_url.clone(),
    };
    let m = w.say(&chris(), &t, "five").await;
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![record(&m, "five")];
    assert!(notify_reply::handle(&app, event)
        .await
        .batch_item_failures
        .is_empty());
    let mail = sent(&w).await.into_iter().last().unwrap();
    let address = headers(&mail).reply_address;
    let k4 = rotated
        .verify(key_in_address(&address, DOMAIN).unwrap())
        .expect("signed by the current secret");
    assert_ne!(k4, k3);
    assert!(dev_keys().verify(k4.as_str()).is_err());
}

#[tokio::test]
async fn times_read_in_the_recipients_zone_else_the_accounts_else_utc() {
    let w = World::empty().await;
    let mut dir = directory();
    dir["accounts"][0]["time_zone"] = json!("America/New_York");
    dir["accounts"][0]["managers"][0]["time_zone"] = json!("europe/berlin");
    w.sync(dir).await;
    let t = general_thread(&w).await;
    let m = w.say(&chris(), &t, "when is this").await;
    assert!(deliver(&w, vec![record(&m, "a")]).await.is_empty());
    let reply = w.say(&dana(), &t, "and this").await;
    assert!(deliver(&w, vec![record(&reply, "b")]).await.is_empty());
    let mails = sent(&w).await;

    let at = |m: &Value| Timestamp::parse(m["created_at"].as_str().unwrap()).unwrap();
    let zone = |name: &str| TimeZone::parse(name).unwrap();
    let to_dana = mails_to(&mails, "dana@agency.example")[0];
    let berlin = at(&m).human(Some(&zone("Europe/Berlin")));
    assert!(berlin.ends_with("(Europe/Berlin)"), "{berlin}");
    assert!(
        to_dana.text.contains(&format!("Chris wrote on {berlin}:")),
        "her own zone: {}",
        to_dana.text
    );
    assert!(to_dana.html.contains(&berlin));
    assert!(!to_dana.text.contains(m["created_at"].as_str().unwrap()));
    let to_chris = mails_to(&mails, "chris@acme.example")[0];
    let new_york = at(&reply).human(Some(&zone("America/New_York")));
    assert!(
        to_chris
            .text
            .contains(&format!("Dana wrote on {new_york}:")),
        "the account's zone: {}",
        to_chris.text
    );
    assert!(to_chris.html.contains(&new_york));

    // Without zones: UTC, named.
    let w = World::new().await;
    let t = general_thread(&w).await;
    let m = w.say(&chris(), &t, "plain").await;
    assert!(deliver(&w, vec![record(&m, "c")]).await.is_empty());
    let utc = at(&m).human(None);
    assert!(utc.ends_with(" UTC"), "{utc}");
    assert!(sent(&w).await[0]
        .text
        .contains(&format!("Chris wrote on {utc}:")));
}

#[tokio::test]
async fn sync_directory_refuses_an_unknown_zone_naming_the_field() {
    let w = World::new().await;
    let mut dir = directory();
    dir["accounts"][0]["users"][1]["time_zone"] = json!("Europe/Atlantis");
    let err = sync_directory::handle(&w.functions.sync_directory, dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("accounts[0].users[1].time_zone"), "{err}");
    assert!(err.contains("IANA"), "{err}");
    // Nothing was written: the stored profile has no zones.
    let profile = w.partition("ACCOUNT#acc_acme").await;
    let profile = profile.iter().find(|i| i["sk"]["S"] == "PROFILE").unwrap();
    assert!(profile.get("time_zone").is_none(), "{profile}");

    // Set, then removed again by a sync without it.
    let mut dir = directory();
    dir["accounts"][0]["time_zone"] = json!("Asia/Tokyo");
    w.sync(dir).await;
    let profile = w.partition("ACCOUNT#acc_acme").await;
    let profile = profile
        .iter()
        .find(|i| i["sk"]["S"] == "PROFILE")
        .unwrap()
        .clone();
    assert_eq!(profile["time_zone"]["S"], "Asia/Tokyo");
    w.sync(directory()).await;
    let profile = w.partition("ACCOUNT#acc_acme").await;
    let profile = profile
        .iter()
        .find(|i| i["sk"]["S"] == "PROFILE")
        .unwrap()
        .clone();
    assert!(profile.get("time_zone").is_none(), "{profile}");
}
