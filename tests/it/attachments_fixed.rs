//! Issue 11: what a sent message's attachment serves is fixed at send time
//! and never expires; unsent uploads still do; a person's unsent uploads are
//! capped; hostile file names are cleaned; cheap checks come first.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use serde_json::{json, Value};

use crate::support::*;

async fn presign(w: &World, who: &Who, t: &str, filename: &str, ct: &str, size: u64) -> Value {
    presign_raw(w, who, t, filename, ct, size).await.expect(201)
}

/// PUTs `bytes` to the upload URL exactly as the answer says; the status.
async fn put(presigned: &Value, bytes: &[u8]) -> u16 {
    put_upload(presigned, bytes).await.0
}

fn s3(w: &World) -> aws_sdk_s3::Client {
    liaison::aws::s3_client(&w.aws)
}

/// Whether the bucket's lifecycle configuration (as stored: moto keeps it
/// but never applies it) has an enabled expiration rule that matches the
/// object's key and tags: whether S3 would delete it some day.
async fn expirable(w: &World, key: &str) -> bool {
    let rules = s3(w)
        .get_bucket_lifecycle_configuration()
        .bucket(&w.names.bucket)
        .send()
        .await
        .expect("the bucket has a lifecycle configuration")
        .rules
        .unwrap_or_default();
    let tags: HashMap<String, String> = object_tags(w, key).await.into_iter().collect();
    rules.iter().any(|rule| {
        if rule.status != aws_sdk_s3::types::ExpirationStatus::Enabled || rule.expiration.is_none()
        {
            return false;
        }
        let Some(filter) = &rule.filter else {
            return true;
        };
        let mut wanted: Vec<(String, String)> = Vec::new();
        let mut prefix = filter.prefix.clone().unwrap_or_default();
        if let Some(t) = &filter.tag {
            wanted.push((t.key.clone(), t.value.clone()));
        }
        if let Some(and) = &filter.and {
            prefix = and.prefix.clone().unwrap_or(prefix);
            for t in and.tags() {
                wanted.push((t.key.clone(), t.value.clone()));
            }
        }
        key.starts_with(&prefix)
            && wanted
                .iter()
                .all(|(k, v)| tags.get(k).is_some_and(|have| have == v))
    })
}

fn object_key(t: &str, id: &str) -> String {
    upload_key(t, id)
}

#[tokio::test]
async fn a_sent_attachment_keeps_its_bytes_when_the_upload_url_is_used_again() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let original = file_of("image/png", 4096);
    let p = presign(&w, &chris(), &t, "hook.png", "image/png", 4096).await;
    let id = id_of(&p);
    // The URL is write-once: S3 checks If-None-Match only because it is
    // signed (moto checks no signature, so assert it from the URL).
    let url = p["upload"]["url"].as_str().unwrap();
    let signed = param(url, "X-Amz-SignedHeaders").unwrap();
    assert!(signed.split(';').any(|h| h == "if-none-match"), "{signed}");
    assert_eq!(p["upload"]["headers"]["if-none-match"], "*");
    assert_eq!(put(&p, &original).await, 200);
    send(&w, &chris(), &t, "the hook", &[&id]).await.expect(201);

    // Within the URL's 15 minutes: other bytes of the same length, and the
    // same bytes again. Both are refused; nothing changes.
    let mut forged = file_of("image/png", 4096);
    forged[100..].fill(b'X');
    assert_eq!(put(&p, &forged).await, 412, "the upload URL must be spent");
    assert_eq!(put(&p, &original).await, 412);
    w.scan().await;

    let listed = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let link = listed["messages"][0]["attachments"][0]["download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = w
        .call(
            &alex(),
            "GET",
            &format!("/threads/{t}/attachments/{id}"),
            None,
        )
        .await
        .expect(200)["download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    for link in [link, fresh] {
        let (status, headers, got) = http("GET", &link, &[], b"").await;
        assert_eq!(status, 200);
        assert_eq!(got, original, "the download serves what was sent");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("content-type").as_deref(), Some("image/png"));
        assert_eq!(header("content-length").as_deref(), Some("4096"));
    }
    // And it stays: the object is out of the expiry rule.
    assert!(!expirable(&w, &object_key(&t, &id)).await);
}

