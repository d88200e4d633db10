//! Reply by e-mail, incoming: `receive-reply` against moto, with the event
//! SES sends and the raw e-mail where SES's S3 action puts it
//! (`inbound/{messageId}` in the bucket). Every check refuses with its own
//! reason and posts nothing; a good reply is posted by the key's recipient
//! through the send path and notifies the other side.

use std::collections::BTreeMap;

use aws_lambda_events::event::ses::SimpleEmailEvent;
use aws_sdk_dynamodb::types::AttributeValue as A;
use liaison::domain::Timestamp;
use liaison::reply::ReplyKeys;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use serde_json::{json, Value};

use crate::notify::{deliver, record, sent, to_count};
use crate::support::*;

const DOMAIN: &str = liaison_local::DEV_REPLY_DOMAIN;
const CHRIS: &str = "chris@acme.example";

/// A fresh SES message id (SES's are 40 lower-case letters and digits).
fn ses_id() -> String {
    format!("t{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Issues a reply key for (thread, user) to `address`, valid for
/// `ttl_secs` from now (negative: expired), as the notifier stores it
/// (`REPLY#{key}` / `KEY`); its address.
async fn issue_key(w: &World, thread: &str, user: &str, address: &str, ttl_secs: i64) -> String {
    let keys = ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS).expect("dev secrets");
    let key = keys.mint();
    write_key(w, key.as_str(), thread, user, address, ttl_secs).await;
    key.address(DOMAIN)
}

async fn write_key(w: &World, key: &str, thread: &str, user: &str, address: &str, ttl_secs: i64) {
    let now = Timestamp::now();
    w.store
        .client()
        .put_item()
        .table_name(&w.names.table)
        .item("pk", A::S(format!("REPLY#{key}")))
        .item("sk", A::S("KEY".into()))
        .item("account_id", A::S("acc_acme".into()))
        .item("thread_id", A::S(thread.into()))
        .item("user_id", A::S(user.into()))
        .item("address", A::S(address.into()))
        .item("issued_at", A::S(now.to_string()))
        .item(
            "expires_at",
            A::N((now.unix_seconds() + ttl_secs).to_string()),
        )
        .send()
        .await
        .expect("put the key's row");
}

/// A reply as a mail client writes it: the answer above the quoted history.
fn reply_mail(from: &str, to: &str, subject: &str, answer: &str) -> Vec<u8> {
    MessageBuilder::new()
        .from(("Chris", from))
        .to(("Dana via Liaison", to))
        .subject(subject)
        .text_body(format!(
            "{answer}\r\n\r\nOn Mon, 30 Nov 2026 at 07:51, Dana via Liaison <{to}> wrote:\r\n> The Hook scene needs a softer opening\r\n> Reply to this e-mail to answer in Liaison\r\n"
        ))
        .write_to_vec()
        .expect("an e-mail")
}

/// SES's verdicts, all PASS unless named.
fn verdicts(overrides: &[(&str, &str)]) -> Value {
    let mut v = json!({"spamVerdict": "PASS", "virusVerdict": "PASS", "spfVerdict": "PASS",
                        "dkimVerdict": "PASS", "dmarcVerdict": "PASS"});
    for (k, s) in overrides {
        v[*k] = json!(s);
    }
    v
}

/// The event SES's Lambda action sends for an e-mail to `recipients`
/// from envelope sender `source`.
fn ses_event(id: &str, recipients: &[&str], source: &str, verdicts: &Value) -> SimpleEmailEvent {
    let now = Timestamp::now().to_string();
    let verdict = |k: &str| json!({"status": verdicts[k]});
    let event = json!({"Records": [{
        "eventSource": "aws:ses", "eventVersion": "1.0",
        "ses": {
            "mail": {
                "timestamp": now, "source": source, "messageId": id,
                "destination": recipients, "headersTruncated": false,
                "headers": [{"name": "From", "value": format!("Chris <{source}>")}],
                "commonHeaders": {"returnPath": source, "from": [format!("Chris <{source}>")],
                                  "to": recipients, "messageId": format!("<{id}@mail.example>"),
                                  "subject": "Re: New message"}
            },
            "receipt": {
                "timestamp": now, "processingTimeMillis": 400, "recipients": recipients,
                "spamVerdict": verdict("spamVerdict"), "virusVerdict": verdict("virusVerdict"),
                "spfVerdict": verdict("spfVerdict"), "dkimVerdict": verdict("dkimVerdict"),
                "dmarcVerdict": verdict("dmarcVerdict"), "dmarcPolicy": "none",
                "action": {"type": "Lambda", "invocationType": "Event",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:receive-reply"}
            }
        }
    }]});
    serde_json::from_value(event).expect("SES's event")
}

/// Stores the raw e-mail as SES's S3 action does.
async fn store_raw(w: &World, id: &str, raw: &[u8]) {
    liaison::aws::s3_client(&w.aws)
        .put_object()
        .bucket(&w.names.bucket)
        .key(format!("inbound/{id}"))
        .body(raw.to_vec().into())
        .send()
        .await
        .expect("put the raw e-mail");
}

async fn invoke(w: &World, event: SimpleEmailEvent) -> Value {
    let answer = w.functions.receive_reply(event).await.unwrap_or_else(|d| {
        panic!(
            "receive-reply failed: {}: {}",
            d.error_type, d.error_message
        )
    });
    answer["results"][0].clone()
}

/// An e-mail arrives: raw in the bucket, then the function's result.
async fn arrive(w: &World, raw: &[u8], to: &[&str], source: &str, v: &Value) -> Value {
    let id = ses_id();
    store_raw(w, &id, raw).await;
    invoke(w, ses_event(&id, to, source, v)).await
}

async fn messages(w: &World, t: &str) -> Vec<Value> {
    w.call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200)["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn refused(result: &Value) -> (String, u64) {
    assert_eq!(result["outcome"], "refused", "{result}");
    (
        result["reason"].as_str().unwrap_or_default().to_owned(),
        result["check"].as_u64().unwrap_or(99),
    )
}

#[tokio::test]
async fn a_reply_is_posted_by_the_client_and_the_manager_gets_the_usual_email() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "The Hook scene needs a softer opening")
        .await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let raw = reply_mail(
        "Chris@Acme.example",
        &to,
        "Re: New message from Dana — General",
        "Agreed, let's soften it.",
    );
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    let event = ses_event(&id, &[&to], CHRIS, &verdicts(&[]));
    w.trips.take();
    let result = invoke(&w, event.clone()).await;
    assert_eq!(
        w.trips.take(),
        5,
        "GetObject, the key's GetItem, the thread and claim's BatchGetItem, the rate \
         transaction, the send's transaction"
    );
    assert_eq!(result["outcome"], "posted", "{result}");
    assert_eq!(result["message"]["thread_id"], t.as_str());
    let again = invoke(&w, event).await;
    assert_eq!(again["outcome"], "replayed", "{again}");
    assert_eq!(
        w.trips.take(),
        5,
        "a replay: the rate transaction refused by the mark, then the message read"
    );
    assert_eq!(result["message"]["urgent"], false);

    let listed = messages(&w, &t).await;
    let newest = &listed[0];
    assert_eq!(newest["body"], "Agreed, let's soften it.");
    assert_eq!(newest["author"]["id"], "u_chris");
    assert_eq!(newest["author"]["name"], "Chris");
    assert_eq!(newest["author"]["role"], "client");
    assert_eq!(
        newest["id"].as_str(),
        result["message"]["message_id"].as_str()
    );
    // Unread for the manager, like any client message.
    let dana_view = w.thread(&dana(), &t).await;
    assert_eq!(dana_view["unread"], true, "{dana_view}");

    // The relay's job for it e-mails the other side as usual.
    assert!(deliver(&w, vec![record(newest, "r1")]).await.is_empty());
    let mails = sent(&w).await;
    assert_eq!(
        to_count(&mails),
        BTreeMap::from([("dana@agency.example".to_owned(), 1)])
    );
    assert!(mails[0].text.contains("Agreed, let's soften it."));
}

