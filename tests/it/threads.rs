//! `POST /threads`, `GET /threads`, `GET /threads/{id}`, `GET /unread`.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::*;

fn campaign() -> Value {
    json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"})
}

#[tokio::test]
async fn open_creates_once_then_answers_the_same_thread_to_both_sides() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    w.trips.take();
    let first = w
        .call(
            &chris,
            "POST",
            "/threads",
            Some(json!({"scope": campaign()})),
        )
        .await
        .expect(201);
    assert_eq!(
        w.trips.take(),
        2,
        "open new: one batch read, one transaction"
    );
    assert!(first["id"].as_str().unwrap().starts_with("thr_"));
    assert_eq!(first["account_id"], "acc_acme");
    assert_eq!(
        first["scope"],
        json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring", "label": "Glow Serum › Spring launch"})
    );
    assert_eq!(first["created_by"], "u_chris");
    assert_eq!(first["last_message"], Value::Null);
    assert_eq!(first["message_count"], 0);
    assert_eq!(first["unread"], false);
    assert_eq!(first["created_at"], first["last_activity_at"]);
    let created_at = first["created_at"].as_str().unwrap();
    assert_eq!(
        created_at.len(),
        24,
        "RFC 3339 with milliseconds: {created_at}"
    );
    assert!(created_at.ends_with('Z'));

    let again = w
        .call(
            &chris,
            "POST",
            "/threads",
            Some(json!({"scope": campaign(), "account_id": "acc_acme"})),
        )
        .await
        .expect(200);
    assert_eq!(w.trips.take(), 1, "open existing: one batch read");
    assert_eq!(again, first);

    let from_manager = w
        .call(
            &manager("u_dana"),
            "POST",
            "/threads",
            Some(json!({"scope": campaign(), "account_id": "acc_acme"})),
        )
        .await
        .expect(200);
    assert_eq!(from_manager["id"], first["id"]);
    let from_alex = w
        .call(
            &client("u_alex", "acc_acme"),
            "POST",
            "/threads",
            Some(json!({"scope": campaign()})),
        )
        .await
        .expect(200);
    assert_eq!(from_alex["id"], first["id"]);
}

#[tokio::test]
async fn labels_for_every_kind() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    for (scope, label) in [
        (general(), "General"),
        (
            json!({"kind": "client", "client_id": "cl_glow"}),
            "Glow Serum",
        ),
        (campaign(), "Glow Serum › Spring launch"),
        (
            json!({"kind": "creative", "client_id": "cl_glow", "campaign_id": "cp_spring", "creative_id": "cr_hook2"}),
            "Glow Serum › Spring launch › Hook v2",
        ),
    ] {
        let t = w.open(&chris, None, scope).await;
        assert_eq!(t["scope"]["label"], label);
    }
}