#[tokio::test]
async fn an_upload_never_sent_is_left_to_the_expiry_rule() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let p = presign(&w, &chris(), &t, "draft.pdf", "application/pdf", 4).await;
    assert_eq!(put(&p, b"%PDF").await, 200);
    let key = object_key(&t, &id_of(&p));
    assert!(
        expirable(&w, &key).await,
        "an upload never sent must match the bucket's expiry rule"
    );
    // The rule is the template's: two days after the upload.
    let rules = s3(&w)
        .get_bucket_lifecycle_configuration()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap()
        .rules
        .unwrap_or_default();
    let rule = rules
        .iter()
        .find(|r| r.id.as_deref() == Some(liaison::attachments::UNBOUND_EXPIRY_RULE))
        .expect("the expiry rule");
    assert_eq!(
        rule.expiration.as_ref().and_then(|e| e.days),
        Some(liaison::attachments::UNBOUND_EXPIRY_DAYS)
    );
    // And uploads in parts left incomplete are aborted after a day.
    let abort = rules
        .iter()
        .find(|r| r.id.as_deref() == Some(liaison::attachments::ABORT_INCOMPLETE_RULE))
        .expect("the abort rule");
    assert_eq!(
        abort
            .abort_incomplete_multipart_upload
            .as_ref()
            .and_then(|a| a.days_after_initiation),
        Some(liaison::attachments::ABORT_INCOMPLETE_DAYS)
    );
    // A refused send (wrong author) does not take it out of the rule.
    send(&w, &alex(), &t, "not mine", &[&id_of(&p)])
        .await
        .problem(422, "attachment_not_uploaded");
    assert!(expirable(&w, &key).await);
}

#[tokio::test]
async fn a_bound_upload_survives_a_relay_that_cannot_retag() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let p = presign(&w, &chris(), &t, "cut.mp4", "video/mp4", 24).await;
    let id = id_of(&p);
    assert_eq!(put(&p, &file_of("video/mp4", 24)).await, 200);
    let sent = send(&w, &chris(), &t, "cut", &[&id]).await.expect(201);
    let message = sent["id"].as_str().unwrap();

    // The relay's S3 is gone for good (a bucket that does not exist).
    let broken = relay_messages::App {
        sqs: aws_sdk_sqs::Client::new(&w.aws),
        queue_url: w.queue_url.clone(),
        delay: std::time::Duration::ZERO,
        attachments: liaison::attachments::Attachments::new(
            s3(&w),
            format!("{}-gone", w.names.bucket),
        ),
    };
    let mut event = Event::default();
    event.records =
        vec![stream_record(&w, &format!("THREAD#{t}"), &format!("MSG#{message}"), 100).await];
    for _ in 0..3 {
        relay_messages::handle(&broken, event.clone()).await;
    }
    assert!(
        !expirable(&w, &object_key(&t, &id)).await,
        "a listed attachment must not depend on the relay to stay"
    );
    assert_eq!(sent["attachments"][0]["scan"], "pending");
    w.scan().await;
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
    assert_eq!((status, got), (200, file_of("video/mp4", 24)));
}

