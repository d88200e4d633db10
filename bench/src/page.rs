//! The Messages page's speed in Chromium: builds the page (`npm run build`
//! in web/), takes its JavaScript and CSS sizes (`npm run check:size`'s
//! figures), starts a local gateway in-process on a free port (the built
//! page and the API, on the local AWS) with the demo directory, seeds a
//! person's threads and a thread of 1,000 messages, and runs
//! `web/e2e/bench/page.mjs` (Playwright, Debian's chromium), which prints
//! JSON. Without chromium or the node modules the section says why it was
//! skipped and the run goes on.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use liaison::domain::Timestamp;
use liaison::provision::Names;
use liaison_local::client::HttpClient;
use liaison_local::{demo, Config, Gateway};
use serde_json::{json, Value};

use crate::report::median;
use crate::world::BoxError;

/// DESIGN.md "Performance targets": the page's JavaScript ≤ 60 KB gzip.
pub const JS_TARGET_BYTES: u64 = 60 * 1024;
/// The long thread: this many messages.
pub const THREAD_MESSAGES: usize = 1000;
/// The person whose page is measured (a client of Acme).
const USER: &str = "u_chris";
/// The other side, for replies.
const MANAGER: &str = "u_dana";
/// The long thread is Acme's general thread; the list names it so.
const LONG_LABEL: &str = "General";
/// Cold loads of the page and of the floor; runs of the long thread.
const RUNS: usize = 5;
const THREAD_RUNS: usize = 3;
/// The script gets this long, all runs included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// A part of the report: its Markdown and its rows in the targets table.
pub struct Section {
    pub title: String,
    pub markdown: String,
    pub targets: Vec<TargetRow>,
    /// Set when the part failed (the run goes on, and ends in an error).
    pub failure: Option<String>,
}

/// `| target | worst | verdict |`
pub struct TargetRow {
    pub target: String,
    pub worst: String,
    pub met: bool,
}

impl Section {
    pub fn skipped(why: &str) -> Self {
        Self {
            title: TITLE.into(),
            markdown: format!("skipped: {why}\n"),
            targets: vec![],
            failure: None,
        }
    }

    fn failed(why: String) -> Self {
        Self {
            title: TITLE.into(),
            markdown: format!("**failed**: {why}\n"),
            targets: vec![TargetRow {
                target: "the page's JavaScript ≤ 60 KB gzip".into(),
                worst: "not measured (the page part failed)".into(),
                met: false,
            }],
            failure: Some(why),
        }
    }

    /// The target rows as lines of the targets table.
    pub fn target_lines(&self) -> String {
        self.targets
            .iter()
            .map(|r| format!("| {} | {} | {} |\n", r.target, r.worst, verdict(r.met)))
            .collect()
    }
}

const TITLE: &str = "The page's speed";

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into())
}

/// What is missing to build the page and to run the browser, if anything.
fn missing(root: &Path) -> (Option<String>, Option<String>) {
    let web = root.join("web");
    let mut build = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        build.push("node (Node 20) is not on PATH".to_owned());
    }
    if !web.join("node_modules/.bin/vite").exists() {
        build.push("web/node_modules is missing (cd web && npm ci)".into());
    }
    let mut browser = Vec::new();
    let chromium = chromium();
    if !chromium.exists() {
        browser.push(format!(
            "{} is missing (apt-get install -y chromium)",
            chromium.display()
        ));
    }
    if !web.join("e2e/node_modules/@playwright/test").exists() {
        browser.push(
            "web/e2e/node_modules is missing (cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
                .into(),
        );
    }
    let some = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
    (some(build), some(browser))
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<std::process::Output, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(out)
}

/// The page part of `make bench`.
pub async fn section(root: &Path, aws: &SdkConfig) -> Section {
    let (build, browser) = missing(root);
    if let Some(why) = build {
        return Section::skipped(&why);
    }
    let sizes = match build_and_size(root) {
        Ok(s) => s,
        Err(e) => return Section::failed(e.to_string()),
    };
    if let Some(why) = browser {
        let mut s = Section::skipped(&format!("the browser figures: {why}"));
        s.markdown.push_str(&shipped(&sizes));
        s.targets = js_target(&sizes, None);
        return s;
    }
    match measure(root, aws, &sizes).await {
        Ok(s) => s,
        Err(e) => Section::failed(e.to_string()),
    }
}

