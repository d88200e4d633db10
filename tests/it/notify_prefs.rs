//! Who gets e-mailed (issue 15): muted threads and the `off` preference
//! send nothing to that person (and claim nothing), `urgent_only` sends
//! only urgent messages, what was read before a "mark unread" is never
//! e-mailed; every notification carries `List-Id` and one-click
//! `List-Unsubscribe` (RFC 8058) and footer links. Settings are written
//! to the table with the attributes the API writes (`muted`, `read_max`
//! on the inbox row; `PREFS#{user}/PREFS` `email`), and the e-mails read
//! back from the raw MIME moto's SES accepted.

use aws_sdk_dynamodb::types::AttributeValue;
use liaison::reply::{key_in_address, ReplyKeys};
use serde_json::{json, Value};

use crate::notify::{deliver, record, sent, Sent};
use crate::support::*;

const DOMAIN: &str = liaison_local::DEV_REPLY_DOMAIN;

fn dev_keys() -> ReplyKeys {
    ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS).unwrap()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Sets `muted` on `user`'s inbox row, as `PUT|DELETE /threads/{t}/mute` does.
async fn set_muted(w: &World, thread: &str, user: &str, muted: bool) {
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", s(&format!("THREAD#{thread}")))
        .key("sk", s(&format!("INBOX#{user}")))
        .update_expression("SET muted = :m")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":m", AttributeValue::Bool(muted))
        .send()
        .await
        .expect("the inbox row exists");
}

/// Stores `user`'s e-mail preference, as `PUT /me/notifications` does.
async fn set_preference(w: &World, user: &str, email: &str) {
    w.store
        .client()
        .put_item()
        .table_name(&w.names.table)
        .item("pk", s(&format!("PREFS#{user}")))
        .item("sk", s("PREFS"))
        .item("email", s(email))
        .item(
            "updated_at",
            AttributeValue::N(liaison::domain::Timestamp::now().unix_millis().to_string()),
        )
        .send()
        .await
        .unwrap();
}

/// Marks the thread unread for `user` as `POST /threads/{t}/unread` does:
/// the read position goes back to `back_to`, the furthest read is kept in
/// `read_max`.
async fn mark_unread(w: &World, thread: &str, user: &str, back_to: &str, read_max: &str) {
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", s(&format!("THREAD#{thread}")))
        .key("sk", s(&format!("INBOX#{user}")))
        .update_expression("SET read_position = :back, read_max = :max, unread = :t")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":back", s(back_to))
        .expression_attribute_values(":max", s(read_max))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
}

async fn say_urgent(w: &World, who: &Who, thread: &str, body: &str) -> Value {
    w.call(
        who,
        "POST",
        &format!("/threads/{thread}/messages"),
        Some(json!({"body": body, "urgent": true, "client_message_id": key()})),
    )
    .await
    .expect(201)
}

/// `user`'s notification records (claims and completions).
async fn notification_rows(w: &World, user: &str) -> Vec<Value> {
    w.partition(&format!("NOTIFY#{user}")).await
}

fn to<'a>(mails: &'a [Sent], address: &str) -> Vec<&'a Sent> {
    mails.iter().filter(|m| m.to == address).collect()
}

/// A header's value as written, unfolded.
fn header(mail: &Sent, name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.raw.as_bytes())
        .unwrap();
    parsed
        .header_raw(name)
        .map(|v| v.replace("\r\n", "").trim().to_owned())
}