#[tokio::test]
async fn a_send_with_attachments_costs_two_round_trips_plus_two_per_attachment() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let p = presign(&w, &chris(), &t, &format!("{i}.gif"), "image/gif", 6).await;
        assert_eq!(put(&p, b"GIF89a").await, 200);
        ids.push(id_of(&p));
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    w.trips.take();
    send(&w, &chris(), &t, "three", &refs).await.expect(201);
    assert_eq!(
        w.trips.take(),
        2 + 3 * 2,
        "batch read, a ranged GET and a PutObjectTagging per attachment (the GET's tag count \
         says only the state tag is there), the transaction"
    );
    for id in &ids {
        assert!(!expirable(&w, &object_key(&t, id)).await);
    }
    // A file that already has another tag (the scan's, say) is read first,
    // so the other tag is kept.
    let p = presign(&w, &chris(), &t, "scanned.gif", "image/gif", 6).await;
    assert_eq!(put(&p, b"GIF89a").await, 200);
    let key = object_key(&t, &id_of(&p));
    let s3 = s3(&w);
    let tag = |k: &str, v: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    s3.put_object_tagging()
        .bucket(&w.names.bucket)
        .key(&key)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(tag("liaison-state", "pending"))
                .tag_set(tag("GuardDutyMalwareScanStatus", "NO_THREATS_FOUND"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    w.trips.take();
    send(&w, &chris(), &t, "scanned", &[&id_of(&p)])
        .await
        .expect(201);
    assert_eq!(
        w.trips.take(),
        2 + 3,
        "the tags are read before they are written"
    );
    let mut kept = object_tags(&w, &key).await;
    kept.sort();
    assert_eq!(
        kept,
        [
            (
                "GuardDutyMalwareScanStatus".into(),
                "NO_THREATS_FOUND".into()
            ),
            ("liaison-state".into(), "bound".into())
        ]
    );
}

async fn attachment_records(w: &World, t: &str) -> usize {
    w.partition(&format!("THREAD#{t}"))
        .await
        .iter()
        .filter(|i| i["sk"]["S"].as_str().is_some_and(|s| s.starts_with("ATT#")))
        .count()
}

#[tokio::test]
async fn a_persons_unsent_uploads_are_capped_by_count() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let max = liaison::store::MAX_PENDING_UPLOADS;
    let mut first = None;
    for i in 0..max {
        let p = presign(&w, &chris(), &t, &format!("{i}.png"), "image/png", 4).await;
        first.get_or_insert(p);
    }
    let err = presign_raw(&w, &chris(), &t, "one-more.png", "image/png", 3)
        .await
        .problem(429, "too_many_pending_uploads");
    assert!(err["detail"].as_str().unwrap().contains("00:00 UTC"));
    assert_eq!(
        attachment_records(&w, &t).await as u64,
        max,
        "nothing half-written"
    );
    // Someone else is not held up.
    presign(&w, &alex(), &t, "alex.png", "image/png", 3).await;
    // Sending one frees its place.
    let p = first.unwrap();
    assert_eq!(put(&p, b"\x89PNG").await, 200);
    send(&w, &chris(), &t, "sent", &[&id_of(&p)])
        .await
        .expect(201);
    presign(&w, &chris(), &t, "now.png", "image/png", 3).await;
    presign_raw(&w, &chris(), &t, "again.png", "image/png", 3)
        .await
        .problem(429, "too_many_pending_uploads");
}

#[tokio::test]
async fn a_persons_unsent_uploads_are_capped_by_bytes() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    const GIB: u64 = 1024 * 1024 * 1024;
    assert_eq!(liaison::store::MAX_PENDING_UPLOAD_BYTES, 10 * GIB);
    // Files this large upload in parts; they count like any upload.
    let in_parts = |name: &'static str, ct: &'static str, size: u64| {
        let (w, t) = (&w, t.clone());
        async move {
            w.call(
                &chris(),
                "POST",
                &format!("/threads/{t}/uploads"),
                Some(json!({"filename": name, "content_type": ct, "size": size})),
            )
            .await
        }
    };
    in_parts("a.mp4", "video/mp4", 5 * GIB).await.expect(201);
    const MIB: u64 = 1024 * 1024;
    in_parts("big.zip", "application/zip", 500 * MIB)
        .await
        .expect(201);
    let rest = 10 * GIB - 5 * GIB - 500 * MIB;
    // Exactly at the cap is fine; one byte over is not.
    in_parts("over.mp4", "video/mp4", rest + 1)
        .await
        .problem(429, "too_many_pending_uploads");
    in_parts("last.mp4", "video/mp4", rest).await.expect(201);
    presign_raw(&w, &chris(), &t, "tiny.png", "image/png", 1)
        .await
        .problem(429, "too_many_pending_uploads");
    assert_eq!(attachment_records(&w, &t).await, 3);
}

