//! The functions' log subscriber: what `lambda_runtime`'s
//! `init_default_subscriber` sets up (stdout, no timestamps or targets,
//! JSON under Lambda's advanced logging controls), with a level filter
//! instead of `EnvFilter`. `EnvFilter` compiles `RUST_LOG` directives with
//! `regex`, which every function binary then carries (~0.14 MB of
//! regex-automata and regex-syntax, bench/NOTES.md) and which init pays
//! for; the functions only ever used a level.

use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;

/// Lambda's advanced logging controls: the level (takes precedence over
/// `RUST_LOG`) and the format (`JSON` or `Text`).
const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
const LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
const RUST_LOG: &str = "RUST_LOG";

/// The level from a `RUST_LOG`-style value: a level (`debug`, `WARN`), or
/// directives (`info,liaison=debug`), of which the most verbose level is
/// taken (a per-target filter is not kept: never quieter than asked).
/// `None` when no part of it names a level (empty, or only targets).
pub fn level_of(value: &str) -> Option<LevelFilter> {
    value
        .split(',')
        .filter_map(|directive| {
            let level = directive.rsplit('=').next().unwrap_or(directive).trim();
            // tracing reads "" as ERROR; an empty RUST_LOG means unset here.
            (!level.is_empty()).then(|| LevelFilter::from_str(level).ok())?
        })
        .max()
}

/// Installs the subscriber: level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else INFO; JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`.
pub fn init() {
    let level = std::env::var(LAMBDA_LOG_LEVEL)
        .or_else(|_| std::env::var(RUST_LOG))
        .ok()
        .and_then(|v| level_of(&v))
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var(LAMBDA_LOG_FORMAT).is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    if json {
        fmt.json().init()
    } else {
        fmt.init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_directives() {
        assert_eq!(level_of("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(level_of("WARN"), Some(LevelFilter::WARN));
        assert_eq!(level_of("off"), Some(LevelFilter::OFF));
        assert_eq!(level_of("info,liaison=trace"), Some(LevelFilter::TRACE));
        assert_eq!(level_of("liaison::store=debug"), Some(LevelFilter::DEBUG));
        assert_eq!(level_of("nonsense"), None);
        assert_eq!(level_of(""), None);
        assert_eq!(level_of("info,"), Some(LevelFilter::INFO));
    }
}