#[tokio::test]
async fn every_notification_carries_list_id_one_click_unsubscribe_and_footer_links() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    // A stored `all` reads like no row at all; and costs no round trip.
    set_preference(&w, "u_dana", "all").await;
    let m = w.say(&chris(), &t, "hook, softer").await;
    w.trips.take();
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    assert_eq!(
        w.trips.take(),
        7,
        "preferences are read in the batch that reads the inbox and MAIL rows"
    );
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];

    // The token stands for the reply key of this e-mail (thread, person).
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.raw.as_bytes())
        .unwrap();
    let reply = parsed.reply_to().and_then(|a| a.first()).unwrap();
    let reply_key = dev_keys()
        .verify(key_in_address(reply.address().unwrap(), DOMAIN).unwrap())
        .unwrap();
    let token = dev_keys().mute_token(&reply_key).unwrap();
    assert_eq!(dev_keys().verify_mute_token(&token), Ok(reply_key.clone()));
    let url = format!("{API_URL}/unsubscribe/{token}");
    assert_eq!(
        header(mail, "List-Unsubscribe").as_deref(),
        Some(format!("<{url}>, <mailto:unsubscribe+{token}@{DOMAIN}>").as_str())
    );
    assert_eq!(
        header(mail, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let list_id = parsed.header("List-Id").and_then(|h| h.as_address());
    let list_id = list_id.and_then(|a| a.first()).expect("a List-Id");
    assert_eq!(list_id.name(), Some("General"));
    let expected_id = format!("{t}.{DOMAIN}");
    assert_eq!(list_id.address(), Some(expected_id.as_str()));
    let record = w.store.reply_key(&reply_key).await.unwrap().unwrap();
    assert_eq!(
        (record.thread.as_str(), record.user.as_str()),
        (t.as_str(), "u_dana")
    );

    // Footer: text and HTML.
    let prefs = format!("{APP_URL}/messages?settings=notifications");
    assert!(
        mail.text
            .contains(&format!("Mute this conversation: {url}")),
        "{}",
        mail.text
    );
    assert!(mail.text.contains(&format!("E-mail preferences: {prefs}")));
    assert!(
        mail.html.contains(&format!("href=\"{url}\"")),
        "{}",
        mail.html
    );
    assert!(mail.html.contains(&format!("href=\"{prefs}\"")));
    assert!(mail.html.contains("Mute this conversation:"));
    assert!(mail.html.contains("E-mail preferences:"));
}

#[tokio::test]
async fn a_muted_person_gets_nothing_while_the_other_recipient_does() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&chris(), &t, "hello").await;
    w.read(&chris(), &t, None).await;
    w.read(&alex(), &t, None).await;
    set_muted(&w, &t, "u_chris", true).await;
    let m = w.say(&dana(), &t, "first answer").await;
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    // Redelivered: still nothing for Chris.
    assert!(deliver(&w, vec![record(&m, "r1-again")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(to(&mails, "alex@acme.example").len(), 1);
    assert!(to(&mails, "chris@acme.example").is_empty(), "muted");
    assert!(
        notification_rows(&w, "u_chris").await.is_empty(),
        "nothing claimed or recorded for a muted person"
    );
    // Their in-app state is unchanged: the thread is unread for them.
    assert_eq!(w.thread(&chris(), &t).await["unread"], true);

    // Unmuted: the next e-mail covers what they have not read, as always.
    set_muted(&w, &t, "u_chris", false).await;
    let n = w.say(&dana(), &t, "second answer").await;
    assert!(deliver(&w, vec![record(&n, "r2")]).await.is_empty());
    let mails = sent(&w).await;
    let chris_mails = to(&mails, "chris@acme.example");
    assert_eq!(chris_mails.len(), 1);
    assert!(chris_mails[0].text.contains("second answer"));
    assert!(
        chris_mails[0].text.contains("first answer"),
        "unread and never e-mailed: it comes with the next e-mail"
    );
    assert_eq!(to(&mails, "alex@acme.example").len(), 2);
}

#[tokio::test]
async fn urgent_only_emails_only_urgent_messages_and_every_due_one_together() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    set_preference(&w, "u_dana", "urgent_only").await;
    let plain = w.say(&chris(), &t, "plain one").await;
    assert!(deliver(&w, vec![record(&plain, "r1")]).await.is_empty());
    assert!(sent(&w).await.is_empty(), "not urgent: not e-mailed");
    assert!(notification_rows(&w, "u_dana").await.is_empty());

    let urgent = say_urgent(&w, &chris(), &t, "urgent one").await;
    assert!(deliver(&w, vec![record(&urgent, "r2")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.starts_with("[Urgent] "));
    assert!(mails[0].text.contains("urgent one"));
    assert!(!mails[0].text.contains("plain one"), "{}", mails[0].text);

    // A mix arrives during the delay: one e-mail, every urgent one in it,
    // no plain one; the other jobs find nothing left.
    let a = say_urgent(&w, &chris(), &t, "urgent A").await;
    let b = w.say(&alex(), &t, "plain B").await;
    let c = say_urgent(&w, &alex(), &t, "urgent C").await;
    let d = w.say(&chris(), &t, "plain D").await;
    assert!(deliver(&w, vec![record(&d, "r-d")]).await.is_empty());
    for (m, id) in [(&a, "r-a"), (&b, "r-b"), (&c, "r-c")] {
        assert!(deliver(&w, vec![record(m, id)]).await.is_empty());
    }
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 2, "one more e-mail");
    let coalesced = &mails[1];
    assert!(coalesced.text.contains("urgent A") && coalesced.text.contains("urgent C"));
    assert!(!coalesced.text.contains("plain"), "{}", coalesced.text);
    assert!(!coalesced.text.contains("urgent one"), "already e-mailed");
    assert!(coalesced.text.find("urgent A") < coalesced.text.find("urgent C"));
}

#[tokio::test]
async fn off_sends_nothing_and_claims_nothing_and_all_again_resumes() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    set_preference(&w, "u_dana", "off").await;
    let m = say_urgent(&w, &chris(), &t, "urgent while off").await;
    w.trips.take();
    assert!(deliver(&w, vec![record(&m, "r1")]).await.is_empty());
    assert_eq!(
        w.trips.take(),
        2,
        "thread and profile; inbox, MAIL and PREFS rows: no one to e-mail, nothing more"
    );
    assert!(sent(&w).await.is_empty());
    assert!(notification_rows(&w, "u_dana").await.is_empty());
    assert_eq!(w.thread(&dana(), &t).await["unread"], true);

    // Back to `all`: decided when the next job runs; what is unread and
    // never e-mailed goes out with the next message.
    set_preference(&w, "u_dana", "all").await;
    let n = w.say(&chris(), &t, "after switching back").await;
    assert!(deliver(&w, vec![record(&n, "r2")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("after switching back"));
    assert!(mails[0].text.contains("urgent while off"));
}

#[tokio::test]
async fn what_was_read_before_marking_unread_is_never_emailed() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let m0 = w.say(&chris(), &t, "alpha").await;
    let m1 = w.say(&chris(), &t, "bravo").await;
    w.read(&dana(), &t, None).await;
    // Marked unread: back to just before the other side's latest message.
    mark_unread(
        &w,
        &t,
        "u_dana",
        m0["id"].as_str().unwrap(),
        m1["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(w.thread(&dana(), &t).await["unread"], true);
    // The jobs of the messages read (late, or redelivered): nothing.
    for (m, id) in [(&m0, "r0"), (&m1, "r1")] {
        assert!(deliver(&w, vec![record(m, id)]).await.is_empty());
    }
    assert!(sent(&w).await.is_empty(), "read before: never e-mailed");
    // A new message: e-mailed, alone.
    let m2 = w.say(&alex(), &t, "charlie").await;
    assert!(deliver(&w, vec![record(&m2, "r2")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("charlie"));
    assert!(
        !mails[0].text.contains("bravo") && !mails[0].text.contains("alpha"),
        "{}",
        mails[0].text
    );
}
