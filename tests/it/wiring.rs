//! The in-process wiring (`liaison_local::functions`) and the route table
//! (`liaison_local::routes`) are the one list of functions and routes: the
//! gateway, the tests and the bench run them, and here they are held to the
//! function crates, the template (each function's environment), and the
//! copies `cargo lambda watch` needs in the workspace `Cargo.toml`
//! (`[workspace.metadata.lambda]`: its router and its env). No AWS needed.

use std::collections::{BTreeMap, BTreeSet};

use liaison::provision::Names;
use liaison_local::routes::ROUTES;
use liaison_local::{Clients, Config, Functions};
use serde_json::Value;

use crate::infra::{entries, field, repo, Template};

/// moto's account id, in the queue URLs it answers.
const MOTO_ACCOUNT: &str = "123456789012";

/// The workspace's `[workspace.metadata]`, as cargo reads it.
fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(repo().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    metadata["metadata"].clone()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect()
}

/// The `LIAISON_*` variables the template gives any function (each one
/// exactly what its `main.rs` reads: see `infra.rs`).
fn template_environment() -> BTreeSet<String> {
    let template = Template::load();
    let mut vars = BTreeSet::new();
    for (_, (_, function)) in template.functions() {
        if let Some(env) = template.function_property(function, "Environment") {
            vars.extend(
                entries(field(env, "Variables"))
                    .into_iter()
                    .map(|(k, _)| k.to_owned())
                    .filter(|k| k.starts_with("LIAISON_")),
            );
        }
    }
    vars
}

#[test]
fn the_wiring_hosts_every_function_crate() {
    let hosted: BTreeSet<String> = Functions::NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        hosted,
        function_crates(),
        "liaison_local::Functions (infra/local/src/functions.rs) must wire every crate under functions/"
    );
    assert_eq!(hosted.len(), Functions::NAMES.len(), "a name listed twice");
}

/// Every route reaches its function's handler through the one dispatch,
/// only HTTP functions answer HTTP, and the others are invoked by name.
/// Without claims each HTTP handler answers 401, and each other function
/// refuses a payload that is not its event, before it would touch AWS.
#[tokio::test]
async fn every_route_dispatches_to_its_hosted_handler() {
    let aws = aws_config::SdkConfig::builder().build();
    let config = Config::new(aws.clone(), Names::with_prefix("never-made"));
    let functions = Functions::new(
        &Clients::new(&aws),
        &config.function_env("q".into(), "dlq".into(), "http://127.0.0.1:3000"),
    );
    let http: BTreeSet<&str> = ROUTES.iter().map(|r| r.function).collect();
    for route in ROUTES {
        assert!(Functions::hosts(route.function), "{}", route.key());
        let path = route
            .path
            .replace("{thread_id}", "thr_1")
            .replace("{attachment_id}", "att_1");
        let mut path_parameters = BTreeMap::new();
        path_parameters.insert("thread_id".to_owned(), "thr_1".to_owned());
        if route.path.contains("{attachment_id}") {
            path_parameters.insert("attachment_id".to_owned(), "att_1".to_owned());
        }
        let req = liaison_local::apigw::GatewayRequest {
            method: route.method.to_owned(),
            route_key: route.key(),
            raw_path: path,
            raw_query: String::new(),
            headers: BTreeMap::new(),
            path_parameters: if route.path.contains('{') {
                path_parameters
            } else {
                BTreeMap::new()
            },
            claims: None,
            body: None,
        }
        .to_request()
        .expect("a request");
        let resp = functions
            .http(route.function, req)
            .await
            .unwrap_or_else(|| panic!("{}: {} is not dispatched", route.key(), route.function));
        // Without claims: 401, except on a public route, whose own path
        // token (here missing) is refused instead (400 invalid_token).
        let expected = if route.public { 400 } else { 401 };
        assert_eq!(resp.status(), expected, "{}", route.key());
    }
    for name in Functions::NAMES.iter().filter(|n| !http.contains(*n)) {
        let req = lambda_http::Request::default();
        assert!(
            functions.http(name, req).await.is_none(),
            "{name} has no route but answers HTTP"
        );
        // Not its event: the function refuses it, as Lambda would report.
        let answer = functions.invoke(name, Value::Null).await;
        assert!(
            matches!(answer, Some(Err(_))),
            "{name} is not dispatched by Functions::invoke: {answer:?}"
        );
    }
}

