//! The real binary as a child process on port 0, with what it printed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Killed;

/// The server binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_private-conversations");

/// The binary listening on 127.0.0.1 (port 0), killed on drop.
pub struct Binary {
    child: Killed,
    pub base: String,
    pub http: reqwest::Client,
    stdout: Receiver<String>,
    said: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Binary {
    /// Starts the binary with `args` after `--host 127.0.0.1 --port 0`; panics with what it
    /// printed when it exits or does not listen within 60 s.
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_in(args, None)
    }

    /// As [`Binary::start`], in the working directory `dir` (default: the test's), without
    /// `DATABASE_URL` from the environment.
    pub fn start_in(args: &[&str], dir: Option<&std::path::Path>) -> Binary {
        Binary::start_program(std::path::Path::new(BIN), args, dir)
    }

    /// As [`Binary::start_in`], for another server binary built on the library.
    pub fn start_program(
        program: &std::path::Path,
        args: &[&str],
        dir: Option<&std::path::Path>,
    ) -> Binary {
        let mut command = Command::new(program);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = Killed(
            command
                .args(["--host", "127.0.0.1", "--port", "0"])
                .args(args)
                .env_remove("DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut err = child.0.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        let (tx, stdout) = std::sync::mpsc::channel();
        let out = child.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut said = Vec::new();
        loop {
            match stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let base = line.strip_prefix("listening on ").map(str::to_owned);
                    said.push(line);
                    if let Some(base) = base {
                        return Binary {
                            child,
                            base,
                            http: reqwest::Client::new(),
                            stdout,
                            said,
                            stderr: Some(stderr),
                        };
                    }
                }
                Err(_) => {
                    let _ = child.0.kill();
                    let status = child.0.wait().unwrap();
                    panic!(
                        "the server ({args:?}) did not start ({status}); stdout: {said:?}; \
                         stderr: {}",
                        stderr.join().unwrap()
                    );
                }
            }
        }
    }

    /// What it printed on stdout up to `listening on`.
    pub fn said(&self) -> &[String] {
        &self.said
    }

    /// SIGKILL, at once (no shutdown, no flush); what it printed on stdout and on stderr.
    pub fn kill(mut self) -> (Vec<String>, String) {
        self.child.0.kill().unwrap();
        self.child.0.wait().unwrap();
        self.said.extend(self.stdout.try_iter());
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (std::mem::take(&mut self.said), stderr)
    }

    /// Sends a request as the user of `token`: the status and the JSON body (`Null` if none).
    pub async fn send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, text) = self.send_text(token, method, path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// As [`Binary::send`], with the body as text.
    pub async fn send_text(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(60))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// A 2xx answer's body (panics on any other).
    pub async fn ok(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, body) = self.send(token, method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {body}"
        );
        body
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.send(token, reqwest::Method::GET, path, None).await
    }

    /// `POST` answered 2xx: its body.
    pub async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        self.ok(token, reqwest::Method::POST, path, Some(body))
            .await
    }
}

/// Runs the binary with `args` until it exits (within `limit`): its status, stdout and stderr.
pub fn run_to_exit(args: &[&str], limit: Duration) -> (ExitStatus, String, String) {
    let mut child = Killed(
        Command::new(BIN)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = child.0.stdout.take().unwrap();
    let mut err = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            panic!(
                "{args:?}: still running after {limit:?}; stdout: {}; stderr: {}",
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}
