//! `make bench`: every function's release binary started by a local Lambda
//! Runtime API stub, against the local AWS behind an HTTPS front, side by
//! side with a hello-world `lambda_runtime` binary and a Python peer; round
//! trips per API call counted in-process; binary sizes. Prints the figures
//! DESIGN.md "Performance targets" sets and writes them to BENCHMARKS.md.
//!
//! Not part of the product: nothing here is deployed.

mod page;
mod report;
mod scale;
mod stub;
mod tls;
mod world;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::aws_lambda_events::sqs::SqsEvent;
use serde_json::{json, Value};

use report::{Measured, Run};
use stub::{Proc, Stub};
use world::{BoxError, World, EVENTS_THREAD};

/// Every function, in the local gateway's order.
const FUNCTIONS: &[&str] = liaison_local::Functions::NAMES;
const INIT_TIMEOUT: Duration = Duration::from_secs(20);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Warm invocations right after each process's first: the warm median its
/// cold penalty is taken against, measured under the same conditions.
const PAIRED: usize = 5;
/// Lambda's smallest memory setting, which the cost figures use.
pub const MEMORY_MB: u32 = 128;

pub struct Options {
    pub runs: usize,
    pub warm: usize,
    pub only: Option<Vec<String>>,
    pub bin_dir: PathBuf,
    pub out: Option<PathBuf>,
    pub notes: Option<PathBuf>,
    pub peer: bool,
    /// Functions talk plain HTTP to the local AWS (no TLS front).
    pub plain: bool,
    /// Extra environment for the Rust functions (diagnostics).
    pub env: Vec<(String, String)>,
    /// The page's speed in Chromium (`--no-page` skips it).
    pub page: bool,
    /// Only the page's speed (`--only-page`).
    pub only_page: bool,
    pub root: PathBuf,
    /// Run the scaling table (`--no-scale` skips it).
    pub scale: bool,
    /// Run only the scaling table (`--only-scale`).
    pub only_scale: bool,
}

fn options() -> Result<Options, BoxError> {
    let root = std::env::current_dir()?;
    let mut o = Options {
        // Init is 2–5 ms of wall time and a cold start's penalty a
        // difference of two invocations: at 15 the medians moved by 0.2×
        // hello between quiet runs (mark-read 1.45× then 1.06×), at 31 they
        // hold still enough to judge a 1.3× target (bench/NOTES.md).
        runs: 31,
        warm: 200,
        only: None,
        bin_dir: root.join("target/release"),
        out: None,
        notes: None,
        peer: true,
        plain: false,
        env: Vec::new(),
        page: true,
        only_page: false,
        root,
        scale: true,
        only_scale: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse()?,
            "--warm" => o.warm = value()?.parse()?,
            "--only" => o.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--bin-dir" => o.bin_dir = value()?.into(),
            "--out" => o.out = Some(value()?.into()),
            "--notes" => o.notes = Some(value()?.into()),
            "--no-peer" => o.peer = false,
            "--plain" => o.plain = true,
            "--no-page" => o.page = false,
            "--only-page" => o.only_page = true,
            "--no-scale" => o.scale = false,
            "--only-scale" => o.only_scale = true,
            "--env" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or("--env takes NAME=VALUE")?;
                o.env.push((k.to_owned(), v.to_owned()));
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: bench [--runs N] [--warm N] \
                     [--only fn,fn] [--bin-dir DIR] [--out FILE] [--notes FILE] [--no-peer] [--plain] [--env NAME=VALUE] \
                     [--no-page] [--only-page] [--no-scale] [--only-scale]"
                )
                .into())
            }
        }
    }
    if o.runs == 0 || o.warm == 0 {
        return Err("--runs and --warm must be at least 1".into());
    }
    if o.only_page && !o.page {
        return Err("--only-page and --no-page contradict each other".into());
    }
    Ok(o)
}

/// What is started, and how.
struct Target {
    name: String,
    /// The Rust function this is the peer of, for Python peers.
    peer_of: Option<&'static str>,
    program: PathBuf,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
}