#[tokio::test]
async fn fifty_concurrent_opens_make_one_thread() {
    let w = Arc::new(World::new().await);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50 {
        let w = w.clone();
        set.spawn(async move {
            let who = match i % 3 {
                0 => client("u_chris", "acc_acme"),
                1 => client("u_alex", "acc_acme"),
                _ => manager("u_dana"),
            };
            w.call(
                &who,
                "POST",
                "/threads",
                Some(json!({"scope": campaign(), "account_id": "acc_acme"})),
            )
            .await
        });
    }
    let (created, ids) = racing_creates(set).await;
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let listed = w
        .call(&client("u_chris", "acc_acme"), "GET", "/threads", None)
        .await
        .expect(200);
    assert_eq!(listed["threads"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_scopes_name_the_field() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    let cases = [
        (json!({}), "scope.kind"),
        (json!({"kind": "folder"}), "scope.kind"),
        (json!({"kind": "client"}), "scope.client_id"),
        (
            json!({"kind": "campaign", "campaign_id": "cp_spring"}),
            "scope.client_id",
        ),
        (
            json!({"kind": "campaign", "client_id": "cl_glow"}),
            "scope.campaign_id",
        ),
        (
            json!({"kind": "creative", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
            "scope.creative_id",
        ),
        (
            json!({"kind": "general", "client_id": "cl_glow"}),
            "scope.client_id",
        ),
        (
            json!({"kind": "client", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
            "scope.campaign_id",
        ),
        (
            json!({"kind": "client", "client_id": "cl_nope"}),
            "scope.client_id",
        ),
        // A client of another account is unknown here.
        (
            json!({"kind": "client", "client_id": "cl_crunch"}),
            "scope.client_id",
        ),
        // A campaign under another client.
        (
            json!({"kind": "campaign", "client_id": "cl_tonic", "campaign_id": "cp_spring"}),
            "scope.campaign_id",
        ),
        // A creative under another campaign.
        (
            json!({"kind": "creative", "client_id": "cl_tonic", "campaign_id": "cp_launch", "creative_id": "cr_hook2"}),
            "scope.creative_id",
        ),
        // Archived entries scope no new thread.
        (
            json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_winter"}),
            "scope.campaign_id",
        ),
        (
            json!({"kind": "creative", "client_id": "cl_glow", "campaign_id": "cp_spring", "creative_id": "cr_old"}),
            "scope.creative_id",
        ),
    ];
    for (scope, field) in cases {
        let err = w
            .call(
                &chris,
                "POST",
                "/threads",
                Some(json!({"scope": scope.clone()})),
            )
            .await
            .problem(400, "validation_failed");
        assert_eq!(err["errors"][0]["field"], field, "scope {scope}: {err}");
    }
    let err = w
        .call(&chris, "POST", "/threads", Some(json!({})))
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "scope");
    let err = w
        .call(
            &manager("u_dana"),
            "POST",
            "/threads",
            Some(json!({"scope": general()})),
        )
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "account_id");
    w.call_raw(&chris, "POST", "/threads", Some("{\"scope\":".into()))
        .await
        .problem(400, "malformed_json");
    // Nothing was created by any of it.
    let listed = w.call(&chris, "GET", "/threads", None).await.expect(200);
    assert_eq!(listed["threads"], json!([]));
}

#[tokio::test]
async fn existing_threads_of_archived_entries_keep_working() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    let scope = json!({"kind": "client", "client_id": "cl_tonic"});
    let t = w.open(&chris, None, scope.clone()).await;
    let mut event = directory();
    event["accounts"][0]["clients"][1]["archived"] = json!(true);
    w.sync(event).await;
    let again = w
        .call(&chris, "POST", "/threads", Some(json!({"scope": scope})))
        .await
        .expect(200);
    assert_eq!(again["id"], t["id"]);
}

#[tokio::test]
async fn unusable_identity_is_401_everywhere() {
    let w = World::new().await;
    let no_account = Who(json!({"sub": "u_chris"}).as_object().cloned().unwrap());
    let thread = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await;
    let get = format!("/threads/{}", thread["id"].as_str().unwrap());
    for who in [nobody(), no_account] {
        for (method, path, body) in [
            ("GET", "/catalog", None),
            ("POST", "/threads", Some(json!({"scope": general()}))),
            ("GET", "/threads", None),
            ("GET", get.as_str(), None),
            ("GET", "/unread", None),
        ] {
            w.call(&who, method, path, body)
                .await
                .problem(401, "unauthenticated");
        }
    }
}

#[tokio::test]
async fn other_accounts_get_404_on_every_thread_endpoint() {
    let w = World::new().await;
    let thread = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await;
    let get = format!("/threads/{}", thread["id"].as_str().unwrap());
    for who in [client("u_bea", "acc_beta"), manager("u_max")] {
        w.call(&who, "GET", &get, None)
            .await
            .problem(404, "not_found");
        w.call(&who, "GET", "/threads?account_id=acc_acme", None)
            .await
            .problem(404, "not_found");
        w.call(
            &who,
            "POST",
            "/threads",
            Some(json!({"scope": general(), "account_id": "acc_acme"})),
        )
        .await
        .problem(404, "not_found");
        // Their own lists do not show it either.
        let own = w.call(&who, "GET", "/threads", None).await.expect(200);
        assert_eq!(own["threads"], json!([]));
        let unread = w.call(&who, "GET", "/unread", None).await.expect(200);
        assert_eq!(unread, json!({"unread_threads": 0}));
    }
    // A malformed or unknown thread id is simply not found.
    w.call(
        &client("u_chris", "acc_acme"),
        "GET",
        "/threads/thr_nope",
        None,
    )
    .await
    .problem(404, "not_found");
    // A client naming another account.
    w.call(
        &client("u_chris", "acc_acme"),
        "POST",
        "/threads",
        Some(json!({"scope": general(), "account_id": "acc_beta"})),
    )
    .await
    .problem(404, "not_found");
    // A client of an account the directory does not know.
    w.call(
        &client("u_ghost", "acc_ghost"),
        "POST",
        "/threads",
        Some(json!({"scope": general()})),
    )
    .await
    .problem(404, "not_found");
}

/// A directory with one campaign of 118 creatives: 121 scopes in all.
fn big_directory() -> Value {
    let creatives: Vec<Value> = (0..118)
        .map(|i| json!({"id": format!("cr_{i:03}"), "name": format!("Cut {i}")}))
        .collect();
    json!({"accounts": [{"id": "acc_big", "name": "Big",
        "managers": [{"id": "u_mia", "email": "mia@agency.example", "name": "Mia"}],
        "users": [{"id": "u_ben", "email": "ben@big.example", "name": "Ben"}],
        "clients": [{"id": "cl_a", "name": "A", "campaigns": [
            {"id": "cp_a", "name": "A1", "creatives": creatives}]}]}]})
}

#[tokio::test]
async fn pages_of_fifty_cover_120_threads_exactly_once() {
    let w = World::empty().await;
    w.sync(big_directory()).await;
    let ben = client("u_ben", "acc_big");
    let mut scopes = vec![
        json!({"kind": "client", "client_id": "cl_a"}),
        json!({"kind": "campaign", "client_id": "cl_a", "campaign_id": "cp_a"}),
    ];
    for i in 0..118 {
        scopes.push(json!({"kind": "creative", "client_id": "cl_a", "campaign_id": "cp_a", "creative_id": format!("cr_{i:03}")}));
    }
    let mut opened = HashSet::new();
    for scope in scopes {
        let t = w.open(&ben, None, scope).await;
        opened.insert(t["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(opened.len(), 120);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    let mut last_cursor = String::new();
    loop {
        let path = match &cursor {
            None => "/threads?limit=50".to_owned(),
            Some(c) => format!("/threads?limit=50&cursor={c}"),
        };
        w.trips.take();
        let page = w.call(&ben, "GET", &path, None).await.expect(200);
        assert_eq!(w.trips.take(), 1, "list threads: one query");
        let threads = page["threads"].as_array().unwrap();
        pages.push(threads.len());
        for t in threads {
            seen.push((
                t["last_activity_at"].as_str().unwrap().to_owned(),
                t["id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                last_cursor = c.to_owned();
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages[..3], [50, 50, 20]);
    let ids: HashSet<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(seen.len(), 120, "nothing repeated");
    assert_eq!(ids, opened, "nothing missed");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest activity first");

    // Tampered, foreign and cross-listing cursors are refused.
    let mut tampered = last_cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let err = w
        .call(&ben, "GET", &format!("/threads?cursor={tampered}"), None)
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "cursor");
    w.call(
        &manager("u_mia"),
        "GET",
        &format!("/threads?cursor={last_cursor}"),
        None,
    )
    .await
    .problem(400, "validation_failed");
    w.call(
        &ben,
        "GET",
        &format!("/threads?unread=true&cursor={last_cursor}"),
        None,
    )
    .await
    .problem(400, "validation_failed");
    w.call(&ben, "GET", "/threads?cursor=garbage", None)
        .await
        .problem(400, "validation_failed");
    for bad in ["limit=0", "limit=101", "limit=x", "unread=yes"] {
        w.call(&ben, "GET", &format!("/threads?{bad}"), None)
            .await
            .problem(400, "validation_failed");
    }
}

#[tokio::test]
async fn a_manager_of_two_accounts_sees_both_newest_first_and_can_filter() {
    let w = World::empty().await;
    let mut event = directory();
    event["accounts"][1]["managers"] = json!([
        {"id": "u_max", "email": "max@agency.example", "name": "Max"},
        {"id": "u_dana", "email": "dana@agency.example", "name": "Dana"}]);
    w.sync(event).await;
    let dana = manager("u_dana");
    let a1 = w.open(&dana, Some("acc_acme"), general()).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let b1 = w.open(&client("u_bea", "acc_beta"), None, general()).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let a2 = w
        .open(
            &dana,
            Some("acc_acme"),
            json!({"kind": "client", "client_id": "cl_glow"}),
        )
        .await;

    let all = w.call(&dana, "GET", "/threads", None).await.expect(200);
    let ids: Vec<&str> = all["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [&a2["id"], &b1["id"], &a1["id"]].map(|v| v.as_str().unwrap())
    );

    let acme = w
        .call(&dana, "GET", "/threads?account_id=acc_acme", None)
        .await
        .expect(200);
    let ids: Vec<&str> = acme["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&a2["id"], &a1["id"]].map(|v| v.as_str().unwrap()));
    let beta = w
        .call(&dana, "GET", "/threads?account_id=acc_beta", None)
        .await
        .expect(200);
    assert_eq!(beta["threads"].as_array().unwrap().len(), 1);
    // Max sees only Beta's.
    let max = w
        .call(&manager("u_max"), "GET", "/threads", None)
        .await
        .expect(200);
    assert_eq!(max["threads"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn get_one_thread_and_the_unread_badge() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    let t = w.open(&chris, None, general()).await;
    let path = format!("/threads/{}", t["id"].as_str().unwrap());
    w.trips.take();
    let got = w.call(&chris, "GET", &path, None).await.expect(200);
    assert_eq!(w.trips.take(), 1);
    assert_eq!(got, t);
    let dana_view = w
        .call(&manager("u_dana"), "GET", &path, None)
        .await
        .expect(200);
    assert_eq!(dana_view["id"], t["id"]);
    w.trips.take();
    let badge = w.call(&chris, "GET", "/unread", None).await.expect(200);
    assert_eq!(w.trips.take(), 1, "unread: one COUNT query");
    assert_eq!(badge, json!({"unread_threads": 0}));
}
