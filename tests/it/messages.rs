//! Send, list, mark read, unread badges.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::*;

async fn all_messages(w: &World, who: &Who, thread: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/threads/{thread}/messages?limit=7"),
            Some(c) => format!("/threads/{thread}/messages?limit=7&cursor={c}"),
        };
        let page = w.call(who, "GET", &path, None).await.expect(200);
        out.extend(page["messages"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_send_is_stored_answered_and_updates_everyones_inbox() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.trips.take();
    let m = w
        .call(
            &chris(),
            "POST",
            &format!("/threads/{t}/messages"),
            Some(json!({"body": "  The Hook scene needs a softer opening \n", "urgent": true, "client_message_id": "c-123"})),
        )
        .await
        .expect(201);
    assert_eq!(w.trips.take(), 2, "send: one query, one transaction");
    assert_eq!(m["thread_id"], t.as_str());
    assert_eq!(m["client_message_id"], "c-123");
    assert_eq!(
        m["author"],
        json!({"id": "u_chris", "name": "Chris", "role": "client"})
    );
    assert_eq!(m["body"], "The Hook scene needs a softer opening");
    assert_eq!(m["urgent"], true);
    assert_eq!(m["attachments"], json!([]));
    assert_eq!(m["id"].as_str().unwrap().len(), 26);

    let mine = w.thread(&chris(), &t).await;
    assert_eq!(
        mine["unread"], false,
        "own messages never make a thread unread"
    );
    assert_eq!(mine["message_count"], 1);
    assert_eq!(mine["last_activity_at"], m["created_at"]);
    assert_eq!(
        mine["last_message"],
        json!({"id": m["id"], "author": m["author"], "preview": "The Hook scene needs a softer opening", "urgent": true})
    );
    let same_side = w.thread(&alex(), &t).await;
    assert_eq!(
        same_side["unread"], false,
        "a colleague's message is not from the other side"
    );
    assert_eq!(same_side["message_count"], 1);
    let other_side = w.thread(&dana(), &t).await;
    assert_eq!(other_side["unread"], true);
    assert_eq!(other_side["last_message"]["id"], m["id"]);

    w.trips.take();
    let listed = w
        .call(&dana(), "GET", &format!("/threads/{t}/messages"), None)
        .await
        .expect(200);
    assert_eq!(
        w.trips.take(),
        2,
        "list messages: access check and one query"
    );
    assert_eq!(listed["messages"], json!([m.clone()]));
    assert_eq!(listed["next_cursor"], Value::Null);

    w.trips.take();
    let unread = w.call(&dana(), "GET", "/unread", None).await.expect(200);
    assert_eq!(w.trips.take(), 1);
    assert_eq!(unread, json!({"unread_threads": 1}));
    w.trips.take();
    let state = w.read(&dana(), &t, None).await;
    assert_eq!(w.trips.take(), 1, "mark read: one conditional update");
    assert_eq!(
        state,
        json!({"thread_id": t, "last_read_message_id": m["id"], "unread": false})
    );
    let unread = w.call(&dana(), "GET", "/unread", None).await.expect(200);
    assert_eq!(unread, json!({"unread_threads": 0}));
    w.trips.take();
    let listed = w.call(&dana(), "GET", "/threads", None).await.expect(200);
    assert_eq!(w.trips.take(), 1);
    assert_eq!(listed["threads"][0]["unread"], false);
    // Reading again changes nothing.
    assert_eq!(w.read(&dana(), &t, None).await, state);
}

#[tokio::test]
async fn twenty_concurrent_sends_by_both_sides() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (w, t) = (w.clone(), t.clone());
        set.spawn(async move {
            let who = [chris(), alex(), dana()][i % 3].clone();
            w.call(
                &who,
                "POST",
                &format!("/threads/{t}/messages"),
                Some(
                    json!({"body": format!("message {i}"), "client_message_id": format!("c-{i}")}),
                ),
            )
            .await
            .expect(201)
        });
    }
    let mut sent = Vec::new();
    while let Some(r) = set.join_next().await {
        sent.push(r.unwrap());
    }
    let listed = all_messages(&w, &dana(), &t).await;
    assert_eq!(listed.len(), 20);
    let ids: Vec<&str> = listed.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let mut chronological = ids.clone();
    chronological.reverse();
    assert!(
        chronological.windows(2).all(|p| p[0] < p[1]),
        "ids strictly increase in send order: {chronological:?}"
    );
    let sent_ids: HashSet<&str> = sent.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(sent_ids, ids.iter().copied().collect());

    // Model every participant's row from the messages themselves.
    let newest = chronological.last().unwrap().to_string();
    for (who, id, role) in [
        (chris(), "u_chris", "client"),
        (alex(), "u_alex", "client"),
        (dana(), "u_dana", "manager"),
    ] {
        let last_own = listed
            .iter()
            .filter(|m| m["author"]["id"] == id)
            .map(|m| m["id"].as_str().unwrap())
            .max();
        let last_other = listed
            .iter()
            .filter(|m| m["author"]["role"] != role)
            .map(|m| m["id"].as_str().unwrap())
            .max();
        let unread = match (last_own, last_other) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(own), Some(other)) => other > own,
        };
        let row = w.thread(&who, &t).await;
        assert_eq!(row["message_count"], 20, "{id}");
        assert_eq!(row["last_message"]["id"], newest.as_str(), "{id}");
        assert_eq!(row["unread"], unread, "{id}");
    }
}