/// (what, raw e-mail, recipients, envelope sender, verdicts, reason, check)
type Case<'a> = (&'a str, Vec<u8>, Vec<&'a str>, &'a str, Value, &'a str, u64);

#[tokio::test]
async fn every_check_refuses_with_its_own_reason_and_posts_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let good = reply_mail(CHRIS, &to, "Re: General", "Fine by me.");
    let pass = verdicts(&[]);
    let other_key = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    // A key of the right shape and signature whose row was never written.
    let unknown = ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS)
        .unwrap()
        .mint()
        .address(DOMAIN);
    // Signed with a secret this deployment does not have.
    let forged = ReplyKeys::parse("1:someone-elses-secret-value")
        .unwrap()
        .mint()
        .address(DOMAIN);
    let forged_raw = reply_mail(CHRIS, &forged, "Re: General", "Fine by me.");
    let unknown_raw = reply_mail(CHRIS, &unknown, "Re: General", "Fine by me.");
    let alex_raw = reply_mail("alex@acme.example", &to, "Re: General", "Fine by me.");
    let two_senders = String::from_utf8(good.clone()).unwrap().replacen(
        &"From: \"Chris\" <chris@acme.example>".to_string(),
        "From: \"Chris\" <chris@acme.example>, Alex <alex@acme.example>",
        1,
    );
    assert!(two_senders.contains("Alex <alex"), "{two_senders}");
    let with_header = |name: &'static str, value: &'static str| {
        MessageBuilder::new()
            .from(("Chris", CHRIS))
            .to(to.as_str())
            .subject("Out of office")
            .header(name, Raw::new(value))
            .text_body("I am away until Monday.")
            .write_to_vec()
            .unwrap()
    };
    let bounce = format!(
        "From: Mail Delivery System <mailer-daemon@acme.example>\r\nTo: {to}\r\nSubject: Undelivered Mail\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n--b1--\r\n"
    );
    let bounce_from_person = bounce.replace(
        "From: Mail Delivery System <mailer-daemon@acme.example>",
        "From: Chris <chris@acme.example>",
    );
    let only_quote = reply_mail(CHRIS, &to, "Re: General", "");

    let cases: Vec<Case> = vec![
        (
            "virus",
            good.clone(),
            vec![&to],
            CHRIS,
            verdicts(&[("virusVerdict", "FAIL")]),
            "virus",
            1,
        ),
        (
            "spam",
            good.clone(),
            vec![&to],
            CHRIS,
            verdicts(&[("spamVerdict", "FAIL")]),
            "spam",
            1,
        ),
        (
            "no reply address",
            good.clone(),
            vec!["dana@agency.example"],
            CHRIS,
            pass.clone(),
            "no_reply_address",
            2,
        ),
        (
            "reply address of another domain",
            good.clone(),
            vec!["reply+abc@reply.other.example"],
            CHRIS,
            pass.clone(),
            "no_reply_address",
            2,
        ),
        (
            "two keys",
            good.clone(),
            vec![&to, &other_key],
            CHRIS,
            pass.clone(),
            "several_reply_addresses",
            2,
        ),
        (
            "forged key",
            forged_raw,
            vec![&forged],
            CHRIS,
            pass.clone(),
            "forged_key",
            3,
        ),
        (
            "unknown key",
            unknown_raw,
            vec![&unknown],
            CHRIS,
            pass.clone(),
            "unknown_key",
            3,
        ),
        (
            "wrong sender",
            alex_raw,
            vec![&to],
            "alex@acme.example",
            pass.clone(),
            "wrong_sender",
            4,
        ),
        (
            "two senders",
            two_senders.into_bytes(),
            vec![&to],
            CHRIS,
            pass.clone(),
            "not_one_sender",
            4,
        ),
        (
            "dmarc fail",
            good.clone(),
            vec![&to],
            CHRIS,
            verdicts(&[("dmarcVerdict", "FAIL")]),
            "not_authenticated",
            4,
        ),
        (
            "neither spf nor dkim",
            good.clone(),
            vec![&to],
            CHRIS,
            verdicts(&[("spfVerdict", "FAIL"), ("dkimVerdict", "GRAY")]),
            "not_authenticated",
            4,
        ),
        (
            "auto-submitted",
            with_header("Auto-Submitted", "auto-replied"),
            vec![&to],
            CHRIS,
            pass.clone(),
            "automatic",
            5,
        ),
        (
            "precedence bulk",
            with_header("Precedence", "bulk"),
            vec![&to],
            CHRIS,
            pass.clone(),
            "automatic",
            5,
        ),
        (
            "bounce",
            bounce_from_person.into_bytes(),
            vec![&to],
            "",
            pass.clone(),
            "automatic",
            5,
        ),
        (
            "mailer-daemon",
            bounce.into_bytes(),
            vec![&to],
            "mailer-daemon@acme.example",
            pass.clone(),
            "wrong_sender",
            4,
        ),
        (
            "only the quoted history",
            only_quote,
            vec![&to],
            CHRIS,
            pass.clone(),
            "empty",
            7,
        ),
    ];
    for (name, raw, recipients, source, v, reason, check) in cases {
        let result = arrive(&w, &raw, &recipients, source, &v).await;
        assert_eq!(
            refused(&result),
            (reason.to_owned(), check),
            "{name}: {result}"
        );
    }
    // An event whose raw e-mail is not in the bucket.
    let missing = invoke(&w, ses_event(&ses_id(), &[&to], CHRIS, &pass)).await;
    assert_eq!(refused(&missing), ("unreadable".to_owned(), 0));
    assert!(messages(&w, &t).await.is_empty(), "nothing was posted");

    // The good e-mail itself passes every check.
    let result = arrive(&w, &good, &[&to], CHRIS, &pass).await;
    assert_eq!(result["outcome"], "posted", "{result}");
}

