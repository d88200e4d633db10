//! Access follows the directory, even during a sync: opens racing a sync,
//! two syncs at once, a re-sync repairing drift, removal from 5,000
//! threads, people on both sides in two accounts, and names that come from
//! the directory rather than the token.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use liaison::domain::{AccountId, ThreadId};
use liaison::store::schema;
use serde_json::{json, Value};

use crate::support::*;

fn person(id: &str, name: &str) -> Value {
    json!({"id": id, "email": format!("{}@people.example", &id[2..]), "name": name})
}

/// Who has an inbox row in the thread, and who its META lists.
async fn members(w: &World, thread: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let items = w.partition(&format!("THREAD#{thread}")).await;
    let mut rows = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for item in &items {
        let sk = item["sk"]["S"].as_str().unwrap_or_default();
        if let Some(user) = sk.strip_prefix("INBOX#") {
            rows.insert(user.to_owned());
        }
        if sk == "META" {
            if let Some(m) = item["participants"]["M"].as_object() {
                listed.extend(m.keys().cloned());
            }
        }
    }
    (rows, listed)
}

/// Everyone in the account's stored profile.
async fn people(w: &World, account: &str) -> BTreeSet<String> {
    let p = w
        .store
        .profile(&AccountId::parse(account).unwrap())
        .await
        .unwrap()
        .unwrap();
    p.participants().map(|(p, _)| p.id.to_string()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Every thread grants exactly the account's people: rows and META agree.
async fn assert_in_step(w: &World, account: &str, threads: &[String]) {
    let want = people(w, account).await;
    for t in threads {
        let (rows, listed) = members(w, t).await;
        assert_eq!(rows, want, "inbox rows of {t}");
        assert_eq!(listed, want, "participants of {t}");
    }
}

#[tokio::test]
async fn opens_racing_a_manager_swap_leave_the_old_manager_nothing() {
    let (dir, scopes) = wide_acme(30);
    let w = Arc::new(World::empty().await);
    w.sync(dir.clone()).await;
    let chris = client("u_chris", "acc_acme");
    let mut erin_dir = dir.clone();
    erin_dir["accounts"][0]["managers"] = json!([person("u_erin", "Erin")]);
    let mut threads = Vec::new();
    for s in &scopes[..2] {
        threads.push(
            w.open(&chris, None, s.clone()).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Two rounds: Dana → Erin while 15 scopes open, then Erin → Dana while
    // 15 more open.
    for (round, event) in [(0, erin_dir.clone()), (1, dir.clone())] {
        let mut opens = tokio::task::JoinSet::new();
        for s in scopes[2 + round * 15..2 + (round + 1) * 15].iter().cloned() {
            let w = w.clone();
            opens.spawn(async move {
                let who = client("u_chris", "acc_acme");
                w.open(&who, None, s).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            });
        }
        let ww = w.clone();
        let sync = tokio::spawn(async move { ww.sync(event).await });
        while let Some(id) = opens.join_next().await {
            threads.push(id.unwrap());
        }
        sync.await.unwrap();
        let (now, gone) = if round == 0 {
            ("u_erin", "u_dana")
        } else {
            ("u_dana", "u_erin")
        };
        assert_in_step(&w, "acc_acme", &threads).await;
        for t in &threads {
            let path = format!("/threads/{t}");
            w.call(&manager(gone), "GET", &path, None)
                .await
                .problem(404, "not_found");
            w.call(&manager(now), "GET", &path, None).await.expect(200);
        }
        let listed = w
            .call(&manager(now), "GET", "/threads?limit=100", None)
            .await
            .expect(200);
        assert_eq!(listed["threads"].as_array().unwrap().len(), threads.len());
        let old = w
            .call(&manager(gone), "GET", "/threads?limit=100", None)
            .await
            .expect(200);
        assert_eq!(old["threads"], json!([]), "{gone} sees none of them");
    }
}

#[tokio::test]
async fn two_concurrent_syncs_leave_rows_and_profile_agreeing() {
    let w = Arc::new(World::new().await);
    let chris = client("u_chris", "acc_acme");
    let mut threads = Vec::new();
    for scope in [
        general(),
        json!({"kind": "client", "client_id": "cl_glow"}),
        json!({"kind": "client", "client_id": "cl_tonic"}),
        json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
    ] {
        threads.push(
            w.open(&chris, None, scope).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut small = directory();
    small["accounts"][0]["managers"] = json!([person("u_erin", "Erin")]);
    small["accounts"][0]["users"] = json!([person("u_chris", "Chris")]);
    let mut large = directory();
    large["accounts"][0]["managers"] = json!([person("u_dana", "Dana"), person("u_fay", "Fay")]);
    large["accounts"][0]["users"] = json!([
        person("u_chris", "Chris"),
        person("u_alex", "Alex"),
        person("u_sam", "Sam")
    ]);
    for round in 0..4 {
        let (a, b) = if round % 2 == 0 {
            (small.clone(), large.clone())
        } else {
            (large.clone(), small.clone())
        };
        let (wa, wb) = (w.clone(), w.clone());
        let first = tokio::spawn(async move { wa.sync(a).await });
        let second = tokio::spawn(async move { wb.sync(b).await });
        first.await.unwrap();
        second.await.unwrap();
        let who = people(&w, "acc_acme").await;
        assert!(
            who == set(&["u_chris", "u_erin"])
                || who == set(&["u_alex", "u_chris", "u_dana", "u_fay", "u_sam"]),
            "the profile is one of the two: {who:?}"
        );
        assert_in_step(&w, "acc_acme", &threads).await;
    }
}

#[tokio::test]
async fn a_resync_with_the_same_directory_repairs_drift() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let db = w.store.client();
    let pk = AttributeValue::S(format!("THREAD#{t}"));
    // Dana's row deleted by hand.
    db.delete_item()
        .table_name(&w.names.table)
        .key("pk", pk.clone())
        .key("sk", AttributeValue::S("INBOX#u_dana".into()))
        .send()
        .await
        .unwrap();
    // A stranger listed in the thread, with a row of their own.
    let chris_row = db
        .get_item()
        .table_name(&w.names.table)
        .key("pk", pk.clone())
        .key("sk", AttributeValue::S("INBOX#u_chris".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stranger: std::collections::HashMap<_, _> = chris_row
        .into_iter()
        .map(|(k, v)| match v {
            AttributeValue::S(s) => (k, AttributeValue::S(s.replace("u_chris", "u_zed"))),
            other => (k, other),
        })
        .collect();
    db.put_item()
        .table_name(&w.names.table)
        .set_item(Some(stranger))
        .send()
        .await
        .unwrap();
    db.update_item()
        .table_name(&w.names.table)
        .key("pk", pk.clone())
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET participants.u_zed = :c")
        .expression_attribute_values(":c", AttributeValue::S("client".into()))
        .send()
        .await
        .unwrap();
    let path = format!("/threads/{t}");
    w.call(&manager("u_dana"), "GET", &path, None)
        .await
        .problem(404, "not_found");

    w.sync(directory()).await;

    w.call(&manager("u_dana"), "GET", &path, None)
        .await
        .expect(200);
    w.call(&client("u_zed", "acc_acme"), "GET", &path, None)
        .await
        .problem(404, "not_found");
    assert_in_step(&w, "acc_acme", &[t]).await;
}

/// Copies the thread's items (META, rows, pointer) as `count` more threads
/// of the account, with plain batch writes (no transactions, so seeding
/// stays fast on the local AWS).
async fn clone_thread(w: &World, account: &str, template: &str, count: usize) -> Vec<String> {
    let db = w.store.client();
    let mut items = Vec::new();
    let out = db
        .query()
        .table_name(&w.names.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("THREAD#{template}")))
        .send()
        .await
        .unwrap();
    let originals = out.items.unwrap_or_default();
    let acc = AccountId::parse(account).unwrap();
    let mut ids = Vec::new();
    for i in 0..count {
        let id = ThreadId::for_scope(&acc, &format!("seed#{i}")).to_string();
        for item in &originals {
            items.push(
                item.iter()
                    .map(|(k, v)| match v {
                        AttributeValue::S(s) => {
                            (k.clone(), AttributeValue::S(s.replace(template, &id)))
                        }
                        other => (k.clone(), other.clone()),
                    })
                    .collect::<std::collections::HashMap<_, _>>(),
            );
        }
        items.push(std::collections::HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("ACCOUNT_THREADS#{account}")),
            ),
            ("sk".to_owned(), AttributeValue::S(format!("THREAD#{id}"))),
            (
                "scope_key".to_owned(),
                AttributeValue::S(format!("seed#{i}")),
            ),
        ]));
        ids.push(id);
    }
    for chunk in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        while !pending.is_empty() {
            let out = db
                .batch_write_item()
                .request_items(&w.names.table, pending)
                .send()
                .await
                .unwrap();
            pending = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&w.names.table))
                .unwrap_or_default();
        }
    }
    ids
}