/// `npm run build` in web/ (the build must be the current source's), then
/// `npm run check:size`'s figures.
fn build_and_size(root: &Path) -> Result<Value, BoxError> {
    let web = root.join("web");
    eprintln!("bench: page: npm run build (web/)");
    run_quiet(
        Command::new("npm")
            .args(["run", "-s", "build"])
            .current_dir(&web),
        "npm run build in web/",
    )?;
    // check:size exits 1 over the budget but still prints its figures.
    let sizes = Command::new("node")
        .args(["scripts/check-size.mjs", "--json"])
        .current_dir(&web)
        .output()?;
    Ok(serde_json::from_slice(&sizes.stdout).map_err(|e| {
        format!(
            "npm run check:size -- --json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&sizes.stderr)
        )
    })?)
}

async fn measure(root: &Path, aws: &SdkConfig, sizes: &Value) -> Result<Section, BoxError> {
    let web = root.join("web");
    // A copy of the build the gateway serves, where the script may put the
    // floor page beside it (web/dist stays as built).
    let site = root.join("bench/out/page-web");
    let _ = std::fs::remove_dir_all(&site);
    copy_dir(&web.join("dist"), &site)?;

    eprintln!("bench: page: starting a local gateway with the demo directory");
    let prefix = format!("benchpage{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut config = Config::new(aws.clone(), Names::with_prefix(&prefix));
    config.addr = "127.0.0.1:0".parse()?;
    config.directory = Some(demo::directory());
    config.print_mail = false;
    config.event_sources = false;
    config.smtp_addr = None;
    config.web_dir = site.clone();
    config.cursor_secret = "liaison-bench-page-cursor-secret".into();
    let gateway = Gateway::start(config).await?;
    let result = async {
        let seeded = seed(&gateway, aws).await?;
        eprintln!(
            "bench: page: seeded {} threads and a thread of {} messages in {:.1} s; running web/e2e/bench/page.mjs",
            seeded.threads,
            thousands(THREAD_MESSAGES),
            seeded.elapsed.as_secs_f64()
        );
        let script = root.join("web/e2e/bench/page.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .current_dir(root.join("web/e2e"))
            .env("LIAISON_BENCH_BASE_URL", gateway.url())
            .env("LIAISON_BENCH_USER", USER)
            .env("LIAISON_BENCH_THREAD", &seeded.long_thread)
            .env("LIAISON_BENCH_THREAD_LABEL", LONG_LABEL)
            .env("LIAISON_BENCH_FLOOR", site.join("floor.html"))
            .env("LIAISON_BENCH_RUNS", env_or("LIAISON_BENCH_RUNS", RUNS))
            .env(
                "LIAISON_BENCH_THREAD_RUNS",
                env_or("LIAISON_BENCH_THREAD_RUNS", THREAD_RUNS),
            )
            .env("CHROMIUM", chromium())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || run_with_timeout(cmd, SCRIPT_TIMEOUT)).await??;
        let figures: Value = serde_json::from_slice(&out)
            .map_err(|e| format!("web/e2e/bench/page.mjs printed no JSON ({e})"))?;
        // Every run's figures, for a closer look.
        std::fs::write(root.join("bench/out/page.json"), &out)?;
        Ok::<_, BoxError>(render(&figures, sizes, &seeded, started.elapsed()))
    }
    .await;
    gateway.shutdown().await;
    result
}

/// Runs `cmd` (stdout captured), killing it after `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Vec<u8>, BoxError> {
    use std::io::Read;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "web/e2e/bench/page.mjs did not finish within {} s",
                timeout.as_secs()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let buf = reader.join().map_err(|_| "reading the script's output")?;
    if !status.success() {
        return Err(
            format!("web/e2e/bench/page.mjs failed ({status}): see its output above").into(),
        );
    }
    Ok(buf)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

struct Seeded {
    threads: usize,
    long_thread: String,
    elapsed: Duration,
    /// Of `elapsed`: the direct writes of the long thread's history.
    history: Duration,
}

/// The person's threads, each with a message and a reply, and the long
/// thread: its newest messages sent through the API, the rest of its
/// history written straight to the table (copies of the sent messages'
/// items, older ids; a send through moto costs a transaction that copies
/// the table, so 1,000 sends would take minutes), then its counts.
async fn seed(gateway: &Gateway, aws: &SdkConfig) -> Result<Seeded, BoxError> {
    let started = Instant::now();
    let http = HttpClient::new();
    let base = gateway.url();
    let mut tokens = HashMap::new();
    for who in [USER, MANAGER] {
        let r = http
            .send(
                "POST",
                &format!("{base}/dev/token"),
                &[("content-type", "application/json")],
                Some(json!({"user_id": who}).to_string().into_bytes()),
            )
            .await?;
        let token = r.json()["token"]
            .as_str()
            .ok_or_else(|| format!("POST /dev/token for {who}: {} {}", r.status, r.text()))?
            .to_owned();
        tokens.insert(who, token);
    }
    let call = |who: &'static str, method: &'static str, path: String, body: Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        let auth = format!("Bearer {}", tokens[who]);
        async move {
            let r = http
                .send(
                    method,
                    &url,
                    &[
                        ("content-type", "application/json"),
                        ("authorization", auth.as_str()),
                    ],
                    Some(body.to_string().into_bytes()),
                )
                .await?;
            if r.status >= 300 {
                return Err(format!("{method} {url}: {} {}", r.status, r.text()).into());
            }
            Ok::<Value, BoxError>(r.json())
        }
    };
    let scopes = [
        json!({"kind": "client", "client_id": "cl_glow"}),
        json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring"}),
        json!({"kind": "creative", "client_id": "cl_glow", "campaign_id": "cp_spring", "creative_id": "cr_hook2"}),
        json!({"kind": "client", "client_id": "cl_tonic"}),
        json!({"kind": "campaign", "client_id": "cl_tonic", "campaign_id": "cp_launch"}),
        json!({"kind": "creative", "client_id": "cl_tonic", "campaign_id": "cp_launch", "creative_id": "cr_teaser"}),
        json!({"kind": "general"}),
    ];
    let mut long_thread = String::new();
    for (i, scope) in scopes.iter().enumerate() {
        let opened = call(USER, "POST", "/threads".into(), json!({ "scope": scope })).await?;
        let id = opened["id"]
            .as_str()
            .ok_or("POST /threads: no id")?
            .to_owned();
        let path = format!("/threads/{id}/messages");
        call(
            USER,
            "POST",
            path.clone(),
            json!({"body": format!("Question {i}: can we move the shoot to Thursday?"), "client_message_id": format!("q-{i}")}),
        )
        .await?;
        call(
            MANAGER,
            "POST",
            path,
            json!({"body": "Yes, Thursday works. I'll send the call sheet tomorrow.", "client_message_id": format!("a-{i}")}),
        )
        .await?;
        if scope["kind"] == "general" {
            long_thread = id;
        }
    }

    let history_started = Instant::now();
    let db = aws_sdk_dynamodb::Client::new(aws);
    let table = &gateway.env().names.table;
    let pk = format!("THREAD#{long_thread}");
    let sent = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
        .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
        .expression_attribute_values(":msg", AttributeValue::S("MSG#".into()))
        .consistent_read(true)
        .send()
        .await?;
    let templates = sent.items();
    if templates.len() != 2 {
        return Err(format!("the long thread holds {} messages, not 2", templates.len()).into());
    }
    let oldest_sent = templates
        .iter()
        .filter_map(|t| t.get("created_at").and_then(|v| v.as_s().ok()))
        .filter_map(|s| Timestamp::parse(s).ok())
        .map(|t| t.unix_millis())
        .min()
        .ok_or("the sent messages have no created_at")?;
    let older = THREAD_MESSAGES - templates.len();
    let mut items = Vec::with_capacity(older);
    for i in 0..older {
        // One a minute, oldest first, all before the sent ones.
        let at = oldest_sent - ((older - i) as i64) * 60_000;
        let id = ulid::Ulid::from_parts(at as u64, ulid::Ulid::new().random()).to_string();
        let mut item = templates[i % 2].clone();
        let n = i + 1;
        let body = match n % 4 {
            0 => format!("Message {n}: the new cut is up, have a look when you can."),
            1 => format!(
                "Message {n}: notes on the shoot. The light in the second half is warmer \
                 than in the first; can we match it in the grade? Also the logo sits too \
                 close to the edge in the last frame."
            ),
            2 => format!("Message {n}: thanks!"),
            _ => format!(
                "Message {n}: agreed on the copy. One question about the end card: do we \
                 keep the price, or link to the shop instead?"
            ),
        };
        for (k, v) in [
            ("sk", format!("MSG#{id}")),
            ("message_id", id.clone()),
            ("client_message_id", format!("seed-{n}")),
            ("body", body),
            ("created_at", Timestamp::from_unix_millis(at).to_string()),
        ] {
            item.insert(k.to_owned(), AttributeValue::S(v));
        }
        items.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                .build(),
        );
    }
    for chunk in items.chunks(25) {
        let mut pending = HashMap::from([(table.clone(), chunk.to_vec())]);
        while !pending.is_empty() {
            let out = db
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await?;
            pending = out.unprocessed_items.unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
        }
    }
    // The thread's and the inbox rows' counts, as if all had been sent.
    let rows = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
        .projection_expression("pk, sk, message_count")
        .consistent_read(true)
        .send()
        .await?;
    for row in rows
        .items()
        .iter()
        .filter(|r| r.contains_key("message_count"))
    {
        db.update_item()
            .table_name(table)
            .set_key(Some(
                ["pk", "sk"]
                    .iter()
                    .filter_map(|k| row.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect(),
            ))
            .update_expression("ADD message_count :n")
            .expression_attribute_values(":n", AttributeValue::N(older.to_string()))
            .send()
            .await?;
    }
    Ok(Seeded {
        threads: scopes.len(),
        long_thread,
        elapsed: started.elapsed(),
        history: history_started.elapsed(),
    })
}