#[tokio::test]
async fn concurrent_presigns_of_one_person_all_count() {
    let w = std::sync::Arc::new(World::new().await);
    let t = general_thread(&w).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (w, t) = (w.clone(), t.clone());
        set.spawn(async move {
            presign_raw(&w, &chris(), &t, &format!("{i}.png"), "image/png", 3)
                .await
                .status
        });
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    let counter = w
        .partition("UPLOADS#u_chris")
        .await
        .into_iter()
        .next()
        .expect("the day's counter");
    assert_eq!(counter["pending_uploads"]["N"], "12", "{counter}");
    assert_eq!(counter["pending_bytes"]["N"], "36", "{counter}");
    assert!(counter.get("expires_at").is_some(), "the counter expires");
}

#[tokio::test]
async fn the_attachment_count_is_checked_before_any_per_id_work() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    // ~9,000 tiny ids (36 KB of JSON): one length check, not a pairwise scan.
    let ids = vec!["a"; 9_000];
    let started = std::time::Instant::now();
    send(&w, &chris(), &t, "x", &ids)
        .await
        .problem(422, "too_many_attachments");
    let distinct: Vec<String> = (0..9_000).map(|i| i.to_string()).collect();
    let distinct: Vec<&str> = distinct.iter().map(String::as_str).collect();
    send(&w, &chris(), &t, "x", &distinct)
        .await
        .problem(422, "too_many_attachments");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Within the limit, duplicates are still named.
    let err = send(&w, &chris(), &t, "x", &["a", "b", "a"])
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "attachment_ids[2]");
}

#[tokio::test]
async fn hostile_file_names_are_stored_clean_and_download_safely() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    // U+202E would show this as "invoice_gnp.exe"; CR LF would forge a
    // header line; quotes would end the header's parameter.
    let hostile = "\u{200B}\"invoice\"\r\n_\u{202E}2024\u{2069}.png";
    let p = presign(&w, &chris(), &t, hostile, "image/png", 4).await;
    assert_eq!(put(&p, b"\x89PNG").await, 200);
    let sent = send(&w, &chris(), &t, "", &[&id_of(&p)]).await.expect(201);
    let a = &sent["attachments"][0];
    assert_eq!(a["filename"], "\"invoice\" _2024.png");
    w.scan().await;
    let listed = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    assert_eq!(
        listed["messages"][0]["attachments"][0]["filename"],
        "\"invoice\" _2024.png"
    );
    let link = listed["messages"][0]["attachments"][0]["download_url"]
        .as_str()
        .unwrap();
    assert_eq!(
        param(link, "response-content-disposition").as_deref(),
        Some("attachment; filename=\"'invoice' _2024.png\"; filename*=UTF-8''%22invoice%22%20_2024.png")
    );
    let (status, headers, _) = http("GET", link, &[], b"").await;
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-disposition" && v.starts_with("attachment; filename=\"")));

    // Nothing left after cleaning: 400 naming the field, nothing recorded.
    for name in ["\u{202E}\u{200B}", "\r\n\t ", "\u{FEFF}"] {
        let err = presign_raw(&w, &chris(), &t, name, "image/png", 3)
            .await
            .problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], "filename", "{name:?}");
    }
    assert_eq!(attachment_records(&w, &t).await, 1);
}

/// Fails every PutObjectTagging (`PUT /key?tagging`) before it is sent:
/// S3 refusing to retag, at the SDK level.
#[derive(Debug)]
struct RefuseTagging;

impl aws_sdk_s3::config::Intercept for RefuseTagging {
    fn name(&self) -> &'static str {
        "RefuseTagging"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        if request.method() == "PUT" && request.uri().contains("?tagging") {
            return Err("S3 refuses PutObjectTagging (injected)".into());
        }
        Ok(())
    }
}

