//! The deployment template, the OpenAPI spec, the function crates, the
//! local gateway and the code's own definitions must agree: a table shaped
//! unlike `store::schema` (which local provisioning creates), a crate nobody
//! deploys, a route the spec does not document (or the reverse), or a queue
//! that redelivers work still in progress all fail here. No AWS needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use liaison::attachments::PENDING_TAG;
use liaison::store::schema;
use liaison::{config, provision};
use serde_yaml::Value;

/// Functions the template declares whose crates are still being written
/// (none now). List one here while its crate is on its way, and remove it
/// when the crate lands under `functions/`.
const NOT_YET_BUILT: &[&str] = &[];

/// The SQS event source guidance: visibility ≥ 6 × the consumer's timeout.
const VISIBILITY_FACTOR: u64 = 6;

pub(super) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_path_buf()
}

fn load(relative: &str) -> Value {
    let path = repo().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

/// The value under any CloudFormation short-form tag (`!Ref X` → `X`).
fn plain(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => plain(&t.value),
        other => other,
    }
}

/// A mapping entry, through CloudFormation tags (`!Ref`, `!GetAtt`, ...).
#[track_caller]
pub(super) fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    plain(v)
        .get(key)
        .unwrap_or_else(|| panic!("missing `{key}` in {v:?}"))
}

#[track_caller]
fn text(v: &Value) -> &str {
    plain(v)
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

#[track_caller]
fn number(v: &Value) -> u64 {
    let v = plain(v);
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("expected a whole number, got {v:?}"))
}

#[track_caller]
fn list(v: &Value) -> &[Value] {
    plain(v)
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
}

