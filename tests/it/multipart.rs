//! Uploads in parts: real PUTs of each part through the presigned URLs,
//! resuming, completing (and refusing bad part lists), aborting, the
//! pending-upload cap, and who may see an upload.

use serde_json::{json, Value};

use crate::support::*;

const MIB: u64 = 1024 * 1024;
const PART: u64 = 8 * MIB;

/// A video of `size` bytes that starts like an MP4 (an `ftyp` box).
pub fn mp4_bytes(size: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(size as usize);
    v.extend_from_slice(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2");
    v.extend((v.len() as u64..size).map(|i| (i % 251) as u8));
    v.truncate(size as usize);
    v
}

async fn start(w: &World, who: &Who, t: &str, name: &str, ct: &str, size: u64) -> Resp {
    w.call(
        who,
        "POST",
        &format!("/threads/{t}/uploads"),
        Some(json!({"filename": name, "content_type": ct, "size": size})),
    )
    .await
}

async fn part_urls(w: &World, who: &Who, t: &str, id: &str, numbers: Value) -> Resp {
    w.call(
        who,
        "POST",
        &format!("/threads/{t}/uploads/{id}/parts"),
        Some(json!({ "part_numbers": numbers })),
    )
    .await
}

async fn complete(w: &World, who: &Who, t: &str, id: &str, parts: &[(u64, &str)]) -> Resp {
    let parts: Vec<Value> = parts
        .iter()
        .map(|(n, e)| json!({"part_number": n, "etag": e}))
        .collect();
    w.call(
        who,
        "POST",
        &format!("/threads/{t}/uploads/{id}/complete"),
        Some(json!({ "parts": parts })),
    )
    .await
}

async fn discard(w: &World, who: &Who, t: &str, id: &str) -> Resp {
    w.call(who, "DELETE", &format!("/threads/{t}/uploads/{id}"), None)
        .await
}

/// PUTs `bytes` to a part URL as a browser would; S3's ETag.
async fn put_part(url: &str, bytes: &[u8]) -> String {
    let (status, headers, body) = http("PUT", url, &[], bytes).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    headers
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v)
        .expect("an ETag")
}

