//! Nobody downloads an unscanned file: each attachment's malware-scan
//! state (pending → clean | infected), record-scan's handling of
//! GuardDuty's result events, and the local stand-in scanner.

use std::sync::Arc;

use liaison::attachments::AttachmentKey;
use liaison::domain::{
    AttachmentId, Author, ClientMessageId, MessageBody, Role, ScanState, ThreadId, UserId,
};
use liaison::store::{NewMessage, ScanRecorded, SendOutcome};
use liaison_local::scanner::{scan_event, sqs_event, EICAR};
use record_scan::{Parsed, NO_THREATS_FOUND, THREATS_FOUND};
use serde_json::{json, Value};

use crate::notify::{deliver, record, sent};
use crate::support::*;

/// A small real PNG header and some bytes.
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend(std::iter::repeat_n(7u8, 64));
    b
}

/// A PDF that carries the EICAR test string.
fn eicar_pdf() -> Vec<u8> {
    let mut b = b"%PDF-1.4\n% ".to_vec();
    b.extend_from_slice(EICAR);
    b.extend_from_slice(b"\n%%EOF\n");
    b
}

/// Uploads `bytes` as `name` to thread `t` (as Chris); the attachment id.
async fn upload(w: &World, t: &str, name: &str, content_type: &str, bytes: &[u8]) -> String {
    let p = presign_raw(w, &chris(), t, name, content_type, bytes.len() as u64)
        .await
        .expect(201);
    assert_eq!(put_upload(&p, bytes).await.0, 200);
    id_of(&p)
}

fn key_of(t: &str, id: &str) -> String {
    upload_key(t, id)
}

/// The key the scan event names for `key`.
fn scanned(key: &str) -> AttachmentKey {
    AttachmentKey::parse(key).expect("an attachment key")
}

fn region(w: &World) -> String {
    w.aws
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into())
}

/// The event GuardDuty would send for `key` (now), through record-scan;
/// the message ids it reported failed.
async fn result(w: &World, key: &str, status: &str) -> Vec<Value> {
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let event = scan_event(&w.names.bucket, key, "etag", status, &region(w), &at);
    deliver_events(w, &[event]).await
}

async fn deliver_events(w: &World, events: &[Value]) -> Vec<Value> {
    let answer = w
        .functions
        .record_scan(sqs_event(events, &region(w)))
        .await
        .expect("record-scan answers");
    answer["batchItemFailures"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn listed_attachment(w: &World, who: &Who, t: &str) -> Value {
    listed(w, who, t, None).await
}

/// Attachment `id` (or the newest message's first one) as `who` lists it.
async fn listed(w: &World, who: &Who, t: &str, id: Option<&str>) -> Value {
    let listed = w
        .call(who, "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let mut messages = listed["messages"].as_array().unwrap().clone();
    messages.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    messages
        .iter()
        .rev()
        .flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default())
        .find(|a| id.is_none_or(|id| a["id"] == id))
        .expect("a message with the attachment")
}

async fn download(w: &World, who: &Who, t: &str, id: &str) -> Resp {
    w.call(who, "GET", &format!("/threads/{t}/attachments/{id}"), None)
        .await
}

#[tokio::test]
async fn pending_files_have_no_link_until_the_scan_finds_them_clean() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let bytes = png();
    let id = upload(&w, &t, "frame.png", "image/png", &bytes).await;
    let sent = send(&w, &chris(), &t, "frame", &[&id]).await.expect(201);
    let a = &sent["attachments"][0];
    assert_eq!(a["scan"], "pending");
    assert!(a.get("download_url").is_none() && a.get("download_url_expires_at").is_none());
    for who in [dana(), alex(), chris()] {
        let listed = listed_attachment(&w, &who, &t).await;
        assert_eq!(listed["scan"], "pending");
        assert!(listed.get("download_url").is_none(), "{listed}");
        download(&w, &who, &t, &id)
            .await
            .problem(409, "attachment_not_scanned");
    }

    let scanned = w.scan().await;
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0].key, key_of(&t, &id));
    assert_eq!(scanned[0].status, NO_THREATS_FOUND);
    assert!(scanned[0].delivered);
    // As GuardDuty does: tagged with the result, the other tags kept.
    let tags = object_tags(&w, &key_of(&t, &id)).await;
    assert!(tags.contains(&(
        "GuardDutyMalwareScanStatus".into(),
        "NO_THREATS_FOUND".into()
    )));
    assert!(tags.contains(&("liaison-state".into(), "bound".into())));
    // A second pass finds nothing new.
    assert!(w.scan().await.is_empty());

    let listed = listed_attachment(&w, &dana(), &t).await;
    assert_eq!(listed["scan"], "clean");
    let link = listed["download_url"].as_str().expect("a link once clean");
    let (status, _, got) = http("GET", link, &[], b"").await;
    assert_eq!((status, got.as_slice()), (200, bytes.as_slice()));
    let fresh = download(&w, &alex(), &t, &id).await.expect(200);
    let (status, _, got) = http("GET", fresh["download_url"].as_str().unwrap(), &[], b"").await;
    assert_eq!((status, got), (200, bytes));

    // Other accounts still see nothing.
    for who in [client("u_bea", "acc_beta"), manager("u_max")] {
        download(&w, &who, &t, &id).await.problem(404, "not_found");
    }
}