#[tokio::test]
async fn automatic_mail_from_the_key_owner_is_refused_at_check_five() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let raw = reply_mail(CHRIS, &to, "Re: General", "Fine by me.");
    // A bounce has an empty envelope sender.
    for source in ["", "<>"] {
        let result = arrive(&w, &raw, &[&to], source, &verdicts(&[])).await;
        assert_eq!(
            refused(&result),
            ("automatic".to_owned(), 5),
            "{source:?}: {result}"
        );
    }
    assert!(messages(&w, &t).await.is_empty());
}

#[tokio::test]
async fn an_expired_key_and_a_person_who_left_are_refused() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let expired = issue_key(&w, &t, "u_chris", CHRIS, -1).await;
    let raw = reply_mail(CHRIS, &expired, "Re: General", "Still there?");
    let result = arrive(&w, &raw, &[&expired], CHRIS, &verdicts(&[])).await;
    assert_eq!(refused(&result), ("expired_key".to_owned(), 3));

    // Chris leaves Acme (the directory changes); his key stops answering.
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let mut dir = directory();
    dir["accounts"][0]["users"] =
        json!([{"id": "u_alex", "email": "alex@acme.example", "name": "Alex"}]);
    w.sync(dir).await;
    let raw = reply_mail(CHRIS, &to, "Re: General", "Still there?");
    let result = arrive(&w, &raw, &[&to], CHRIS, &verdicts(&[])).await;
    assert_eq!(refused(&result), ("not_participant".to_owned(), 3));
    assert!(messages(&w, &t).await.is_empty());
}