async fn attachment_state(w: &World, t: &str, id: &str) -> String {
    w.partition(&format!("THREAD#{t}"))
        .await
        .into_iter()
        .find(|i| i["sk"]["S"] == format!("ATT#{id}"))
        .expect("the attachment record")["attachment_state"]["S"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_send_whose_binding_fails_in_s3_writes_nothing_and_its_retry_binds() {
    let mut w = World::new().await;
    let t = general_thread(&w).await;
    let p = presign(&w, &chris(), &t, "brief.pdf", "application/pdf", 4).await;
    let id = id_of(&p);
    assert_eq!(put(&p, b"%PDF").await, 200);

    let working = std::mem::replace(
        &mut w.functions.send_message,
        send_message::App {
            store: w.store.clone(),
            attachments: liaison::attachments::Attachments::new(
                aws_sdk_s3::Client::from_conf(
                    liaison::aws::s3_config(&w.aws)
                        .interceptor(RefuseTagging)
                        .build(),
                ),
                &w.names.bucket,
            ),
        },
    );
    let body = json!({"body": "brief", "attachment_ids": [id], "client_message_id": "brief-1"});
    let path = format!("/threads/{t}/messages");
    w.call(&chris(), "POST", &path, Some(body.clone()))
        .await
        .problem(500, "internal");
    // Nothing stored: no message, the upload still pending (and still
    // expirable, since S3 never retagged it).
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 0);
    assert_eq!(attachment_state(&w, &t, &id).await, "pending");
    assert!(expirable(&w, &object_key(&t, &id)).await);

    // S3 is back: the client's retry of the same send binds it.
    w.functions.send_message = working;
    let sent = w
        .call(&chris(), "POST", &path, Some(body))
        .await
        .expect(201);
    assert_eq!(sent["attachments"][0]["id"], id.as_str());
    assert_eq!(attachment_state(&w, &t, &id).await, "bound");
    assert!(!expirable(&w, &object_key(&t, &id)).await);
}

#[tokio::test]
async fn a_reused_client_message_id_is_refused_before_any_upload_is_tagged() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let path = format!("/threads/{t}/messages");
    w.call(
        &chris(),
        "POST",
        &path,
        Some(json!({"body": "first", "client_message_id": "reused"})),
    )
    .await
    .expect(201);
    let webm = file_of("video/webm", 400);
    let p = presign(&w, &chris(), &t, "cut.webm", "video/webm", 400).await;
    let id = id_of(&p);
    assert_eq!(put(&p, &webm).await, 200);
    // The key was used for another message: 409, answered from the one
    // read, before the upload is checked or retagged — no S3 call at all.
    w.trips.take();
    w.call(
        &chris(),
        "POST",
        &path,
        Some(json!({"body": "other", "attachment_ids": [id], "client_message_id": "reused"})),
    )
    .await
    .problem(409, "idempotency_conflict");
    assert_eq!(w.trips.take(), 1, "the batch read only");
    // So the upload is exactly as before: pending, still left to the
    // expiry rule (no object kept without a message)...
    assert_eq!(attachment_state(&w, &t, &id).await, "pending");
    assert!(expirable(&w, &object_key(&t, &id)).await);
    // ...and the corrected send binds it.
    send(&w, &chris(), &t, "other", &[&id]).await.expect(201);
    assert_eq!(attachment_state(&w, &t, &id).await, "bound");
    assert!(!expirable(&w, &object_key(&t, &id)).await);
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 2);
}

#[tokio::test]
async fn a_replayed_send_with_attachments_touches_no_upload() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let p = presign(&w, &chris(), &t, "a.gif", "image/gif", 6).await;
    let id = id_of(&p);
    assert_eq!(put(&p, b"GIF89a").await, 200);
    let path = format!("/threads/{t}/messages");
    let body = json!({"body": "gif", "attachment_ids": [id], "client_message_id": "once"});
    let sent = w
        .call(&chris(), "POST", &path, Some(body.clone()))
        .await
        .expect(201);
    w.trips.take();
    let again = w
        .call(&chris(), "POST", &path, Some(body))
        .await
        .expect(200);
    assert_eq!(again["id"], sent["id"]);
    assert_eq!(
        w.trips.take(),
        2,
        "the batch read (with the claim), the original message; no S3 call"
    );
}