#[tokio::test]
async fn an_infected_file_is_never_downloadable_and_e_mails_say_it_was_removed() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let bad = upload(&w, &t, "brief.pdf", "application/pdf", &eicar_pdf()).await;
    let good = upload(&w, &t, "frame.png", "image/png", &png()).await;
    let sent_msg = send(&w, &chris(), &t, "files", &[&bad, &good])
        .await
        .expect(201);

    let mut scanned = w.scan().await;
    scanned.sort_by(|a, b| a.key.cmp(&b.key));
    let status_of = |id: &str| {
        scanned
            .iter()
            .find(|s| s.key == key_of(&t, id))
            .map(|s| s.status)
    };
    assert_eq!(status_of(&bad), Some(THREATS_FOUND));
    assert_eq!(status_of(&good), Some(NO_THREATS_FOUND));

    let listed = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let files = listed["messages"][0]["attachments"].as_array().unwrap();
    assert_eq!(files[0]["id"], bad.as_str());
    assert_eq!(files[0]["scan"], "infected");
    assert!(files[0].get("download_url").is_none(), "{}", files[0]);
    assert_eq!(files[1]["scan"], "clean");
    assert!(files[1]["download_url"].is_string());
    for who in [dana(), chris()] {
        download(&w, &who, &t, &bad)
            .await
            .problem(403, "attachment_infected");
    }

    // A late or repeated clean result never makes it downloadable.
    for _ in 0..2 {
        assert!(result(&w, &key_of(&t, &bad), NO_THREATS_FOUND)
            .await
            .is_empty());
    }
    download(&w, &dana(), &t, &bad)
        .await
        .problem(403, "attachment_infected");
    assert_eq!(listed_attachment(&w, &dana(), &t).await["scan"], "infected");

    // The e-mail names it as removed and links no file.
    assert!(deliver(&w, vec![record(&sent_msg, "r1")]).await.is_empty());
    let mail = sent(&w).await.pop().expect("an e-mail to Dana");
    assert!(
        mail.text
            .contains("Attached: brief.pdf (removed: malware found), frame.png"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("brief.pdf (removed: malware found)"));
    assert!(!mail.raw.contains("X-Amz-Signature"));
    assert!(!mail.raw.contains(&bad));
}