#[track_caller]
pub(super) fn entries(v: &Value) -> Vec<(&str, &Value)> {
    plain(v)
        .as_mapping()
        .unwrap_or_else(|| panic!("expected a mapping, got {v:?}"))
        .iter()
        .map(|(k, v)| (text(k), v))
        .collect()
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` names.
#[track_caller]
fn referenced(v: &Value) -> &str {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => text(&t.value),
        Value::Tagged(t) if t.tag == "GetAtt" => match plain(&t.value) {
            Value::Sequence(parts) => text(&parts[0]),
            other => text(other).split('.').next().unwrap_or_default(),
        },
        Value::Mapping(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().expect("one entry");
            match text(k) {
                "Ref" => text(inner),
                "Fn::GetAtt" => text(&list(inner)[0]),
                _ => panic!("expected a Ref or GetAtt, got {v:?}"),
            }
        }
        _ => panic!("expected a Ref or GetAtt, got {v:?}"),
    }
}

pub(super) struct Template(Value);

impl Template {
    pub(super) fn load() -> Self {
        Self(load("infra/template.yaml"))
    }

    fn resources(&self) -> Vec<(&str, &Value)> {
        entries(field(&self.0, "Resources"))
    }

    #[track_caller]
    fn resource(&self, id: &str) -> &Value {
        field(field(&self.0, "Resources"), id)
    }

    fn of_type(&self, ty: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| text(field(r, "Type")) == ty)
            .collect()
    }

    /// Serverless functions by crate name (the directory `CodeUri` names).
    pub(super) fn functions(&self) -> BTreeMap<String, (&str, &Value)> {
        self.of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, r)| {
                let code_uri = text(field(field(r, "Properties"), "CodeUri"));
                let name = code_uri.strip_prefix("../functions/").unwrap_or_else(|| {
                    panic!("{id}: CodeUri {code_uri} is not ../functions/<crate>")
                });
                (name.to_owned(), (id, r))
            })
            .collect()
    }

    /// A function property, or its `Globals.Function` default.
    pub(super) fn function_property<'a>(
        &'a self,
        function: &'a Value,
        key: &str,
    ) -> Option<&'a Value> {
        plain(field(function, "Properties")).get(key).or_else(|| {
            self.0
                .get("Globals")
                .and_then(|g| g.get("Function"))
                .and_then(|f| f.get(key))
        })
    }

    fn events<'a>(function: &'a Value, ty: &str) -> Vec<&'a Value> {
        match plain(field(function, "Properties")).get("Events") {
            None => Vec::new(),
            Some(events) => entries(events)
                .into_iter()
                .filter(|(_, e)| text(field(e, "Type")) == ty)
                .map(|(_, e)| field(e, "Properties"))
                .collect(),
        }
    }
}

/// Every IAM action a function's inline policies allow.
fn allowed_actions(function: &Value) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    let Some(policies) = plain(field(function, "Properties")).get("Policies") else {
        return actions;
    };
    for policy in list(policies) {
        let Some(statements) = plain(policy).get("Statement") else {
            continue;
        };
        for statement in list(statements) {
            if text(field(statement, "Effect")) != "Allow" {
                continue;
            }
            match plain(field(statement, "Action")) {
                Value::Sequence(many) => actions.extend(many.iter().map(|a| text(a).to_owned())),
                one => {
                    actions.insert(text(one).to_owned());
                }
            }
        }
    }
    actions
}

/// `open-thread` → `OpenThread`.
fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn table_is_the_schema_the_code_uses() {
    let template = Template::load();
    let tables = template.of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "exactly one table");
    let props = field(tables[0].1, "Properties");

    let keys = |schema: &Value| -> Vec<(String, String)> {
        list(schema)
            .iter()
            .map(|k| {
                (
                    text(field(k, "AttributeName")).to_owned(),
                    text(field(k, "KeyType")).to_owned(),
                )
            })
            .collect()
    };
    let hash_range = |pk: &str, sk: &str| {
        vec![
            (pk.to_owned(), "HASH".into()),
            (sk.to_owned(), "RANGE".into()),
        ]
    };

    assert_eq!(
        keys(field(props, "KeySchema")),
        hash_range(schema::PK, schema::SK)
    );

    let defined: BTreeMap<String, String> = list(field(props, "AttributeDefinitions"))
        .iter()
        .map(|d| {
            (
                text(field(d, "AttributeName")).to_owned(),
                text(field(d, "AttributeType")).to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = schema::key_attributes()
        .into_iter()
        .map(|a| (a.to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(defined, expected, "attribute definitions");

    let indexes: BTreeMap<String, (Vec<(String, String)>, String)> =
        list(field(props, "GlobalSecondaryIndexes"))
            .iter()
            .map(|i| {
                (
                    text(field(i, "IndexName")).to_owned(),
                    (
                        keys(field(i, "KeySchema")),
                        text(field(field(i, "Projection"), "ProjectionType")).to_owned(),
                    ),
                )
            })
            .collect();
    let expected: BTreeMap<String, (Vec<(String, String)>, String)> = schema::INDEXES
        .iter()
        .map(|i| {
            (
                i.name.to_owned(),
                (hash_range(i.pk, i.sk), "ALL".to_owned()),
            )
        })
        .collect();
    assert_eq!(indexes, expected, "global secondary indexes");

    assert_eq!(
        text(field(field(props, "StreamSpecification"), "StreamViewType")),
        schema::STREAM_VIEW
    );
    let ttl = field(props, "TimeToLiveSpecification");
    assert_eq!(text(field(ttl, "AttributeName")), schema::TTL_ATTRIBUTE);
    assert_eq!(field(ttl, "Enabled").as_bool(), Some(true), "TTL enabled");
    assert_eq!(text(field(props, "BillingMode")), "PAY_PER_REQUEST");
}

#[test]
fn every_crate_is_deployed_and_every_function_has_a_crate() {
    let template = Template::load();
    let functions = template.functions();

    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("functions")).expect("functions/ exists") {
        let dir = entry.expect("a directory entry").path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 crate directory")
            .to_owned();
        let package = std::fs::read_to_string(&manifest).expect("a readable Cargo.toml");
        assert!(
            package
                .lines()
                .any(|l| l.trim() == format!("name = \"{name}\"")),
            "functions/{name}: the package (and so the binary) must be named {name}"
        );
        crates.insert(name);
    }

    for name in &crates {
        assert!(
            functions.contains_key(name),
            "functions/{name} is not in infra/template.yaml"
        );
    }
    for (name, (id, function)) in &functions {
        assert!(
            crates.contains(name) || NOT_YET_BUILT.contains(&name.as_str()),
            "{id} deploys functions/{name}, which does not exist (list it in NOT_YET_BUILT while it is being written)"
        );
        assert_eq!(
            *id,
            format!("{}Function", pascal(name)),
            "logical id of {name}"
        );
        let metadata = field(function, "Metadata");
        assert_eq!(
            text(field(metadata, "BuildMethod")),
            "rust-cargolambda",
            "{id}"
        );
        assert_eq!(
            text(field(field(metadata, "BuildProperties"), "Binary")),
            name,
            "{id}: binary"
        );
    }
    for name in NOT_YET_BUILT {
        assert!(
            functions.contains_key(*name),
            "NOT_YET_BUILT names {name}, which the template does not deploy"
        );
    }
}

#[test]
fn environment_names_are_the_ones_the_code_reads() {
    let template = Template::load();
    let known = [
        config::TABLE,
        config::BUCKET,
        config::QUEUE_URL,
        config::FROM_EMAIL,
        config::APP_URL,
        config::API_URL,
        config::NOTIFY_DELAY_SECONDS,
        config::CURSOR_SECRET,
        config::CORS_ORIGIN,
        config::DEAD_LETTER_QUEUE_URL,
        config::REPLY_DOMAIN,
        config::REPLY_SECRETS,
    ];
    for (name, (id, function)) in template.functions() {
        let Some(env) = template.function_property(function, "Environment") else {
            continue;
        };
        for (var, _) in entries(field(env, "Variables")) {
            assert!(
                known.contains(&var),
                "{id} ({name}) sets {var}, which liaison::config does not name"
            );
        }
    }
}

type Routes = BTreeMap<(String, String), String>;

type RouteSet = BTreeSet<(String, String)>;

/// The template's routes, and those without the JWT authorizer (`Auth:
/// Authorizer: NONE`, the only override a route may make).
fn template_routes_and_public(template: &Template) -> (Routes, RouteSet) {
    let mut routes = Routes::new();
    let mut public = RouteSet::new();
    for (name, (id, function)) in template.functions() {
        for event in Template::events(function, "HttpApi") {
            assert_eq!(referenced(field(event, "ApiId")), "HttpApi", "{id}: ApiId");
            let route = (
                text(field(event, "Method")).to_ascii_uppercase(),
                text(field(event, "Path")).to_owned(),
            );
            if let Some(auth) = event.get("Auth") {
                let keys: Vec<&str> = entries(auth).into_iter().map(|(k, _)| k).collect();
                assert_eq!(
                    (keys, text(field(auth, "Authorizer"))),
                    (vec!["Authorizer"], "NONE"),
                    "{id}: a route may only turn the JWT authorizer off (Authorizer: NONE)"
                );
                public.insert(route.clone());
            }
            if let Some(other) = routes.insert(route.clone(), name.clone()) {
                panic!("{route:?} is routed to both {other} and {name}");
            }
        }
    }
    (routes, public)
}

fn template_routes(template: &Template) -> Routes {
    template_routes_and_public(template).0
}

/// The spec's operations that need no token (`security: []`).
fn spec_public_routes(spec: &Value) -> RouteSet {
    let mut public = RouteSet::new();
    for (path, item) in entries(field(spec, "paths")) {
        for (method, operation) in entries(item) {
            if let Some(security) = operation.get("security") {
                assert!(
                    list(security).is_empty(),
                    "{method} {path}: security is either the default or []"
                );
                public.insert((method.to_ascii_uppercase(), path.to_owned()));
            }
        }
    }
    public
}

/// Only the spec's `security: []` operations skip the JWT authorizer, in
/// API Gateway and in the local gateway alike; and they are exactly the
/// one-click unsubscribe routes, whose signed path token is the authority.
#[test]
fn only_the_unsubscribe_routes_skip_the_authorizer() {
    let template = Template::load();
    let spec = load("infra/openapi.yaml");
    let (_, deployed) = template_routes_and_public(&template);
    let documented = spec_public_routes(&spec);
    let local: RouteSet = liaison_local::routes::ROUTES
        .iter()
        .filter(|r| r.public)
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let unsubscribe: RouteSet = ["GET", "POST"]
        .iter()
        .map(|m| (m.to_string(), "/unsubscribe/{token}".to_owned()))
        .collect();
    assert_eq!(documented, unsubscribe, "the spec's public operations");
    assert_eq!(
        deployed, documented,
        "Authorizer: NONE in infra/template.yaml"
    );
    assert_eq!(
        local, documented,
        "public routes of infra/local/src/routes.rs"
    );
}

fn spec_routes(spec: &Value) -> Routes {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut routes = Routes::new();
    for (path, item) in entries(field(spec, "paths")) {
        for (method, operation) in entries(item) {
            if !METHODS.contains(&method) {
                continue;
            }
            let function = operation
                .get("x-liaison-function")
                .map(text)
                .unwrap_or_else(|| panic!("{method} {path}: no x-liaison-function"));
            routes.insert(
                (method.to_ascii_uppercase(), path.to_owned()),
                function.to_owned(),
            );
        }
    }
    routes
}

#[test]
fn routes_are_exactly_the_spec_operations() {
    let template = Template::load();
    let spec = load("infra/openapi.yaml");
    let deployed = template_routes(&template);
    let documented = spec_routes(&spec);
    assert!(!deployed.is_empty(), "the template routes nothing");

    let only_deployed: Vec<_> = deployed
        .keys()
        .filter(|r| !documented.contains_key(*r))
        .collect();
    let only_documented: Vec<_> = documented
        .keys()
        .filter(|r| !deployed.contains_key(*r))
        .collect();
    assert!(
        only_deployed.is_empty(),
        "routes in infra/template.yaml missing from infra/openapi.yaml: {only_deployed:?}"
    );
    assert!(
        only_documented.is_empty(),
        "operations in infra/openapi.yaml without a route in infra/template.yaml: {only_documented:?}"
    );
    assert_eq!(
        deployed, documented,
        "the spec's x-liaison-function and the template disagree on which function serves a route"
    );
    let local: Routes = liaison_local::routes::ROUTES
        .iter()
        .map(|r| {
            (
                (r.method.to_owned(), r.path.to_owned()),
                r.function.to_owned(),
            )
        })
        .collect();
    assert_eq!(
        local, deployed,
        "the local gateway (infra/local/src/routes.rs) routes otherwise than API Gateway"
    );

    let api = template.resource("HttpApi");
    let auth = field(field(api, "Properties"), "Auth");
    let default = text(field(auth, "DefaultAuthorizer"));
    let authorizer = field(field(auth, "Authorizers"), default);
    assert!(
        authorizer.get("JwtConfiguration").is_some(),
        "the default authorizer is the JWT authorizer"
    );
}

/// A named schema of the spec.
fn spec_schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    field(field(field(spec, "components"), "schemas"), name)
}

