//! The reader's own state beyond reading: `PUT|DELETE /threads/{id}/mute`,
//! `POST /threads/{id}/unread`, `GET|PUT /me/notifications`, and
//! `Thread.muted` in every thread view.

use std::sync::Arc;

use liaison::domain::{ThreadId, UserId};
use liaison::store::InboxRow;
use serde_json::{json, Value};

use crate::support::*;

async fn row(w: &World, thread: &str, user: &str) -> InboxRow {
    w.store
        .inbox_row(
            &ThreadId::parse(thread).unwrap(),
            &UserId::parse(user).unwrap(),
        )
        .await
        .expect("read the row")
        .expect("a row")
}

/// The raw inbox row (to see the sparse index keys).
async fn raw_row(w: &World, thread: &str, user: &str) -> Value {
    w.partition(&format!("THREAD#{thread}"))
        .await
        .into_iter()
        .find(|i| i["sk"]["S"] == format!("INBOX#{user}"))
        .expect("a row")
}

async fn mute(w: &World, who: &Who, t: &str, on: bool) -> Resp {
    let method = if on { "PUT" } else { "DELETE" };
    w.call(who, method, &format!("/threads/{t}/mute"), None)
        .await
}

async fn unread(w: &World, who: &Who, t: &str) -> Resp {
    w.call(who, "POST", &format!("/threads/{t}/unread"), None)
        .await
}

async fn badge(w: &World, who: &Who) -> u64 {
    w.call(who, "GET", "/unread", None).await.expect(200)["unread_threads"]
        .as_u64()
        .unwrap()
}

fn listed<'a>(list: &'a Value, t: &str) -> &'a Value {
    list["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == t)
        .expect("the thread is listed")
}

#[tokio::test]
async fn mute_is_idempotent_one_write_and_every_view_carries_it_for_the_caller_only() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "hello").await;
    assert_eq!(w.thread(&chris(), &t).await["muted"], false);

    w.trips.take();
    let on = mute(&w, &chris(), &t, true).await.expect(200);
    assert_eq!(w.trips.take(), 1, "mute: one conditional UpdateItem");
    assert_eq!(on, json!({"thread_id": t, "muted": true}));
    assert_eq!(mute(&w, &chris(), &t, true).await.expect(200), on);

    // Every view of Chris's says so; Dana's and Alex's do not.
    assert_eq!(w.thread(&chris(), &t).await["muted"], true);
    let list = w.call(&chris(), "GET", "/threads", None).await.expect(200);
    assert_eq!(listed(&list, &t)["muted"], true);
    let list = w
        .call(&chris(), "GET", "/threads?unread=true", None)
        .await
        .expect(200);
    assert_eq!(listed(&list, &t)["muted"], true);
    let reopened = w.open(&chris(), None, general()).await;
    assert_eq!(reopened["muted"], true);
    assert_eq!(reopened["id"], t.as_str());
    for other in [dana(), alex()] {
        assert_eq!(w.thread(&other, &t).await["muted"], false);
    }
    // The unread state in the app is unchanged by muting.
    assert_eq!(w.thread(&chris(), &t).await["unread"], true);
    assert_eq!(badge(&w, &chris()).await, 1);
    assert!(row(&w, &t, "u_chris").await.muted);

    // Any body is ignored, even one that is not JSON.
    w.call_raw(
        &chris(),
        "DELETE",
        &format!("/threads/{t}/mute"),
        Some("not json".into()),
    )
    .await
    .expect(200);
    w.trips.take();
    let off = mute(&w, &chris(), &t, false).await.expect(200);
    assert_eq!(w.trips.take(), 1, "unmute: one conditional UpdateItem");
    assert_eq!(off, json!({"thread_id": t, "muted": false}));
    assert_eq!(w.thread(&chris(), &t).await["muted"], false);
    // Unmuted is stored as absent, as before any mute.
    assert!(raw_row(&w, &t, "u_chris").await.get("muted").is_none());
    assert_eq!(badge(&w, &chris()).await, 1);
}

#[tokio::test]
async fn a_new_thread_is_unmuted_for_everyone() {
    let w = World::new().await;
    let created = w
        .call(
            &chris(),
            "POST",
            "/threads",
            Some(json!({"scope": {"kind": "client", "client_id": "cl_glow"}})),
        )
        .await
        .expect(201);
    assert_eq!(created["muted"], false);
    let t = created["id"].as_str().unwrap();
    assert_eq!(w.thread(&dana(), t).await["muted"], false);
}

