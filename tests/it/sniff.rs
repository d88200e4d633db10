//! What a file really is: a send reads each upload's first bytes and
//! refuses (and deletes) one that is not its declared type. The samples
//! are tests/fixtures/files/, written by scripts/make-file-fixtures.py.

use serde_json::json;

use crate::support::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/files/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Presigns and uploads `fixture` as `filename` of type `ct`; its id.
async fn uploaded(w: &World, t: &str, fixture_name: &str, filename: &str, ct: &str) -> String {
    let bytes = fixture(fixture_name);
    let p = presign_raw(w, &chris(), t, filename, ct, bytes.len() as u64)
        .await
        .expect(201);
    let (status, body) = put_upload(&p, &bytes).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    id_of(&p)
}

async fn object_exists(w: &World, t: &str, id: &str) -> bool {
    liaison::aws::s3_client(&w.aws)
        .head_object()
        .bucket(&w.names.bucket)
        .key(upload_key(t, id))
        .send()
        .await
        .is_ok()
}

async fn record_exists(w: &World, t: &str, id: &str) -> bool {
    w.partition(&format!("THREAD#{t}"))
        .await
        .iter()
        .any(|item| item["attachment_id"] == id)
}

#[tokio::test]
async fn a_real_sample_of_every_type_is_sent() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let samples = [
        ("sample.png", "hook.png", "image/png"),
        ("sample.jpg", "hook.jpg", "image/jpeg"),
        ("sample.gif", "hook.gif", "image/gif"),
        ("sample.webp", "hook.webp", "image/webp"),
        ("sample.mp4", "cut.mp4", "video/mp4"),
        ("sample.mov", "cut.mov", "video/quicktime"),
        ("sample.webm", "cut.webm", "video/webm"),
        ("sample.pdf", "brief.pdf", "application/pdf"),
        ("sample.zip", "assets.zip", "application/zip"),
    ];
    let mut ids = Vec::new();
    for (file, name, ct) in samples {
        ids.push(uploaded(&w, &t, file, name, ct).await);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    w.trips.take();
    let sent = send(&w, &chris(), &t, "every type", &refs)
        .await
        .expect(201);
    assert_eq!(
        w.trips.take(),
        2 + 2 * samples.len(),
        "one read, a ranged GET and a retag per file (only the state tag is there, so no tag \
         read), one transaction"
    );
    let types: Vec<&str> = sent["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, samples.map(|s| s.2));

    // MP4 and QuickTime are both ISO media: either label takes either.
    let mov_as_mp4 = uploaded(&w, &t, "sample.mov", "cut.mp4", "video/mp4").await;
    let mp4_as_mov = uploaded(&w, &t, "sample.mp4", "cut.mov", "video/quicktime").await;
    send(&w, &chris(), &t, "iso media", &[&mov_as_mp4, &mp4_as_mov])
        .await
        .expect(201);
}

#[tokio::test]
async fn a_file_that_is_not_its_declared_type_is_refused_and_deleted() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    for (file, name, ct) in [
        ("spoof-html.png", "cute.png", "image/png"),
        ("spoof-elf.pdf", "invoice.pdf", "application/pdf"),
        ("spoof-exe.pdf", "invoice.pdf", "application/pdf"),
        ("spoof-text.mp4", "cut.mp4", "video/mp4"),
        ("sample.png", "brief.pdf", "application/pdf"),
        ("sample.zip", "cut.webm", "video/webm"),
    ] {
        let good = uploaded(&w, &t, "sample.jpg", "ok.jpg", "image/jpeg").await;
        let spoof = uploaded(&w, &t, file, name, ct).await;
        let p = send(&w, &chris(), &t, "look", &[&good, &spoof])
            .await
            .problem(422, "attachment_mismatch");
        assert_eq!(
            p["errors"][0]["field"], "attachment_ids[1]",
            "{file} as {ct}"
        );
        assert_eq!(p["errors"].as_array().unwrap().len(), 1);
        assert!(
            !object_exists(&w, &t, &spoof).await,
            "{file}: the object is deleted"
        );
        assert!(
            !record_exists(&w, &t, &spoof).await,
            "{file}: the record is deleted"
        );
        // The good file is untouched and still sendable on its own.
        assert!(object_exists(&w, &t, &good).await);
        send(&w, &chris(), &t, "look", &[&spoof])
            .await
            .problem(422, "attachment_not_uploaded");
        send(&w, &chris(), &t, "just the photo", &[&good])
            .await
            .expect(201);
    }
    // Nothing was stored for the refused sends.
    let listed = w
        .call(&chris(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    let bodies: Vec<&str> = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["just the photo"; 6]);

    // Two spoofs in one send: both named, both deleted.
    let a = uploaded(&w, &t, "spoof-html.png", "a.png", "image/png").await;
    let b = uploaded(&w, &t, "spoof-exe.pdf", "b.pdf", "application/pdf").await;
    let p = send(&w, &chris(), &t, "two", &[&a, &b])
        .await
        .problem(422, "attachment_mismatch");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["attachment_ids[0]", "attachment_ids[1]"]);
    assert!(!object_exists(&w, &t, &a).await && !object_exists(&w, &t, &b).await);
}

