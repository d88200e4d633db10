//! Tests live in `it/` (one test binary, `cargo test -p liaison-tests`).