#[tokio::test]
async fn the_same_email_delivered_again_or_at_once_posts_one_message() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let raw = MessageBuilder::new()
        .from(("Chris", CHRIS))
        .to(to.as_str())
        .subject("Re: General")
        .text_body("Here is the new cut.")
        .attachment("image/png", "cut.png", png(64))
        .write_to_vec()
        .unwrap();
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    let event = ses_event(&id, &[&to], CHRIS, &verdicts(&[]));
    let first = invoke(&w, event.clone()).await;
    assert_eq!(first["outcome"], "posted", "{first}");
    let again = invoke(&w, event.clone()).await;
    assert_eq!(again["outcome"], "replayed", "{again}");
    assert_eq!(again["message"], first["message"]);

    // Another e-mail, delivered five times at once.
    let raw = reply_mail(CHRIS, &to, "Re: General", "And one more thing.");
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    let event = ses_event(&id, &[&to], CHRIS, &verdicts(&[]));
    let (a, b, c, d, e) = tokio::join!(
        invoke(&w, event.clone()),
        invoke(&w, event.clone()),
        invoke(&w, event.clone()),
        invoke(&w, event.clone()),
        invoke(&w, event.clone()),
    );
    let results = [a, b, c, d, e];
    let posted = results.iter().filter(|r| r["outcome"] == "posted").count();
    assert_eq!(posted, 1, "{results:?}");
    for r in &results {
        assert_eq!(r["message"], results[0]["message"], "{results:?}");
    }
    let listed = messages(&w, &t).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
}

