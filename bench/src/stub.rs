//! A local Lambda Runtime API (the 2018-06-01 interface a function's
//! runtime client polls), one per function process, that timestamps what
//! Lambda's own service would see: the first `GET .../invocation/next`
//! (init done), the event handed over, the response posted.
//!
//! Plain threads and blocking sockets: the stub must add as little as
//! possible to what it measures.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

#[derive(Default)]
struct State {
    first_next: Option<Instant>,
    queue: VecDeque<(String, Vec<u8>)>,
    handed: HashMap<String, Instant>,
    done: HashMap<String, Done>,
    init_error: Option<String>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
pub struct Done {
    at: Instant,
    pub ok: bool,
    pub body: Vec<u8>,
}

/// One invocation as the stub saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub handed: Instant,
    /// Event handed over → response posted.
    pub latency: Duration,
    pub ok: bool,
    pub body: Vec<u8>,
}

pub struct Stub {
    pub addr: SocketAddr,
    function: String,
    shared: Arc<Shared>,
    next_id: u64,
}

impl Stub {
    pub fn start(function: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        let function_name = function.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if accept_shared.lock().closed {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                let shared = accept_shared.clone();
                let name = function_name.clone();
                std::thread::spawn(move || serve(conn, &shared, &name));
            }
        });
        Ok(Self {
            addr,
            function: function.to_owned(),
            shared,
            next_id: 0,
        })
    }

    /// Waits for the runtime's first `GET next`; fails if the process
    /// exits or reports an init error first.
    pub fn wait_ready(&self, proc: &mut Proc, timeout: Duration) -> Result<Instant, String> {
        let function = self.function.clone();
        self.wait(proc, timeout, "during init", "no GET next", |state| {
            if let Some(t) = state.first_next {
                return Some(Ok(t));
            }
            let e = state.init_error.as_ref()?;
            Some(Err(format!("{function}: init error: {e}")))
        })
    }

    /// Hands `event` to the function and waits for its answer.
    pub fn invoke(
        &mut self,
        proc: &mut Proc,
        event: &[u8],
        timeout: Duration,
    ) -> Result<Invocation, String> {
        self.next_id += 1;
        let id = format!("{:08x}-bench-{}", self.next_id, std::process::id());
        {
            let mut state = self.shared.lock();
            state.queue.push_back((id.clone(), event.to_vec()));
            self.shared.cv.notify_all();
        }
        self.wait(
            proc,
            timeout,
            "during an invocation",
            "no response",
            |state| {
                let done = state.done.remove(&id)?;
                let handed = state.handed.remove(&id).unwrap_or(done.at);
                Some(Ok(Invocation {
                    handed,
                    latency: done.at.saturating_duration_since(handed),
                    ok: done.ok,
                    body: done.body,
                }))
            },
        )
    }

    /// Waits until `ready` answers, the process exits (`exited` says when)
    /// or `timeout` passes (`late` says what did not come).
    fn wait<T>(
        &self,
        proc: &mut Proc,
        timeout: Duration,
        exited: &str,
        late: &str,
        mut ready: impl FnMut(&mut State) -> Option<Result<T, String>>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(answer) = ready(&mut state) {
                return answer;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                return Err(format!(
                    "{}: exited {exited} ({status}); see {}",
                    self.function, proc.log
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("{}: {late} within {timeout:?}", self.function));
            }
            let wait = (deadline - now).min(Duration::from_millis(20));
            state = self
                .shared
                .cv
                .wait_timeout(state, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.cv.notify_all();
        // Wakes the accept loop so it sees `closed`.
        let _ = TcpStream::connect(self.addr);
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                length = v.trim().parse().ok()?;
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}

fn serve(conn: TcpStream, shared: &Shared, function: &str) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::new(conn);
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    while let Some(req) = read_request(&mut reader) {
        let now = Instant::now();
        if trace {
            eprintln!(
                "stub {function}: {} {} ({} bytes)",
                req.method,
                req.path,
                req.body.len()
            );
        }
        if req.method == "GET" && req.path == NEXT {
            let (id, event) = {
                let mut state = shared.lock();
                state.first_next.get_or_insert(now);
                shared.cv.notify_all();
                loop {
                    if state.closed {
                        return;
                    }
                    if let Some(e) = state.queue.pop_front() {
                        break e;
                    }
                    state = shared.cv.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 30_000)
                .unwrap_or(0);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: {id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:{function}\r\n\
                 lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0\r\n\
                 content-length: {}\r\n\r\n",
                event.len()
            );
            let mut msg = head.into_bytes();
            msg.extend_from_slice(&event);
            // Stamped before the write, so a fast answer never races it.
            shared.lock().handed.insert(id, Instant::now());
            if out.write_all(&msg).and_then(|_| out.flush()).is_err() {
                return;
            }
        } else if let Some(rest) = req.path.strip_prefix(INVOCATION) {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            {
                let mut state = shared.lock();
                state.done.insert(
                    id.to_owned(),
                    Done {
                        at: now,
                        ok: kind == "response",
                        body: req.body,
                    },
                );
                shared.cv.notify_all();
            }
            if accepted(&mut out).is_err() {
                return;
            }
        } else if req.path == INIT_ERROR {
            {
                let mut state = shared.lock();
                state.init_error = Some(String::from_utf8_lossy(&req.body).into_owned());
                shared.cv.notify_all();
            }
            if accepted(&mut out).is_err() {
                return;
            }
        } else {
            let _ = out.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    }
}

fn accepted(out: &mut TcpStream) -> std::io::Result<()> {
    const BODY: &str = r#"{"status":"OK"}"#;
    let msg = format!(
        "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    out.write_all(msg.as_bytes())?;
    out.flush()
}

/// A function process, started as Lambda starts one.
pub struct Proc {
    pub child: Child,
    pub spawned: Instant,
    pub log: String,
}

impl Proc {
    /// Starts `program args` with exactly `env` (nothing inherited, as on
    /// Lambda), plus the stub's address; output appended to `log`.
    pub fn spawn(
        program: &Path,
        args: &[String],
        cwd: Option<&Path>,
        env: &[(String, String)],
        stub: &Stub,
        log: &Path,
    ) -> Result<Self, String> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", stub.addr.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        Ok(Self {
            child,
            spawned,
            log: log.display().to_string(),
        })
    }

    /// Peak resident set so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
