//! "Serve my policy" from a crate outside the workspace: a test writes a crate that depends on
//! the server library, defines its own handlers and serves them with `Auth::from_registry()`.
//! Linking the server library must not bring the tutorial's handlers along (that was "two
//! authenticate handlers").
//!
//! The crate is built once per run with its own target directory under `CARGO_TARGET_TMPDIR`
//! (kept between runs, so later builds are incremental), offline, with the workspace's lock file.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::support;

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
agent-server = {{ path = {server:?} }}
auth = {{ package = "auth-core", path = {core:?} }}
tokio = {{ version = "1", default-features = false, features = ["rt-multi-thread", "macros"] }}
clap = {{ version = "4", default-features = false, features = ["std", "derive", "env", "help", "usage", "error-context"] }}
async-trait = "0.1"
futures-util = {{ version = "0.3", default-features = false }}
serde_json = "1"

[workspace]
"#,
        server = root.join("agent-server").display().to_string(),
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

    let program = dir.join("target/debug/my-policy-server");

    // `--help` lists every flag of the server's configuration, with its variable.
    let help = Command::new(&program).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for (flag, var) in [
        ("--host", "HOST"),
        ("--port", "PORT"),
        ("--auth", "AUTH"),
        ("--database", "DATABASE_URL"),
        ("--seed-threads", "SEED_THREADS"),
        ("--seed-users", "SEED_USERS"),
        ("--log-level", "LOG_LEVEL"),
        ("--log-format", "LOG_FORMAT"),
        ("--metrics", "METRICS"),
        ("--cors-allow-origins", "CORS_ALLOW_ORIGINS"),
        ("--cors-allow-methods", "CORS_ALLOW_METHODS"),
        ("--cors-allow-headers", "CORS_ALLOW_HEADERS"),
        ("--cors-allow-credentials", "CORS_ALLOW_CREDENTIALS"),
        ("--cors-expose-headers", "CORS_EXPOSE_HEADERS"),
        ("--cors-max-age", "CORS_MAX_AGE"),
        ("--handler-timeout-ms", "HANDLER_TIMEOUT_MS"),
        ("--body-limit", "BODY_LIMIT"),
        ("--shutdown-grace", "SHUTDOWN_GRACE"),
        ("--oidc-issuer", "OIDC_ISSUER"),
        ("--oidc-audience", "OIDC_AUDIENCE"),
    ] {
        assert!(
            help.contains(&format!("{flag} <")),
            "{flag} missing: {help}"
        );
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing: {help}"
        );
    }
    assert!(
        help.contains("[default: sqlite:my-policy-server.db]"),
        "the database is named for the binary: {help}"
    );

    // On a SQLite file, with its own handlers and graph; then restarted on the same file.
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let database = format!("--database=sqlite:{}", data.join("mine.db").display());
    let server = support::process::Binary::start_program(&program, &[&database], None);
    let said = server.said().to_vec();
    let handlers: Vec<&String> = said.iter().filter(|l| l.contains("handler ")).collect();
    assert_eq!(
        handlers.len(),
        2,
        "exactly the crate's own handlers: {said:?}"
    );
    assert!(
        handlers
            .iter()
            .all(|l| l.contains("who") || l.contains("stamp")),
        "{said:?}"
    );

    // The tutorial's tokens mean nothing here: its handlers are not linked.
    let (status, body) = server
        .send(
            "user1-token",
            reqwest::Method::POST,
            "/threads",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["detail"], "only carol");
    // The crate's own handlers run: carol is authenticated and stamped on her thread.
    let (status, thread) = server
        .send(
            "carol-token",
            reqwest::Method::POST,
            "/threads",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{thread}");
    assert_eq!(thread["metadata"]["made_by"], "carol");
    let id = thread["thread_id"].as_str().unwrap().to_owned();
    // Its own graph runs.
    let (status, out) = server
        .send(
            "carol-token",
            reqwest::Method::POST,
            &format!("/threads/{id}/runs/wait"),
            Some(json!({"assistant_id": "shout", "input": {"text": "hello"}})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["shouted"], "HELLO");
    server.kill();

    let again = support::process::Binary::start_program(&program, &[&database], None);
    let (status, kept) = again
        .send(
            "carol-token",
            reqwest::Method::GET,
            &format!("/threads/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "the thread survives the restart: {kept}");
    assert_eq!(kept["metadata"]["made_by"], "carol");
    assert_eq!(kept["values"]["shouted"], "HELLO");
    again.kill();
}
