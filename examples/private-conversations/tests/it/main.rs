//! The server's integration tests, in one test binary: one module per suite, so that the server
//! is linked once instead of once per file (`cargo test -p private-conversations --test it`).
//! Select suites by name: `cargo test -p private-conversations --test it -- cross_user::`.
//!
//! Three suites stay binaries of their own, one process each, because they need the whole
//! process: `tests/memory.rs` (a counting global allocator), `tests/metrics.rs` (the process's
//! metrics recorder, whose counts it asserts) and `tests/oidc.rs` (a process-wide OpenID Connect
//! verifier that replaces the fixed tokens the other suites use).
//!
//! What the suites share: [`common`] (a server per test on the backend `PC_TEST_BACKEND` names,
//! and a client) and [`support`] (the server in process on port 0, the real binary as a child).

mod common;
mod support;

mod binary;
mod chat_ui;
mod concurrency;
mod connections;
mod cors;
mod cross_user;
mod db_faults;
mod default_assistants;
mod durability;
mod fair_share;
mod faults;
mod fuzz_inputs;
mod hostile_input;
mod isolation;
mod langgraph_js;
mod openapi;
mod outside_crate;
mod queue;
mod replicas;
mod route_events;
mod security_review;
mod spoofing;
mod store_namespaces;
mod tutorial;
mod update_trap;
