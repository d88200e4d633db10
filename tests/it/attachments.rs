//! Presigned uploads to S3, verified binding, download links.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::*;

/// A presign answer (201): the attachment id and the answer.
fn presigned(r: Resp) -> (String, Value) {
    let body = r.expect(201);
    (id_of(&body), body)
}

/// PUTs `bytes` to the presigned URL with the headers it names.
async fn upload(presigned: &Value, bytes: &[u8]) {
    let (status, body) = put_upload(presigned, bytes).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// Uploads straight to the object key with other headers (what S3 would
/// refuse for a presigned URL, and moto does not check).
async fn upload_as(w: &World, t: &str, id: &str, content_type: &str, bytes: &[u8]) {
    let s3 = liaison::aws::s3_client(&w.aws);
    s3.put_object()
        .bucket(&w.names.bucket)
        .key(upload_key(t, id))
        .content_type(content_type)
        .body(bytes.to_vec().into())
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn the_full_flow_presign_upload_send_list_download() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let bytes = file_of("image/png", 48_213);
    let name = "Hook v2 (final) é.png";
    // One round trip for everyone: the key names no account, so a
    // manager's token (which names none) needs no read first.
    w.trips.take();
    presigned(presign_raw(&w, &dana(), &t, "brief.png", "image/png", 1024).await);
    assert_eq!(w.trips.take(), 1, "a manager's presign: one transaction");
    let (id, presigned) =
        presigned(presign_raw(&w, &chris(), &t, name, "image/png", bytes.len() as u64).await);
    assert_eq!(w.trips.take(), 1, "a client's presign: one transaction");
    assert_eq!(presigned["upload"]["method"], "PUT");
    let headers = presigned["upload"]["headers"].clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], bytes.len().to_string());
    let url = presigned["upload"]["url"].as_str().unwrap();
    assert_eq!(
        param(url, "X-Amz-Expires").as_deref(),
        Some("900"),
        "15 minutes"
    );
    let signed = param(url, "X-Amz-SignedHeaders").unwrap();
    let signed: Vec<&str> = signed.split(';').collect();
    assert!(signed.contains(&"content-type"), "{signed:?}");
    assert!(signed.contains(&"content-length"), "{signed:?}");
    let path = url.split('?').next().unwrap();
    assert!(
        path.ends_with(&format!("/{}", upload_key(&t, &id))),
        "server-chosen key: {path}"
    );
    assert!(
        !path.to_lowercase().contains("hook"),
        "no part of the file name in the key"
    );
    assert!(presigned["expires_at"].as_str().unwrap().ends_with('Z'));

    upload(&presigned, &bytes).await;
    w.trips.take();
    let sent = send(&w, &chris(), &t, "", &[&id]).await.expect(201);
    assert_eq!(
        w.trips.take(),
        4,
        "send with one attachment: batch read, a ranged GET, PutObjectTagging (the GET's tag \
         count says only the state tag is there), transaction"
    );
    assert_eq!(sent["body"], "");
    let a = &sent["attachments"][0];
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["filename"], name);
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["size"], bytes.len());
    // Not scanned yet: no link anywhere.
    assert_eq!(a["scan"], "pending");
    assert!(a.get("download_url").is_none(), "{a}");
    w.call(
        &dana(),
        "GET",
        &format!("/threads/{t}/attachments/{id}"),
        None,
    )
    .await
    .problem(409, "attachment_not_scanned");
    assert_eq!(w.scan().await.len(), 1);

    let listed = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let listed_a = &listed["messages"][0]["attachments"][0];
    assert_eq!(listed_a["scan"], "clean");
    let download = listed_a["download_url"].as_str().unwrap();
    assert_eq!(param(download, "X-Amz-Expires").as_deref(), Some("900"));
    assert_eq!(
        param(download, "response-content-disposition").as_deref(),
        Some("attachment; filename=\"Hook v2 (final) _.png\"; filename*=UTF-8''Hook%20v2%20%28final%29%20%C3%A9.png")
    );
    assert_eq!(
        param(download, "response-content-type").as_deref(),
        Some("image/png")
    );
    assert!(listed_a["download_url_expires_at"].as_str().is_some());
    let (status, resp_headers, got) = http("GET", download, &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(got, bytes);
    assert!(resp_headers
        .iter()
        .any(|(k, v)| k == "content-disposition" && v.starts_with("attachment;")));

    // A fresh link for either side.
    for who in [dana(), alex()] {
        let fresh = w
            .call(&who, "GET", &format!("/threads/{t}/attachments/{id}"), None)
            .await
            .expect(200);
        let (status, _, got) = http("GET", fresh["download_url"].as_str().unwrap(), &[], b"").await;
        assert_eq!(status, 200);
        assert_eq!(got, bytes);
        assert!(fresh["expires_at"].as_str().is_some());
    }
}