fn url_of(answer: &Value, number: u64) -> String {
    answer["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["part_number"] == number)
        .and_then(|p| p["url"].as_str())
        .expect("a URL for the part")
        .to_owned()
}

/// Starts a 2-part video upload and uploads both parts; (id, bytes, ETags).
async fn two_parts(w: &World, t: &str) -> (String, Vec<u8>, [String; 2]) {
    let bytes = mp4_bytes(PART + 1000);
    let started = start(w, &chris(), t, "raw.mp4", "video/mp4", bytes.len() as u64)
        .await
        .expect(201);
    let id = id_of(&started);
    let urls = part_urls(w, &chris(), t, &id, json!([1, 2]))
        .await
        .expect(200);
    let e1 = put_part(&url_of(&urls, 1), &bytes[..PART as usize]).await;
    let e2 = put_part(&url_of(&urls, 2), &bytes[PART as usize..]).await;
    (id, bytes, [e1, e2])
}

#[tokio::test]
async fn two_parts_resumed_completed_sent_and_downloaded() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let bytes = mp4_bytes(PART + 1000);
    let started = start(
        &w,
        &chris(),
        &t,
        "Raw footage.mp4",
        "video/mp4",
        bytes.len() as u64,
    )
    .await
    .expect(201);
    assert_eq!(started["part_size"], PART);
    assert_eq!(started["part_count"], 2);
    assert!(started["expires_at"].as_str().unwrap().ends_with('Z'));
    let id = id_of(&started);

    // Part 1 only, then "the tab crashed": ask again for the missing part.
    let first = part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .expect(200);
    assert_eq!(first["parts"].as_array().unwrap().len(), 1);
    let url1 = url_of(&first, 1);
    assert_eq!(param(&url1, "X-Amz-Expires").as_deref(), Some("900"));
    assert_eq!(param(&url1, "partNumber").as_deref(), Some("1"));
    let signed = param(&url1, "X-Amz-SignedHeaders").unwrap();
    assert!(signed.split(';').any(|h| h == "content-length"), "{signed}");
    assert!(url1
        .split('?')
        .next()
        .unwrap()
        .ends_with(&format!("/{}", upload_key(&t, &id))));
    assert!(first["expires_at"].as_str().is_some());
    let e1 = put_part(&url1, &bytes[..PART as usize]).await;

    // Not complete yet: a send cannot bind it.
    send(&w, &chris(), &t, "early", &[&id])
        .await
        .problem(422, "attachment_not_uploaded");

    let resumed = part_urls(&w, &chris(), &t, &id, json!([2]))
        .await
        .expect(200);
    let e2 = put_part(&url_of(&resumed, 2), &bytes[PART as usize..]).await;

    // A wrong ETag changes nothing; the right list completes.
    let bad = complete(
        &w,
        &chris(),
        &t,
        &id,
        &[(1, &e1), (2, "\"0123456789abcdef0123456789abcdef\"")],
    )
    .await
    .problem(422, "upload_parts_invalid");
    assert_eq!(bad["errors"][0]["field"], "parts");
    let done = complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert_eq!(done["attachment_id"], id.as_str());
    assert_eq!(done["size"], bytes.len());
    // Completing again answers the same.
    let again = complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert_eq!(again, done);

    // The object: the declared type, the pending tag (the bucket's cleanup
    // rule applies to it like any upload).
    let key = upload_key(&t, &id);
    let s3 = liaison::aws::s3_client(&w.aws);
    let head = s3
        .head_object()
        .bucket(&w.names.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("video/mp4"));
    assert_eq!(head.content_length(), Some(bytes.len() as i64));
    assert!(object_tags(&w, &key)
        .await
        .contains(&("liaison-state".to_owned(), "pending".to_owned())));

    let sent = send(&w, &chris(), &t, "the raw cut", &[&id])
        .await
        .expect(201);
    assert_eq!(sent["attachments"][0]["id"], id.as_str());
    assert_eq!(sent["attachments"][0]["size"], bytes.len());
    assert_eq!(sent["attachments"][0]["content_type"], "video/mp4");

    // After the send: complete still answers 200, parts and discard 409.
    complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .problem(409, "attachment_already_sent");
    discard(&w, &chris(), &t, &id)
        .await
        .problem(409, "attachment_already_sent");

    let link = w
        .call(
            &dana(),
            "GET",
            &format!("/threads/{t}/attachments/{id}"),
            None,
        )
        .await;
    if link.status == 200 {
        let (status, _, got) =
            http("GET", link.body["download_url"].as_str().unwrap(), &[], b"").await;
        assert_eq!(status, 200);
        assert!(got == bytes, "the downloaded file is the uploaded one");
    } else {
        // Once the malware scan lands, a fresh upload is not yet scanned.
        link.problem(409, "attachment_not_scanned");
    }
}

