//! The functions' log subscriber: what `lambda_runtime`'s
//! `init_default_subscriber` sets up (stdout, no timestamps or targets,
//! JSON under Lambda's advanced logging controls), with `Targets` as the
//! filter instead of `EnvFilter`. `EnvFilter` compiles `RUST_LOG`
//! directives with `regex`, which every function binary then carries
//! (~0.14 MB of regex-automata and regex-syntax, bench/NOTES.md) and which
//! init pays for; `Targets` reads the same `level` and `target=level`
//! directives without it (no span or field filters, which nothing here
//! used), so `RUST_LOG=info,liaison=debug` still leaves the SDK at INFO.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Lambda's advanced logging controls: the level (takes precedence over
/// `RUST_LOG`) and the format (`JSON` or `Text`).
const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
const LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
const RUST_LOG: &str = "RUST_LOG";

/// The filter a `RUST_LOG`-style value asks for: a level (`debug`, `WARN`)
/// or directives (`info,liaison=debug`). `None` when the value is empty
/// (tracing reads "" as "nothing") or not directives.
pub fn filter_of(value: &str) -> Option<Targets> {
    if value.trim().is_empty() {
        return None;
    }
    Targets::from_str(value).ok()
}

/// Installs the subscriber: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
/// INFO; JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`.
pub fn init() {
    let filter = [LAMBDA_LOG_LEVEL, RUST_LOG]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().and_then(|v| filter_of(&v)))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let json = std::env::var(LAMBDA_LOG_FORMAT).is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(layer.json()).init()
    } else {
        registry.with(layer).init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tracing::Level;

    #[test]
    fn levels_and_directives() {
        let enabled = |value: &str, target: &str, level: Level| {
            filter_of(value).map(|f| f.would_enable(target, &level))
        };
        assert_eq!(
            enabled("debug", "aws_smithy_runtime", Level::DEBUG),
            Some(true)
        );
        assert_eq!(enabled("WARN", "liaison", Level::INFO), Some(false));
        assert_eq!(enabled("off", "liaison", Level::ERROR), Some(false));
        // A target's level applies to that target alone.
        assert_eq!(
            enabled("info,liaison=trace", "liaison::store", Level::TRACE),
            Some(true)
        );
        assert_eq!(
            enabled("info,liaison=trace", "aws_smithy_runtime", Level::DEBUG),
            Some(false)
        );
        assert_eq!(
            enabled("info,liaison=trace", "aws_smithy_runtime", Level::INFO),
            Some(true)
        );
        assert_eq!(enabled("", "liaison", Level::INFO), None);
        assert_eq!(enabled("  ", "liaison", Level::INFO), None);
    }
}