#[tokio::test]
async fn duplicate_and_out_of_order_results_keep_infected_final() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let id = upload(&w, &t, "a.png", "image/png", &png()).await;
    send(&w, &chris(), &t, "a", &[&id]).await.expect(201);
    let key = key_of(&t, &id);

    // Clean, twice (a redelivery): clean.
    for _ in 0..2 {
        assert!(result(&w, &key, NO_THREATS_FOUND).await.is_empty());
    }
    assert_eq!(listed_attachment(&w, &dana(), &t).await["scan"], "clean");
    download(&w, &dana(), &t, &id).await.expect(200);
    // A rescan that finds a threat wins...
    assert!(result(&w, &key, THREATS_FOUND).await.is_empty());
    // ... and an older clean result delivered after it does not undo it,
    // not even within one batch, in either order.
    let at = "2020-01-01T00:00:00Z";
    let clean = scan_event(
        &w.names.bucket,
        &key,
        "e",
        NO_THREATS_FOUND,
        &region(&w),
        at,
    );
    let infected = scan_event(&w.names.bucket, &key, "e", THREATS_FOUND, &region(&w), at);
    assert!(deliver_events(&w, &[clean.clone(), infected, clean])
        .await
        .is_empty());
    let a = listed_attachment(&w, &dana(), &t).await;
    assert_eq!(a["scan"], "infected");
    assert!(a.get("download_url").is_none());
    download(&w, &dana(), &t, &id)
        .await
        .problem(403, "attachment_infected");
    // No verdict (UNSUPPORTED, FAILED...) changes nothing.
    assert!(result(&w, &key, "UNSUPPORTED").await.is_empty());
    assert_eq!(listed_attachment(&w, &dana(), &t).await["scan"], "infected");

    // On a file still pending: no verdict leaves it pending.
    let other = upload(&w, &t, "b.png", "image/png", &png()).await;
    send(&w, &chris(), &t, "b", &[&other]).await.expect(201);
    for status in ["UNSUPPORTED", "ACCESS_DENIED", "FAILED"] {
        assert!(result(&w, &key_of(&t, &other), status).await.is_empty());
    }
    download(&w, &dana(), &t, &other)
        .await
        .problem(409, "attachment_not_scanned");
}

#[tokio::test]
async fn a_result_before_the_send_is_carried_into_the_message() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let clean = upload(&w, &t, "a.png", "image/png", &png()).await;
    let bad = upload(&w, &t, "b.pdf", "application/pdf", &eicar_pdf()).await;
    // Scanned while still unsent.
    assert_eq!(w.scan().await.len(), 2);
    // Not downloadable before it is sent, clean or not.
    download(&w, &chris(), &t, &clean)
        .await
        .problem(404, "not_found");
    let sent = send(&w, &chris(), &t, "both", &[&clean, &bad])
        .await
        .expect(201);
    assert_eq!(sent["attachments"][0]["scan"], "clean");
    assert!(sent["attachments"][0]["download_url"].is_string());
    assert_eq!(sent["attachments"][1]["scan"], "infected");
    assert!(sent["attachments"][1].get("download_url").is_none());
    download(&w, &dana(), &t, &clean).await.expect(200);
    download(&w, &dana(), &t, &bad)
        .await
        .problem(403, "attachment_infected");
}

/// What a send of `ids` by Chris looks like to the store.
async fn new_message(
    w: &World,
    t: &str,
    ids: &[&str],
) -> (NewMessage, liaison::store::ThreadRecord) {
    let thread = ThreadId::parse(t).unwrap();
    let ids: Vec<AttachmentId> = ids
        .iter()
        .map(|i| AttachmentId::parse(i).unwrap())
        .collect();
    let ctx = w.store.send_context(&thread, &ids, None).await.unwrap();
    let new = NewMessage {
        thread,
        author: Author {
            id: UserId::parse("u_chris").unwrap(),
            name: "Chris".into(),
            role: Role::Client,
        },
        client_message_id: ClientMessageId::parse(&key()).unwrap(),
        body: MessageBody::parse("race").unwrap(),
        urgent: false,
        attachments: ctx.attachments.iter().map(|a| a.file.clone()).collect(),
    };
    (new, ctx.record.unwrap())
}