#[tokio::test]
async fn replays_return_the_original_and_conflicts_are_409() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    let path = format!("/threads/{t}/messages");
    let send = json!({"body": "once", "client_message_id": "same-key", "urgent": false});
    let first = w
        .call(&chris(), "POST", &path, Some(send.clone()))
        .await
        .expect(201);
    for _ in 0..10 {
        let again = w
            .call(&chris(), "POST", &path, Some(send.clone()))
            .await
            .expect(200);
        assert_eq!(again, first);
    }
    // Concurrently, a fresh key: exactly one 201, the rest 200 with it.
    let concurrent = json!({"body": "racing", "client_message_id": "race-key"});
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (w, path, body) = (w.clone(), path.clone(), concurrent.clone());
        set.spawn(async move { w.call(&chris(), "POST", &path, Some(body)).await });
    }
    let (created, ids) = racing_creates(set).await;
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(all_messages(&w, &chris(), &t).await.len(), 2);
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 2);

    for changed in [
        json!({"body": "different", "client_message_id": "same-key"}),
        json!({"body": "once", "client_message_id": "same-key", "urgent": true}),
    ] {
        w.call(&chris(), "POST", &path, Some(changed))
            .await
            .problem(409, "idempotency_conflict");
    }
    // The key is per author: someone else may use it.
    w.call(&alex(), "POST", &path, Some(send.clone()))
        .await
        .expect(201);
    assert_eq!(all_messages(&w, &chris(), &t).await.len(), 3);
}

#[tokio::test]
async fn the_read_position_never_moves_backwards() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let m1 = w.say(&dana(), &t, "one").await;
    let m2 = w.say(&dana(), &t, "two").await;
    let m3 = w.say(&dana(), &t, "three").await;
    let id = |m: &Value| m["id"].as_str().unwrap().to_owned();

    let s = w.read(&chris(), &t, Some(&id(&m2))).await;
    assert_eq!(
        s,
        json!({"thread_id": t, "last_read_message_id": id(&m2), "unread": true})
    );
    let s = w.read(&chris(), &t, Some(&id(&m1))).await;
    assert_eq!(s["last_read_message_id"], id(&m2), "not backwards");
    let s = w.read(&chris(), &t, Some(&id(&m3))).await;
    assert_eq!(
        s,
        json!({"thread_id": t, "last_read_message_id": id(&m3), "unread": false})
    );
    let s = w.read(&chris(), &t, Some(&id(&m1))).await;
    assert_eq!(s["last_read_message_id"], id(&m3));
    assert_eq!(s["unread"], false);
    let s = w.read(&chris(), &t, None).await;
    assert_eq!(s["last_read_message_id"], id(&m3));

    // Up to a message that is not in this thread: 400.
    let other = w
        .open(
            &chris(),
            None,
            json!({"kind": "client", "client_id": "cl_glow"}),
        )
        .await;
    let elsewhere = w
        .say(&dana(), other["id"].as_str().unwrap(), "elsewhere")
        .await;
    for bad in [id(&elsewhere), ulid::Ulid::new().to_string()] {
        let err = w
            .call(
                &chris(),
                "POST",
                &format!("/threads/{t}/read"),
                Some(json!({"message_id": bad})),
            )
            .await
            .problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], "message_id");
    }
    w.call(
        &chris(),
        "POST",
        &format!("/threads/{t}/read"),
        Some(json!({"message_id": "nope"})),
    )
    .await
    .problem(400, "validation_failed");
    w.call(
        &chris(),
        "POST",
        &format!("/threads/{t}/read"),
        Some(json!({"message_id": 7})),
    )
    .await
    .problem(400, "validation_failed");
    // An empty thread reads as read.
    let s = w.read(&chris(), other["id"].as_str().unwrap(), None).await;
    assert_eq!(s["unread"], false);
    let empty = w
        .open(
            &chris(),
            None,
            json!({"kind": "client", "client_id": "cl_tonic"}),
        )
        .await;
    let s = w.read(&dana(), empty["id"].as_str().unwrap(), None).await;
    assert_eq!(
        s,
        json!({"thread_id": empty["id"], "last_read_message_id": null, "unread": false})
    );
}