/// Sets the pending record's `expires_at` (what DynamoDB's TTL reads) to
/// `at` (unix seconds): an upload presigned long ago, without waiting.
async fn age_record(w: &World, t: &str, id: &str, at: i64) {
    use liaison::store::sdk::AttributeValue;
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", AttributeValue::S(format!("THREAD#{t}")))
        .key("sk", AttributeValue::S(format!("ATT#{id}")))
        .update_expression("SET expires_at = :at")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
        .send()
        .await
        .expect("age the record");
}

#[tokio::test]
async fn an_upload_near_or_past_its_expiry_is_refused_and_left_untouched() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let now = liaison::domain::Timestamp::now().unix_seconds();
    let margin = liaison::store::BIND_MARGIN_SECONDS;
    // Within the margin of its expiry, and past it (the TTL deletes late).
    for at in [now + margin - 60, now - 3600] {
        let p = presign(&w, &chris(), &t, "old.pdf", "application/pdf", 4).await;
        let id = id_of(&p);
        assert_eq!(put(&p, b"%PDF").await, 200);
        age_record(&w, &t, &id, at).await;
        let refused = send(&w, &chris(), &t, "late", &[&id])
            .await
            .problem(422, "attachment_expired");
        assert!(refused["detail"].as_str().unwrap().contains(&id));
        // Refused before the retag: nothing kept, nothing written.
        assert_eq!(attachment_state(&w, &t, &id).await, "pending");
        assert!(expirable(&w, &object_key(&t, &id)).await);
    }
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 0);
    // A fresh upload (a full margin left) still sends.
    let p = presign(&w, &chris(), &t, "new.pdf", "application/pdf", 4).await;
    assert_eq!(put(&p, b"%PDF").await, 200);
    age_record(&w, &t, &id_of(&p), now + margin + 600).await;
    send(&w, &chris(), &t, "fresh", &[&id_of(&p)])
        .await
        .expect(201);
}

#[tokio::test]
async fn the_send_transaction_never_binds_an_upload_near_its_expiry() {
    use liaison::domain::{AttachmentId, Author, ClientMessageId, MessageBody, Role, ThreadId};
    use liaison::store::{NewMessage, SendOutcome};
    let w = World::new().await;
    let t = general_thread(&w).await;
    let p = presign(&w, &chris(), &t, "old.pdf", "application/pdf", 4).await;
    let id = id_of(&p);
    assert_eq!(put(&p, b"%PDF").await, 200);
    let thread_id = ThreadId::parse(&t).unwrap();
    let aid = AttachmentId::parse(&id).unwrap();
    let ctx = w
        .store
        .send_context(&thread_id, &[aid], None)
        .await
        .unwrap();
    // Checked while fresh; the margin is crossed before the transaction.
    let now = liaison::domain::Timestamp::now().unix_seconds();
    age_record(&w, &t, &id, now + liaison::store::BIND_MARGIN_SECONDS - 1).await;
    let new = NewMessage {
        thread: thread_id,
        author: Author {
            id: liaison::domain::UserId::parse("u_chris").unwrap(),
            name: "Chris".into(),
            role: Role::Client,
        },
        client_message_id: ClientMessageId::parse("late-1").unwrap(),
        body: MessageBody::parse("late").unwrap(),
        urgent: false,
        attachments: vec![ctx.attachments[0].file.clone()],
    };
    let outcome = w
        .store
        .send_message(&new, ctx.record.unwrap())
        .await
        .unwrap();
    assert_eq!(outcome, SendOutcome::AttachmentTaken(aid));
    assert_eq!(attachment_state(&w, &t, &id).await, "pending");
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 0);
}