/// A schema's `pattern`, compiled.
#[track_caller]
fn spec_pattern(schema: &Value) -> regex_lite::Regex {
    let pattern = text(field(schema, "pattern"));
    regex_lite::Regex::new(pattern).unwrap_or_else(|e| panic!("bad pattern {pattern:?}: {e}"))
}

/// Whether a `parse` (answering `Option` or `Result`) took its input.
trait Accepted {
    fn accepted(&self) -> bool;
}

impl<T> Accepted for Option<T> {
    fn accepted(&self) -> bool {
        self.is_some()
    }
}

impl<T, E> Accepted for Result<T, E> {
    fn accepted(&self) -> bool {
        self.is_ok()
    }
}

/// The spec's patterns for ids and cursors take exactly what the code
/// parses, on samples at and around every rule (schemathesis generates
/// from these patterns, so a pattern looser than the code would make it
/// send requests the code refuses, and a stricter one hides inputs).
#[test]
fn id_and_cursor_patterns_accept_exactly_what_the_code_parses() {
    use liaison::domain::{AccountId, ClientMessageId, MessageId, ThreadId};
    let spec = load("infra/openapi.yaml");
    let agree = |name: &str, samples: &[String], parse: &dyn Fn(&str) -> bool| {
        let pattern = spec_pattern(spec_schema(&spec, name));
        for s in samples {
            assert_eq!(
                pattern.is_match(s),
                parse(s),
                "{name}: the spec's pattern and the code disagree on {s:?}"
            );
        }
    };

    let thread = ThreadId::for_scope(&AccountId::parse("acc_acme").unwrap(), "general");
    let t = thread.as_str().to_owned();
    agree(
        "ThreadId",
        &[
            t.clone(),
            t.to_uppercase(),
            t.replacen("thr_", "THR_", 1),
            format!("{t}0"),
            t[..t.len() - 1].to_owned(),
            "thr_".into(),
            format!("thr_7{}", "z".repeat(25)),
            format!("thr_8{}", "0".repeat(25)),
            format!("thr_0{}", "i".repeat(25)),
            format!("thr_0{}", "u".repeat(25)),
        ],
        // The parse also takes non-canonical spellings of the 128 bits
        // (a first character above 7, Crockford's aliases), which no
        // thread id is: such a path names no thread, `404` either way.
        &|s| {
            ThreadId::parse(s).accepted()
                && s.get(4..)
                    .is_some_and(|b| MessageId::parse(&b.to_uppercase()).accepted())
        },
    );

    let m = MessageId::new().to_string();
    agree(
        "Ulid",
        &[
            m.clone(),
            m.to_lowercase(),
            format!("{m}0"),
            m[1..].to_owned(),
            format!("7{}", "Z".repeat(25)),
            format!("8{}", "0".repeat(25)),
            format!("0{}", "I".repeat(25)),
            format!("0{}", "L".repeat(25)),
            format!("0{}", "O".repeat(25)),
            format!("0{}", "U".repeat(25)),
            String::new(),
        ],
        &|s| MessageId::parse(s).accepted(),
    );

    let ids = |max: usize| -> Vec<String> {
        vec![
            "acc_acme".into(),
            "a.b:c-d_9".into(),
            "x".repeat(max),
            "x".repeat(max + 1),
            String::new(),
            "a#b".into(),
            "a/b".into(),
            "a b".into(),
            "é".into(),
            "a\n".into(),
        ]
    };
    agree("DirectoryId", &ids(128), &|s| {
        AccountId::parse(s).accepted()
    });
    agree("ClientMessageId", &ids(100), &|s| {
        ClientMessageId::parse(s).accepted()
    });

    let codec = liaison::http::CursorCodec::new(b"secret");
    let key = [("pk".to_owned(), "THREAD#x".to_owned())].into();
    let cursor = codec.encode("u_chris", "threads:all:*", key);
    agree(
        "Cursor",
        &[cursor.clone(), format!("{cursor}="), format!("a{cursor}")],
        &|s| s == cursor || s == format!("a{cursor}"),
    );
}

/// A send's body: the spec's "has text" pattern is what trimming leaves
/// something of, and its NUL pattern what the body's parse refuses.
#[test]
fn body_patterns_are_what_the_body_parse_does() {
    use liaison::domain::MessageBody;
    let spec = load("infra/openapi.yaml");
    let request = spec_schema(&spec, "SendMessageRequest");
    let no_nul = spec_pattern(field(field(request, "properties"), "body"));
    let with_text = list(field(request, "anyOf"))
        .iter()
        .find(|b| text(field(b, "title")) == "With text")
        .map(|b| spec_pattern(field(field(b, "properties"), "body")))
        .expect("a `With text` branch");
    for s in [
        "",
        " ",
        "hi",
        " \t\r\n\u{b}\u{c}",
        "\u{85}\u{a0}\u{1680}\u{2000}\u{200a}\u{2028}",
        "\u{2029}\u{202f}\u{205f}\u{3000}",
        "\u{200b}",
        "\u{1c}",
        "\u{feff}",
        " x ",
        "a\0b",
        "\0",
    ] {
        let parsed = MessageBody::parse(s);
        assert_eq!(no_nul.is_match(s), parsed.is_ok(), "NUL rule on {s:?}");
        assert_eq!(
            with_text.is_match(s),
            parsed.is_ok_and(|b| !b.is_empty()) || s.contains('\0'),
            "text rule on {s:?}"
        );
    }
}

/// `PresignUploadRequest` has one branch per type the attachment policy
/// takes, with that type's size limit and a file name pattern that takes
/// exactly the names the policy takes (short ones: the 255-byte limit on the
/// cleaned name is prose, as JSON Schema counts characters).
#[test]
fn upload_branches_are_the_attachment_policy() {
    use liaison::attachments::check_single_put as check_upload;
    let spec = load("infra/openapi.yaml");
    let request = spec_schema(&spec, "PresignUploadRequest");
    let types: Vec<&str> = list(field(spec_schema(&spec, "ContentType"), "enum"))
        .iter()
        .map(text)
        .collect();
    let extensions = [
        "jpg", "jpeg", "png", "webp", "gif", "mp4", "mov", "webm", "pdf", "zip",
    ];
    let mut names = Vec::new();
    for ext in extensions {
        let upper = ext.to_uppercase();
        names.extend([
            format!("hook.{ext}"),
            format!("Hook v2.{upper}"),
            format!("a.b.{ext}"),
            format!("..{ext}"),
            format!(".{ext}"),
            format!(" .{ext}"),
            format!("\u{200B}\u{202E}.{ext}"),
            format!("\u{200D}.{ext}"),
            format!("\u{3000}x\u{0}y.{ext}"),
            format!("a.{ext} \n\u{FEFF}"),
            format!("a. {ext}"),
            format!("a.{ext}x"),
            format!("a.{ext}.txt"),
            format!("a/b.{ext}"),
            format!("a\\b.{ext}"),
            ext.to_owned(),
        ]);
    }
    let mut branch_types = Vec::new();
    for branch in list(field(request, "oneOf")) {
        let properties = field(branch, "properties");
        let ctype = text(field(field(properties, "content_type"), "const"));
        let max = number(field(field(properties, "size"), "maximum"));
        let pattern = spec_pattern(field(properties, "filename"));
        branch_types.push(ctype);
        assert!(
            check_upload("a.bin", ctype, 1).is_err(),
            "{ctype} takes any name"
        );
        let fitting = names
            .iter()
            .find(|n| pattern.is_match(n))
            .unwrap_or_else(|| panic!("{ctype}: no sample name fits"));
        assert!(
            check_upload(fitting, ctype, max).is_ok(),
            "{ctype}: the policy refuses the spec's limit {max}"
        );
        assert!(
            check_upload(fitting, ctype, max + 1).is_err(),
            "{ctype}: the policy takes more than the spec's limit {max}"
        );
        for name in &names {
            assert_eq!(
                pattern.is_match(name),
                check_upload(name, ctype, 1).is_ok(),
                "{ctype}: the spec's file name pattern and the policy disagree on {name:?}"
            );
        }
    }
    assert_eq!(
        branch_types, types,
        "one upload branch per ContentType, in order"
    );
}