/// How many inbox rows a person has (the by-user index).
async fn rows_of(w: &World, user: &str) -> i32 {
    let mut total = 0;
    let mut start = None;
    loop {
        let out = w
            .store
            .client()
            .query()
            .table_name(&w.names.table)
            .index_name(schema::BY_USER.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", schema::BY_USER.pk)
            .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        total += out.count;
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return total,
        }
    }
}

#[tokio::test]
async fn removing_a_person_from_5000_threads_is_paged_and_resumable() {
    const THREADS: usize = 5_000;
    let w = World::new().await;
    let template = general_thread(&w).await;
    let seeding = Instant::now();
    let mut threads = clone_thread(&w, "acc_acme", &template, THREADS - 1).await;
    threads.push(template);
    eprintln!("seeded {THREADS} threads in {:?}", seeding.elapsed());
    assert_eq!(rows_of(&w, "u_alex").await, THREADS as i32);

    let mut event = directory();
    event["accounts"][0]["users"] = json!([person("u_chris", "Chris")]);
    // A call that runs out of time says so, with the directory stored and
    // its position saved; the same event again continues from there.
    let started = Instant::now();
    let err = sync_directory::handle_within(
        &w.functions.sync_directory,
        event.clone(),
        Duration::from_millis(100),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("incomplete"), "{err}");
    assert!(err.to_string().contains("acc_acme"), "{err}");
    assert_eq!(people(&w, "acc_acme").await, set(&["u_chris", "u_dana"]));
    let first = started.elapsed();
    let remaining = rows_of(&w, "u_alex").await;
    assert!(remaining < THREADS as i32, "the first call made progress");
    assert!(remaining > 0, "and did not finish in 0.1 s");
    // How many calls it takes depends on how fast the local AWS is (each
    // call has a 40 s budget); what must hold is that every call that runs
    // out of time has made progress, so repeating the event always ends.
    let mut calls = 1;
    let mut left = remaining;
    loop {
        calls += 1;
        match sync_directory::handle(&w.functions.sync_directory, event.clone()).await {
            Ok(_) => break,
            Err(e) if e.to_string().starts_with("incomplete") => {
                let now = rows_of(&w, "u_alex").await;
                assert!(
                    now < left,
                    "call {calls} made no progress ({now} rows left)"
                );
                left = now;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let total = started.elapsed();
    eprintln!(
        "removed one person from {THREADS} threads in {total:?} ({calls} calls; the first, cut at 0.1 s, took {first:?})"
    );
    assert_eq!(rows_of(&w, "u_alex").await, 0);
    assert_eq!(rows_of(&w, "u_chris").await, THREADS as i32);
    assert_in_step(&w, "acc_acme", &threads[..5]).await;
    assert_in_step(&w, "acc_acme", &threads[THREADS - 5..]).await;
    w.call(
        &client("u_alex", "acc_acme"),
        "GET",
        &format!("/threads/{}", threads[42]),
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn a_client_of_one_account_and_manager_of_another_acts_only_as_the_directory_says() {
    let mut dir = directory();
    dir["accounts"][0]["managers"]
        .as_array_mut()
        .unwrap()
        .push(person("u_pat", "Pat Manager"));
    dir["accounts"][1]["users"]
        .as_array_mut()
        .unwrap()
        .push(person("u_pat", "Pat"));
    let w = World::empty().await;
    w.sync(dir).await;
    let acme = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta = w.open(&client("u_bea", "acc_beta"), None, general()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.say(&client("u_chris", "acc_acme"), &acme, "for the managers")
        .await;
    let as_client = client("u_pat", "acc_beta");
    let as_manager = manager("u_pat");

    // With a client token (Beta), Pat is nobody in Acme, where they manage.
    for (method, path, body) in [
        ("GET", format!("/threads/{acme}"), None),
        ("GET", format!("/threads/{acme}/messages"), None),
        (
            "POST",
            format!("/threads/{acme}/messages"),
            Some(json!({"body": "as a client?", "client_message_id": key()})),
        ),
    ] {
        w.call(&as_client, method, &path, body)
            .await
            .problem(404, "not_found");
    }
    let listed = w
        .call(&as_client, "GET", "/threads", None)
        .await
        .expect(200);
    let ids: Vec<&str> = listed["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![beta.as_str()]);
    let unread = w.call(&as_client, "GET", "/unread", None).await.expect(200);
    assert_eq!(unread["unread_threads"], 0);
    let sent = w.say(&as_client, &beta, "hello from the client side").await;
    assert_eq!(sent["author"]["role"], "client");
    assert_eq!(sent["author"]["name"], "Pat");

    // With a manager token, Pat acts as Acme's manager, and is nobody in
    // Beta, where they are a client user.
    let unread = w
        .call(&as_manager, "GET", "/unread", None)
        .await
        .expect(200);
    assert_eq!(unread["unread_threads"], 1);
    let listed = w
        .call(&as_manager, "GET", "/threads", None)
        .await
        .expect(200);
    assert_eq!(listed["threads"][0]["id"], acme.as_str());
    assert_eq!(listed["threads"].as_array().unwrap().len(), 1);
    let sent = w.say(&as_manager, &acme, "on it").await;
    assert_eq!(sent["author"]["role"], "manager");
    assert_eq!(sent["author"]["name"], "Pat Manager");
    w.call(
        &as_manager,
        "POST",
        &format!("/threads/{beta}/messages"),
        Some(json!({"body": "as a manager?", "client_message_id": key()})),
    )
    .await
    .problem(404, "not_found");
    w.call(&as_manager, "GET", &format!("/threads/{beta}"), None)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn the_author_name_comes_from_the_directory_not_the_token() {
    let w = World::new().await;
    let mut chris = client("u_chris", "acc_acme");
    chris
        .0
        .insert("name".into(), json!("Dana (Account Manager)"));
    let t = w.open(&chris, None, general()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = w.say(&chris, &t, "hello").await;
    assert_eq!(sent["author"]["name"], "Chris");
    let listed = w
        .call(&manager("u_dana"), "GET", "/threads", None)
        .await
        .expect(200);
    assert_eq!(
        listed["threads"][0]["last_message"]["author"]["name"],
        "Chris"
    );
    let messages = w
        .call(
            &manager("u_dana"),
            "GET",
            &format!("/threads/{t}/messages"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(messages["messages"][0]["author"]["name"], "Chris");

    // A new name in the directory reaches the thread with the next sync.
    let mut dir = directory();
    dir["accounts"][0]["users"][0]["name"] = json!("Chris\u{202E} Park");
    w.sync(dir).await;
    let sent = w.say(&chris, &t, "again").await;
    assert_eq!(sent["author"]["name"], "Chris Park");
}