/// A PNG-looking file of `n` bytes.
fn png(n: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.resize(n, 7);
    b
}

#[tokio::test]
async fn files_are_stored_like_uploads_and_download_and_others_are_left_out_with_a_note() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let pdf = b"%PDF-1.4\n% brief\n".repeat(20);
    let raw = MessageBuilder::new()
        .from(("Chris", CHRIS))
        .to(to.as_str())
        .subject("Re: General")
        .text_body("The brief and the frame, see attached.")
        .attachment("image/png", "frame 1.png", png(300))
        .attachment("application/pdf", "brief.pdf", pdf.clone())
        .attachment(
            "application/x-msdownload",
            "setup.exe",
            b"MZ\x90\x00".to_vec(),
        )
        .write_to_vec()
        .unwrap();
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    w.trips.take();
    let result = invoke(&w, ses_event(&id, &[&to], CHRIS, &verdicts(&[]))).await;
    assert_eq!(result["outcome"], "posted", "{result}");
    assert_eq!(
        w.trips.take(),
        8,
        "five, plus a PutObject per file and the files' records in one transaction"
    );
    let listed = messages(&w, &t).await;
    let m = &listed[0];
    let body = m["body"].as_str().unwrap();
    assert!(
        body.starts_with("The brief and the frame, see attached."),
        "{body}"
    );
    assert!(
        body.contains("setup.exe"),
        "a note names what was left out: {body}"
    );
    let files = m["attachments"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["frame 1.png", "brief.pdf"]);

    // Scanned like any upload before anyone downloads them.
    assert!(files.iter().all(|f| f["scan"] == "pending"));
    w.scan().await;
    let s3 = liaison::aws::s3_client(&w.aws);
    for (f, bytes, ctype) in [
        (&files[0], png(300), "image/png"),
        (&files[1], pdf, "application/pdf"),
    ] {
        assert_eq!(f["content_type"], ctype);
        assert_eq!(f["size"], bytes.len());
        // Downloadable as any upload: the API's link serves the bytes.
        let id = f["id"].as_str().unwrap();
        let link = w
            .call(
                &dana(),
                "GET",
                &format!("/threads/{t}/attachments/{id}"),
                None,
            )
            .await
            .expect(200);
        let (status, _, got) = http("GET", link["download_url"].as_str().unwrap(), &[], b"").await;
        assert_eq!(status, 200);
        assert_eq!(got, bytes);
        // Stored with its type, tagged bound (out of the cleanup rule).
        let key = upload_key(&t, id);
        let tags = object_tags(&w, &key).await;
        assert!(
            tags.contains(&("liaison-state".to_owned(), "bound".to_owned())),
            "{tags:?}"
        );
        assert!(
            tags.contains(&(
                "GuardDutyMalwareScanStatus".to_owned(),
                "NO_THREATS_FOUND".to_owned()
            )),
            "the scan's tag is kept: {tags:?}"
        );
        let head = s3
            .head_object()
            .bucket(&w.names.bucket)
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_type(), Some(ctype));
    }
    // Not counted against Chris's presign cap: nothing of his is pending.
    let counters = w.partition("UPLOADS#u_chris").await;
    assert_eq!(counters.len(), 1, "{counters:?}");
    for item in counters {
        assert_eq!(item["pending_uploads"], json!({"N": "0"}), "{item}");
        assert_eq!(item["pending_bytes"], json!({"N": "0"}), "{item}");
    }
}

#[tokio::test]
async fn urgent_when_the_subject_says_so() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    for (subject, urgent) in [
        ("Re: [Urgent] the cut is wrong", true),
        ("URGENT: the cut is wrong", true),
        ("Re: not urgent at all", false),
        // Only keeping an urgent notification's subject: Dana's urgency.
        ("Re: [Urgent] New message from Dana — General", false),
    ] {
        let raw = reply_mail(CHRIS, &to, subject, "Please look.");
        let result = arrive(&w, &raw, &[&to], CHRIS, &verdicts(&[])).await;
        assert_eq!(result["message"]["urgent"], urgent, "{subject}: {result}");
    }
}