/// The same for uploads in parts: one branch per type the policy takes in
/// parts, its limit, at least two parts, and the same file name patterns.
#[test]
fn upload_in_parts_branches_are_the_attachment_policy() {
    use liaison::attachments::{check_multipart, MULTIPART_TYPES};
    let spec = load("infra/openapi.yaml");
    let single = spec_schema(&spec, "PresignUploadRequest");
    let request = spec_schema(&spec, "StartUploadRequest");
    let min = number(field(
        field(field(request, "properties"), "size"),
        "minimum",
    ));
    let mut branch_types = Vec::new();
    for branch in list(field(request, "oneOf")) {
        let properties = field(branch, "properties");
        let ctype = text(field(field(properties, "content_type"), "const"));
        let max = number(field(field(properties, "size"), "maximum"));
        branch_types.push(ctype);
        let name = match ctype {
            "video/quicktime" => "a.MOV",
            "application/zip" => "a.zip",
            "video/webm" => "a.webm",
            _ => "a.mp4",
        };
        assert!(check_multipart(name, ctype, max).is_ok(), "{ctype}: {max}");
        assert!(
            check_multipart(name, ctype, max + 1).is_err(),
            "{ctype}: {max}"
        );
        assert!(check_multipart(name, ctype, min).is_ok(), "{ctype}: {min}");
        assert!(
            check_multipart(name, ctype, min - 1).is_err(),
            "{ctype}: {min}"
        );
        // The file name rules are the single upload's.
        let same = list(field(single, "oneOf"))
            .iter()
            .map(|b| field(b, "properties"))
            .find(|p| text(field(field(p, "content_type"), "const")) == ctype)
            .unwrap_or_else(|| panic!("{ctype}: no single-upload branch"));
        assert_eq!(
            spec_pattern(field(properties, "filename")).as_str(),
            spec_pattern(field(same, "filename")).as_str(),
            "{ctype}"
        );
    }
    assert_eq!(
        branch_types, MULTIPART_TYPES,
        "one branch per type, in order"
    );
}

/// Every `code` a response of the spec may carry is one of `Problem`'s:
/// a response pinning a code the enum lacks could never be answered.
#[test]
fn every_problem_code_the_spec_answers_is_a_problem_code() {
    fn codes<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match plain(v) {
            Value::Mapping(m) => {
                if let Some(code) = m.get("properties").and_then(|p| p.get("code")) {
                    if let Some(c) = code.get("const") {
                        out.push(text(c));
                    }
                    if let Some(e) = code.get("enum") {
                        out.extend(list(e).iter().map(text));
                    }
                }
                for (_, inner) in m {
                    codes(inner, out);
                }
            }
            Value::Sequence(items) => items.iter().for_each(|i| codes(i, out)),
            _ => {}
        }
    }
    let spec = load("infra/openapi.yaml");
    let known: BTreeSet<&str> = list(field(
        field(field(spec_schema(&spec, "Problem"), "properties"), "code"),
        "enum",
    ))
    .iter()
    .map(text)
    .collect();
    let mut answered = Vec::new();
    codes(field(&spec, "paths"), &mut answered);
    codes(
        field(field(&spec, "components"), "responses"),
        &mut answered,
    );
    assert!(answered.len() > 10, "found only {answered:?}");
    let unknown: Vec<_> = answered.iter().filter(|c| !known.contains(*c)).collect();
    assert!(
        unknown.is_empty(),
        "codes missing from Problem.code: {unknown:?}"
    );
}

#[test]
fn notification_queue_outlasts_the_notifier_and_dead_letters() {
    let template = Template::load();
    let functions = template.functions();
    let (id, notifier) = functions["notify-reply"];
    let timeout = number(
        template
            .function_property(notifier, "Timeout")
            .unwrap_or_else(|| panic!("{id}: no Timeout")),
    );
    let sqs = Template::events(notifier, "SQS");
    assert_eq!(sqs.len(), 1, "{id} consumes one queue");
    let queue_id = referenced(field(sqs[0], "Queue"));
    let queue = field(template.resource(queue_id), "Properties");

    let visibility = number(field(queue, "VisibilityTimeout"));
    assert!(
        visibility >= VISIBILITY_FACTOR * timeout,
        "{queue_id}: VisibilityTimeout {visibility} s < {VISIBILITY_FACTOR} × {id}'s {timeout} s"
    );
    assert_eq!(
        visibility,
        u64::from(provision::QUEUE_VISIBILITY_SECONDS),
        "{queue_id}: local provisioning uses another visibility timeout"
    );

    let redrive = queue
        .get("RedrivePolicy")
        .unwrap_or_else(|| panic!("{queue_id} has no RedrivePolicy: failures would be dropped"));
    let dlq = referenced(field(redrive, "deadLetterTargetArn"));
    assert_eq!(
        text(field(template.resource(dlq), "Type")),
        "AWS::SQS::Queue",
        "{queue_id}: dead-letter target"
    );
    assert_ne!(dlq, queue_id, "a queue cannot be its own dead-letter queue");
    assert_eq!(
        number(field(redrive, "maxReceiveCount")),
        u64::from(provision::MAX_RECEIVE_COUNT),
        "{queue_id}: maxReceiveCount"
    );
    // The notifier dead-letters malformed jobs itself, into the same queue.
    let env = template
        .function_property(notifier, "Environment")
        .unwrap_or_else(|| panic!("{id}: no Environment"));
    assert_eq!(
        referenced(field(
            field(env, "Variables"),
            config::DEAD_LETTER_QUEUE_URL
        )),
        dlq,
        "{id} must dead-letter into {queue_id}'s dead-letter queue"
    );

    // The relay feeds the queue the notifier drains.
    let (relay_id, relay) = functions["relay-messages"];
    let env = template
        .function_property(relay, "Environment")
        .unwrap_or_else(|| panic!("{relay_id}: no Environment"));
    assert_eq!(
        referenced(field(field(env, "Variables"), config::QUEUE_URL)),
        queue_id,
        "{relay_id} must send to the queue {id} consumes"
    );
}