#[tokio::test]
async fn deleting_a_spoof_frees_its_room_in_the_pending_cap() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    let mut ids = Vec::new();
    for i in 0..liaison::store::MAX_PENDING_UPLOADS {
        let p = presign_raw(&w, &chris(), &t, &format!("{i}.png"), "image/png", 68)
            .await
            .expect(201);
        ids.push((id_of(&p), p));
    }
    presign_raw(&w, &chris(), &t, "more.png", "image/png", 68)
        .await
        .problem(429, "too_many_pending_uploads");
    let (spoof, p) = &ids[0];
    assert_eq!(put_upload(p, &fixture("spoof-html.png")).await.0, 200);
    send(&w, &chris(), &t, "x", &[spoof])
        .await
        .problem(422, "attachment_mismatch");
    presign_raw(&w, &chris(), &t, "more.png", "image/png", 68)
        .await
        .expect(201);
}

#[tokio::test]
async fn an_upload_in_parts_is_sniffed_too() {
    let w = World::new().await;
    let t = chris_thread(&w, general()).await;
    const PART: usize = 8 * 1024 * 1024;
    let mut bytes = fixture("spoof-html.png");
    bytes.resize(PART + 10, b' ');
    let started = w
        .call(
            &chris(),
            "POST",
            &format!("/threads/{t}/uploads"),
            Some(json!({"filename": "cut.mp4", "content_type": "video/mp4", "size": bytes.len()})),
        )
        .await
        .expect(201);
    let id = id_of(&started);
    let urls = w
        .call(
            &chris(),
            "POST",
            &format!("/threads/{t}/uploads/{id}/parts"),
            Some(json!({"part_numbers": [1, 2]})),
        )
        .await
        .expect(200);
    let mut parts = Vec::new();
    for (n, chunk) in [(1, &bytes[..PART]), (2, &bytes[PART..])] {
        let url = urls["parts"][n - 1]["url"].as_str().unwrap();
        let (status, headers, _) = http("PUT", url, &[], chunk).await;
        assert_eq!(status, 200);
        let etag = headers
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
            .unwrap()
            .1;
        parts.push(json!({"part_number": n, "etag": etag}));
    }
    w.call(
        &chris(),
        "POST",
        &format!("/threads/{t}/uploads/{id}/complete"),
        Some(json!({ "parts": parts })),
    )
    .await
    .expect(200);
    let p = send(&w, &chris(), &t, "the cut", &[&id])
        .await
        .problem(422, "attachment_mismatch");
    assert_eq!(p["errors"][0]["field"], "attachment_ids[0]");
    assert!(!object_exists(&w, &t, &id).await);
    assert!(!record_exists(&w, &t, &id).await);
}