#[tokio::test]
async fn every_bad_declaration_is_refused() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let post = |body: Value| {
        let w = &w;
        let t = t.clone();
        async move {
            w.call(
                &chris(),
                "POST",
                &format!("/threads/{t}/attachments"),
                Some(body),
            )
            .await
        }
    };
    for ct in [
        "text/html",
        "image/svg+xml",
        "application/x-msdownload",
        "application/octet-stream",
    ] {
        post(json!({"filename": "a.png", "content_type": ct, "size": 10}))
            .await
            .problem(415, "unsupported_media_type");
    }
    const MIB: u64 = 1024 * 1024;
    for (name, ct, max) in [
        ("a.jpg", "image/jpeg", 25 * MIB),
        ("a.png", "image/png", 25 * MIB),
        ("a.webp", "image/webp", 25 * MIB),
        ("a.gif", "image/gif", 25 * MIB),
        ("a.pdf", "application/pdf", 50 * MIB),
    ] {
        post(json!({"filename": name, "content_type": ct, "size": max + 1}))
            .await
            .problem(413, "payload_too_large");
        post(json!({"filename": name, "content_type": ct, "size": max}))
            .await
            .expect(201);
    }
    // Videos (up to 5 GiB) and ZIP (500 MiB) take one PUT up to 64 MiB;
    // larger ones upload in parts (tests/it/multipart.rs).
    for (name, ct) in [
        ("a.mp4", "video/mp4"),
        ("a.mov", "video/quicktime"),
        ("a.webm", "video/webm"),
        ("a.zip", "application/zip"),
    ] {
        post(json!({"filename": name, "content_type": ct, "size": 64 * MIB + 1}))
            .await
            .problem(413, "use_multipart_upload");
        post(json!({"filename": name, "content_type": ct, "size": 64 * MIB}))
            .await
            .expect(201);
    }
    for (body, field) in [
        (
            json!({"filename": "a.jpg", "content_type": "image/png", "size": 1}),
            "filename",
        ),
        (
            json!({"filename": "", "content_type": "image/png", "size": 1}),
            "filename",
        ),
        (
            json!({"filename": "../x.png", "content_type": "image/png", "size": 1}),
            "filename",
        ),
        (
            json!({"filename": "\u{0}\u{202E}", "content_type": "image/png", "size": 1}),
            "filename",
        ),
        (
            json!({"filename": format!("{}.png", "a".repeat(252)), "content_type": "image/png", "size": 1}),
            "filename",
        ),
        (
            json!({"filename": "a.png", "content_type": "image/png", "size": 0}),
            "size",
        ),
        (
            json!({"filename": "a.png", "content_type": "image/png", "size": -1}),
            "size",
        ),
        (
            json!({"filename": "a.png", "content_type": "image/png"}),
            "size",
        ),
        (json!({"content_type": "image/png", "size": 1}), "filename"),
        (json!({"filename": "a.png", "size": 1}), "content_type"),
    ] {
        let err = post(body.clone()).await.problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn every_bad_binding_is_refused() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let other = chris_thread(&w, json!({"kind": "client", "client_id": "cl_glow"})).await;

    // Eleven attachments.
    let ids: Vec<String> = (0..11).map(|_| ulid::Ulid::new().to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    send(&w, &chris(), &t, "x", &refs)
        .await
        .problem(422, "too_many_attachments");

    // Presigned in another thread.
    let (elsewhere, p) =
        presigned(presign_raw(&w, &chris(), &other, "a.png", "image/png", 8).await);
    upload(&p, &file_of("image/png", 8)).await;
    send(&w, &chris(), &t, "x", &[&elsewhere])
        .await
        .problem(422, "attachment_not_uploaded");
    // Presigned by another author.
    let (alexs, p) = presigned(presign_raw(&w, &alex(), &t, "a.png", "image/png", 8).await);
    upload(&p, &file_of("image/png", 8)).await;
    send(&w, &chris(), &t, "x", &[&alexs])
        .await
        .problem(422, "attachment_not_uploaded");
    // Never uploaded.
    let (missing, _) = presigned(presign_raw(&w, &chris(), &t, "a.png", "image/png", 8).await);
    send(&w, &chris(), &t, "x", &[&missing])
        .await
        .problem(422, "attachment_not_uploaded");
    // Uploaded with another length, or another type.
    let (short, _) = presigned(presign_raw(&w, &chris(), &t, "a.png", "image/png", 8).await);
    upload_as(&w, &t, &short, "image/png", &file_of("image/png", 9)).await;
    send(&w, &chris(), &t, "x", &[&short])
        .await
        .problem(422, "attachment_mismatch");
    let (typed, _) = presigned(presign_raw(&w, &chris(), &t, "a.png", "image/png", 8).await);
    upload_as(&w, &t, &typed, "text/html", &file_of("image/png", 8)).await;
    send(&w, &chris(), &t, "x", &[&typed])
        .await
        .problem(422, "attachment_mismatch");
    // Not an id at all.
    send(&w, &chris(), &t, "x", &["not-an-id"])
        .await
        .problem(422, "attachment_not_uploaded");

    // Already bound to a message.
    let (good, p) = presigned(presign_raw(&w, &chris(), &t, "a.png", "image/png", 8).await);
    upload(&p, &file_of("image/png", 8)).await;
    send(&w, &chris(), &t, "first", &[&good]).await.expect(201);
    send(&w, &chris(), &t, "second", &[&good])
        .await
        .problem(422, "attachment_not_uploaded");

    // None of the refused sends was stored.
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 1);
}