#[test]
fn unbound_uploads_expire_by_the_tag_presigning_sets() {
    let template = Template::load();
    // The attachments bucket (the other one holds the web page).
    let props = field(template.resource("AttachmentsBucket"), "Properties");
    let (key, value) = PENDING_TAG
        .split_once('=')
        .expect("PENDING_TAG is key=value");

    let expires_pending = list(field(field(props, "LifecycleConfiguration"), "Rules"))
        .iter()
        .any(|rule| {
            text(field(rule, "Status")) == "Enabled"
                && rule.get("ExpirationInDays").map(number)
                    == Some(liaison::attachments::UNBOUND_EXPIRY_DAYS as u64)
                && rule.get("TagFilters").is_some_and(|filters| {
                    list(filters)
                        .iter()
                        .any(|t| text(field(t, "Key")) == key && text(field(t, "Value")) == value)
                })
        });
    assert!(
        expires_pending,
        "no enabled lifecycle rule expires objects tagged {PENDING_TAG}: unsent uploads would stay forever"
    );
    // Uploads in parts a client gave up on: aborted, as local provisioning
    // does (liaison::provision::bucket).
    let aborts = list(field(field(props, "LifecycleConfiguration"), "Rules"))
        .iter()
        .any(|rule| {
            text(field(rule, "Status")) == "Enabled"
                && text(field(rule, "Id")) == liaison::attachments::ABORT_INCOMPLETE_RULE
                && rule
                    .get("AbortIncompleteMultipartUpload")
                    .map(|a| number(field(a, "DaysAfterInitiation")))
                    == Some(liaison::attachments::ABORT_INCOMPLETE_DAYS as u64)
        });
    assert!(aborts, "no rule aborts incomplete uploads in parts");
    // The page reads each part's ETag: CORS must expose it.
    let exposes_etag = list(field(field(props, "CorsConfiguration"), "CorsRules"))
        .iter()
        .any(|rule| {
            rule.get("ExposedHeaders")
                .is_some_and(|h| list(h).iter().any(|h| text(h).eq_ignore_ascii_case("etag")))
        });
    assert!(exposes_etag, "the bucket's CORS must expose ETag");

    // The upload URL signs x-amz-tagging and if-none-match (write-once), so
    // the browser sends them: CORS must allow them, and the signer needs
    // s3:PutObjectTagging besides s3:PutObject.
    for rule in list(field(field(props, "CorsConfiguration"), "CorsRules")) {
        for header in ["x-amz-tagging", "if-none-match"] {
            assert!(
                list(field(rule, "AllowedHeaders"))
                    .iter()
                    .any(|h| text(h).eq_ignore_ascii_case(header)),
                "bucket CORS must allow the {header} header"
            );
        }
    }
    let functions = template.functions();
    let (id, presign) = functions["presign-attachment"];
    let actions = allowed_actions(presign);
    for needed in ["s3:PutObject", "s3:PutObjectTagging"] {
        assert!(
            actions.contains(needed),
            "{id} needs {needed} to sign uploads"
        );
    }
    // send-message takes each upload out of the expiry rule before its
    // transaction: it retags it (and reads it with HeadObject).
    let (id, send) = functions["send-message"];
    let actions = allowed_actions(send);
    for needed in ["s3:GetObject", "s3:PutObjectTagging"] {
        assert!(
            actions.contains(needed),
            "{id} needs {needed} to check and bind uploads"
        );
    }
}

/// What each function's composition root (`main.rs`) reads from the
/// environment, found from the `liaison` readers it calls.
fn env_read_by(main_rs: &str) -> BTreeSet<&'static str> {
    let readers: [(&str, &str); 13] = [
        ("Store::from_env", config::TABLE),
        ("config::table_name", config::TABLE),
        ("Attachments::from_env", config::BUCKET),
        ("config::bucket_name", config::BUCKET),
        ("config::cursor_secret", config::CURSOR_SECRET),
        ("config::queue_url", config::QUEUE_URL),
        ("config::notify_delay", config::NOTIFY_DELAY_SECONDS),
        ("config::from_email", config::FROM_EMAIL),
        ("config::app_url", config::APP_URL),
        ("config::api_url", config::API_URL),
        (
            "config::dead_letter_queue_url",
            config::DEAD_LETTER_QUEUE_URL,
        ),
        // LIAISON_REPLY_KEY_DAYS is optional (90 days unless set).
        ("config::reply_settings", config::REPLY_DOMAIN),
        ("config::reply_settings", config::REPLY_SECRETS),
    ];
    readers
        .iter()
        .filter(|(call, _)| main_rs.contains(call))
        .map(|(_, var)| *var)
        .collect()
}