#[tokio::test]
async fn a_sender_gets_fifty_replies_a_minute_and_a_redelivery_is_not_counted_twice() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    // The function counts in the minute of its own clock: start at the
    // beginning of a minute, so the whole test (seconds, even on a busy
    // machine) falls in one.
    let into_minute = Timestamp::now().unix_seconds().rem_euclid(60);
    if into_minute > 5 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - into_minute) as u64)).await;
    }
    let now = Timestamp::now();
    // 49 e-mails counted this minute (as the function counts them).
    for i in 0..49 {
        let outcome = w
            .store
            .count_reply("Chris@acme.example", &format!("earlier-{i}"), now)
            .await
            .unwrap();
        assert_eq!(outcome, liaison::store::RateOutcome::Allowed);
    }
    // The 50th is posted; delivered again, it is not counted again.
    let raw = reply_mail(CHRIS, &to, "Re: General", "Fiftieth.");
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    let event = ses_event(&id, &[&to], CHRIS, &verdicts(&[]));
    assert_eq!(invoke(&w, event.clone()).await["outcome"], "posted");
    assert_eq!(invoke(&w, event).await["outcome"], "replayed");
    // The 51st is refused, and posts nothing.
    let raw = reply_mail(CHRIS, &to, "Re: General", "Fifty-first.");
    let result = arrive(&w, &raw, &[&to], CHRIS, &verdicts(&[])).await;
    assert_eq!(refused(&result), ("rate_limited".to_owned(), 6));
    assert_eq!(messages(&w, &t).await.len(), 1);
    // Another sender is not held up by Chris's count.
    let outcome = w
        .store
        .count_reply("alex@acme.example", "alex-1", now)
        .await
        .unwrap();
    assert_eq!(outcome, liaison::store::RateOutcome::Allowed);
}

#[tokio::test]
async fn the_hour_caps_across_minutes_and_concurrent_counts_never_overshoot() {
    use liaison::store::{RateLimits, RateOutcome};
    let w = World::new().await;
    // The same windows as 50 a minute and 600 an hour, scaled down so the
    // hour fills in four minutes: 3 a minute, 10 an hour.
    let limits = RateLimits {
        per_minute: 3,
        per_hour: 10,
    };
    assert_eq!(RateLimits::REPLIES.per_minute, 50);
    assert_eq!(RateLimits::REPLIES.per_hour, 600);
    let hour_start = (Timestamp::now().unix_seconds() / 3600 - 1) * 3600;
    let at = move |minute: i64, second: i64| {
        Timestamp::from_unix_millis((hour_start + minute * 60 + second) * 1000)
    };
    let mut allowed_total = 0;
    for minute in 0..4 {
        // Eight e-mails at once in one minute: exactly the minute's share
        // (or what is left of the hour) gets through.
        let mut counts = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = w.store.clone();
            let id = format!("m{minute}-{i}");
            counts.spawn(async move {
                store
                    .count_reply_within(CHRIS, &id, at(minute, i), limits)
                    .await
                    .unwrap()
            });
        }
        let mut allowed = 0;
        while let Some(outcome) = counts.join_next().await {
            if outcome.unwrap() == RateOutcome::Allowed {
                allowed += 1;
            }
        }
        let want = 3.min(10 - allowed_total);
        assert_eq!(allowed, want, "minute {minute}");
        allowed_total += allowed;
    }
    assert_eq!(allowed_total, 10);
    // The hour is full, even in a fresh minute; an e-mail counted before
    // still passes (a redelivery); the next hour starts afresh.
    let over = w
        .store
        .count_reply_within(CHRIS, "late", at(40, 0), limits)
        .await
        .unwrap();
    assert_eq!(over, RateOutcome::Limited);
    let mut again = 0;
    for i in 0..8 {
        let outcome = w
            .store
            .count_reply_within(CHRIS, &format!("m0-{i}"), at(40, 1), limits)
            .await
            .unwrap();
        again += usize::from(outcome == RateOutcome::Allowed);
    }
    assert_eq!(
        again, 3,
        "exactly minute 0's three counted e-mails pass again"
    );
    let next = w
        .store
        .count_reply_within(CHRIS, "next-hour", at(61, 0), limits)
        .await
        .unwrap();
    assert_eq!(next, RateOutcome::Allowed);
}