#[tokio::test]
async fn bad_declarations_and_part_lists_are_refused_naming_the_field() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    // Over 64 MiB, the single PUT says to upload in parts.
    let big = presign_raw(&w, &chris(), &t, "a.mp4", "video/mp4", 64 * MIB + 1)
        .await
        .problem(413, "use_multipart_upload");
    assert_eq!(big["errors"][0]["field"], "size");
    assert!(big["detail"].as_str().unwrap().contains("/uploads"));
    presign_raw(&w, &chris(), &t, "a.mp4", "video/mp4", 64 * MIB)
        .await
        .expect(201);

    start(&w, &chris(), &t, "a.png", "image/png", 20 * MIB)
        .await
        .problem(415, "unsupported_media_type");
    let small = start(&w, &chris(), &t, "a.mp4", "video/mp4", PART)
        .await
        .problem(400, "validation_failed");
    assert_eq!(small["errors"][0]["field"], "size");
    start(&w, &chris(), &t, "a.mp4", "video/mp4", 5 * 1024 * MIB + 1)
        .await
        .problem(413, "payload_too_large");
    start(&w, &chris(), &t, "a.zip", "application/zip", 501 * MIB)
        .await
        .problem(413, "payload_too_large");
    let named = start(&w, &chris(), &t, "a.mov", "video/mp4", 9 * MIB)
        .await
        .problem(400, "validation_failed");
    assert_eq!(named["errors"][0]["field"], "filename");
    let missing = w
        .call(
            &chris(),
            "POST",
            &format!("/threads/{t}/uploads"),
            Some(json!({"filename": "a.mp4"})),
        )
        .await
        .problem(400, "validation_failed");
    assert_eq!(missing["errors"][0]["field"], "content_type");

    // The largest video: 640 parts of 8 MiB.
    let huge = start(&w, &chris(), &t, "a.webm", "video/webm", 5 * 1024 * MIB)
        .await
        .expect(201);
    assert_eq!(huge["part_count"], 640);
    assert_eq!(huge["part_size"], PART);
    let zip = start(&w, &chris(), &t, "a.zip", "application/zip", 100 * MIB)
        .await
        .expect(201);
    let id = id_of(&zip);
    assert_eq!(zip["part_count"], 13);
    for (numbers, field) in [
        (json!([14]), "part_numbers[0]"),
        (json!([1, 0]), "part_numbers[1]"),
        (json!([2, 2]), "part_numbers[1]"),
        (json!([]), "part_numbers"),
        (json!("1"), "part_numbers"),
    ] {
        let p = part_urls(&w, &chris(), &t, &id, numbers.clone())
            .await
            .problem(400, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field, "{numbers}");
    }
    let all = part_urls(&w, &chris(), &t, &id, json!((1..=13).collect::<Vec<_>>()))
        .await
        .expect(200);
    assert_eq!(all["parts"].as_array().unwrap().len(), 13);
    // The last part is signed for the rest of the file (4 MiB).
    assert_eq!(
        param(&url_of(&all, 13), "partNumber").as_deref(),
        Some("13")
    );

    for (parts, field) in [
        (vec![(1, "a")], "parts"),
        (vec![(1, "a"), (1, "b")], "parts[1].part_number"),
        (vec![(0, "a")], "parts[0].part_number"),
        (vec![(1, "")], "parts[0].etag"),
        ((1..=13).map(|n| (n + 1, "a")).collect(), "parts"),
    ] {
        let p = complete(&w, &chris(), &t, &id, &parts)
            .await
            .problem(400, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field, "{parts:?}");
    }
    // ETags of parts never uploaded: S3 refuses, nothing completes.
    let never: Vec<(u64, &str)> = (1..=13)
        .map(|n| (n, "\"0123456789abcdef0123456789abcdef\""))
        .collect();
    complete(&w, &chris(), &t, &id, &never)
        .await
        .problem(422, "upload_parts_invalid");
}

#[tokio::test]
async fn discarding_aborts_frees_the_cap_and_keeps_sent_files() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let s3 = liaison::aws::s3_client(&w.aws);

    // Incomplete: aborted, its record gone.
    let started = start(&w, &chris(), &t, "a.mp4", "video/mp4", 20 * MIB)
        .await
        .expect(201);
    let id = id_of(&started);
    let urls = part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .expect(200);
    put_part(&url_of(&urls, 1), &mp4_bytes(PART)).await;
    let gone = discard(&w, &chris(), &t, &id).await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !uploads
            .uploads()
            .iter()
            .any(|u| u.key() == Some(&upload_key(&t, &id))),
        "the S3 upload is aborted"
    );
    discard(&w, &chris(), &t, &id)
        .await
        .problem(404, "not_found");
    part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .problem(404, "not_found");

    // Completed, unsent: the object goes too.
    let (id, _, [e1, e2]) = two_parts(&w, &t).await;
    complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert_eq!(discard(&w, &chris(), &t, &id).await.status, 204);
    let head = s3
        .head_object()
        .bucket(&w.names.bucket)
        .key(upload_key(&t, &id))
        .send()
        .await;
    assert!(head.is_err(), "the completed object is deleted");
    send(&w, &chris(), &t, "x", &[&id])
        .await
        .problem(422, "attachment_not_uploaded");
}