#[tokio::test]
async fn mark_unread_moves_back_before_the_other_sides_newest_and_counts() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let first = w.say(&dana(), &t, "one").await;
    let newest = w.say(&dana(), &t, "two").await;
    let mine = w.say(&chris(), &t, "thanks").await; // reads everything
    assert_eq!(badge(&w, &chris()).await, 0);
    let dana_before = raw_row(&w, &t, "u_dana").await;
    let read_before = row(&w, &t, "u_chris").await.read_position;
    assert_eq!(
        read_before.map(|m| m.to_string()),
        mine["id"].as_str().map(str::to_owned)
    );

    w.trips.take();
    let state = unread(&w, &chris(), &t).await.expect(200);
    assert_eq!(w.trips.take(), 2, "unread: one GetItem, one UpdateItem");
    assert_eq!(state["thread_id"], t.as_str());
    assert_eq!(state["unread"], true);
    let back = state["last_read_message_id"].as_str().unwrap();
    let (first, newest) = (
        first["id"].as_str().unwrap(),
        newest["id"].as_str().unwrap(),
    );
    assert!(
        first <= back && back < newest,
        "{first} <= {back} < {newest}"
    );
    assert_eq!(badge(&w, &chris()).await, 1);
    let list = w
        .call(&chris(), "GET", "/threads?unread=true", None)
        .await
        .expect(200);
    assert_eq!(listed(&list, &t)["unread"], true);
    assert_eq!(w.thread(&chris(), &t).await["unread"], true);
    // What was read before stays read for e-mail.
    let r = row(&w, &t, "u_chris").await;
    assert_eq!(r.read_max, read_before);
    assert_eq!(r.read_for_email(), read_before);
    // The other people are untouched.
    assert_eq!(raw_row(&w, &t, "u_dana").await, dana_before);

    // Again: already unread, nothing moves.
    w.trips.take();
    assert_eq!(unread(&w, &chris(), &t).await.expect(200), state);
    assert_eq!(w.trips.take(), 1, "nothing to mark: the read alone");

    // Reading works as before, and read_max stays the furthest read.
    let read = w.read(&chris(), &t, None).await;
    assert_eq!(read["unread"], false);
    assert_eq!(read["last_read_message_id"], mine["id"]);
    assert_eq!(badge(&w, &chris()).await, 0);
    assert_eq!(row(&w, &t, "u_chris").await.read_max, read_before);
    // A second round keeps read_max at the furthest position.
    unread(&w, &chris(), &t).await.expect(200);
    w.read(&chris(), &t, Some(first)).await;
    assert_eq!(row(&w, &t, "u_chris").await.read_max, read_before);
    assert_eq!(badge(&w, &chris()).await, 1);
}

#[tokio::test]
async fn mark_unread_with_nothing_from_the_other_side_changes_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    // An empty thread.
    let empty = unread(&w, &chris(), &t).await.expect(200);
    assert_eq!(
        empty,
        json!({"thread_id": t, "last_read_message_id": null, "unread": false})
    );
    // Only Chris's own side wrote (Alex is on Chris's side).
    w.say(&chris(), &t, "anyone?").await;
    let alex_said = w.say(&alex(), &t, "me too").await;
    let before = w.partition(&format!("THREAD#{t}")).await;
    let state = unread(&w, &chris(), &t).await.expect(200);
    assert_eq!(state["unread"], false);
    assert_eq!(w.partition(&format!("THREAD#{t}")).await, before);
    assert_eq!(badge(&w, &chris()).await, 0);
    // Dana has read nothing: already unread, nothing moves.
    let dana_state = unread(&w, &dana(), &t).await.expect(200);
    assert_eq!(
        dana_state,
        json!({"thread_id": t, "last_read_message_id": null, "unread": true})
    );
    // Dana read up to the first message only: still unread, and marking
    // unread does not skip Alex's message by moving the position forward.
    let first = w.partition(&format!("THREAD#{t}")).await;
    let first_id = first
        .iter()
        .filter_map(|i| {
            i["sk"]["S"]
                .as_str()?
                .strip_prefix("MSG#")
                .map(str::to_owned)
        })
        .min()
        .unwrap();
    w.read(&dana(), &t, Some(&first_id)).await;
    let s = unread(&w, &dana(), &t).await.expect(200);
    assert_eq!(s["last_read_message_id"], first_id.as_str());
    assert_eq!(s["unread"], true);
    assert_ne!(s["last_read_message_id"], alex_said["id"]);
}

/// The row's unread flag, its sparse index keys and its positions agree.
async fn assert_sane(w: &World, t: &str, user: &str) -> bool {
    let r = row(w, t, user).await;
    let raw = raw_row(w, t, user).await;
    let behind = match (r.read_position, r.other_side_last) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(p), Some(o)) => p < o,
    };
    assert_eq!(r.thread.unread, behind, "unread flag vs positions: {raw}");
    assert_eq!(raw.get("gsi_unread").is_some(), behind, "index key: {raw}");
    assert_eq!(
        raw.get("gsi_unread_account").is_some(),
        behind,
        "index key: {raw}"
    );
    if let (Some(p), Some(m)) = (r.read_position, r.read_max) {
        assert!(r.read_for_email() >= Some(p) && r.read_for_email() == Some(m.max(p)));
    }
    behind
}

