//! `sync-directory`: idempotent upsert, people replaced, catalog kept, bad
//! input names the field and writes nothing.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn answers_what_it_holds() {
    let w = World::empty().await;
    let counts = w.sync(directory()).await;
    assert_eq!(
        serde_json::to_value(&counts).unwrap(),
        json!({"accounts": 2, "users": 3, "managers": 2, "clients": 3, "campaigns": 3, "creatives": 3})
    );
}

#[tokio::test]
async fn resyncing_the_same_event_changes_nothing() {
    let w = World::new().await;
    let t = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await;
    let thread_pk = format!("THREAD#{}", t["id"].as_str().unwrap());
    let before = (
        w.partition("ACCOUNT#acc_acme").await,
        w.partition("ACCOUNT#acc_beta").await,
        w.partition("ACCOUNT_THREADS#acc_acme").await,
        w.partition(&thread_pk).await,
    );
    w.sync(directory()).await;
    let after = (
        w.partition("ACCOUNT#acc_acme").await,
        w.partition("ACCOUNT#acc_beta").await,
        w.partition("ACCOUNT_THREADS#acc_acme").await,
        w.partition(&thread_pk).await,
    );
    assert_eq!(before.3.len(), 4, "META and three inbox rows");
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_bad_field_is_named_and_nothing_is_written() {
    let w = World::empty().await;
    let mut event = directory();
    event["accounts"][1]["users"][0]["email"] = json!("bea-at-beta");
    let err = sync_directory::handle(&w.functions.sync_directory, event)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("validation_failed"), "{message}");
    assert!(message.contains("accounts[1].users[0].email"), "{message}");
    // Neither the bad account nor the good one before it was written.
    assert!(w.partition("ACCOUNT#acc_acme").await.is_empty());
    assert!(w.partition("ACCOUNT#acc_beta").await.is_empty());

    for (mutate, field) in [
        (json!({"accounts": "no"}), "accounts"),
        (
            json!({"accounts": [{"id": "a b", "name": "x"}]}),
            "accounts[0].id",
        ),
        (
            json!({"accounts": [{"id": "acc", "name": ""}]}),
            "accounts[0].name",
        ),
        (
            json!({"accounts": [{"id": "acc", "name": "A", "clients": [{"id": "cl", "name": "C", "campaigns": [{"name": "no id"}]}]}]}),
            "accounts[0].clients[0].campaigns[0].id",
        ),
    ] {
        let err = sync_directory::handle(&w.functions.sync_directory, mutate)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{err} should name {field}");
    }
    assert!(w.partition("ACCOUNT#acc").await.is_empty());
}

#[tokio::test]
async fn people_are_replaced_and_inbox_rows_follow() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    let thread = w.open(&chris, None, general()).await;
    let id = thread["id"].as_str().unwrap().to_owned();
    let path = format!("/threads/{id}");

    // Alex leaves, Sam joins, Dana is replaced by Erin as manager.
    let mut event = directory();
    event["accounts"][0]["users"] = json!([
        {"id": "u_chris", "email": "chris@acme.example", "name": "Chris"},
        {"id": "u_sam", "email": "sam@acme.example", "name": "Sam"}]);
    event["accounts"][0]["managers"] = json!([
        {"id": "u_erin", "email": "erin@agency.example", "name": "Erin"}]);
    w.sync(event).await;

    w.call(&client("u_alex", "acc_acme"), "GET", &path, None)
        .await
        .problem(404, "not_found");
    w.call(&manager("u_dana"), "GET", &path, None)
        .await
        .problem(404, "not_found");
    let seen = w
        .call(&client("u_sam", "acc_acme"), "GET", &path, None)
        .await
        .expect(200);
    assert_eq!(seen["id"], id.as_str());
    let listed = w
        .call(&manager("u_erin"), "GET", "/threads", None)
        .await
        .expect(200);
    assert_eq!(listed["threads"][0]["id"], id.as_str());
    // A removed manager can no longer see the account's catalog either.
    w.call(
        &manager("u_dana"),
        "GET",
        "/catalog?account_id=acc_acme",
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn catalog_entries_are_never_deleted() {
    let w = World::new().await;
    let chris = client("u_chris", "acc_acme");
    let scope = json!({"kind": "client", "client_id": "cl_tonic"});
    let thread = w.open(&chris, None, scope.clone()).await;
    let mut event = directory();
    event["accounts"][0]["clients"] = json!([]);
    let counts = w.sync(event).await;
    assert_eq!(counts.clients, 3, "stored clients stay");
    let again = w.open(&chris, None, scope).await;
    assert_eq!(again["id"], thread["id"]);
}