#[tokio::test]
async fn a_replayed_send_with_attachments_answers_the_original() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let (id, p) = presigned(presign_raw(&w, &chris(), &t, "brief.pdf", "application/pdf", 4).await);
    upload(&p, b"%PDF").await;
    let body =
        json!({"body": "brief attached", "attachment_ids": [id], "client_message_id": "with-file"});
    let path = format!("/threads/{t}/messages");
    let first = w
        .call(&chris(), "POST", &path, Some(body.clone()))
        .await
        .expect(201);
    let again = w
        .call(&chris(), "POST", &path, Some(body))
        .await
        .expect(200);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["attachments"][0]["id"], first["attachments"][0]["id"]);
    w.call(
        &chris(),
        "POST",
        &path,
        Some(json!({"body": "changed", "attachment_ids": [id], "client_message_id": "with-file"})),
    )
    .await
    .problem(409, "idempotency_conflict");
}

#[tokio::test]
async fn two_sends_racing_for_one_attachment_exactly_one_wins() {
    let w = Arc::new(World::new().await);
    let t = chris_thread(&w, general()).await;
    for _ in 0..3 {
        let (id, p) = presigned(presign_raw(&w, &chris(), &t, "a.gif", "image/gif", 6).await);
        upload(&p, b"GIF89a").await;
        let mut set = tokio::task::JoinSet::new();
        for i in 0..4 {
            let (w, t, id) = (w.clone(), t.clone(), id.clone());
            set.spawn(async move { send(&w, &chris(), &t, &format!("racer {i}"), &[&id]).await });
        }
        let mut won = 0;
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            match r.status {
                201 => won += 1,
                422 => assert_eq!(r.body["code"], "attachment_not_uploaded"),
                other => panic!("unexpected {other}: {}", r.body),
            }
        }
        assert_eq!(won, 1);
    }
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 3);
}