#[tokio::test]
async fn mark_unread_racing_sends_leaves_the_thread_unread_and_positions_sane() {
    let w = Arc::new(World::new().await);
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "first").await;
    w.read(&chris(), &t, None).await;
    let read_before = row(&w, &t, "u_chris").await.read_position;
    for round in 0..3 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..6 {
            let (w, t) = (w.clone(), t.clone());
            set.spawn(async move {
                if i % 2 == 0 {
                    unread(&w, &chris(), &t).await.expect(200);
                } else {
                    w.say(&dana(), &t, &format!("round {round} #{i}")).await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("a request");
        }
        // The sends win: whatever the order, the thread is unread.
        assert!(assert_sane(&w, &t, "u_chris").await);
        assert_eq!(badge(&w, &chris()).await, 1);
        let r = row(&w, &t, "u_chris").await;
        // Behind Dana's newest (sane: checked above), never lost.
        assert!(r.read_position.is_some());
        assert!(r.read_position < r.other_side_last);
        // Kept by the first unread that took effect; none did if every send
        // landed before any of them read the row (it was unread already).
        assert!(
            r.read_max.is_none() || r.read_max == read_before,
            "the furthest read is kept"
        );
    }
    // Chris's own sends race marking unread: either order leaves a
    // consistent row (read if the send came last, unread if not).
    for _ in 0..3 {
        w.say(&dana(), &t, "more").await;
        w.read(&chris(), &t, None).await;
        let (a, b) = (w.clone(), t.clone());
        let u = tokio::spawn(async move { unread(&a, &chris(), &b).await.expect(200) });
        w.say(&chris(), &t, "my own").await;
        u.await.unwrap();
        let unread_now = assert_sane(&w, &t, "u_chris").await;
        assert_eq!(badge(&w, &chris()).await, u64::from(unread_now));
    }
    // Reading afterwards works as ever.
    assert_eq!(w.read(&chris(), &t, None).await["unread"], false);
    assert!(!assert_sane(&w, &t, "u_chris").await);
}

#[tokio::test]
async fn notification_preferences_default_set_validated_and_per_person() {
    let w = World::new().await;
    w.trips.take();
    let got = w
        .call(&chris(), "GET", "/me/notifications", None)
        .await
        .expect(200);
    assert_eq!(w.trips.take(), 1, "GET preferences: one GetItem");
    assert_eq!(got, json!({"email": "all"}));
    for value in ["urgent_only", "off", "all", "off"] {
        w.trips.take();
        let set = w
            .call(
                &chris(),
                "PUT",
                "/me/notifications",
                Some(json!({"email": value, "unknown": [1]})),
            )
            .await
            .expect(200);
        assert_eq!(w.trips.take(), 1, "PUT preferences: one PutItem");
        assert_eq!(set, json!({"email": value}));
        let got = w
            .call(&chris(), "GET", "/me/notifications", None)
            .await
            .expect(200);
        assert_eq!(got, json!({"email": value}));
    }
    let item = w.partition("PREFS#u_chris").await;
    assert_eq!(item.len(), 1);
    assert_eq!(item[0]["email"]["S"], "off");
    assert!(item[0]["updated_at"]["N"].is_string());
    // Per person: Dana still has the default.
    let dana_prefs = w
        .call(&dana(), "GET", "/me/notifications", None)
        .await
        .expect(200);
    assert_eq!(dana_prefs, json!({"email": "all"}));
    assert_eq!(
        w.store
            .preferences(&UserId::parse("u_chris").unwrap())
            .await
            .unwrap(),
        liaison::domain::EmailPreference::Off
    );

    for bad in [
        json!({}),
        json!({"email": null}),
        json!({"email": "none"}),
        json!({"email": "Off"}),
        json!({"email": 3}),
        json!({"email": {"all": true}}),
    ] {
        let p = w
            .call(&chris(), "PUT", "/me/notifications", Some(bad.clone()))
            .await
            .problem(400, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "email", "{bad}");
    }
    for raw in ["{\"email\": ", "[\"all\"]", "\"off\""] {
        w.call_raw(&chris(), "PUT", "/me/notifications", Some(raw.into()))
            .await
            .problem(400, "malformed_json");
    }
    w.call_raw(
        &chris(),
        "PUT",
        "/me/notifications",
        Some("x".repeat(liaison::http::MAX_BODY_BYTES + 1)),
    )
    .await
    .problem(413, "payload_too_large");
    // Nothing refused was stored.
    let got = w
        .call(&chris(), "GET", "/me/notifications", None)
        .await
        .expect(200);
    assert_eq!(got, json!({"email": "off"}));
    for method in ["GET", "PUT"] {
        w.call(
            &nobody(),
            method,
            "/me/notifications",
            Some(json!({"email": "off"})),
        )
        .await
        .problem(401, "unauthenticated");
    }
}

#[tokio::test]
async fn another_account_or_a_malformed_id_gets_404_and_writes_nothing() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    w.say(&dana(), &t, "hello").await;
    w.read(&chris(), &t, None).await;
    let before = w.partition(&format!("THREAD#{t}")).await;
    let mute_path = format!("/threads/{t}/mute");
    let unread_path = format!("/threads/{t}/unread");
    for (who, status, code) in [
        (client("u_bea", "acc_beta"), 404, "not_found"),
        (manager("u_max"), 404, "not_found"),
        // Chris's token naming another account is nobody in Acme.
        (client("u_chris", "acc_beta"), 404, "not_found"),
        (nobody(), 401, "unauthenticated"),
    ] {
        for (method, path) in [
            ("PUT", &mute_path),
            ("DELETE", &mute_path),
            ("POST", &unread_path),
        ] {
            w.call(&who, method, path, None).await.problem(status, code);
        }
    }
    for bad in ["thr_x", "nothing", "thr_01jd8x3v6m9q2r7t4w5y8z0abc"] {
        for (method, path) in [
            ("PUT", format!("/threads/{bad}/mute")),
            ("DELETE", format!("/threads/{bad}/mute")),
            ("POST", format!("/threads/{bad}/unread")),
        ] {
            w.call(&chris(), method, &path, None)
                .await
                .problem(404, "not_found");
        }
    }
    assert_eq!(w.partition(&format!("THREAD#{t}")).await, before);
}

