//! The binary as an operator runs it: its command line and its shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support;

const BIN: &str = env!("CARGO_BIN_EXE_private-conversations");

/// The binary, started on port 0; killed if the test ends early.
struct Running {
    child: support::Killed,
    base: String,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
        let child = support::Killed(
            Command::new(BIN)
                .args(["--host", "127.0.0.1", "--port", "0"])
                .args(args)
                // Not the default SQLite file in the working directory: these tests are about
                // the command line and shutdown (tests/durability.rs runs it on databases).
                .env("DATABASE_URL", "memory")
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        // Killed and reaped on drop, also when the test fails below.
        let mut running = Running {
            child,
            base: String::new(),
            stdout: rx,
            stderr: None,
        };
        let mut err = running.child.0.stderr.take().unwrap();
        running.stderr = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            text
        }));
        let out = running.child.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = running
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server printed `listening on`");
            if let Some(base) = line.strip_prefix("listening on ") {
                running.base = base.to_owned();
                return running;
            }
        }
    }

    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Running {
    /// Sends SIGTERM.
    fn terminate(&self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
    }

    /// SIGTERM, then everything the server wrote on stderr.
    fn stop(mut self) -> String {
        self.terminate();
        let status = self.wait(Duration::from_secs(15));
        assert_eq!(status.code(), Some(0));
        self.stderr.take().unwrap().join().unwrap()
    }
}

#[tokio::test]
async fn sigterm_finishes_a_streaming_run_then_exits_0() {
    let mut server = Running::start(&["--shutdown-grace", "20"]);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let tid = support::new_thread(&http, &base, "user1-token").await;
    // The run starts 1.5 s after it is created: its stream is in flight when SIGTERM comes.
    let stream = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/threads/{tid}/runs/stream");
        async move {
            let response = http
                .post(url)
                .bearer_auth("user1-token")
                .json(&json!({
                    "assistant_id": "agent",
                    "input": {"messages": [{"role": "user", "content": "still there?"}]},
                    "stream_mode": ["values"],
                    "after_seconds": 1.5,
                }))
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stream.is_finished(), "the stream is still in flight");
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No longer accepting…
    let late = http.get(format!("{base}/ok")).send().await;
    assert!(
        late.is_err(),
        "a new connection after SIGTERM was served: {late:?}"
    );
    // …but the stream in flight gets its whole answer.
    let (status, body) = stream.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("event: values"), "{body}");
    assert!(body.contains("still there?"), "{body}");
    let exit = tokio::task::spawn_blocking(move || {
        let status = server.wait(Duration::from_secs(15));
        let said: Vec<String> = server.stdout.try_iter().collect();
        (status, said)
    })
    .await
    .unwrap();
    assert_eq!(exit.0.code(), Some(0), "{:?}", exit.1);
    assert!(
        exit.1.iter().any(|l| l.starts_with("shutting down")),
        "{:?}",
        exit.1
    );
}

#[test]
fn an_invalid_flag_or_variable_is_one_line_and_exit_2() {
    // (flags, environment, what the line names)
    type Case = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 7] = [
        (&["--port", "http"], &[], "--port"),
        (
            &["--policy", "foo"],
            &[],
            "[possible values: global, scoped, namespaced]",
        ),
        (
            &[],
            &[("LOG_FORMAT", "xml")],
            "[possible values: text, json]",
        ),
        (&[], &[("PORT", "-1")], "--port"),
        (&["--log-format", "xml"], &[], "--log-format"),
        (&["--bogus"], &[], "--bogus"),
        (
            &[
                "--cors-allow-origins",
                "*",
                "--cors-allow-credentials",
                "true",
            ],
            &[],
            "credentials",
        ),
    ];
    for (args, env, names) in cases {
        let out = Command::new(BIN)
            .env("DATABASE_URL", "memory")
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?} {env:?}: {stderr}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.contains(names),
            "{stderr}"
        );
    }
}

#[test]
fn help_lists_every_flag_with_its_default_and_variable() {
    // A password in the environment is not shown by `--help`.
    let out = Command::new(BIN)
        .arg("--help")
        .env("DATABASE_URL", "postgres://app:hunter2@db.internal/conv")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("hunter2"), "{help}");
    assert!(
        help.contains("[default: sqlite:private-conversations.db]"),
        "{help}"
    );
    for (flag, var) in [
        ("--host", "HOST"),
        ("--port", "PORT"),
        ("--policy", "POLICY"),
        ("--database", "DATABASE_URL"),
        ("--auth", "AUTH"),
        ("--log-level", "LOG_LEVEL"),
        ("--log-format", "LOG_FORMAT"),
        ("--metrics", "METRICS"),
        ("--cors-allow-origins", "CORS_ALLOW_ORIGINS"),
        ("--cors-allow-credentials", "CORS_ALLOW_CREDENTIALS"),
        ("--shutdown-grace", "SHUTDOWN_GRACE"),
        ("--oidc-key-refresh-secs", "OIDC_KEY_REFRESH_SECS"),
    ] {
        let at = help
            .find(&format!("{flag} <"))
            .unwrap_or_else(|| panic!("{flag}"));
        let section = &help[at..];
        let end = section[2..]
            .find("\n      --")
            .map_or(section.len(), |e| e + 2);
        let section = &section[..end];
        assert!(section.contains(&format!("[env: {var}")), "{section}");
        assert!(section.contains("[default: "), "{section}");
    }
}