/// Fails DynamoDB's send transaction (the one that stores a message) while
/// armed, before it reaches DynamoDB.
#[derive(Debug, Clone, Default)]
struct FailSends {
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl aws_sdk_dynamodb::config::Intercept for FailSends {
    fn name(&self) -> &'static str {
        "FailSends"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use std::sync::atomic::Ordering::SeqCst;
        let request = context.request();
        let send = target_of(request) == "TransactWriteItems"
            && request
                .body()
                .bytes()
                .is_some_and(|b| String::from_utf8_lossy(b).contains("message_count + :one"));
        if send && self.armed.load(SeqCst) {
            self.failed.fetch_add(1, SeqCst);
            return Err("the send's transaction failed (test)".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_send_is_an_error_and_the_retry_posts_once_with_the_files() {
    use std::sync::atomic::Ordering::SeqCst;
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let faults = FailSends::default();
    faults.armed.store(true, SeqCst);
    let app = receive_reply::App {
        store: liaison::store::Store::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&w.aws)
                    .interceptor(faults.clone())
                    .build(),
            ),
            &w.names.table,
        ),
        attachments: w.attachments.clone(),
        settings: w.functions.receive_reply.settings.clone(),
    };
    let raw = MessageBuilder::new()
        .from(("Chris", CHRIS))
        .to(to.as_str())
        .subject("Re: General")
        .text_body("The frame, attached.")
        .attachment("image/png", "frame.png", png(128))
        .write_to_vec()
        .unwrap();
    let id = ses_id();
    store_raw(&w, &id, &raw).await;
    let event = ses_event(&id, &[&to], CHRIS, &verdicts(&[]));

    // Lambda sees an error (and retries the event); nothing is posted.
    assert!(receive_reply::handle(&app, event.clone()).await.is_err());
    assert!(faults.failed.load(SeqCst) >= 1);
    assert!(messages(&w, &t).await.is_empty());

    // Lambda's retry: posted once, with its file, counted once.
    faults.armed.store(false, SeqCst);
    let answer = receive_reply::handle(&app, event.clone()).await.unwrap();
    assert_eq!(answer["results"][0]["outcome"], "posted", "{answer}");
    let again = receive_reply::handle(&app, event).await.unwrap();
    assert_eq!(again["results"][0]["outcome"], "replayed", "{again}");
    let listed = messages(&w, &t).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["attachments"][0]["filename"], "frame.png");
    let counters = w
        .partition(&format!("INBOUND#{}", liaison::store::sender_hash(CHRIS)))
        .await;
    let minute = counters
        .iter()
        .find(|i| i["sk"]["S"].as_str().is_some_and(|s| s.starts_with("MIN#")))
        .expect("the minute's counter");
    assert_eq!(minute["reply_count"], json!({"N": "1"}), "{counters:?}");
}

#[tokio::test]
async fn ten_answers_at_once_are_ten_messages_counted_ten_times() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let to = issue_key(&w, &t, "u_chris", CHRIS, 3600).await;
    let mut events = Vec::new();
    for i in 0..10 {
        let raw = reply_mail(CHRIS, &to, "Re: General", &format!("Answer {i}."));
        let id = ses_id();
        store_raw(&w, &id, &raw).await;
        events.push(ses_event(&id, &[&to], CHRIS, &verdicts(&[])));
    }
    let mut runs = tokio::task::JoinSet::new();
    for event in events {
        let app = receive_reply::App {
            store: w.store.clone(),
            attachments: w.attachments.clone(),
            settings: w.functions.receive_reply.settings.clone(),
        };
        runs.spawn(async move { receive_reply::handle(&app, event).await.unwrap() });
    }
    while let Some(answer) = runs.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer["results"][0]["outcome"], "posted", "{answer}");
    }
    let listed = messages(&w, &t).await;
    let mut bodies: Vec<&str> = listed.iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort();
    let want: Vec<String> = (0..10).map(|i| format!("Answer {i}.")).collect();
    assert_eq!(bodies, want);
    let counters = w
        .partition(&format!("INBOUND#{}", liaison::store::sender_hash(CHRIS)))
        .await;
    let count: u64 = counters
        .iter()
        .filter(|i| {
            i["sk"]["S"]
                .as_str()
                .is_some_and(|s| s.starts_with("HOUR#"))
        })
        .map(|i| {
            i["reply_count"]["N"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(count, 10, "{counters:?}");
}