#[test]
fn the_cargo_lambda_router_is_the_route_table() {
    let metadata = workspace_metadata();
    let router = metadata["lambda"]["watch"]["router"]
        .as_object()
        .expect("[workspace.metadata.lambda.watch.router] in Cargo.toml");
    let mut watched = BTreeSet::new();
    for (path, methods) in router {
        for m in methods.as_array().expect("a list of { method, function }") {
            let text = |k: &str| {
                m[k].as_str()
                    .unwrap_or_else(|| panic!("{path}: `{k}` missing in {m}"))
                    .to_owned()
            };
            watched.insert((text("method"), path.clone(), text("function")));
        }
    }
    let routed: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.into(), r.path.into(), r.function.into()))
        .collect();
    let mut wanted = String::new();
    for r in ROUTES {
        wanted.push_str(&format!(
            "\"{}\" = [{{ method = \"{}\", function = \"{}\" }}]\n",
            r.path, r.method, r.function
        ));
    }
    assert_eq!(
        watched, routed,
        "Cargo.toml's [workspace.metadata.lambda.watch.router] must route as infra/local/src/routes.rs; \
         one entry per route (merge the entries of one path into one list):\n{wanted}"
    );
}

#[test]
fn the_cargo_lambda_env_is_what_make_dev_gives_the_functions() {
    let metadata = workspace_metadata();
    let env: BTreeMap<String, String> = metadata["lambda"]["env"]
        .as_object()
        .expect("[workspace.metadata.lambda.env] in Cargo.toml")
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{k}: a string"))
                .to_owned();
            (k.clone(), v)
        })
        .collect();
    let liaison: BTreeSet<String> = env
        .keys()
        .filter(|k| k.starts_with("LIAISON_"))
        .cloned()
        .collect();
    let read = template_environment();
    assert_eq!(
        liaison, read,
        "Cargo.toml's [workspace.metadata.lambda.env] must set exactly the LIAISON_* variables the functions read"
    );

    // The values `make dev` (`liaison-local serve --provision` with its
    // defaults, on moto) gives the functions it hosts.
    let endpoint = env
        .get("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL: cargo lambda watch runs against make dev's local AWS");
    let names = Names::with_prefix(liaison_local::DEV_PREFIX);
    let queue_url = |name: &str| format!("{endpoint}/{MOTO_ACCOUNT}/{name}");
    let dev = Config::new(aws_config::SdkConfig::builder().build(), names.clone()).function_env(
        queue_url(&names.queue),
        queue_url(&names.dead_letter_queue()),
        &format!("http://{}", liaison_local::DEFAULT_ADDR),
    );
    let given: BTreeMap<String, String> = dev
        .vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(
        given.keys().cloned().collect::<BTreeSet<_>>(),
        read,
        "the local gateway (FunctionEnv::vars) must give every variable a function reads"
    );
    for (k, v) in &given {
        assert_eq!(
            env.get(k),
            Some(v),
            "Cargo.toml's [workspace.metadata.lambda.env] {k}: make dev gives {v}"
        );
    }
}

/// The bench provisions through `liaison::provision` too, its table
/// without the stream (`Stream::Off`); everything else as the tests have it.
#[tokio::test]
async fn provisioning_makes_the_stream_only_when_asked() {
    use liaison::provision::{self, Stream};
    let aws = crate::support::aws().await;
    let names = Names::with_prefix(&format!(
        "t{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    let off = provision::all_with(&aws, &names, Stream::Off)
        .await
        .expect("provisioned without a stream");
    assert_eq!(off.stream_arn, None);
    assert!(off.queue_url.ends_with(&names.queue), "{}", off.queue_url);
    let db = aws_sdk_dynamodb::Client::new(&aws);
    let described = db
        .describe_table()
        .table_name(&names.table)
        .send()
        .await
        .expect("the table exists");
    let table = described.table.expect("a table description");
    assert!(table
        .stream_specification()
        .is_none_or(|s| !s.stream_enabled()));
    assert_eq!(
        table.global_secondary_indexes().len(),
        liaison::store::schema::INDEXES.len()
    );

    let other = Names::with_prefix(&format!("{}-on", names.table));
    let on = provision::table(&db, &other.table)
        .await
        .expect("the table");
    assert!(on.is_some(), "provision::table makes the stream");
}