#[tokio::test]
async fn unread_counts_across_30_threads_match_a_model() {
    let w = World::empty().await;
    let (directory, scopes) = wide_acme(28);
    w.sync(directory).await;
    let people = [
        ("u_chris", chris(), "client"),
        ("u_alex", alex(), "client"),
        ("u_dana", dana(), "manager"),
    ];
    let mut threads = Vec::new();
    for scope in scopes {
        threads.push(
            w.open(&chris(), None, scope).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Model: per thread, the messages (id, role, author); per (user, thread), the read position.
    let mut messages: HashMap<String, Vec<(String, &str, &str)>> = HashMap::new();
    let mut read: BTreeMap<(&str, String), String> = BTreeMap::new();
    let mut rng = seeded(7);
    for _ in 0..90 {
        let t = threads[rng.usize(..30)].clone();
        let (uid, who, role) = &people[rng.usize(..3)];
        if rng.usize(..3) == 0 {
            let s = w.read(who, &t, None).await;
            if let Some(id) = s["last_read_message_id"].as_str() {
                read.insert((uid, t.clone()), id.to_owned());
            }
        } else {
            let m = w.say(who, &t, "hi").await;
            let id = m["id"].as_str().unwrap().to_owned();
            read.insert((uid, t.clone()), id.clone());
            messages.entry(t.clone()).or_default().push((id, role, uid));
        }
    }
    for (uid, who, role) in &people {
        let expected: HashSet<String> = threads
            .iter()
            .filter(|t| {
                let pos = read.get(&(*uid, (*t).clone()));
                messages
                    .get(*t)
                    .into_iter()
                    .flatten()
                    .any(|(id, r, _)| r != role && pos.is_none_or(|p| id > p))
            })
            .cloned()
            .collect();
        let badge = w.call(who, "GET", "/unread", None).await.expect(200);
        // The badge counts up to 9, then says there are more.
        assert_eq!(badge["unread_threads"], expected.len().min(9), "{uid}");
        assert_eq!(badge.get("more").is_some(), expected.len() > 9, "{uid}");
        let listed = w
            .call(who, "GET", "/threads?unread=true&limit=100", None)
            .await
            .expect(200);
        let got: HashSet<String> = listed["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                assert_eq!(t["unread"], true);
                t["id"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(got, expected, "{uid}");
        let filtered = w
            .call(
                who,
                "GET",
                "/threads?unread=true&limit=100&account_id=acc_acme",
                None,
            )
            .await
            .expect(200);
        assert_eq!(
            filtered["threads"].as_array().unwrap().len(),
            expected.len(),
            "{uid}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let path = format!("/threads/{t}/messages");
    let send = |body: Value| {
        let w = &w;
        let path = path.clone();
        async move { w.call(&chris(), "POST", &path, Some(body)).await }
    };
    // Exactly 10,000 characters of emoji and combining marks, padded with
    // whitespace that trimming removes, is accepted.
    let mut body = "😀".repeat(5_000);
    body.push_str(&"e\u{301}".repeat(2_500));
    assert_eq!(body.chars().count(), 10_000);
    assert!(body.len() > 10_000);
    let ok = send(json!({"body": format!("  {body}\n"), "client_message_id": key()}))
        .await
        .expect(201);
    assert_eq!(ok["body"].as_str().unwrap().chars().count(), 10_000);
    let err = send(json!({"body": format!("{body}x"), "client_message_id": key()}))
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "body");
    for blank in ["", "   \n\t  "] {
        let err = send(json!({"body": blank, "client_message_id": key()}))
            .await
            .problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], "body");
    }
    let err = send(json!({"client_message_id": key()}))
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "body");
    for (bad, field) in [
        (json!({"body": "x"}), "client_message_id"),
        (
            json!({"body": "x", "client_message_id": ""}),
            "client_message_id",
        ),
        (
            json!({"body": "x", "client_message_id": "has space"}),
            "client_message_id",
        ),
        (
            json!({"body": "x", "client_message_id": "a".repeat(101)}),
            "client_message_id",
        ),
        (json!({"body": 5, "client_message_id": key()}), "body"),
        (
            json!({"body": "x", "urgent": "yes", "client_message_id": key()}),
            "urgent",
        ),
        (
            json!({"body": "x", "attachment_ids": "01J", "client_message_id": key()}),
            "attachment_ids",
        ),
        (
            json!({"body": "x", "attachment_ids": [1], "client_message_id": key()}),
            "attachment_ids[0]",
        ),
    ] {
        let err = send(bad.clone()).await.problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], field, "{bad}");
    }
    w.call_raw(&chris(), "POST", &path, Some("{\"body\": ".into()))
        .await
        .problem(400, "malformed_json");
    w.call_raw(&chris(), "POST", &path, Some("[]".into()))
        .await
        .problem(400, "malformed_json");
    // Over the limit is refused before parsing (this is not even JSON).
    w.call_raw(
        &chris(),
        "POST",
        &path,
        Some("x".repeat(liaison::http::MAX_BODY_BYTES + 1)),
    )
    .await
    .problem(413, "payload_too_large");
    // Unknown fields are ignored.
    send(json!({"body": "x", "client_message_id": key(), "colour": "blue"}))
        .await
        .expect(201);
    let ids: Vec<String> = (0..11).map(|_| ulid::Ulid::new().to_string()).collect();
    send(json!({"body": "x", "attachment_ids": ids, "client_message_id": key()}))
        .await
        .problem(422, "too_many_attachments");
    send(json!({"attachment_ids": [ulid::Ulid::new().to_string()], "client_message_id": key()}))
        .await
        .problem(422, "attachment_not_uploaded");
    for bad in ["limit=0", "limit=101", "cursor=forged"] {
        w.call(&chris(), "GET", &format!("{path}?{bad}"), None)
            .await
            .problem(400, "validation_failed");
    }
    // Only the two accepted sends were stored.
    assert_eq!(w.thread(&dana(), &t).await["message_count"], 2);
}

