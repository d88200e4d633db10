//! Medians, percentiles, the targets of DESIGN.md "Performance targets",
//! and BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

use crate::world::Trips;
use crate::{Options, MEMORY_MB};

/// One fresh process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// exec → first `GET /runtime/invocation/next`.
    pub init: Duration,
    /// First event handed over → its response posted.
    pub first: Duration,
    /// exec → first response posted.
    pub exec_to_first_response: Duration,
    /// Median of the next few invocations of the same process (ms).
    pub paired_warm_ms: f64,
}

pub struct Measured {
    pub name: String,
    pub peer_of: Option<&'static str>,
    pub runs: Vec<Run>,
    pub warm: Vec<Duration>,
    pub peak_rss_kib: u64,
    pub failures: Vec<String>,
}

pub struct Input<'a> {
    pub options: &'a Options,
    pub results: &'a [Measured],
    pub trips: &'a [Trips],
    pub sizes: &'a [(String, u64)],
    pub peer_note: Option<&'a str>,
    pub notes: &'a str,
    /// Parts with their own section and target rows (the page's speed).
    pub sections: &'a [crate::page::Section],
}

pub struct Text {
    pub summary: String,
    pub markdown: String,
}

/// DESIGN.md "Next targets": init ≤ 1.3× the runtime's own hello-world,
/// cold penalty ≤ 1.5× hello's exec → first response.
pub const INIT_RATIO_TARGET: f64 = 1.3;
pub const PENALTY_RATIO_TARGET: f64 = 1.5;
/// The stretch: every function's init below the hello-world's own.
pub const INIT_RATIO_STRETCH: f64 = 1.0;
pub const SIZE_TARGET_BYTES: u64 = 6_000_000;
pub const RSS_TARGET_KIB: u64 = 24 * 1024;
/// x86_64 Lambda, us-east-1, per GB-second and per million requests.
const PRICE_GB_SECOND: f64 = 0.000_016_666_7;
const PRICE_MILLION_REQUESTS: f64 = 0.20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile (`p` in 0..=100) of milliseconds.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

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
    fn show(&self) -> String {
        format!("{:.2} ({:.2}–{:.2})", self.median, self.min, self.max)
    }
}

/// The figures of one binary.
struct Figures {
    init: Spread,
    first: Spread,
    exec_to_first: Spread,
    warm_p50: f64,
    warm_p99: f64,
    /// Median over processes of: first invocation minus the median of
    /// the same process's next few.
    penalty: f64,
    rss_mib: f64,
}

