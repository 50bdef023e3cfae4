//! Runnable applications built on `endpoint-runtime`; each lives in its own folder and runs
//! with `cargo run --example <name>`.
