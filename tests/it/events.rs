//! Every sample event in `events/` (the payloads for `cargo lambda invoke
//! <fn> --data-file events/<fn>.json`) is the event its function takes, and
//! the function handles it.

use std::path::{Path, PathBuf};

use liaison::domain::{AccountId, Scope, ThreadId};
use serde_json::Value;

use crate::support::*;

/// The thread the HTTP events name: Acme's general thread (thread ids are
/// derived from account and scope, so the events can name it in advance).
const EVENT_THREAD: &str = "thr_2yfk89v78sw2b9ztehvg93sw9h";

/// Functions whose crates the tests (and the local gateway) do not call
/// yet: their events are checked for shape only. When one is wired in,
/// take it out of here and give it a case in
/// `every_event_is_handled_by_its_function`.
const SHAPE_ONLY: [&str; 6] = [
    "send-message",
    "list-messages",
    "mark-read",
    "presign-attachment",
    "relay-messages",
    "notify-reply",
];

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
    functions.extend(SHAPE_ONLY.iter().map(|s| (*s).to_owned()));
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
    let general = Scope::from_json(&general(), "scope").expect("a scope");
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

    for (name, text) in events() {
        match name.as_str() {
            "sync-directory" => {
                let event: Value = serde_json::from_str(&text).expect("JSON");
                let counts = sync_directory::handle(&w.sync_directory, event)
                    .await
                    .expect("the demo directory syncs");
                assert_eq!(counts.accounts, 2);
            }
            "open-thread" | "list-threads" | "get-catalog" => {
                let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
                    panic!("events/{name}.json is not an API Gateway event: {e}")
                });
                let resp = match name.as_str() {
                    "open-thread" => open_thread::handle(&w.open_thread, req).await,
                    "list-threads" => list_threads::handle(&w.list_threads, req).await,
                    _ => get_catalog::handle(&w.get_catalog, req).await,
                };
                let status = resp.status().as_u16();
                let body = match resp.body() {
                    lambda_http::Body::Text(t) => t.clone(),
                    _ => String::new(),
                };
                assert!(
                    (200..300).contains(&status),
                    "events/{name}.json answered {status}: {body}"
                );
            }
            // Not handled here yet (see SHAPE_ONLY): the shape is checked.
            "relay-messages" => {
                let ev: aws_lambda_events::event::dynamodb::Event =
                    serde_json::from_str(&text).expect("a DynamoDB stream event");
                assert_eq!(ev.records[0].event_name, "INSERT");
                let image = &ev.records[0].change.new_image;
                assert!(image.contains_key("message_id") && image.contains_key("thread_id"));
            }
            "notify-reply" => {
                let ev: aws_lambda_events::event::sqs::SqsEvent =
                    serde_json::from_str(&text).expect("an SQS event");
                let body: Value =
                    serde_json::from_str(ev.records[0].body.as_deref().unwrap_or_default())
                        .expect("a JSON body");
                assert_eq!(body["thread_id"], EVENT_THREAD);
                assert!(body["message_id"].is_string());
            }
            other if SHAPE_ONLY.contains(&other) => {
                let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
                    panic!("events/{name}.json is not an API Gateway event: {e}")
                });
                assert!(
                    liaison::http::principal(&req).is_ok(),
                    "events/{name}.json carries usable claims"
                );
                assert_eq!(
                    liaison::http::thread_id(&req).map(|t| t.to_string()),
                    Ok(EVENT_THREAD.to_owned())
                );
            }
            other => panic!("events/{other}.json: which function takes it?"),
        }
    }
}

/// `KEY = "value"` lines (and the route lines) of one section of the root
/// Cargo.toml.
fn cargo_section(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
        .expect("Cargo.toml");
    text.lines()
        .skip_while(|l| l.trim() != format!("[{name}]"))
        .skip(1)
        .take_while(|l| !l.starts_with('[') && !l.starts_with('#'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `cargo lambda` runs the functions with the values `make dev` gives them.
#[test]
fn cargo_lambda_env_is_make_devs() {
    let env: std::collections::BTreeMap<String, String> =
        cargo_section("workspace.metadata.lambda.env")
            .iter()
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
            })
            .collect();
    let dev = liaison_local::FunctionEnv {
        aws: aws_config::SdkConfig::builder().build(),
        names: liaison::provision::Names::with_prefix(liaison_local::DEV_PREFIX),
        queue_url: "http://127.0.0.1:4566/123456789012/liaison-dev-notifications".into(),
        dead_letter_queue_url: "http://127.0.0.1:4566/123456789012/liaison-dev-notifications-dlq"
            .into(),
        app_url: liaison_local::DEV_APP_URL.into(),
        cursor_secret: liaison_local::DEV_CURSOR_SECRET.as_bytes().to_vec(),
        notify_delay: std::time::Duration::from_secs(3),
    };
    for (name, value) in dev.vars() {
        assert_eq!(
            env.get(name),
            Some(&value),
            "[workspace.metadata.lambda.env] {name}"
        );
    }
    assert_eq!(
        env.get("AWS_ENDPOINT_URL").map(String::as_str),
        Some("http://127.0.0.1:4566")
    );
}

/// `cargo lambda watch` routes the API's paths as the local gateway does.
#[test]
fn cargo_lambda_router_is_the_apis() {
    let mut routes: Vec<(String, String, String)> = Vec::new();
    let mut path = String::new();
    for line in cargo_section("workspace.metadata.lambda.watch.router") {
        let mut entries = line.as_str();
        if let Some(rest) = line.strip_prefix('"') {
            let (key, after) = rest.split_once('"').unwrap_or_default();
            path = key.to_owned();
            entries = after;
        }
        for entry in entries.split('{').skip(1) {
            let field = |name: &str| {
                entry
                    .split(',')
                    .find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        (k.trim() == name).then(|| {
                            v.trim()
                                .trim_end_matches(['}', ']', ' '])
                                .trim_matches('"')
                                .to_owned()
                        })
                    })
                    .unwrap_or_default()
            };
            routes.push((field("method"), path.clone(), field("function")));
        }
    }
    let mut want: Vec<(String, String, String)> = liaison_local::routes::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect();
    routes.sort();
    want.sort();
    assert_eq!(routes, want);
}