impl Figures {
    fn of(m: &Measured) -> Self {
        let col = |f: fn(&Run) -> Duration| m.runs.iter().map(|r| ms(f(r))).collect::<Vec<_>>();
        let warm: Vec<f64> = m.warm.iter().copied().map(ms).collect();
        let first = Spread::of(&col(|r| r.first));
        let warm_p50 = percentile(&warm, 50.0);
        let penalties: Vec<f64> = m
            .runs
            .iter()
            .map(|r| ms(r.first) - r.paired_warm_ms)
            .collect();
        Self {
            init: Spread::of(&col(|r| r.init)),
            exec_to_first: Spread::of(&col(|r| r.exec_to_first_response)),
            penalty: median(&penalties),
            first,
            warm_p50,
            warm_p99: percentile(&warm, 99.0),
            rss_mib: m.peak_rss_kib as f64 / 1024.0,
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "- nproc: {nproc}; CPU: {cpu}; load average at the end of the run: {}\n\
         - {}; {}\n\
         - kernel: {}\n",
        load.join(" "),
        command_output("rustc", &["-V"]),
        command_output("cargo", &["-V"]),
        command_output("uname", &["-sr"]),
    )
}

pub fn render(input: &Input<'_>) -> Text {
    let o = input.options;
    let figures: Vec<(&Measured, Figures)> = input
        .results
        .iter()
        .filter(|m| !m.runs.is_empty())
        .map(|m| (m, Figures::of(m)))
        .collect();
    let hello = figures.iter().find(|(m, _)| m.name == "hello");
    let hello_init = hello.map(|(_, f)| f.init.median).unwrap_or(f64::NAN);
    let hello_e2f = hello
        .map(|(_, f)| f.exec_to_first.median)
        .unwrap_or(f64::NAN);
    let size_of = |name: &str| input.sizes.iter().find(|(n, _)| n == name).map(|(_, s)| *s);

    let mut t = String::new();
    let _ = writeln!(
        t,
        "Times in ms: median (min–max) over {} cold starts per binary; warm p50/p99 over {} \
         invocations of one process. Init = exec → first `GET /runtime/invocation/next`; \
         first = first event handed over → response posted; cold penalty = median over the \
         cold starts of (first − median of the same process's next {} invocations of the same \
         request).\n",
        o.runs,
        o.warm,
        crate::PAIRED
    );
    let _ = writeln!(
        t,
        "| binary | init | init ÷ hello | first invocation | warm p50 | warm p99 | cold penalty | penalty ÷ hello exec→first response | peak RSS MiB | stripped size MB |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
    for (m, f) in &figures {
        let size = size_of(&m.name)
            .map(|s| format!("{:.2}", s as f64 / 1e6))
            .unwrap_or_else(|| "—".into());
        let (init_ratio, penalty_ratio) = if m.name == "hello" {
            ("1.00".to_owned(), "—".to_owned())
        } else {
            (
                format!("{:.2}×", f.init.median / hello_init),
                format!("{:.2}×", f.penalty / hello_e2f),
            )
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {} |",
            m.name,
            f.init.show(),
            init_ratio,
            f.first.show(),
            f.warm_p50,
            f.warm_p99,
            f.penalty,
            penalty_ratio,
            f.rss_mib,
            size,
        );
    }
    let _ = writeln!(
        t,
        "\nhello: exec → first response {} ms (the cold-penalty yardstick).",
        hello
            .map(|(_, f)| f.exec_to_first.show())
            .unwrap_or_else(|| "—".into())
    );

    // Targets.
    let rust: Vec<&(&Measured, Figures)> = figures
        .iter()
        .filter(|(m, _)| m.peer_of.is_none() && m.name != "hello")
        .collect();
    let worst = |key: &dyn Fn(&Figures) -> f64| {
        rust.iter().map(|(m, f)| (m.name.as_str(), key(f))).fold(
            ("—", f64::NEG_INFINITY),
            |a, b| if b.1 > a.1 { b } else { a },
        )
    };
    let (init_fn, init_worst) = worst(&|f| f.init.median / hello_init);
    let (pen_fn, pen_worst) = worst(&|f| f.penalty / hello_e2f);
    let (rss_fn, rss_worst) = worst(&|f| f.rss_mib);
    let size_worst =
        input
            .sizes
            .iter()
            .filter(|(n, _)| n != "hello")
            .fold(
                ("—", 0u64),
                |a, (n, s)| {
                    if *s > a.1 {
                        (n.as_str(), *s)
                    } else {
                        a
                    }
                },
            );
    let trips_over: Vec<String> = input
        .trips
        .iter()
        .filter(|r| r.status >= 400 || r.target.is_some_and(|t| r.counted > t))
        .map(|r| {
            if r.status >= 400 {
                // An error answer counts nothing worth comparing.
                format!("{} answered {}", r.operation, r.status)
            } else {
                format!(
                    "{} {} > {}",
                    r.operation,
                    r.counted,
                    r.target.unwrap_or_default()
                )
            }
        })
        .collect();
    let mut targets = String::new();
    let _ = writeln!(targets, "| target | worst | verdict |\n|---|---|---|");
    let _ = writeln!(
        targets,
        "| init ≤ {INIT_RATIO_TARGET:.1}× hello | {init_worst:.2}× ({init_fn}) | {} |",
        verdict(init_worst <= INIT_RATIO_TARGET)
    );
    let below_hello = rust
        .iter()
        .filter(|(_, f)| f.init.median / hello_init < INIT_RATIO_STRETCH)
        .count();
    let _ = writeln!(
        targets,
        "| stretch: init below hello's own (< {INIT_RATIO_STRETCH:.1}×) | {init_worst:.2}× ({init_fn}); {below_hello} of {} below | {} |",
        rust.len(),
        if init_worst < INIT_RATIO_STRETCH {
            "met"
        } else {
            "not yet"
        }
    );
    let _ = writeln!(
        targets,
        "| cold penalty ≤ {PENALTY_RATIO_TARGET:.1}× hello's exec → first response | {pen_worst:.2}× ({pen_fn}) | {} |",
        verdict(pen_worst <= PENALTY_RATIO_TARGET)
    );
    let _ = writeln!(
        targets,
        "| round trips at or under target | {} | {} |",
        if trips_over.is_empty() {
            "all".to_owned()
        } else {
            trips_over.join("; ")
        },
        verdict(trips_over.is_empty())
    );
    let _ = writeln!(
        targets,
        "| bootstrap ≤ 6 MB stripped | {:.2} MB ({}) | {} |",
        size_worst.1 as f64 / 1e6,
        size_worst.0,
        verdict(size_worst.1 <= SIZE_TARGET_BYTES)
    );
    let _ = writeln!(
        targets,
        "| peak RSS ≤ 24 MiB | {rss_worst:.1} MiB ({rss_fn}) | {} |",
        verdict(rss_worst <= RSS_TARGET_KIB as f64 / 1024.0)
    );
    for s in input.sections {
        targets.push_str(&s.target_lines());
    }
    let sections: String = input
        .sections
        .iter()
        .map(|s| format!("## {}\n\n{}\n", s.title, s.markdown))
        .collect();

    // Round trips.
    let mut trips = String::new();
    let _ = writeln!(
        trips,
        "| API call | round trips | target | status |\n|---|---|---|---|"
    );
    for r in input.trips {
        let _ = writeln!(
            trips,
            "| {} | {} | {} | {} |",
            r.operation,
            r.counted,
            r.target
                .map(|t| format!("{t} ({})", verdict(r.counted <= t)))
                .unwrap_or_else(|| "—".into()),
            r.status
        );
    }

    // Rust : Python.
    let mut peer = String::new();
    if let Some(note) = input.peer_note {
        let _ = writeln!(peer, "Python peer {note}.");
    } else {
        let _ = writeln!(
            peer,
            "| handler | init Rust / Python (ms) | Rust : Python | first invocation Rust / Python | Rust : Python | warm p50 Rust / Python | Rust : Python | peak RSS Rust / Python MiB |\n|---|---|---|---|---|---|---|---|"
        );
        for (pm, pf) in figures.iter().filter(|(m, _)| m.peer_of.is_some()) {
            let Some((_, rf)) = figures
                .iter()
                .find(|(m, _)| Some(m.name.as_str()) == pm.peer_of)
            else {
                continue;
            };
            let _ = writeln!(
                peer,
                "| {} | {:.2} / {:.2} | 1 : {:.1} | {:.2} / {:.2} | 1 : {:.1} | {:.2} / {:.2} | 1 : {:.1} | {:.1} / {:.1} |",
                pm.peer_of.unwrap_or_default(),
                rf.init.median,
                pf.init.median,
                pf.init.median / rf.init.median,
                rf.first.median,
                pf.first.median,
                pf.first.median / rf.first.median,
                rf.warm_p50,
                pf.warm_p50,
                pf.warm_p50 / rf.warm_p50,
                rf.rss_mib,
                pf.rss_mib,
            );
        }
    }

    // Cost.
    let mut cost = String::new();
    let gb = MEMORY_MB as f64 / 1024.0;
    let _ = writeln!(
        cost,
        "At {MEMORY_MB} MB ({gb:.3} GB), billed per started ms, x86_64 prices (${PRICE_GB_SECOND}/GB-s, ${PRICE_MILLION_REQUESTS:.2} per million requests):\n"
    );
    let _ = writeln!(
        cost,
        "| binary | billed ms warm (p50) | GB-s per million warm requests | $ per million warm requests | billed ms per cold start (init + first) | GB-s per million cold starts |\n|---|---|---|---|---|---|"
    );
    for (m, f) in figures.iter().filter(|(m, _)| m.name != "hello") {
        let warm_ms = f.warm_p50.ceil();
        let warm_gbs = warm_ms / 1000.0 * gb * 1e6;
        let cold_ms = (f.init.median + f.first.median).ceil();
        let _ = writeln!(
            cost,
            "| {} | {warm_ms:.0} | {warm_gbs:.0} | {:.2} | {cold_ms:.0} | {:.0} |",
            m.name,
            warm_gbs * PRICE_GB_SECOND + PRICE_MILLION_REQUESTS,
            cold_ms / 1000.0 * gb * 1e6,
        );
    }

    // What it means.
    let rust_cold: Vec<(&str, f64)> = figures
        .iter()
        .filter(|(m, _)| m.peer_of.is_none() && m.name != "hello")
        .map(|(m, f)| (m.name.as_str(), f.init.median + f.penalty))
        .collect();
    let worst_cold =
        rust_cold.iter().fold(
            ("—", f64::NEG_INFINITY),
            |a, b| if b.1 > a.1 { *b } else { a },
        );
    let _ = writeln!(
        cost,
        "\nWhat this means. For users: a cold start adds init + cold penalty to a \
         request; for these functions that is at most {:.1} ms ({}), on top of what Lambda \
         itself spends creating the sandbox (not measured here).",
        worst_cold.1, worst_cold.0
    );
    for (pm, pf) in figures.iter().filter(|(m, _)| m.peer_of.is_some()) {
        let _ = writeln!(
            cost,
            "The Python peer of {} adds {:.0} ms.",
            pm.peer_of.unwrap_or_default(),
            pf.init.median + pf.penalty
        );
    }
    let _ = writeln!(
        cost,
        "\nFor cost: at {MEMORY_MB} MB every billed millisecond of a request is {:.0} GB-s \
         (${:.4}) per million requests. The warm figures above are mostly moto's latency \
         priced; against DynamoDB's single-digit milliseconds the functions' own share is \
         what differs between runtimes. A cold start is billed for init plus the first \
         invocation (a custom runtime's init phase is billed), which is where Rust and \
         Python part most: compare the last column.",
        gb * 1000.0,
        gb * 1000.0 * PRICE_GB_SECOND,
    );

    let failures: Vec<String> = input
        .results
        .iter()
        .flat_map(|m| m.failures.iter().map(move |f| format!("- {}: {f}", m.name)))
        .collect();

    let summary = format!(
        "## Cold start, latency, memory, size\n\n{t}\n## Targets\n\n{targets}\n## Round trips per API call\n\n{trips}\n## Rust : Python\n\n{peer}\n## Lambda cost\n\n{cost}\n{sections}{}",
        if failures.is_empty() {
            String::new()
        } else {
            format!("\n## Failed runs\n\n{}\n", failures.join("\n"))
        }
    );
    let markdown = format!(
        "# Benchmarks\n\n\
         Written by `make bench` ({date}); do not edit by hand: the notes at the end come from \
         `bench/NOTES.md`.\n\n\
         ## Machine\n\n{machine}\n\
         ## Commands\n\n\
         ```\nmake bench\n# = cargo build --release -p liaison-bench -p open-thread -p list-threads ... (every function)\n\
         #   scripts/with-moto.sh target/release/bench --runs {runs} --warm {warm} --out BENCHMARKS.md --notes bench/NOTES.md\n\
         # quicker: make bench BENCH_ARGS=\"--runs 5 --warm 50\"; one function: BENCH_ARGS=\"--only send-message\"\n\
         # where a function's init goes: cargo run --release -p liaison-bench --example probe\n```\n\n\
         Each function's release binary is started the way Lambda starts a `provided.al2023` \
         bootstrap: a clean environment with `AWS_LAMBDA_RUNTIME_API` (a stub in the harness), \
         region, session credentials, function name, {MEMORY_MB} MB memory size, the table, \
         bucket and queue names, and `AWS_ENDPOINT_URL`{endpoint}. Events are \
         `events/<fn>.json`, aimed at resources the harness provisioned with the demo directory \
         loaded.\n\n{summary}\n{notes}",
        endpoint = if o.plain {
            " pointing straight at the local AWS over plain http (`--plain`: NO TLS is paid \
             in this run, unlike on Lambda)"
        } else {
            ", which is an **https** front (rustls, a CA made per run, passed as \
             `AWS_CA_BUNDLE`) piping to the local AWS (moto), so TLS set-up, handshake and \
             certificate verification are paid as on Lambda"
        },
        date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine = machine(),
        runs = o.runs,
        warm = o.warm,
        notes = input.notes,
    );
    Text { summary, markdown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
