//! The scope's context links: `sync-directory` takes them on clients,
//! campaigns and creatives (bad ones named by path, nothing written),
//! `GET /catalog` returns them on every entry, and the thread view
//! (`GET /threads/{id}`, the open answer) returns its scope's.

use serde_json::{json, Value};

use crate::support::*;

const PERSONA: &str = "https://drive.agency.example/acme/glow/persona-mia.pdf";
const BRIEF: &str = "https://drive.agency.example/acme/glow/spring-launch/brief.pdf";
const VIDEO: &str = "https://cdn.agency.example/acme/glow/spring-launch/hook-v2.mp4";

/// The demo directory with a persona on Glow Serum, a brief on its spring
/// campaign and the delivered video on Hook v2.
fn linked() -> Value {
    let mut event = directory();
    let glow = &mut event["accounts"][0]["clients"][0];
    glow["links"] = json!([{"label": "Persona: Mia", "url": PERSONA}]);
    glow["campaigns"][0]["links"] = json!([{"label": "Campaign brief", "url": BRIEF}]);
    glow["campaigns"][0]["creatives"][0]["links"] =
        json!([{"label": "Delivered\tvideo\u{200B}", "url": VIDEO}]);
    event
}

async fn linked_world() -> World {
    let w = World::empty().await;
    w.sync(linked()).await;
    w
}

fn hook2() -> Value {
    json!({"kind": "creative", "client_id": "cl_glow", "campaign_id": "cp_spring", "creative_id": "cr_hook2"})
}

fn scope_links() -> Value {
    json!([
        {"label": "Persona: Mia", "url": PERSONA, "level": "client"},
        {"label": "Campaign brief", "url": BRIEF, "level": "campaign"},
        {"label": "Delivered video", "url": VIDEO, "level": "creative"}])
}

#[tokio::test]
async fn the_catalog_carries_every_entrys_links() {
    let w = linked_world().await;
    let body = w
        .call(&client("u_chris", "acc_acme"), "GET", "/catalog", None)
        .await
        .expect(200);
    assert_eq!(
        body["clients"],
        json!([
            {"id": "cl_glow", "name": "Glow Serum",
             "links": [{"label": "Persona: Mia", "url": PERSONA}], "campaigns": [
                {"id": "cp_spring", "name": "Spring launch",
                 "links": [{"label": "Campaign brief", "url": BRIEF}], "creatives": [
                    {"id": "cr_hook2", "name": "Hook v2",
                     "links": [{"label": "Delivered video", "url": VIDEO}]}]}]},
            {"id": "cl_tonic", "name": "Night Tonic", "links": [], "campaigns": [
                {"id": "cp_launch", "name": "Launch", "links": [], "creatives": [
                    {"id": "cr_teaser", "name": "Teaser", "links": []}]}]}])
    );
}

#[tokio::test]
async fn the_thread_view_and_the_open_answer_carry_the_scopes_links_for_both_sides() {
    let w = linked_world().await;
    let chris = client("u_chris", "acc_acme");
    let dana = manager("u_dana");

    // Created (201): from the catalog entries the open read anyway.
    w.trips.take();
    let r = w
        .call(&chris, "POST", "/threads", Some(json!({"scope": hook2()})))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["links"], scope_links());
    let id = r.body["id"].as_str().unwrap().to_owned();

    // Reopened (200) by the other side: one BatchGetItem, links included.
    w.trips.take();
    let again = w
        .call(
            &dana,
            "POST",
            "/threads",
            Some(json!({"account_id": "acc_acme", "scope": hook2()})),
        )
        .await
        .expect(200);
    assert_eq!(w.trips.take(), 1, "a reopen is one round trip");
    assert_eq!(again["links"], scope_links());

    // The thread view: the caller's row, then the scope's catalog entries.
    for who in [&chris, &dana] {
        w.trips.take();
        let seen = w.thread(who, &id).await;
        assert_eq!(w.trips.take(), 2, "GetItem + BatchGetItem");
        assert_eq!(seen["links"], scope_links());
        assert_eq!(seen["id"], id.as_str());
    }

    // Listings stay as they were: no links there.
    let listed = w.call(&chris, "GET", "/threads", None).await.expect(200);
    assert!(listed["threads"][0].get("links").is_none(), "{listed}");

    // A campaign thread shows the client's and the campaign's links.
    let campaign = w
        .open(
            &chris,
            None,
            json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
        )
        .await;
    assert_eq!(
        campaign["links"],
        json!([
            {"label": "Persona: Mia", "url": PERSONA, "level": "client"},
            {"label": "Campaign brief", "url": BRIEF, "level": "campaign"}])
    );

    // General: no links, and no catalog read.
    let general = w.open(&chris, None, general()).await;
    assert_eq!(general["links"], json!([]));
    let general_id = general["id"].as_str().unwrap();
    w.trips.take();
    assert_eq!(w.thread(&chris, general_id).await["links"], json!([]));
    assert_eq!(w.trips.take(), 1, "General reads the row only");

    // A client without links.
    let tonic = w
        .open(
            &chris,
            None,
            json!({"kind": "client", "client_id": "cl_tonic"}),
        )
        .await;
    assert_eq!(tonic["links"], json!([]));
}