#[tokio::test]
async fn a_result_landing_between_the_sends_read_and_its_write_is_not_lost() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let id = upload(&w, &t, "a.png", "image/png", &png()).await;
    // The send has read the record (pending)...
    let (new, record) = new_message(&w, &t, &[&id]).await;
    assert_eq!(new.attachments[0].scan, ScanState::Pending);
    // ... the result lands ...
    let recorded = w
        .store
        .record_scan(&scanned(&key_of(&t, &id)), ScanState::Clean)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        ScanRecorded::Recorded {
            state: ScanState::Clean,
            message: None
        }
    );
    // ... and the send's bind, conditional on the state it read, fails
    // and is retried with the new one.
    let SendOutcome::Created(m) = w.store.send_message(&new, record).await.unwrap() else {
        panic!("the send goes through");
    };
    assert_eq!(m.attachments[0].scan, ScanState::Clean);
    assert_eq!(listed_attachment(&w, &dana(), &t).await["scan"], "clean");
    download(&w, &dana(), &t, &id).await.expect(200);
}

#[tokio::test]
async fn results_racing_sends_always_end_in_the_message() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    for round in 0..8 {
        let infected = round % 2 == 1;
        let id = upload(&w, &t, "a.png", "image/png", &png()).await;
        let (new, record) = new_message(&w, &t, &[&id]).await;
        let state = if infected {
            ScanState::Infected
        } else {
            ScanState::Clean
        };
        let (w1, w2) = (w.clone(), w.clone());
        let object = scanned(&key_of(&t, &id));
        let scan = tokio::spawn(async move {
            // Spread the result over the send's read-to-commit window.
            tokio::time::sleep(std::time::Duration::from_millis(round * 3)).await;
            w1.store.record_scan(&object, state).await.unwrap()
        });
        let send = tokio::spawn(async move { w2.store.send_message(&new, record).await.unwrap() });
        let (scan, send) = (scan.await.unwrap(), send.await.unwrap());
        assert!(matches!(scan, ScanRecorded::Recorded { .. }), "{scan:?}");
        assert!(matches!(send, SendOutcome::Created(_)), "{send:?}");
        let listed = listed(&w, &dana(), &t, Some(&id)).await;
        assert_eq!(listed["scan"], state.as_str(), "round {round}");
        let want = if infected { 403 } else { 200 };
        assert_eq!(download(&w, &dana(), &t, &id).await.status, want);
    }
}