#[test]
fn each_function_gets_exactly_the_environment_it_reads() {
    let template = Template::load();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    for (name, (id, function)) in template.functions() {
        let main_rs = std::fs::read_to_string(root.join(&name).join("src/main.rs"))
            .unwrap_or_else(|e| panic!("functions/{name}/src/main.rs: {e}"));
        let reads = env_read_by(&main_rs);
        let given: BTreeSet<&str> = template
            .function_property(function, "Environment")
            .map(|env| {
                entries(field(env, "Variables"))
                    .into_iter()
                    .map(|(k, _)| k)
                    .filter(|k| k.starts_with("LIAISON_"))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            given, reads,
            "{id} ({name}): the template's LIAISON_* variables must be exactly what main.rs reads"
        );
    }
}

#[test]
fn log_levels_that_would_log_bodies_are_not_offered() {
    let template = Template::load();
    let levels: Vec<&str> = list(field(
        field(field(&template.0, "Parameters"), "LogLevel"),
        "AllowedValues",
    ))
    .iter()
    .map(text)
    .collect();
    assert_eq!(levels, ["INFO", "WARN", "ERROR"]);
}

#[test]
fn the_app_origin_is_https_except_on_this_machine() {
    let template = Template::load();
    let param = field(field(&template.0, "Parameters"), "AppOrigin");
    let pattern = regex_lite::Regex::new(text(field(param, "AllowedPattern"))).expect("regex");
    // CloudFormation matches the whole value, as the code's check does.
    // Empty: the web distribution's origin.
    assert!(pattern.is_match(""), "an empty AppOrigin is refused");
    for origin in [
        "https://app.agency.example",
        "https://app.agency.example:8443",
        "http://localhost:5173",
        "http://127.0.0.1:3000",
    ] {
        assert!(pattern.is_match(origin), "{origin} refused");
        assert!(liaison::config::app_origin(origin).is_ok(), "{origin}");
    }
    for origin in [
        "http://app.agency.example",
        "http://localhost.evil.example",
        "https://app.agency.example/",
        "https://app.agency.example/path",
        "javascript://x",
    ] {
        assert!(!pattern.is_match(origin), "{origin} accepted");
    }
}

#[test]
fn every_route_is_throttled_and_the_directory_sync_cannot_starve_the_api() {
    let template = Template::load();
    let params = field(&template.0, "Parameters");
    let api = field(template.resource("HttpApi"), "Properties");
    let settings = field(api, "DefaultRouteSettings");
    for (setting, param) in [
        ("ThrottlingRateLimit", "ApiRateLimit"),
        ("ThrottlingBurstLimit", "ApiBurstLimit"),
    ] {
        assert_eq!(referenced(field(settings, setting)), param);
        assert!(number(field(field(params, param), "Default")) > 0);
    }
    let functions = template.functions();
    let (_, sync) = functions["sync-directory"];
    let reserved = field(field(sync, "Properties"), "ReservedConcurrentExecutions");
    assert!(
        format!("{reserved:?}").contains("SyncDirectoryConcurrency"),
        "sync-directory's reserved concurrency comes from its parameter: {reserved:?}"
    );
    // The notifier is capped by its queue mapping instead (a reservation
    // would also cap the retries SQS makes).
    let (_, notify) = functions["notify-reply"];
    let sqs = Template::events(notify, "SQS");
    assert!(number(field(field(sqs[0], "ScalingConfig"), "MaximumConcurrency")) <= 10);
}

// ------------------------------------------------------------ the web page

/// Every resource a value refers to: `Ref`, `GetAtt`, and `${X}` or
/// `${X.Attr}` in a `Sub` (its own variables included; the caller keeps
/// only resource ids).
fn references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            match (tag, plain(&t.value)) {
                ("Ref", Value::String(s)) => {
                    out.insert(s.clone());
                }
                ("GetAtt", Value::String(s)) => {
                    out.insert(s.split('.').next().unwrap_or_default().to_owned());
                }
                ("GetAtt", Value::Sequence(parts)) => {
                    out.insert(text(&parts[0]).to_owned());
                }
                ("Sub", inner) => {
                    let template = match inner {
                        Value::Sequence(parts) => {
                            references(&parts[1], out);
                            text(&parts[0])
                        }
                        other => text(other),
                    };
                    for piece in template.split("${").skip(1) {
                        let name = piece.split('}').next().unwrap_or_default();
                        out.insert(name.split('.').next().unwrap_or_default().to_owned());
                    }
                }
                _ => references(&t.value, out),
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| references(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// Which resources each resource depends on (references and `DependsOn`).
fn dependencies(template: &Template) -> BTreeMap<String, BTreeSet<String>> {
    let ids: BTreeSet<String> = template
        .resources()
        .iter()
        .map(|(id, _)| id.to_string())
        .collect();
    template
        .resources()
        .into_iter()
        .map(|(id, r)| {
            let mut refs = BTreeSet::new();
            references(r, &mut refs);
            if let Some(d) = plain(r).get("DependsOn") {
                match plain(d) {
                    Value::Sequence(items) => refs.extend(items.iter().map(|i| text(i).to_owned())),
                    other => {
                        refs.insert(text(other).to_owned());
                    }
                }
            }
            refs.retain(|r| ids.contains(r) && r != id);
            (id.to_owned(), refs)
        })
        .collect()
}

fn depends_on(deps: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for d in &deps[&id] {
            if d == to {
                return true;
            }
            stack.push(d.clone());
        }
    }
    false
}

/// The app's origin comes from the distribution, which itself depends on
/// none of what admits that origin: the cycle is broken at the CSP (see the
/// template's comment), and CloudFormation can order every resource.
#[test]
fn the_app_origin_comes_from_the_distribution_without_a_cycle() {
    let template = Template::load();
    let deps = dependencies(&template);
    let mut left = deps.clone();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, d)| d.iter().all(|x| !left.contains_key(x)))
            .map(|(id, _)| id.clone())
            .collect();
        assert!(
            !ready.is_empty(),
            "dependency cycle among {:?}",
            left.keys()
        );
        for id in ready {
            left.remove(&id);
        }
    }

    // One origin everywhere: CORS of the API and of the attachments, the
    // e-mail links, the app client's URLs, the output.
    let api = field(template.resource("HttpApi"), "Properties");
    let origin = &list(field(field(api, "CorsConfiguration"), "AllowOrigins"))[0];
    assert!(
        format!("{origin:?}").contains("WebDistribution.DomainName"),
        "{origin:?}"
    );
    let bucket = field(template.resource("AttachmentsBucket"), "Properties");
    let rule = &list(field(field(bucket, "CorsConfiguration"), "CorsRules"))[0];
    assert_eq!(&list(field(rule, "AllowedOrigins"))[0], origin);
    let functions = template.functions();
    let (_, notify) = functions["notify-reply"];
    let env = field(
        field(field(notify, "Properties"), "Environment"),
        "Variables",
    );
    assert_eq!(field(env, config::APP_URL), origin);
    let outputs = field(&template.0, "Outputs");
    assert_eq!(field(field(outputs, "AppOrigin"), "Value"), origin);
    for who in [
        "HttpApi",
        "AttachmentsBucket",
        "NotifyReplyFunction",
        "WebAppClient",
    ] {
        assert!(depends_on(&deps, who, "WebDistribution"), "{who}");
    }
    for what in ["HttpApi", "AttachmentsBucket"] {
        assert!(!depends_on(&deps, "WebDistribution", what), "{what}");
    }
}

#[test]
fn the_page_is_a_private_bucket_read_only_by_cloudfront_over_https() {
    let template = Template::load();
    let bucket = field(template.resource("WebBucket"), "Properties");
    let block = field(bucket, "PublicAccessBlockConfiguration");
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            plain(field(block, setting)).as_bool(),
            Some(true),
            "{setting}"
        );
    }
    let sse = &list(field(
        field(bucket, "BucketEncryption"),
        "ServerSideEncryptionConfiguration",
    ))[0];
    assert_eq!(
        text(field(
            field(sse, "ServerSideEncryptionByDefault"),
            "SSEAlgorithm"
        )),
        "AES256"
    );

    // Only the distribution reads it, and only over TLS.
    let policy = field(template.resource("WebBucketPolicy"), "Properties");
    assert_eq!(referenced(field(policy, "Bucket")), "WebBucket");
    let statements = list(field(field(policy, "PolicyDocument"), "Statement"));
    let allows: Vec<&Value> = statements
        .iter()
        .filter(|s| text(field(s, "Effect")) == "Allow")
        .collect();
    assert_eq!(allows.len(), 1);
    assert_eq!(
        text(field(field(allows[0], "Principal"), "Service")),
        "cloudfront.amazonaws.com"
    );
    assert_eq!(text(field(allows[0], "Action")), "s3:GetObject");
    let source = field(
        field(field(allows[0], "Condition"), "StringEquals"),
        "AWS:SourceArn",
    );
    assert!(text(source).ends_with(":distribution/${WebDistribution}"));
    assert!(statements.iter().any(|s| text(field(s, "Effect")) == "Deny"
        && format!("{:?}", field(s, "Condition")).contains("aws:SecureTransport")));

    let config = field(
        field(template.resource("WebDistribution"), "Properties"),
        "DistributionConfig",
    );
    let origins = list(field(config, "Origins"));
    assert_eq!(origins.len(), 1);
    assert_eq!(referenced(field(&origins[0], "DomainName")), "WebBucket");
    assert_eq!(
        referenced(field(&origins[0], "OriginAccessControlId")),
        "WebOriginAccessControl"
    );
    let oac = field(
        field(template.resource("WebOriginAccessControl"), "Properties"),
        "OriginAccessControlConfig",
    );
    assert_eq!(text(field(oac, "SigningBehavior")), "always");
    let mut behaviors = vec![field(config, "DefaultCacheBehavior")];
    if let Some(more) = plain(config).get("CacheBehaviors") {
        behaviors.extend(list(more));
    }
    for b in behaviors {
        assert_eq!(text(field(b, "ViewerProtocolPolicy")), "redirect-to-https");
        assert_eq!(
            referenced(field(b, "ResponseHeadersPolicyId")),
            "WebSecurityHeaders"
        );
    }
}

/// The CSP's directives, by name.
fn csp_directives(csp: &str) -> BTreeMap<String, Vec<String>> {
    csp.split(';')
        .map(str::split_whitespace)
        .filter_map(|mut parts| {
            let name = parts.next()?.to_owned();
            Some((name, parts.map(str::to_owned).collect()))
        })
        .collect()
}