/// Requests as a user, a stranger and a thief; the log lines they leave.
async fn logged(env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let server = Running::start_with_env(&[], env);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let tid = support::new_thread(&http, &base, "user1-token").await;
    let r = http
        .get(format!("{base}/threads/{tid}"))
        .bearer_auth("user1-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/threads/{tid}"))
        .bearer_auth("secret-stolen-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/threads/{tid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let stderr = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    assert!(
        !stderr.contains("user1-token"),
        "a token in the log: {stderr}"
    );
    assert!(
        !stderr.contains("secret-stolen-token"),
        "a token in the log: {stderr}"
    );
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect()
}

#[tokio::test]
async fn json_logs_have_an_access_line_per_request_and_401_reasons() {
    // Set through the environment, as a deployment would.
    let lines = logged(&[("LOG_FORMAT", "json")]).await;
    let access: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["target"] == "access").collect();
    assert_eq!(access.len(), 4, "{lines:#?}");
    let read = access
        .iter()
        .find(|l| l["fields"]["status"] == 200 && l["fields"]["method"] == "GET")
        .unwrap_or_else(|| panic!("{access:#?}"));
    assert_eq!(read["level"], "INFO");
    assert_eq!(
        read["fields"]["route"], "/threads/{thread_id}",
        "the template, not the id"
    );
    assert_eq!(read["fields"]["user"], "user1");
    assert!(read["fields"]["latency_us"].is_u64());
    let reasons: Vec<&str> = access
        .iter()
        .filter(|l| l["fields"]["status"] == 401)
        .map(|l| l["fields"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Invalid token", "Missing authorization header"]);
    assert!(
        !lines
            .iter()
            .any(|l| l["fields"]["message"] == "authorization"),
        "the authorization line is at debug: {lines:#?}"
    );

    let lines = logged(&[("LOG_FORMAT", "json"), ("LOG_LEVEL", "debug")]).await;
    let decision = lines
        .iter()
        .find(|l| l["fields"]["message"] == "authorization")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(decision["level"], "DEBUG");
    assert_eq!(decision["fields"]["user"], "user1");
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// Waits until `GET /ok` on `port` answers 200.
async fn until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = reqwest::get(format!("http://127.0.0.1:{port}/ok")).await;
        if up.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_host_name_is_looked_up() {
    let port = free_port();
    let mut server = Running {
        child: support::Killed(
            Command::new(BIN)
                .args(["--host", "localhost", "--port", &port.to_string()])
                .env("DATABASE_URL", "memory")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ),
        base: format!("http://127.0.0.1:{port}"),
        stdout: std::sync::mpsc::channel().1,
        stderr: None,
    };
    until_up(port).await;
    server.terminate();
    let status = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn a_closed_stdout_is_not_a_crash() {
    // `private-conversations | head -1`: stdout is closed after the first line, before the
    // report and `listening on` are printed.
    let port = free_port();
    let mut child = support::Killed(
        Command::new(BIN)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("DATABASE_URL", "memory")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("database: "), "{first}");
    drop(out);
    until_up(port).await;
    let mut server = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
        stdout: std::sync::mpsc::channel().1,
        stderr: None,
    };
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        server.terminate();
        let status = server.wait(Duration::from_secs(30));
        let mut text = String::new();
        let _ =
            std::io::Read::read_to_string(&mut server.child.0.stderr.take().unwrap(), &mut text);
        (status, text)
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The warnings of the start-up, as JSON log lines (`level` `WARN`), each with its message.
fn warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["level"] == "WARN")
        .map(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// On a loopback address `/metrics` is public by default (`--metrics auto`), which a reverse
/// proxy on the same host makes public to all: the start-up says so (a warning), and not when
/// metrics are authenticated or off. A SQLite file the server creates is its owner's only (and
/// so are its `-wal` and `-shm`); one it finds readable by others is warned about.
#[cfg(unix)]
#[tokio::test]
async fn start_up_warns_of_public_metrics_and_a_readable_database() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &str| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = std::env::temp_dir().join(format!("pc-start-up-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let found = dir.join("found.db").display().to_string();
    std::fs::write(&found, b"").unwrap();
    std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o644)).unwrap();
    let database = format!("sqlite:{found}");
    let server = Running::start_with_env(&["--database", &database], &[("LOG_FORMAT", "json")]);
    let stderr = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    let warned = warnings(&stderr);
    assert_eq!(warned.len(), 2, "{stderr}");
    assert!(
        warned
            .iter()
            .any(|w| w.contains("/metrics") && w.contains("reverse proxy")),
        "{warned:?}"
    );
    assert!(
        warned
            .iter()
            .any(|w| w.contains(&found) && w.contains("644")),
        "{warned:?}"
    );

    let created = dir.join("created.db").display().to_string();
    let database = format!("sqlite:{created}");
    for metrics in ["authenticated", "off"] {
        let server = Running::start_with_env(
            &["--database", &database, "--metrics", metrics],
            &[("LOG_FORMAT", "json")],
        );
        let http = reqwest::Client::new();
        support::new_thread(&http, &server.base, "user1-token").await;
        for file in [
            created.clone(),
            format!("{created}-wal"),
            format!("{created}-shm"),
        ] {
            assert_eq!(mode(&file), 0o600, "{file}");
        }
        let stderr = tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
        assert!(
            warnings(&stderr).is_empty(),
            "--metrics {metrics}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
