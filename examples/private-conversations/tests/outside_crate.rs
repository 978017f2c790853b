//! "Serve my policy" from a crate outside the workspace: a test writes a crate that depends on
//! the server library, defines its own handlers and serves them with `Auth::from_registry()`.
//! Linking the server library must not bring the tutorial's handlers along (that was "two
//! authenticate handlers").
//!
//! The crate is built once per run with its own target directory under `CARGO_TARGET_TMPDIR`
//! (kept between runs, so later builds are incremental), offline, with the workspace's lock file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

mod support;

#[tokio::test]
async fn an_outside_crate_serves_exactly_its_own_handlers() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..").canonicalize().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside-crate");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        r#"[package]
name = "my-policy-server"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
private-conversations = {{ path = {server:?} }}
auth = {{ package = "auth-core", path = {core:?} }}
tokio = {{ version = "1", default-features = false, features = ["rt-multi-thread", "macros", "net"] }}

[workspace]
"#,
        server = here.display().to_string(),
        core = root.join("auth-core").display().to_string(),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        std::fs::read_to_string(here.join("tests/fixtures/my_policy_server.rs")).unwrap(),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()
        .unwrap();
    assert!(build.success(), "building the outside crate failed");

    let mut child = support::Killed(
        Command::new(dir.join("target/debug/my-policy-server"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let handlers = lines.next().unwrap().unwrap();
    assert_eq!(
        handlers, "handlers: who,stamp",
        "exactly the crate's own handlers"
    );
    let listening = lines.next().unwrap().unwrap();
    let base = listening
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected line {listening:?}"))
        .to_owned();

    let http = reqwest::Client::new();
    let create = |token: &'static str| {
        http.post(format!("{base}/threads"))
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"metadata": {}}))
            .send()
    };
    // The tutorial's tokens mean nothing here: its handlers are not linked.
    let refused = create("user1-token").await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["detail"], "only carol");
    // The crate's own handlers run: carol is authenticated and stamped on her thread.
    let made = create("carol-token").await.unwrap();
    assert_eq!(made.status(), 200);
    let thread: serde_json::Value = made.json().await.unwrap();
    assert_eq!(thread["metadata"]["made_by"], "carol");
}