#[test]
fn the_page_sends_security_headers_and_a_csp_without_inline_script() {
    let template = Template::load();
    let policy = field(
        field(template.resource("WebSecurityHeaders"), "Properties"),
        "ResponseHeadersPolicyConfig",
    );
    let security = field(policy, "SecurityHeadersConfig");
    let hsts = field(security, "StrictTransportSecurity");
    assert!(number(field(hsts, "AccessControlMaxAgeSec")) >= 31_536_000);
    field(security, "ContentTypeOptions");
    assert_eq!(
        text(field(field(security, "FrameOptions"), "FrameOption")),
        "DENY"
    );
    field(field(security, "ReferrerPolicy"), "ReferrerPolicy");
    let csp = field(
        field(security, "ContentSecurityPolicy"),
        "ContentSecurityPolicy",
    );
    let csp = text(&list(csp)[0]);
    assert!(!csp.contains("unsafe-"), "{csp}");
    // `${Auth}`: the hosted UI's origin, with its leading space, or nothing.
    let d = csp_directives(&csp.replace("${Auth}", " ${Auth}"));
    assert_eq!(d["default-src"], ["'none'"]);
    assert_eq!(d["script-src"], ["'self'"]);
    assert_eq!(d["style-src"], ["'self'"]);
    assert_eq!(d["frame-ancestors"], ["'none'"]);
    assert_eq!(d["object-src"], ["'none'"]);
    let connect = &d["connect-src"];
    for host in [
        "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "https://*.s3.${AWS::Region}.${AWS::URLSuffix}",
    ] {
        assert!(connect.iter().any(|c| c == host), "{host} in {connect:?}");
    }
    assert!(d["img-src"]
        .iter()
        .any(|c| c == "https://*.s3.${AWS::Region}.${AWS::URLSuffix}"));
    // The hosted UI's token endpoint (PKCE exchange), when there is one.
    assert!(connect.iter().any(|c| c == "${Auth}"), "{connect:?}");
    let auth = format!(
        "{:?}",
        list(field(
            field(security, "ContentSecurityPolicy"),
            "ContentSecurityPolicy"
        ))[1]
    );
    assert!(
        auth.contains(".auth.${AWS::Region}.amazoncognito.com"),
        "{auth}"
    );
}

/// Runs the routing function (cloudfront-js) with Node on the page's
/// routes and on files.
#[test]
fn the_pages_routes_answer_index_html_and_files_stay_files() {
    let template = Template::load();
    let code = text(field(
        field(template.resource("WebRouting"), "Properties"),
        "FunctionCode",
    ));
    let cases = [
        ("/", "/index.html"),
        ("/signin", "/index.html"),
        ("/signin/callback", "/index.html"),
        ("/messages", "/index.html"),
        ("/messages/new", "/index.html"),
        ("/messages/thr_01jd8x3v6m9q2r7t4w5y8z0abc", "/index.html"),
        ("/index.html", "/index.html"),
        ("/config.json", "/config.json"),
        ("/assets/index-4f3a.js", "/assets/index-4f3a.js"),
        ("/messagesx", "/messagesx"),
    ];
    let uris: Vec<&str> = cases.iter().map(|(u, _)| *u).collect();
    let script = format!(
        "{code}\nconsole.log(JSON.stringify({uris:?}.map(u => handler({{request: {{uri: u}}}}).uri)));"
    );
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .expect("node (the page's toolchain) runs the CloudFront function");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = serde_json::from_slice(&out.stdout).expect("JSON");
    let want: Vec<&str> = cases.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);
}

#[test]
fn the_hosted_ui_client_is_public_with_the_code_flow_on_the_pages_origin() {
    let template = Template::load();
    let client = template.resource("WebAppClient");
    assert_eq!(text(field(client, "Condition")), "HostedUi");
    let p = field(client, "Properties");
    assert_eq!(plain(field(p, "GenerateSecret")).as_bool(), Some(false));
    let flows: Vec<&str> = list(field(p, "AllowedOAuthFlows"))
        .iter()
        .map(text)
        .collect();
    assert_eq!(flows, ["code"]);
    for urls in ["CallbackURLs", "LogoutURLs"] {
        let url = format!("{:?}", list(field(p, urls))[0]);
        assert!(url.contains("WebDistribution.DomainName"), "{urls}: {url}");
    }
    assert_eq!(
        text(field(template.resource("UserPoolDomain"), "Condition")),
        "HostedUi"
    );
    // The API accepts the client's tokens.
    let api = field(template.resource("HttpApi"), "Properties");
    let audience = format!(
        "{:?}",
        field(
            field(
                field(field(field(api, "Auth"), "Authorizers"), "UserJwt"),
                "JwtConfiguration"
            ),
            "audience"
        )
    );
    assert!(audience.contains("WebAppClient"), "{audience}");
    // What the shell's settings need.
    let outputs = field(&template.0, "Outputs");
    for name in [
        "ApiUrl",
        "UserPoolDomain",
        "WebClientId",
        "Region",
        "WebBucketName",
        "WebDistributionId",
    ] {
        field(outputs, name);
    }
}

#[test]
fn ses_stores_replies_under_inbound_then_invokes_receive_reply() {
    use liaison::attachments::{INBOUND_EXPIRY_DAYS, INBOUND_PREFIX};
    let template = Template::load();
    let functions = template.functions();
    let (function_id, receive) = functions["receive-reply"];

    // One rule, in this stack's rule set, for the reply domain: scanned,
    // then S3 (the raw e-mail under inbound/), then the function, async.
    let rules = template.of_type("AWS::SES::ReceiptRule");
    assert_eq!(rules.len(), 1, "one receipt rule");
    let props = field(rules[0].1, "Properties");
    assert_eq!(referenced(field(props, "RuleSetName")), "ReplyRuleSet");
    let rule = field(props, "Rule");
    assert_eq!(field(rule, "Enabled").as_bool(), Some(true));
    assert_eq!(
        field(rule, "ScanEnabled").as_bool(),
        Some(true),
        "spam and virus verdicts"
    );
    let recipients = list(field(rule, "Recipients"));
    assert_eq!(recipients.len(), 1);
    assert_eq!(referenced(&recipients[0]), "ReplyDomain");
    let actions = list(field(rule, "Actions"));
    assert_eq!(actions.len(), 2, "S3, then Lambda");
    let s3 = field(&actions[0], "S3Action");
    assert_eq!(referenced(field(s3, "BucketName")), "AttachmentsBucket");
    assert_eq!(text(field(s3, "ObjectKeyPrefix")), INBOUND_PREFIX);
    let lambda = field(&actions[1], "LambdaAction");
    assert_eq!(referenced(field(lambda, "FunctionArn")), function_id);
    assert_eq!(
        text(field(lambda, "InvocationType")),
        "Event",
        "SES does not wait"
    );

    // The raw e-mails expire.
    let bucket = field(template.resource("AttachmentsBucket"), "Properties");
    let expires_inbound = list(field(field(bucket, "LifecycleConfiguration"), "Rules"))
        .iter()
        .any(|rule| {
            text(field(rule, "Status")) == "Enabled"
                && rule.get("Prefix").map(text) == Some(INBOUND_PREFIX)
                && rule.get("ExpirationInDays").map(number) == Some(INBOUND_EXPIRY_DAYS as u64)
        });
    assert!(
        expires_inbound,
        "no lifecycle rule expires {INBOUND_PREFIX}"
    );

    // SES may write there (this account only), and invoke the function.
    let policy = field(
        field(template.resource("AttachmentsBucketPolicy"), "Properties"),
        "PolicyDocument",
    );
    let ses_puts = list(field(policy, "Statement")).iter().any(|st| {
        text(field(st, "Effect")) == "Allow"
            && plain(field(st, "Principal")).get("Service").map(text) == Some("ses.amazonaws.com")
            && text(field(st, "Action")) == "s3:PutObject"
            && field(field(st, "Condition"), "StringEquals")
                .get("aws:SourceAccount")
                .is_some()
    });
    assert!(
        ses_puts,
        "the bucket policy must let SES (this account) put raw e-mails"
    );
    let permissions = template.of_type("AWS::Lambda::Permission");
    let invoke = permissions
        .iter()
        .find(|(_, p)| text(field(field(p, "Properties"), "Principal")) == "ses.amazonaws.com")
        .expect("a permission for SES to invoke receive-reply");
    let props = field(invoke.1, "Properties");
    assert_eq!(referenced(field(props, "FunctionName")), function_id);
    assert!(
        plain(props).get("SourceAccount").is_some(),
        "scoped to this account"
    );

    // The function reads inbound/ and stores files; Lambda's retries end in
    // a queue, not in silence.
    let allowed = allowed_actions(receive);
    for needed in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ] {
        assert!(allowed.contains(needed), "{function_id} needs {needed}");
    }
    let on_failure = field(
        field(
            field(field(receive, "Properties"), "EventInvokeConfig"),
            "DestinationConfig",
        ),
        "OnFailure",
    );
    assert_eq!(
        referenced(field(on_failure, "Destination")),
        "ReplyFailureQueue"
    );
    // The notifier signs the reply addresses this function verifies.
    let (_, notify) = functions["notify-reply"];
    for var in [config::REPLY_DOMAIN, config::REPLY_SECRETS] {
        let vars = |f: &Value| {
            referenced(field(
                field(field(field(f, "Properties"), "Environment"), "Variables"),
                var,
            ))
            .to_owned()
        };
        assert_eq!(vars(notify), vars(receive), "{var}");
    }
}