#[tokio::test]
async fn links_follow_the_directory() {
    let w = linked_world().await;
    let chris = client("u_chris", "acc_acme");
    let id = w.open(&chris, None, hook2()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A sync without the creative's links drops them; the brief changes.
    let mut event = linked();
    let spring = &mut event["accounts"][0]["clients"][0]["campaigns"][0];
    spring["links"] = json!([{"label": "Brief v2", "url": "https://drive.agency.example/b2"}]);
    spring["creatives"][0]
        .as_object_mut()
        .unwrap()
        .remove("links");
    w.sync(event.clone()).await;
    assert_eq!(
        w.thread(&chris, &id).await["links"],
        json!([
            {"label": "Persona: Mia", "url": PERSONA, "level": "client"},
            {"label": "Brief v2", "url": "https://drive.agency.example/b2", "level": "campaign"}])
    );

    // Archived entries keep showing theirs in existing threads.
    event["accounts"][0]["clients"][0]["campaigns"][0]["archived"] = json!(true);
    w.sync(event).await;
    assert_eq!(
        w.thread(&dana(), &id).await["links"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn callers_from_another_account_get_404() {
    let w = linked_world().await;
    let id = w.open(&client("u_chris", "acc_acme"), None, hook2()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/threads/{id}");
    for who in [client("u_bea", "acc_beta"), manager("u_max")] {
        w.call(&who, "GET", &path, None)
            .await
            .problem(404, "not_found");
    }
    // A client of Beta naming Acme's scope is refused the same way.
    w.call(
        &client("u_bea", "acc_beta"),
        "POST",
        "/threads",
        Some(json!({"account_id": "acc_acme", "scope": hook2()})),
    )
    .await
    .problem(404, "not_found");
    w.call(
        &manager("u_max"),
        "GET",
        "/catalog?account_id=acc_acme",
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn bad_links_are_named_and_nothing_is_written() {
    let w = World::empty().await;
    let cases: [(&str, Value, &str); 6] = [
        (
            "/clients/1",
            json!([{"label": "Brief", "url": "http://drive.agency.example/b"}]),
            "accounts[0].clients[1].links[0].url",
        ),
        (
            "/clients/0/campaigns/0",
            json!([{"label": "Brief", "url": "javascript:alert(1)"}]),
            "accounts[0].clients[0].campaigns[0].links[0].url",
        ),
        (
            "/clients/0/campaigns/0/creatives/0",
            json!([
                {"label": "ok", "url": "https://a.example/"},
                {"label": "x".repeat(81), "url": "https://a.example/"}]),
            "accounts[0].clients[0].campaigns[0].creatives[0].links[1].label",
        ),
        (
            "/clients/0",
            json!(vec![json!({"label": "a", "url": "https://a.example/"}); 6]),
            "accounts[0].clients[0].links",
        ),
        (
            "/clients/0",
            json!([{"label": "Long", "url": format!("https://a.example/{}", "p".repeat(2040))}]),
            "accounts[0].clients[0].links[0].url",
        ),
        (
            "/clients/0",
            json!([{"label": "\u{200B}\n", "url": "https://a.example/"}]),
            "accounts[0].clients[0].links[0].label",
        ),
    ];
    for (at, links, field) in cases {
        let mut event = directory();
        event
            .pointer_mut(&format!("/accounts/0{at}"))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{at}"))
            .insert("links".into(), links);
        let err = sync_directory::handle(&w.functions.sync_directory, event)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("validation_failed"), "{err}");
        assert!(
            err.contains(&format!("{field}:")),
            "{err} should name {field}"
        );
    }
    assert!(w.partition("ACCOUNT#acc_acme").await.is_empty());
    assert!(w.partition("ACCOUNT#acc_beta").await.is_empty());
}

#[test]
fn the_demo_directory_and_event_carry_example_links() {
    let accounts = liaison::domain::parse_directory(&liaison_local::demo::directory())
        .expect("the demo directory parses");
    let acme = &accounts[0].catalog;
    let links_of = |name: &str| {
        acme.iter()
            .find(|e| e.name == name)
            .map(|e| e.links.len())
            .unwrap_or(0)
    };
    assert!(links_of("Glow Serum") > 0, "a persona on the client");
    assert!(links_of("Spring launch") > 0, "a brief on the campaign");
    assert!(links_of("Hook v2") > 0, "the video on the creative");
}