#[tokio::test]
async fn other_accounts_get_404_and_ids_do_not_travel_between_threads() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let other = chris_thread(&w, json!({"kind": "client", "client_id": "cl_glow"})).await;
    let (id, p) = presigned(presign_raw(&w, &chris(), &t, "a.png", "image/png", 8).await);
    upload(&p, &file_of("image/png", 8)).await;
    send(&w, &chris(), &t, "x", &[&id]).await.expect(201);
    let declared = json!({"filename": "a.png", "content_type": "image/png", "size": 8});
    for who in [client("u_bea", "acc_beta"), manager("u_max")] {
        w.call(
            &who,
            "POST",
            &format!("/threads/{t}/attachments"),
            Some(declared.clone()),
        )
        .await
        .problem(404, "not_found");
        w.call(&who, "GET", &format!("/threads/{t}/attachments/{id}"), None)
            .await
            .problem(404, "not_found");
    }
    // The id through another thread's path names nothing.
    w.call(
        &chris(),
        "GET",
        &format!("/threads/{other}/attachments/{id}"),
        None,
    )
    .await
    .problem(404, "not_found");
    w.call(
        &chris(),
        "GET",
        &format!("/threads/{t}/attachments/nope"),
        None,
    )
    .await
    .problem(404, "not_found");
    // A pending (unsent) upload has no download link yet.
    let (pending, _) = presigned(presign_raw(&w, &chris(), &t, "b.png", "image/png", 8).await);
    w.call(
        &chris(),
        "GET",
        &format!("/threads/{t}/attachments/{pending}"),
        None,
    )
    .await
    .problem(404, "not_found");
    w.call(
        &nobody(),
        "POST",
        &format!("/threads/{t}/attachments"),
        Some(declared),
    )
    .await
    .problem(401, "unauthenticated");
}

/// The items of thread `t`'s partition of `kind` (`type` attribute).
async fn items_of(w: &World, t: &str, kind: &str) -> Vec<Value> {
    w.partition(&format!("THREAD#{t}"))
        .await
        .into_iter()
        .filter(|i| i["type"]["S"] == kind)
        .collect()
}

/// Downloads attachment `id` through a fresh link and through the thread's
/// listing; both must serve `bytes`.
async fn downloads(w: &World, t: &str, id: &str, bytes: &[u8]) {
    let fresh = w
        .call(
            &dana(),
            "GET",
            &format!("/threads/{t}/attachments/{id}"),
            None,
        )
        .await
        .expect(200);
    let listed = w
        .call(&alex(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let entry = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default())
        .find(|a| a["id"] == id)
        .expect("listed");
    for link in [&fresh["download_url"], &entry["download_url"]] {
        let (status, _, got) = http("GET", link.as_str().unwrap(), &[], b"").await;
        assert_eq!(status, 200);
        assert_eq!(got, bytes);
    }
}

#[tokio::test]
async fn new_uploads_are_stored_under_the_thread_and_say_so() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let bytes = file_of("image/png", 512);
    let (id, p) =
        presigned(presign_raw(&w, &dana(), &t, "a.png", "image/png", bytes.len() as u64).await);
    let path = p["upload"]["url"]
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    assert!(path.ends_with(&format!("/t/{t}/{id}")), "{path}");
    upload(&p, &bytes).await;
    let record = &items_of(&w, &t, "attachment").await[0];
    assert_eq!(record["key_layout"]["S"], "thread");
    assert!(record.get("account_id").is_none(), "{record}");
    send(&w, &dana(), &t, "", &[&id]).await.expect(201);
    let message = &items_of(&w, &t, "message").await[0];
    assert_eq!(
        message["attachments"]["L"][0]["M"]["key_layout"]["S"],
        "thread"
    );
    assert_eq!(w.scan().await[0].key, upload_key(&t, &id));
    downloads(&w, &t, &id, &bytes).await;
}