#[tokio::test]
async fn record_scan_reads_guardduty_s_event_and_ignores_what_is_not_an_attachment() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let id = upload(&w, &t, "a.png", "image/png", &png()).await;
    send(&w, &chris(), &t, "a", &[&id]).await.expect(201);

    // GuardDuty's sample event (from its documentation), pointed at this
    // world's object.
    let sample: Value = serde_json::from_str(include_str!(
        "../fixtures/events/guardduty-scan-result.json"
    ))
    .unwrap();
    let mut event = sample.clone();
    event["detail"]["s3ObjectDetails"]["bucketName"] = json!(w.names.bucket);
    event["detail"]["s3ObjectDetails"]["objectKey"] = json!(key_of(&t, &id));
    assert_eq!(
        record_scan::parse(&event.to_string(), &w.names.bucket),
        Parsed::Result {
            object: scanned(&key_of(&t, &id)),
            result: ScanState::Infected,
            at: Some(1_709_082_061),
        }
    );
    // As is: another bucket, a key that is no attachment.
    assert_eq!(
        record_scan::parse(&sample.to_string(), &w.names.bucket),
        Parsed::Ignore("another bucket")
    );
    let mut inbound = event.clone();
    inbound["detail"]["s3ObjectDetails"]["objectKey"] = json!("inbound/abc123");
    assert_eq!(
        record_scan::parse(&inbound.to_string(), &w.names.bucket),
        Parsed::Ignore("not an attachment object")
    );
    let mut other = event.clone();
    other["detail-type"] = json!("GuardDuty Malware Protection Post Scan Action Failed");
    assert!(matches!(
        record_scan::parse(&other.to_string(), &w.names.bucket),
        Parsed::Ignore(_)
    ));
    assert!(matches!(
        record_scan::parse("{not json", &w.names.bucket),
        Parsed::Malformed(_)
    ));

    // Through the function: malformed and ignored records are dropped (not
    // failed), the real one is recorded.
    let failed = deliver_events(&w, &[json!("not an event"), inbound, other, sample, event]).await;
    assert!(failed.is_empty(), "{failed:?}");
    download(&w, &dana(), &t, &id)
        .await
        .problem(403, "attachment_infected");

    // A result for an attachment with no record: retried while recent (its
    // record may be about to be written), dropped once old.
    let unknown = key_of(&t, &AttachmentId::new().to_string());
    assert_eq!(result(&w, &unknown, NO_THREATS_FOUND).await.len(), 1);
    let old = scan_event(
        &w.names.bucket,
        &unknown,
        "e",
        NO_THREATS_FOUND,
        &region(&w),
        "2020-01-01T00:00:00Z",
    );
    assert!(deliver_events(&w, &[old]).await.is_empty());
    // Another account's key for this thread's attachment records nothing.
    let foreign = format!("acc_beta/{t}/{}", AttachmentId::new());
    assert_eq!(result(&w, &foreign, NO_THREATS_FOUND).await.len(), 1);
    // Nor does a key of the other layout for this very attachment (its
    // file is stored under t/…, not under its account): the result is not
    // about its bytes.
    for elsewhere in [format!("acc_beta/{t}/{id}"), format!("acc_acme/{t}/{id}")] {
        assert_eq!(
            w.store
                .record_scan(&scanned(&elsewhere), ScanState::Clean)
                .await
                .unwrap(),
            ScanRecorded::NoRecord,
            "{elsewhere}"
        );
    }
    download(&w, &dana(), &t, &id)
        .await
        .problem(403, "attachment_infected");
}

#[tokio::test]
async fn the_stand_in_skips_raw_e_mails_and_waits_its_delay() {
    let w = World::new().await;
    let s3 = liaison::aws::s3_client(&w.aws);
    s3.put_object()
        .bucket(&w.names.bucket)
        .key("inbound/raw-mail")
        .body(eicar_pdf().into())
        .send()
        .await
        .unwrap();
    let t = general_thread(&w).await;
    let id = upload(&w, &t, "a.png", "image/png", &png()).await;
    let mut patient = liaison_local::scanner::StandIn::new(
        s3.clone(),
        &w.names.bucket,
        region(&w),
        std::time::Duration::from_secs(3600),
    );
    assert!(patient.pass(&w.functions).await.unwrap().is_empty());
    let scanned = w.scan().await;
    assert_eq!(scanned.len(), 1, "{scanned:?}");
    assert_eq!(scanned[0].key, key_of(&t, &id));
    assert!(object_tags(&w, "inbound/raw-mail").await.is_empty());
}

