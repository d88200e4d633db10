//! Every sample event in `events/` (the payloads for `cargo lambda invoke
//! <fn> --data-file events/<fn>.json`) is the event its function takes, and
//! the function handles it.

use std::path::{Path, PathBuf};

use liaison::domain::{AccountId, Scope, ThreadId};
use serde_json::{json, Value};

use crate::support::*;

/// The thread the HTTP events name: Acme's general thread (thread ids are
/// derived from account and scope, so the events can name it in advance).
const EVENT_THREAD: &str = "thr_2yfk89v78sw2b9ztehvg93sw9h";

/// The unsubscribe token `events/unsubscribe.json` carries (signed with
/// the dev reply secret): it stands for a reply key of Chris's in
/// [`EVENT_THREAD`], whose row the test writes as the notifier would.
const EVENT_UNSUBSCRIBE_TOKEN: &str = "bbifqydiob4ibceqtogasg3c4gw755ux5";

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn events() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(events_dir())
        .expect("events/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let text = std::fs::read_to_string(&p).expect("readable");
            (name, text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn there_is_one_event_per_function() {
    let names: Vec<String> = events().into_iter().map(|(n, _)| n).collect();
    let mut functions: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions"))
            .expect("functions/")
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
    functions.sort();
    functions.dedup();
    for f in &functions {
        assert!(names.contains(f), "events/{f}.json is missing");
    }
    for n in &names {
        assert!(functions.contains(n), "events/{n}.json names no function");
    }
}

#[test]
fn the_event_thread_is_acmes_general_thread() {
    let acme = AccountId::parse("acc_acme").expect("an account id");
    let general: liaison::http::requests::ScopeJson =
        serde_json::from_value(general()).expect("a scope body");
    let general = Scope::try_from(general).expect("a scope");
    assert_eq!(
        ThreadId::for_scope(&acme, &general.key()).as_str(),
        EVENT_THREAD
    );
}

#[test]
fn the_sync_directory_event_is_the_demo_directory() {
    let text = std::fs::read_to_string(events_dir().join("sync-directory.json")).expect("file");
    let event: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(event, liaison_local::demo::directory());
}

#[tokio::test]
async fn every_event_is_handled_by_its_function() {
    let w = World::new().await;
    // The HTTP events name Acme's general thread: open it first.
    let thread = w
        .open(&client("u_chris", "acc_acme"), None, general())
        .await;
    assert_eq!(thread["id"], EVENT_THREAD);
    // The reply key the unsubscribe event's token stands for.
    let key = liaison::reply::ReplyKeys::parse(liaison_local::DEV_REPLY_SECRETS)
        .expect("dev secrets")
        .verify_mute_token(EVENT_UNSUBSCRIBE_TOKEN)
        .expect("the event's token is signed with the dev secret");
    let now = liaison::domain::Timestamp::now().unix_seconds();
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    w.store
        .client()
        .put_item()
        .table_name(&w.names.table)
        .item("pk", s(&format!("REPLY#{}", key.as_str())))
        .item("sk", s("KEY"))
        .item("account_id", s("acc_acme"))
        .item("thread_id", s(EVENT_THREAD))
        .item("user_id", s("u_chris"))
        .item("address", s("chris@acme.example"))
        .item("issued_at", s("2026-11-24T11:31:23.123Z"))
        .item(
            "expires_at",
            aws_sdk_dynamodb::types::AttributeValue::N((now + 3600).to_string()),
        )
        .send()
        .await
        .expect("put the key's row");

    // Each event goes through the local gateway's Invoke API dispatch: the
    // payload as Lambda hands it to the function, the answer as it returns.
    for (name, text) in events() {
        let event: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{name}.json is not JSON: {e}"));
        if name == "notify-reply" {
            let body = event["Records"][0]["body"].as_str().unwrap_or_default();
            assert!(
                liaison::notify::Job::parse(body).is_some(),
                "events/{name}.json carries a notification job"
            );
        }
        let answer = w
            .functions
            .invoke(&name, event)
            .await
            .unwrap_or_else(|| panic!("events/{name}.json: which function takes it?"))
            .unwrap_or_else(|d| {
                panic!(
                    "events/{name}.json is not {name}'s event, or failed: {}: {}",
                    d.error_type, d.error_message
                )
            });
        match name.as_str() {
            "sync-directory" => assert_eq!(answer["accounts"], 2, "{answer}"),
            "relay-messages" | "notify-reply" | "record-scan" => assert_eq!(
                answer["batchItemFailures"],
                json!([]),
                "events/{name}.json was not handled: {answer}"
            ),
            // No raw e-mail under inbound/ for the sample: read, refused,
            // never an error.
            "receive-reply" => assert_eq!(
                answer["results"][0]["outcome"], "refused",
                "events/{name}.json was not handled: {answer}"
            ),
            _ => {
                let status = answer["statusCode"].as_u64().unwrap_or_default();
                assert!(
                    (200..300).contains(&status),
                    "events/{name}.json answered {status}: {}",
                    answer["body"]
                );
            }
        }
    }
}