#[tokio::test]
async fn the_pending_cap_counts_uploads_in_parts() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    // Two of the largest videos fill the day's 10 GiB.
    let a = start(&w, &chris(), &t, "a.mp4", "video/mp4", 5 * 1024 * MIB)
        .await
        .expect(201);
    start(&w, &chris(), &t, "b.mp4", "video/mp4", 5 * 1024 * MIB)
        .await
        .expect(201);
    start(&w, &chris(), &t, "c.mp4", "video/mp4", 9 * MIB)
        .await
        .problem(429, "too_many_pending_uploads");
    presign_raw(&w, &chris(), &t, "c.png", "image/png", 1)
        .await
        .problem(429, "too_many_pending_uploads");
    // Discarding one frees its room.
    assert_eq!(discard(&w, &chris(), &t, &id_of(&a)).await.status, 204);
    start(&w, &chris(), &t, "c.mp4", "video/mp4", 9 * MIB)
        .await
        .expect(201);
    // Alex has room of his own.
    start(&w, &alex(), &t, "d.mp4", "video/mp4", 9 * MIB)
        .await
        .expect(201);
}

#[tokio::test]
async fn nobody_else_sees_an_upload() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let started = start(&w, &chris(), &t, "a.mp4", "video/mp4", 9 * MIB)
        .await
        .expect(201);
    let id = id_of(&started);
    let beta = [client("u_bea", "acc_beta"), manager("u_max")];
    for who in &beta {
        start(&w, who, &t, "a.mp4", "video/mp4", 9 * MIB)
            .await
            .problem(404, "not_found");
    }
    // Another account, the thread's other side, and a colleague: 404.
    for who in beta.iter().chain([dana(), alex()].iter()) {
        part_urls(&w, who, &t, &id, json!([1]))
            .await
            .problem(404, "not_found");
        complete(&w, who, &t, &id, &[(1, "a"), (2, "b")])
            .await
            .problem(404, "not_found");
        discard(&w, who, &t, &id).await.problem(404, "not_found");
    }
    // A single-PUT upload is no upload in parts; an unknown id neither.
    let single = presign_raw(&w, &chris(), &t, "a.png", "image/png", 3)
        .await
        .expect(201);
    discard(&w, &chris(), &t, &id_of(&single))
        .await
        .problem(404, "not_found");
    discard(&w, &chris(), &t, "nope")
        .await
        .problem(404, "not_found");
    // The upload is still Chris's.
    part_urls(&w, &chris(), &t, &id, json!([1, 2]))
        .await
        .expect(200);
}

/// The whole protocol over real HTTP through the local gateway (as `make
/// dev` serves it): start, part URLs, PUTs of each part straight to the
/// local S3 from the page's origin, complete, send; and a discard is a
/// bodiless 204.
#[tokio::test]
async fn over_http_through_the_local_gateway() {
    let gateway = liaison_local::Gateway::start(gateway_config("mp").await)
        .await
        .expect("the gateway starts");
    let client =
        liaison_local::client::HttpClient::new().with_timeout(std::time::Duration::from_secs(600));
    let auth = format!("Bearer {}", demo_token("u_chris"));
    let api = |method: &'static str, path: String, body: Option<Value>| {
        let (client, auth, base) = (&client, &auth, gateway.url());
        async move {
            client
                .send(
                    method,
                    &format!("{base}{path}"),
                    &[
                        ("authorization", auth.as_str()),
                        ("content-type", "application/json"),
                    ],
                    body.map(|b| b.to_string().into_bytes()),
                )
                .await
                .expect("the gateway answers")
        }
    };
    let opened = api(
        "POST",
        "/threads".into(),
        Some(json!({"scope": {"kind": "general"}})),
    )
    .await;
    assert!(
        opened.status == 201 || opened.status == 200,
        "{}",
        opened.text()
    );
    let t = opened.json()["id"].as_str().unwrap().to_owned();

    let bytes = mp4_bytes(PART + 4321);
    let started = api(
        "POST",
        format!("/threads/{t}/uploads"),
        Some(json!({"filename": "cut.mp4", "content_type": "video/mp4", "size": bytes.len()})),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.text());
    let id = started.json()["attachment_id"].as_str().unwrap().to_owned();
    let urls = api(
        "POST",
        format!("/threads/{t}/uploads/{id}/parts"),
        Some(json!({"part_numbers": [1, 2]})),
    )
    .await;
    assert_eq!(urls.status, 200, "{}", urls.text());
    let urls = urls.json();
    let origin = gateway.url();
    let mut parts = Vec::new();
    for (n, chunk) in [
        (1u64, &bytes[..PART as usize]),
        (2, &bytes[PART as usize..]),
    ] {
        let r = client
            .send(
                "PUT",
                &url_of(&urls, n),
                &[("origin", origin.as_str())],
                Some(chunk.to_vec()),
            )
            .await
            .expect("S3 answers");
        assert_eq!(r.status, 200, "{}", r.text());
        parts.push(json!({"part_number": n, "etag": r.header("etag")}));
    }
    let done = api(
        "POST",
        format!("/threads/{t}/uploads/{id}/complete"),
        Some(json!({ "parts": parts })),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let sent = api(
        "POST",
        format!("/threads/{t}/messages"),
        Some(json!({"body": "over HTTP", "attachment_ids": [id], "client_message_id": key()})),
    )
    .await;
    assert_eq!(sent.status, 201, "{}", sent.text());
    assert_eq!(sent.json()["attachments"][0]["size"], bytes.len());

    let other = api(
        "POST",
        format!("/threads/{t}/uploads"),
        Some(json!({"filename": "b.zip", "content_type": "application/zip", "size": 9 * MIB})),
    )
    .await;
    let other = other.json()["attachment_id"].as_str().unwrap().to_owned();
    let gone = api("DELETE", format!("/threads/{t}/uploads/{other}"), None).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert!(gone.body.is_empty());
    gateway.shutdown().await;
}

