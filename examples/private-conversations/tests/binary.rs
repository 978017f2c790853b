//! The binary as an operator runs it: its command line and its shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_private-conversations");

/// The binary, started on port 0; killed if the test ends early.
struct Running {
    child: std::process::Child,
    base: String,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let child = Command::new(BIN)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Killed and reaped on drop, also when the test fails below.
        let mut running = Running {
            child,
            base: String::new(),
            stdout: rx,
        };
        let out = running.child.stdout.take().unwrap();
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
            if let Some(status) = self.child.try_wait().unwrap() {
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

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sigterm_finishes_a_streaming_run_then_exits_0() {
    let mut server = Running::start(&["--shutdown-grace", "20"]);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let thread: serde_json::Value = http
        .post(format!("{base}/threads"))
        .bearer_auth("user1-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tid = thread["thread_id"].as_str().unwrap().to_owned();
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
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
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
    let cases: [Case; 5] = [
        (&["--port", "http"], &[], "--port"),
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
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, var) in [
        ("--host", "HOST"),
        ("--port", "PORT"),
        ("--policy", "POLICY"),
        ("--auth", "AUTH"),
        ("--log-level", "LOG_LEVEL"),
        ("--log-format", "LOG_FORMAT"),
        ("--metrics", "METRICS"),
        ("--cors-allow-origins", "CORS_ALLOW_ORIGINS"),
        ("--cors-allow-credentials", "CORS_ALLOW_CREDENTIALS"),
        ("--shutdown-grace", "SHUTDOWN_GRACE"),
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