fn lambda_env(function: &str, handler: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/25/[$LATEST]0123456789abcdef".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test-session-token".to_owned()),
        ("_HANDLER", handler.to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let o = options()?;
    let local = std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        "AWS_ENDPOINT_URL is not set: run through scripts/with-moto.sh (make bench)"
    })?;
    let upstream: std::net::SocketAddr = local
        .strip_prefix("http://")
        .ok_or("AWS_ENDPOINT_URL must be the local AWS's http:// address")?
        .trim_end_matches('/')
        .parse()?;
    let out_dir = o.root.join("bench/out");
    std::fs::create_dir_all(&out_dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let aws = rt.block_on(liaison::aws::sdk_config());
    if o.only_page {
        let page = rt.block_on(page::section(&o.root, &aws));
        println!("## {}\n\n{}", page.title, page.markdown);
        if !page.targets.is_empty() {
            println!(
                "| target | worst | verdict |\n|---|---|---|\n{}",
                page.target_lines()
            );
        }
        return match page.failure {
            Some(e) => Err(format!("the page part failed: {e}").into()),
            None => Ok(()),
        };
    }

    // How cost grows with the data (in-process, DynamoDB's rules). In a
    // full run it comes after the cold starts: seeding 10,000-thread
    // accounts leaves moto a larger process whose collector then competes
    // with the inits being timed.
    if o.only_scale {
        scale_section(&rt, &aws, &out_dir)?;
        return Ok(());
    }

    eprintln!("bench: provisioning and loading the sample directory on {local}");
    let front = rt.block_on(tls::start(upstream))?;
    let ca = out_dir.join("ca.pem");
    std::fs::write(&ca, &front.ca_pem)?;
    if !o.plain {
        eprintln!(
            "bench: functions reach the local AWS at {} (CA {})",
            front.endpoint,
            ca.display()
        );
    }
    let events = o.root.join("events");
    let directory: Value = serde_json::from_str(&std::fs::read_to_string(
        events.join("sync-directory.json"),
    )?)?;
    let prefix = format!("bench{}", ulid::Ulid::new().to_string().to_lowercase());
    let w = rt.block_on(World::new(&aws, &prefix, directory))?;
    if w.thread != EVENTS_THREAD {
        eprintln!(
            "bench: the sample events name {EVENTS_THREAD}, the thread is {}",
            w.thread
        );
    }

    // The reply key events/unsubscribe.json's token stands for, as the
    // notifier would have written it; Dana's, so the one-click mute it
    // measures never silences the e-mails notify-reply's runs send Chris.
    let unsubscribe: ApiGatewayV2httpRequest =
        serde_json::from_str(&std::fs::read_to_string(events.join("unsubscribe.json"))?)?;
    let token = unsubscribe
        .path_parameters
        .get("token")
        .ok_or("events/unsubscribe.json has no token")?;
    rt.block_on(w.reply_key_row(token, "u_dana", "dana@agency.example"))?;

    eprintln!("bench: counting round trips per API call (in-process)");
    let trips = rt.block_on(world::count_round_trips(&w))?;
    // A thread with history (list-messages reads a page of it), then the
    // table as every invocation will find it.
    for i in 0..20 {
        let who = if i % 2 == 0 { "u_chris" } else { "u_dana" };
        rt.block_on(w.say(who, &format!("history-{i}")))?;
    }
    let baseline = rt.block_on(w.keys())?;
    let mut restore = || rt.block_on(w.restore(&baseline)).map_err(|e| e.to_string());

    let mut common = w.function_env();
    if o.plain {
        common.push(("AWS_ENDPOINT_URL".into(), local.clone()));
    } else {
        common.push(("AWS_ENDPOINT_URL".into(), front.endpoint.clone()));
        common.push(("AWS_CA_BUNDLE".into(), ca.display().to_string()));
    }

    let wanted = |name: &str| o.only.as_ref().is_none_or(|v| v.iter().any(|n| n == name));
    let mut targets = Vec::new();
    targets.push(Target {
        name: "hello".into(),
        peer_of: None,
        program: o.bin_dir.join("hello"),
        args: vec![],
        cwd: None,
        env: lambda_env("hello", "bootstrap"),
    });
    for f in FUNCTIONS.iter().filter(|f| wanted(f)) {
        let mut env = lambda_env(f, "bootstrap");
        env.extend(common.iter().cloned());
        env.extend(o.env.iter().cloned());
        targets.push(Target {
            name: f.to_string(),
            peer_of: None,
            program: o.bin_dir.join(f),
            args: vec![],
            cwd: None,
            env,
        });
    }
    let python = o.root.join("bench/peer/.venv/bin/python");
    let peer_note = if !o.peer {
        Some("skipped (--no-peer)".to_owned())
    } else if !python.exists() {
        Some(format!(
            "skipped: {} is missing (make bench installs it)",
            python.display()
        ))
    } else {
        for (f, handler) in [
            ("open-thread", "handlers.open_thread"),
            ("send-message", "handlers.send_message"),
        ] {
            if !wanted(f) {
                continue;
            }
            let name = format!("python {f}");
            let mut env = lambda_env(&name.replace(' ', "-"), handler);
            env.extend(common.iter().cloned());
            env.push(("AWS_EXECUTION_ENV".into(), "AWS_Lambda_python3.11".into()));
            env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
            targets.push(Target {
                name,
                peer_of: Some(f),
                program: python.clone(),
                args: vec!["-m".into(), "awslambdaric".into(), handler.into()],
                cwd: Some(o.root.join("bench/peer")),
                env,
            });
        }
        None
    };
    // Compile the peer's modules once, as a deployment package would ship
    // them, so no run pays for it.
    if o.peer && python.exists() {
        let _ = std::process::Command::new(&python)
            .args(["-m", "compileall", "-q", "bench/peer/handlers.py"])
            .status();
    }

    let mut results: Vec<Measured> = targets
        .iter()
        .map(|t| Measured {
            name: t.name.clone(),
            peer_of: t.peer_of,
            runs: Vec::new(),
            warm: Vec::new(),
            peak_rss_kib: 0,
            failures: Vec::new(),
        })
        .collect();

    let log_dir = out_dir.join("logs");
    std::fs::create_dir_all(&log_dir)?;
    let mut seq = 0usize;
    let mut event_for = |target: &Target| -> Result<Vec<u8>, BoxError> {
        seq += 1;
        let f = target.peer_of.unwrap_or(target.name.as_str());
        if f == "hello" {
            return Ok(br#"{"hello":"world"}"#.to_vec());
        }
        let raw = std::fs::read_to_string(events.join(format!("{f}.json")))?
            .replace(EVENTS_THREAD, &w.thread);
        Ok(match f {
            "send-message" => {
                let mut event: ApiGatewayV2httpRequest = serde_json::from_str(&raw)?;
                event.body = Some(
                    json!({"body": "Hello", "client_message_id": format!("bench-{seq}")})
                        .to_string(),
                );
                serde_json::to_vec(&event)?
            }
            "mark-read" => {
                // Something new to read each time, so every run moves the
                // read position (an already-read thread is a cheaper no-op).
                rt.block_on(w.say("u_dana", &format!("unread-{seq}")))?;
                raw.into_bytes()
            }
            "notify-reply" => {
                // A new reply each time, so every run notifies someone.
                let message = rt.block_on(w.say("u_dana", &format!("notify-{seq}")))?;
                let job = json!({"account_id": "acc_acme", "thread_id": w.thread,
                                 "message_id": message, "author_role": "manager"});
                let mut event: SqsEvent = serde_json::from_str(&raw)?;
                for record in &mut event.records {
                    record.body = Some(job.to_string());
                }
                serde_json::to_vec(&event)?
            }
            _ => raw.into_bytes(),
        })
    };

    let total = o.runs * targets.len();
    eprintln!(
        "bench: {} cold starts each of {} binaries ({total} processes), {} warm invocations each",
        o.runs,
        targets.len(),
        o.warm
    );
    // Rounds interleave the targets, so load that comes and goes on the
    // machine touches all of them alike.
    for round in 0..o.runs {
        for (t, m) in targets.iter().zip(results.iter_mut()) {
            let log = log_dir.join(format!("{}.log", t.name.replace(' ', "-")));
            // Round 0's process serves the warm series; every process
            // answers a few more of the same request after its first, the
            // warm side of its own cold penalty.
            let warm = if round == 0 {
                o.warm.max(PAIRED)
            } else {
                PAIRED
            };
            match cold_run(t, &mut event_for, &mut restore, &log, warm) {
                Ok((run, warm, rss)) => {
                    m.runs.push(run);
                    if round == 0 {
                        m.warm.extend(warm);
                    }
                    m.peak_rss_kib = m.peak_rss_kib.max(rss);
                }
                Err(e) => {
                    eprintln!("bench: {}: {e}", t.name);
                    m.failures.push(e);
                }
            }
        }
        eprint!("\rbench: round {}/{}", round + 1, o.runs);
    }
    eprintln!();

    let scaled = if o.scale {
        Some(scale_section(&rt, &aws, &out_dir)?)
    } else {
        None
    };

    // The page last: its browser does not share the machine with the cold starts.
    let page = if o.page {
        rt.block_on(page::section(&o.root, &aws))
    } else {
        page::Section::skipped("--no-page")
    };

    let sizes = FUNCTIONS
        .iter()
        .chain(["hello"].iter())
        .filter_map(|f| {
            std::fs::metadata(o.bin_dir.join(f))
                .ok()
                .map(|m| (f.to_string(), m.len()))
        })
        .collect::<Vec<_>>();
    let notes = match &o.notes {
        Some(p) => std::fs::read_to_string(p).unwrap_or_default(),
        None => String::new(),
    };
    let sections: Vec<page::Section> = scaled.into_iter().chain([page]).collect();
    let text = report::render(&report::Input {
        options: &o,
        results: &results,
        trips: &trips,
        sizes: &sizes,
        peer_note: peer_note.as_deref(),
        notes: &notes,
        sections: &sections,
    });
    println!("{}", text.summary);
    if let Some(out) = &o.out {
        std::fs::write(out, &text.markdown)?;
        eprintln!("bench: wrote {}", out.display());
    }
    if results.iter().any(|m| !m.failures.is_empty()) {
        return Err("some runs failed (see above and bench/out/logs)".into());
    }
    if let Some(e) = sections.iter().find_map(|s| s.failure.as_ref()) {
        return Err(format!("the page part failed: {e}").into());
    }
    Ok(())
}

/// The scaling table: printed, and kept in `out_dir/scale.md`.
fn scale_section(
    rt: &tokio::runtime::Runtime,
    aws: &aws_config::SdkConfig,
    out_dir: &Path,
) -> Result<page::Section, BoxError> {
    eprintln!("bench: the scaling table (capacity per call as accounts grow)");
    let section = rt.block_on(scale::run(aws))?;
    println!("## {}\n\n{}", section.title, section.markdown);
    println!(
        "| target | worst | verdict |\n|---|---|---|\n{}",
        section.target_lines()
    );
    std::fs::write(out_dir.join("scale.md"), &section.markdown)?;
    Ok(section)
}

/// Starts a fresh process, times its init and first invocation, then
/// `warm` more invocations; its peak RSS.
fn cold_run(
    t: &Target,
    event_for: &mut dyn FnMut(&Target) -> Result<Vec<u8>, BoxError>,
    restore: &mut dyn FnMut() -> Result<(), String>,
    log: &Path,
    warm: usize,
) -> Result<(Run, Vec<Duration>, u64), String> {
    let first_event = event_for(t).map_err(|e| e.to_string())?;
    let mut stub = Stub::start(&t.name).map_err(|e| e.to_string())?;
    let mut proc = Proc::spawn(&t.program, &t.args, t.cwd.as_deref(), &t.env, &stub, log)?;
    let result = (|| {
        let ready = stub.wait_ready(&mut proc, INIT_TIMEOUT)?;
        let first = stub.invoke(&mut proc, &first_event, INVOKE_TIMEOUT)?;
        check(t, &first)?;
        restore()?;
        let mut lat = Vec::with_capacity(warm);
        for _ in 0..warm {
            let event = event_for(t).map_err(|e| e.to_string())?;
            let inv = stub.invoke(&mut proc, &event, INVOKE_TIMEOUT)?;
            check(t, &inv)?;
            lat.push(inv.latency);
            restore()?;
        }
        let paired: Vec<f64> = lat
            .iter()
            .take(PAIRED)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        let run = Run {
            init: ready.saturating_duration_since(proc.spawned),
            first: first.latency,
            exec_to_first_response: (first.handed + first.latency)
                .saturating_duration_since(proc.spawned),
            paired_warm_ms: report::median(&paired),
        };
        let rss = proc.peak_rss_kib().unwrap_or(0);
        Ok((run, lat, rss))
    })();
    proc.stop();
    drop(stub);
    result
}

/// A run counts only if the function did what the event asked.
fn check(t: &Target, inv: &stub::Invocation) -> Result<(), String> {
    let body = String::from_utf8_lossy(&inv.body);
    if !inv.ok {
        return Err(format!("{} reported an error: {body}", t.name));
    }
    let v: Value = serde_json::from_slice(&inv.body).unwrap_or(Value::Null);
    if let Some(status) = v.get("statusCode").and_then(Value::as_u64) {
        if status >= 300 {
            return Err(format!("{} answered {status}: {body}", t.name));
        }
    }
    // Batch handlers: nothing may be left for a retry.
    if let Some(failures) = v.get("batchItemFailures").and_then(Value::as_array) {
        if !failures.is_empty() {
            return Err(format!("{} failed items: {body}", t.name));
        }
    }
    Ok(())
}