/// GuardDuty scans the attachments bucket and tags each object; its result
/// events go by an EventBridge rule to a queue (only that rule may send to
/// it) that record-scan drains with partial batch failures; the bucket
/// policy refuses every read of an attachment not tagged clean, except
/// GuardDuty's own and send-message's checks.
#[test]
fn malware_scan_results_reach_record_scan_and_gate_downloads() {
    let template = Template::load();
    let props = |id: &str| field(template.resource(id), "Properties");

    let plan = template.of_type("AWS::GuardDuty::MalwareProtectionPlan");
    assert_eq!(plan.len(), 1, "one malware protection plan");
    let plan = field(plan[0].1, "Properties");
    assert_eq!(
        referenced(field(
            field(field(plan, "ProtectedResource"), "S3Bucket"),
            "BucketName"
        )),
        "AttachmentsBucket"
    );
    assert_eq!(
        text(field(field(field(plan, "Actions"), "Tagging"), "Status")),
        "ENABLED",
        "the bucket policy reads GuardDuty's tag"
    );
    let role = referenced(field(plan, "Role"));
    let trust = field(field(props(role), "AssumeRolePolicyDocument"), "Statement");
    assert_eq!(
        text(field(field(&list(trust)[0], "Principal"), "Service")),
        "malware-protection-plan.guardduty.amazonaws.com"
    );

    let functions = template.functions();
    let (id, recorder) = functions["record-scan"];
    let sqs = Template::events(recorder, "SQS");
    assert_eq!(sqs.len(), 1, "{id} consumes one queue");
    assert_eq!(
        list(field(sqs[0], "FunctionResponseTypes"))
            .iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );
    let queue_id = referenced(field(sqs[0], "Queue"));
    let queue = props(queue_id);
    let timeout = number(template.function_property(recorder, "Timeout").unwrap());
    assert!(number(field(queue, "VisibilityTimeout")) >= VISIBILITY_FACTOR * timeout);
    let dlq = referenced(field(field(queue, "RedrivePolicy"), "deadLetterTargetArn"));
    assert_ne!(dlq, queue_id);

    let rules = template.of_type("AWS::Events::Rule");
    let (rule_id, rule) = rules
        .iter()
        .find(|(_, r)| {
            plain(field(r, "Properties"))
                .get("EventPattern")
                .and_then(|p| p.get("source"))
                .is_some_and(|s| list(s).iter().any(|s| text(s) == record_scan::SOURCE))
        })
        .copied()
        .expect("a rule for GuardDuty's results");
    let rule = field(rule, "Properties");
    let pattern = field(rule, "EventPattern");
    assert_eq!(
        list(field(pattern, "source"))
            .iter()
            .map(text)
            .collect::<Vec<_>>(),
        [record_scan::SOURCE]
    );
    assert_eq!(
        list(field(pattern, "detail-type"))
            .iter()
            .map(text)
            .collect::<Vec<_>>(),
        [record_scan::DETAIL_TYPE]
    );
    let bucket = &list(field(
        field(field(pattern, "detail"), "s3ObjectDetails"),
        "bucketName",
    ))[0];
    assert_eq!(referenced(bucket), "AttachmentsBucket");
    assert!(
        list(field(rule, "Targets"))
            .iter()
            .any(|t| referenced(field(t, "Arn")) == queue_id),
        "{rule_id} must target {queue_id}"
    );

    // Only that rule sends to the queue.
    let policies = template.of_type("AWS::SQS::QueuePolicy");
    let policy = policies
        .iter()
        .map(|(_, p)| field(p, "Properties"))
        .find(|p| {
            list(field(p, "Queues"))
                .iter()
                .any(|q| referenced(q) == queue_id)
        })
        .unwrap_or_else(|| panic!("no queue policy for {queue_id}"));
    let statement = &list(field(field(policy, "PolicyDocument"), "Statement"))[0];
    assert_eq!(
        text(field(field(statement, "Principal"), "Service")),
        "events.amazonaws.com"
    );
    assert_eq!(
        referenced(field(
            field(field(statement, "Condition"), "ArnEquals"),
            "aws:SourceArn"
        )),
        rule_id
    );

    // The bucket policy: no GetObject on an attachment not tagged clean.
    let bucket_policy = props("AttachmentsBucketPolicy");
    let deny = list(field(field(bucket_policy, "PolicyDocument"), "Statement"))
        .iter()
        .find(|s| {
            text(field(s, "Effect")) == "Deny"
                && plain(s).get("Action").is_some_and(|a| match plain(a) {
                    Value::Sequence(items) => items.iter().any(|a| text(a) == "s3:GetObject"),
                    one => text(one) == "s3:GetObject",
                })
        })
        .expect("a Deny of s3:GetObject");
    let condition = field(deny, "Condition");
    assert_eq!(
        text(field(
            field(condition, "StringNotEquals"),
            &format!("s3:ExistingObjectTag/{}", record_scan::SCAN_TAG_KEY)
        )),
        record_scan::NO_THREATS_FOUND
    );
    let except: BTreeSet<&str> = list(field(field(condition, "ArnNotEquals"), "aws:PrincipalArn"))
        .iter()
        .map(referenced)
        .collect();
    assert_eq!(
        except,
        BTreeSet::from([role, "SendMessageFunctionRole"]),
        "only GuardDuty and send-message's checks read unscanned files"
    );
    let not_resource: Vec<String> = list(field(deny, "NotResource"))
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(
        not_resource.iter().any(|r| r.contains("/inbound/*")),
        "raw e-mails are not attachments: {not_resource:?}"
    );
}