/// A discard racing a send of the same completed upload: exactly one wins.
/// Either the message lists the file and it stays (discard 409), or the
/// file is gone and no message lists it (send 422). Two completions at once
/// both answer 200.
#[tokio::test]
async fn a_discard_racing_a_send_never_leaves_a_message_without_its_file() {
    let w = std::sync::Arc::new(World::new().await);
    let t = chris_thread(&w, general()).await;
    // A send that checked the file before the discard deleted it finds it
    // gone when it tags it: that is a 422 too, not a failure of ours.
    let missing = w
        .attachments
        .mark_bound(&format!("t/{t}/nothing"), None)
        .await
        .unwrap_err();
    assert!(missing.is_no_such_key(), "{missing}");
    for round in 0..4 {
        let (id, _, [e1, e2]) = two_parts(&w, &t).await;
        let chris = chris();
        let parts = [(1, e1.as_str()), (2, e2.as_str())];
        let (a, b) = tokio::join!(
            complete(&w, &chris, &t, &id, &parts),
            complete(&w, &chris, &t, &id, &parts),
        );
        assert_eq!(
            (a.status, b.status),
            (200, 200),
            "{:?} {:?}",
            a.body,
            b.body
        );
        let ids = [id.as_str()];
        let (sent, gone) = tokio::join!(
            send(&w, &chris, &t, "race", &ids),
            discard(&w, &chris, &t, &id),
        );
        let exists = liaison::aws::s3_client(&w.aws)
            .head_object()
            .bucket(&w.names.bucket)
            .key(upload_key(&t, &id))
            .send()
            .await
            .is_ok();
        match (sent.status, gone.status) {
            (201, 409) => assert!(exists, "round {round}: a sent file stays"),
            (422, 204) => {
                assert!(!exists, "round {round}: the discarded file is gone");
                assert_eq!(sent.body["code"], "attachment_not_uploaded");
            }
            other => panic!("round {round}: {other:?} {:?} {:?}", sent.body, gone.body),
        }
    }
}

#[tokio::test]
async fn an_upload_in_parts_costs_what_it_did_and_a_start_refused_touches_no_s3() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let bytes = mp4_bytes(PART + 1000);
    // Start: the row read (refuses before S3), S3's start, the record's
    // transaction; the same for a manager and a client user.
    let mut ids = Vec::new();
    for who in [dana(), chris()] {
        w.trips.take();
        let started = start(&w, &who, &t, "raw.mp4", "video/mp4", bytes.len() as u64)
            .await
            .expect(201);
        assert_eq!(
            w.trips.take(),
            3,
            "row read, CreateMultipartUpload, transaction"
        );
        ids.push(id_of(&started));
    }
    let id = ids[1].clone();
    let urls = part_urls(&w, &chris(), &t, &id, json!([1, 2]))
        .await
        .expect(200);
    assert_eq!(
        w.trips.take(),
        1,
        "parts: one BatchGetItem, URLs computed locally"
    );
    let e1 = put_part(&url_of(&urls, 1), &bytes[..PART as usize]).await;
    let e2 = put_part(&url_of(&urls, 2), &bytes[PART as usize..]).await;
    w.trips.take();
    complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert_eq!(
        w.trips.take(),
        3,
        "complete: BatchGetItem, CompleteMultipartUpload, HeadObject"
    );
    send(&w, &chris(), &t, "cut", &[&id]).await.expect(201);
    w.scan().await;
    w.trips.take();
    w.call(
        &dana(),
        "GET",
        &format!("/threads/{t}/attachments/{id}"),
        None,
    )
    .await
    .expect(200);
    assert_eq!(w.trips.take(), 1, "download: one BatchGetItem");
    w.trips.take();
    assert_eq!(discard(&w, &dana(), &t, &ids[0]).await.status, 204);
    assert_eq!(
        w.trips.take(),
        4,
        "discard: BatchGetItem, AbortMultipartUpload, transaction, DeleteObject"
    );
}