/// A count from the environment (quicker runs while developing), or the default.
fn env_or(name: &str, default: usize) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| v.parse::<usize>().is_ok_and(|n| n > 0))
        .unwrap_or_else(|| default.to_string())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

// ---------------------------------------------------------------- render

struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        Self {
            median: median(values),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
    fn ms(&self) -> String {
        format!("{:.0} ({:.0}–{:.0})", self.median, self.min, self.max)
    }
}

fn col(runs: &Value, pointer: &str) -> Vec<f64> {
    runs.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.pointer(pointer).and_then(Value::as_f64))
        .collect()
}

/// 1000 → "1,000".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn kb(bytes: f64) -> String {
    format!("{:.1}", bytes / 1024.0)
}

fn mb(bytes: f64) -> String {
    format!("{:.1}", bytes / (1024.0 * 1024.0))
}

fn render(f: &Value, sizes: &Value, seeded: &Seeded, script: Duration) -> Section {
    let app = &f["app"];
    let floor = &f["floor"];
    let thread = &f["thread"];
    let first = |runs: &Value, p: &str| median(&col(runs, p));
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{} (headless, `--disable-gpu`), against the local stack: the local gateway in-process \
         serving the built page (`web/dist`, built in this run) and the API on the local AWS \
         (moto), as {USER} (a client of Acme Beauty, {} threads). Each cold load is a fresh \
         browser context (empty cache, no open connection), signed in, from navigation start \
         to the thread list painted (Element Timing: the paint of its items' text); median \
         (min–max) over {} loads, interleaved with the floor: the same page \
         saved as plain HTML after it rendered (no scripts, the same stylesheet), served by \
         the same gateway and loaded the same way. The local AWS answers one request at a \
         time (scripts/moto_server.py), so the page's parallel API requests queue here; on \
         AWS they would not.\n",
        f["chromium"]
            .as_str()
            .map(|v| format!("Chromium {v}"))
            .unwrap_or_else(|| "Chromium".into()),
        seeded.threads,
        f["runs"],
    );
    let a_list = Spread::of(&col(app, "/list_ms"));
    let f_list = Spread::of(&col(floor, "/list_ms"));
    let a_fcp = Spread::of(&col(app, "/fcp"));
    let f_fcp = Spread::of(&col(floor, "/fcp"));
    let _ = writeln!(
        md,
        "| cold load | the page | floor: plain HTML | page ÷ floor |\n|---|---|---|---|"
    );
    let _ = writeln!(
        md,
        "| → thread list painted, ms | {} | {} | {:.1}× |",
        a_list.ms(),
        f_list.ms(),
        a_list.median / f_list.median
    );
    let _ = writeln!(
        md,
        "| → first contentful paint, ms | {} | {} | {:.1}× |",
        a_fcp.ms(),
        f_fcp.ms(),
        a_fcp.median / f_fcp.median
    );
    let w = |runs: &Value, k: &str| first(runs, &format!("/weight/{k}"));
    for (label, raw, gz) in [
        ("JavaScript loaded, KB (gzip)", "js_bytes", "js_gzip"),
        ("CSS loaded, KB (gzip)", "css_bytes", "css_gzip"),
        ("HTML, KB (gzip)", "html_bytes", "html_gzip"),
    ] {
        let _ = writeln!(
            md,
            "| {label} | {} ({}) | {} ({}) | |",
            kb(w(app, raw)),
            kb(w(app, gz)),
            kb(w(floor, raw)),
            kb(w(floor, gz)),
        );
    }
    let _ = writeln!(
        md,
        "| requests to the API and `/config.json` | {:.0} ({} KB) | {:.0} | |",
        w(app, "api_requests"),
        kb(w(app, "api_bytes")),
        w(floor, "api_requests"),
    );
    let _ = writeln!(
        md,
        "| JS heap used after GC, MB | {} | {} | |",
        mb(first(app, "/memory/heap_used_bytes")),
        mb(first(floor, "/memory/heap_used_bytes")),
    );
    let _ = writeln!(
        md,
        "| DOM elements in the document (nodes alive) | {:.0} ({:.0}) | {:.0} ({:.0}) | |",
        first(app, "/memory/elements_in_document"),
        first(app, "/memory/nodes"),
        first(floor, "/memory/elements_in_document"),
        first(floor, "/memory/nodes"),
    );

    // Where the page's cold load goes: each request's start and end.
    let mut paths: Vec<String> = Vec::new();
    for r in app.as_array().into_iter().flatten() {
        for q in r["waterfall"]["api"].as_array().into_iter().flatten() {
            let p = q["path"].as_str().unwrap_or("?").to_owned();
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let mut steps: Vec<(String, f64, f64)> = vec![
        ("the HTML".into(), 0.0, first(app, "/waterfall/html_end")),
        (
            "the script (received)".into(),
            first(app, "/waterfall/script_start"),
            first(app, "/waterfall/script_end"),
        ),
    ];
    for p in &paths {
        let pick = |k: &str| -> Vec<f64> {
            app.as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    r["waterfall"]["api"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|q| q["path"].as_str() == Some(p))
                        .and_then(|q| q[k].as_f64())
                })
                .collect()
        };
        steps.push((
            format!("`GET {p}`"),
            median(&pick("start")),
            median(&pick("end")),
        ));
    }
    steps.push(("the thread list painted".into(), f64::NAN, a_list.median));
    let _ = writeln!(
        md,
        "\nWhere the page's cold load goes (medians, ms from navigation start; a request \
         starting after another ended waited for it):\n\n| step | starts | ends |\n|---|---|---|"
    );
    for (what, start, end) in steps {
        let start = if start.is_nan() {
            "—".to_owned()
        } else {
            format!("{start:.0}")
        };
        let _ = writeln!(md, "| {what} | {start} | {end:.0} |");
    }

    md.push_str(&shipped(sizes));
    md.push('\n');

    // The long thread.
    let open = Spread::of(&col(thread, "/open_ms"));
    let cold = Spread::of(&col(&f["thread_cold"], "/open_ms"));
    let all = Spread::of(&col(thread, "/all_ms"));
    let per_page: Vec<f64> = thread
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| col(&r["page_ms"], ""))
        .collect();
    let _ = writeln!(
        md,
        "A thread of {} messages (seeded in {:.1} s: {} threads opened and 2 \
         messages sent in each through the API, then {} older messages of the long thread \
         written straight to the table as copies of the sent ones' items, {:.1} s of it). \
         Median (min–max) over {} fresh contexts:\n",
        thousands(THREAD_MESSAGES),
        seeded.elapsed.as_secs_f64(),
        seeded.threads,
        thousands(THREAD_MESSAGES - 2),
        seeded.history.as_secs_f64(),
        f["thread_runs"],
    );
    let _ = writeln!(md, "| the long thread | figure |\n|---|---|");
    let _ = writeln!(
        md,
        "| click in the thread list → first screen of messages painted, ms | {} |",
        open.ms()
    );
    let _ = writeln!(
        md,
        "| cold load of its link (fresh context) → first screen painted, ms | {} |",
        cold.ms()
    );
    let _ = writeln!(
        md,
        "| messages rendered on opening | {:.0} |",
        first(thread, "/shown_first")
    );
    let _ = writeln!(
        md,
        "| back through all of them: \"Load older messages\" × {:.0}{}, s (per page, median ms) | {:.1} ({:.1}–{:.1}) ({:.0}) |",
        first(thread, "/pages"),
        if first(thread, "/empty_pages") > 0.0 {
            " (**the last answered no messages: a bug**, the API sets a cursor only when older messages exist)"
        } else {
            ""
        },
        all.median / 1000.0,
        all.min / 1000.0,
        all.max / 1000.0,
        median(&per_page),
    );
    let _ = writeln!(
        md,
        "| messages rendered at the end | {:.0} |",
        first(thread, "/total")
    );
    for (label, key) in [
        ("thread list", "before"),
        ("first screen", "after_first"),
        ("all messages", "after_all"),
    ] {
        let _ = writeln!(
            md,
            "| {label}: JS heap used after GC, MB; DOM elements (nodes alive) | {}; {:.0} ({:.0}) |",
            mb(first(thread, &format!("/{key}/heap_used_bytes"))),
            first(thread, &format!("/{key}/elements_in_document")),
            first(thread, &format!("/{key}/nodes")),
        );
    }
    let _ = writeln!(
        md,
        "\nThe page part took {:.0} s (the script). JS heap: `Performance.getMetrics` \
         (JSHeapUsedSize) after `HeapProfiler.collectGarbage`; nodes alive: its `Nodes`.",
        script.as_secs_f64()
    );

    let loaded = w(app, "js_gzip");
    Section {
        title: TITLE.into(),
        markdown: md,
        targets: js_target(sizes, Some(loaded)),
        failure: None,
    }
}