#[tokio::test]
async fn another_account_gets_404_and_writes_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "hello").await;
    let before = w.partition(&format!("THREAD#{t}")).await;
    let (messages, read) = (
        format!("/threads/{t}/messages"),
        format!("/threads/{t}/read"),
    );
    for (who, status, code) in [
        (client("u_bea", "acc_beta"), 404, "not_found"),
        (manager("u_max"), 404, "not_found"),
        (nobody(), 401, "unauthenticated"),
    ] {
        let send = json!({"body": "x", "client_message_id": key()});
        let read_to = json!({"message_id": ulid::Ulid::new().to_string()});
        for (method, path, body) in [
            ("POST", &messages, Some(send)),
            ("GET", &messages, None),
            ("POST", &read, Some(json!({}))),
            ("POST", &read, Some(read_to)),
        ] {
            w.call(&who, method, path, body).await.problem(status, code);
        }
    }
    assert_eq!(w.partition(&format!("THREAD#{t}")).await, before);
    // Malformed thread ids name no thread.
    w.call(
        &chris(),
        "POST",
        "/threads/thr_x/messages",
        Some(json!({"body": "x", "client_message_id": key()})),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn messages_page_newest_first_with_cursors_bound_to_the_caller() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(
            w.say(&chris(), &t, &format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let listed: Vec<String> = all_messages(&w, &dana(), &t)
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    sent.reverse();
    assert_eq!(listed, sent);
    // A thread whose length is a multiple of the page ends on a full page
    // with no cursor (no empty page, no "Load older" that loads nothing).
    let path = format!("/threads/{t}/messages?limit=6");
    let first = w.call(&dana(), "GET", &path, None).await.expect(200);
    assert_eq!(first["messages"].as_array().unwrap().len(), 6);
    let cursor = first["next_cursor"].as_str().expect("older messages exist");
    let second = w
        .call(&dana(), "GET", &format!("{path}&cursor={cursor}"), None)
        .await
        .expect(200);
    let ids: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        sent[6..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(second["next_cursor"], Value::Null, "the last page says so");
    let page = w
        .call(
            &dana(),
            "GET",
            &format!("/threads/{t}/messages?limit=5"),
            None,
        )
        .await
        .expect(200);
    let cursor = page["next_cursor"].as_str().unwrap();
    w.call(
        &chris(),
        "GET",
        &format!("/threads/{t}/messages?cursor={cursor}"),
        None,
    )
    .await
    .problem(400, "validation_failed");
    let other = w
        .open(
            &dana(),
            Some("acc_acme"),
            json!({"kind": "client", "client_id": "cl_glow"}),
        )
        .await;
    w.call(
        &dana(),
        "GET",
        &format!(
            "/threads/{}/messages?cursor={cursor}",
            other["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .problem(400, "validation_failed");
}