/// Makes upload in parts `id` (started, nothing uploaded) what the version
/// before the key lost its account wrote: its S3 upload under
/// `{account}/{thread}/{id}` and its record naming its account and no
/// layout. The old key.
async fn started_by_the_previous_version(w: &World, t: &str, id: &str) -> String {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let s3 = liaison::aws::s3_client(&w.aws);
    let new = upload_key(t, id);
    for u in s3
        .list_multipart_uploads()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap()
        .uploads()
        .iter()
        .filter(|u| u.key() == Some(new.as_str()))
    {
        s3.abort_multipart_upload()
            .bucket(&w.names.bucket)
            .key(&new)
            .upload_id(u.upload_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    let old = as_previous_version(w, t, id, None).await;
    let upload_id = s3
        .create_multipart_upload()
        .bucket(&w.names.bucket)
        .key(&old)
        .content_type("video/mp4")
        .tagging(liaison::attachments::PENDING_TAG)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    w.store
        .client()
        .update_item()
        .table_name(&w.names.table)
        .key("pk", A::S(format!("THREAD#{t}")))
        .key("sk", A::S(format!("ATT#{id}")))
        .update_expression("SET upload_id = :u")
        .expression_attribute_values(":u", A::S(upload_id))
        .send()
        .await
        .unwrap();
    old
}

#[tokio::test]
async fn an_upload_in_parts_started_before_the_key_lost_its_account_finishes_where_it_is() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let s3 = liaison::aws::s3_client(&w.aws);
    let bytes = mp4_bytes(PART + 1000);
    let size = bytes.len() as u64;

    // Completed, sent, scanned and downloaded under its old key.
    let id = id_of(
        &start(&w, &chris(), &t, "old.mp4", "video/mp4", size)
            .await
            .expect(201),
    );
    let old = started_by_the_previous_version(&w, &t, &id).await;
    let urls = part_urls(&w, &chris(), &t, &id, json!([1, 2]))
        .await
        .expect(200);
    assert!(url_of(&urls, 1)
        .split('?')
        .next()
        .unwrap()
        .ends_with(&format!("/{old}")));
    let e1 = put_part(&url_of(&urls, 1), &bytes[..PART as usize]).await;
    let e2 = put_part(&url_of(&urls, 2), &bytes[PART as usize..]).await;
    complete(&w, &chris(), &t, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert!(stored_at(&w, &old).await);
    assert!(!stored_at(&w, &upload_key(&t, &id)).await);
    send(&w, &chris(), &t, "old cut", &[&id]).await.expect(201);
    let scanned = w.scan().await;
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0].key, old);
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
    assert!(got == bytes, "the downloaded file is the uploaded one");

    // Discarded half-way: aborted where it is, its record gone.
    let id = id_of(
        &start(&w, &chris(), &t, "half.mp4", "video/mp4", size)
            .await
            .expect(201),
    );
    let old = started_by_the_previous_version(&w, &t, &id).await;
    let urls = part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .expect(200);
    put_part(&url_of(&urls, 1), &bytes[..PART as usize]).await;
    assert_eq!(discard(&w, &chris(), &t, &id).await.status, 204);
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !uploads
            .uploads()
            .iter()
            .any(|u| u.key() == Some(old.as_str())),
        "the S3 upload is aborted"
    );
    part_urls(&w, &chris(), &t, &id, json!([1]))
        .await
        .problem(404, "not_found");
}