#[tokio::test]
async fn an_upload_stored_before_the_key_lost_its_account_is_still_sent_scanned_and_served() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let bytes = file_of("image/png", 2048);
    let (id, _) =
        presigned(presign_raw(&w, &chris(), &t, "old.png", "image/png", bytes.len() as u64).await);
    let old = as_previous_version(&w, &t, &id, Some(("image/png", &bytes))).await;
    assert_eq!(old, format!("acc_acme/{t}/{id}"));

    // The send checks and binds it where it is: tagged bound there, and
    // its entry in the message, like its record, names no layout.
    w.trips.take();
    let sent = send(&w, &chris(), &t, "old", &[&id]).await.expect(201);
    assert_eq!(w.trips.take(), 4, "as any send with one attachment");
    assert_eq!(sent["attachments"][0]["id"], id.as_str());
    let tags = object_tags(&w, &old).await;
    assert!(
        tags.contains(&("liaison-state".to_owned(), "bound".to_owned())),
        "{tags:?}"
    );
    assert!(!stored_at(&w, &upload_key(&t, &id)).await);
    let message = &items_of(&w, &t, "message").await[0];
    let entry = &message["attachments"]["L"][0]["M"];
    assert_eq!(entry["id"]["S"], id.as_str());
    assert!(entry.get("key_layout").is_none(), "{entry}");

    // The scan finds it, record-scan maps the old key to its record, and
    // both download paths serve it from where it is.
    let scanned = w.scan().await;
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0].key, old);
    assert!(scanned[0].delivered);
    downloads(&w, &t, &id, &bytes).await;

    // An old upload whose bytes are not its type is deleted where it is,
    // with its record.
    let (spoof, _) = presigned(presign_raw(&w, &chris(), &t, "s.pdf", "application/pdf", 8).await);
    let old_spoof =
        as_previous_version(&w, &t, &spoof, Some(("application/pdf", b"GIF89a!!"))).await;
    send(&w, &chris(), &t, "spoof", &[&spoof])
        .await
        .problem(422, "attachment_mismatch");
    assert!(!stored_at(&w, &old_spoof).await, "deleted where it was");
    assert!(items_of(&w, &t, "attachment")
        .await
        .iter()
        .all(|r| r["attachment_id"]["S"] != spoof.as_str()));
}

#[tokio::test]
async fn presigning_outside_the_thread_is_404_in_one_round_trip_and_writes_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let s3 = liaison::aws::s3_client(&w.aws);
    let outsiders = [
        // Beta's manager and client user: no row in Acme's thread.
        manager("u_max"),
        client("u_bea", "acc_beta"),
        // A token claiming Acme for a user with no row; a member's with
        // another account than the thread's.
        client("u_bea", "acc_acme"),
        client("u_chris", "acc_beta"),
    ];
    for who in &outsiders {
        w.trips.take();
        presign_raw(&w, who, &t, "x.png", "image/png", 10)
            .await
            .problem(404, "not_found");
        assert_eq!(w.trips.take(), 1, "the transaction refuses: {who:?}");
        w.trips.take();
        w.call(
            who,
            "POST",
            &format!("/threads/{t}/uploads"),
            Some(json!({"filename": "x.mp4", "content_type": "video/mp4", "size": 80_000_000})),
        )
        .await
        .problem(404, "not_found");
        assert_eq!(
            w.trips.take(),
            1,
            "the row read refuses, before S3: {who:?}"
        );
    }
    // Nothing written: no record, no pending-upload counter, no object,
    // no upload in parts started.
    assert!(items_of(&w, &t, "attachment").await.is_empty());
    for user in ["u_max", "u_bea", "u_chris"] {
        assert!(
            w.partition(&format!("UPLOADS#{user}")).await.is_empty(),
            "{user}"
        );
    }
    let objects = s3
        .list_objects_v2()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.key_count(), Some(0));
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&w.names.bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    // The members still can.
    for who in [chris(), dana()] {
        presign_raw(&w, &who, &t, "x.png", "image/png", 10)
            .await
            .expect(201);
    }
}