/// `make dev`'s path: the local gateway's own stand-in scanner (here with a
/// short delay) marks uploads clean, or infected by the EICAR string, and
/// the API over HTTP follows.
#[tokio::test]
async fn the_local_gateway_scans_uploads_in_the_background() {
    let mut config = gateway_config("s").await;
    config.scan_delay = std::time::Duration::from_millis(200);
    let gateway = liaison_local::Gateway::start(config)
        .await
        .expect("the gateway starts");
    let client = liaison_local::client::HttpClient::new();
    let auth = format!("Bearer {}", demo_token("u_chris"));
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (client, auth, url) = (&client, &auth, gateway.url());
        async move {
            let r = client
                .send(
                    method,
                    &format!("{url}{path}"),
                    &[
                        ("content-type", "application/json"),
                        ("authorization", auth.as_str()),
                    ],
                    body.map(|b| b.to_string().into_bytes()),
                )
                .await
                .expect("the gateway answers");
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.status, body)
        }
    };
    let (status, thread) = call(
        "POST",
        "/threads".into(),
        Some(json!({"scope": {"kind": "general"}})),
    )
    .await;
    assert!(status == 201 || status == 200, "{thread}");
    let t = thread["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for (name, ctype, bytes) in [
        ("clean.png", "image/png", png()),
        ("eicar.pdf", "application/pdf", eicar_pdf()),
    ] {
        let (status, p) = call(
            "POST",
            format!("/threads/{t}/attachments"),
            Some(json!({"filename": name, "content_type": ctype, "size": bytes.len()})),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        assert_eq!(put_upload(&p, &bytes).await.0, 200);
        ids.push(id_of(&p));
    }
    let (status, sent) = call(
        "POST",
        format!("/threads/{t}/messages"),
        Some(json!({"body": "two files", "attachment_ids": ids, "client_message_id": key()})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");

    let started = std::time::Instant::now();
    let files = loop {
        let (_, listed) = call("GET", format!("/threads/{t}/messages"), None).await;
        let files = listed["messages"][0]["attachments"]
            .as_array()
            .unwrap()
            .clone();
        if files.iter().all(|f| f["scan"] != "pending") {
            break files;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "still pending: {files:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(files[0]["scan"], "clean");
    let (status, _, got) = http("GET", files[0]["download_url"].as_str().unwrap(), &[], b"").await;
    assert_eq!((status, got), (200, png()));
    assert_eq!(files[1]["scan"], "infected");
    assert!(files[1].get("download_url").is_none());
    let (status, problem) = call("GET", format!("/threads/{t}/attachments/{}", ids[1]), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("attachment_infected"))
    );
    gateway.shutdown().await;
}

/// A retag that raced GuardDuty's (send-message reads and rewrites the tag
/// set) could drop the scan's tag, and S3 would then refuse the clean
/// file: record-scan puts the tag back on a bound file, keeping the others.
#[tokio::test]
async fn a_dropped_scan_tag_on_a_bound_file_is_put_back() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let id = upload(&w, &t, "a.png", "image/png", &png()).await;
    send(&w, &chris(), &t, "a", &[&id]).await.expect(201);
    let key = key_of(&t, &id);
    assert!(result(&w, &key, NO_THREATS_FOUND).await.is_empty());
    // The lost update: only the state tag is left.
    let s3 = liaison::aws::s3_client(&w.aws);
    let bound = aws_sdk_s3::types::Tag::builder()
        .key("liaison-state")
        .value("bound")
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket(&w.names.bucket)
        .key(&key)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(bound)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // GuardDuty's event (or its redelivery) arrives: the tag is back.
    assert!(result(&w, &key, NO_THREATS_FOUND).await.is_empty());
    let mut now = object_tags(&w, &key).await;
    now.sort();
    assert_eq!(
        now,
        [
            (
                "GuardDutyMalwareScanStatus".to_owned(),
                "NO_THREATS_FOUND".to_owned()
            ),
            ("liaison-state".to_owned(), "bound".to_owned()),
        ]
    );
    // An infected result makes it say so (and it stays so).
    assert!(result(&w, &key, THREATS_FOUND).await.is_empty());
    assert!(result(&w, &key, NO_THREATS_FOUND).await.is_empty());
    assert!(object_tags(&w, &key)
        .await
        .contains(&("GuardDutyMalwareScanStatus".into(), "THREATS_FOUND".into())));
    // An unsent file's tags are not touched by record-scan.
    let pending = upload(&w, &t, "b.png", "image/png", &png()).await;
    assert!(result(&w, &key_of(&t, &pending), NO_THREATS_FOUND)
        .await
        .is_empty());
    assert_eq!(
        object_tags(&w, &key_of(&t, &pending)).await,
        [("liaison-state".to_owned(), "pending".to_owned())]
    );
}