#[tokio::test]
async fn a_person_on_both_sides_acts_only_on_the_side_their_token_claims() {
    let mut dir = directory();
    let pat = |name: &str| json!({"id": "u_pat", "email": "pat@people.example", "name": name});
    dir["accounts"][0]["managers"]
        .as_array_mut()
        .unwrap()
        .push(pat("Pat Manager"));
    dir["accounts"][1]["users"]
        .as_array_mut()
        .unwrap()
        .push(pat("Pat"));
    let w = World::empty().await;
    w.sync(dir).await;
    let acme = general_thread(&w).await;
    let beta = w.open(&client("u_bea", "acc_beta"), None, general()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.say(&chris(), &acme, "for the managers").await;
    w.say(&client("u_bea", "acc_beta"), &beta, "hi").await;
    let before = w.partition(&format!("THREAD#{acme}")).await;
    // A client token (Beta) is nobody in Acme, where Pat manages...
    let as_client = client("u_pat", "acc_beta");
    let as_manager = manager("u_pat");
    for (method, path) in [
        ("PUT", format!("/threads/{acme}/mute")),
        ("DELETE", format!("/threads/{acme}/mute")),
        ("POST", format!("/threads/{acme}/unread")),
    ] {
        w.call(&as_client, method, &path, None)
            .await
            .problem(404, "not_found");
    }
    assert_eq!(w.partition(&format!("THREAD#{acme}")).await, before);
    // ... and a manager token is nobody in Beta, where Pat is a client.
    for (method, path) in [
        ("PUT", format!("/threads/{beta}/mute")),
        ("POST", format!("/threads/{beta}/unread")),
    ] {
        w.call(&as_manager, method, &path, None)
            .await
            .problem(404, "not_found");
    }
    // Each on its own side works.
    assert_eq!(
        mute(&w, &as_manager, &acme, true).await.expect(200)["muted"],
        true
    );
    assert_eq!(
        mute(&w, &as_client, &beta, true).await.expect(200)["muted"],
        true
    );
    assert_eq!(w.thread(&as_manager, &acme).await["muted"], true);
}

#[tokio::test]
async fn set_muted_answers_none_for_someone_not_in_the_thread() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let thread = ThreadId::parse(&t).unwrap();
    let bea = UserId::parse("u_bea").unwrap();
    assert_eq!(w.store.set_muted(&thread, &bea, true).await.unwrap(), None);
    let chris_id = UserId::parse("u_chris").unwrap();
    assert_eq!(
        w.store.set_muted(&thread, &chris_id, true).await.unwrap(),
        Some(true)
    );
    assert!(row(&w, &t, "u_chris").await.muted);
    assert_eq!(
        w.store.set_muted(&thread, &chris_id, false).await.unwrap(),
        Some(false)
    );
    assert!(!row(&w, &t, "u_chris").await.muted);
    // No row was created for Bea.
    assert!(w
        .partition(&format!("THREAD#{t}"))
        .await
        .iter()
        .all(|i| i["sk"]["S"] != "INBOX#u_bea"));
}