/// What `web/dist` ships, from `npm run check:size -- --json`.
fn shipped(sizes: &Value) -> String {
    let js = sizes["js_gzip"].as_f64().unwrap_or(f64::NAN);
    let css = sizes["css_gzip"].as_f64().unwrap_or(f64::NAN);
    let files = |k: &str| {
        sizes[k]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                format!(
                    "`{}` {} KB, {} KB gzip",
                    x["file"].as_str().unwrap_or("?"),
                    kb(x["bytes"].as_f64().unwrap_or(f64::NAN)),
                    kb(x["gzip"].as_f64().unwrap_or(f64::NAN))
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "\nShipped (`npm run check:size`, gzip level 9): all JavaScript in `web/dist` {} KB gzip \
         ({}), against the target ≤ 60 KB; CSS {} KB gzip ({}). The local gateway sends them \
         uncompressed (the \"loaded\" rows count the bytes as gzip would carry them too).\n",
        kb(js),
        files("js"),
        kb(css),
        files("css"),
    )
}

/// The target row: all of web/dist's JavaScript, and what the page loaded if measured.
fn js_target(sizes: &Value, loaded: Option<f64>) -> Vec<TargetRow> {
    let js = sizes["js_gzip"].as_f64().unwrap_or(f64::NAN);
    let worst = loaded.map_or(js, |l| js.max(l));
    vec![TargetRow {
        target: "the page's JavaScript ≤ 60 KB gzip".into(),
        worst: match loaded {
            Some(l) => format!("{} KB (web/dist; {} KB loaded by the page)", kb(js), kb(l)),
            None => format!("{} KB (web/dist)", kb(js)),
        },
        met: worst <= JS_TARGET_BYTES as f64,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(998), "998");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_js_target_takes_the_larger_of_dist_and_loaded() {
        let sizes = json!({"js_gzip": 22_000, "css_gzip": 2_000, "js": [], "css": []});
        let rows = js_target(&sizes, Some(70_000.0));
        assert!(!rows[0].met, "{}", rows[0].worst);
        let rows = js_target(&sizes, None);
        assert!(rows[0].met);
        assert_eq!(rows[0].worst, "21.5 KB (web/dist)");
    }
}
