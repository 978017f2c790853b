//! Database faults, on the real binary.
//!
//! - At start: PostgreSQL unreachable, a SQLite path that is a text file, a SQLite file locked by
//!   another connection: one line on stderr naming the database (password masked), a non-zero
//!   exit, no panic.
//! - While serving: PostgreSQL is reached through a TCP proxy in this test; cutting it (every
//!   connection dropped, new ones closed at once) makes the requests that need the database
//!   answer 503 `{"detail": …}`, and restoring it lets the server recover by itself. No password
//!   in any answer or log line.
//!
//! PostgreSQL: a database created on `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped after; skipped, saying why, when
//! PostgreSQL is unreachable, unless `CI` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::common;
use crate::support;

use common::TestDatabase;
use support::process::{Binary, run_to_exit};

const ALICE: &str = "user1-token";
/// A password written in the database URL: trust authentication never asks for it, so the
/// server connects, and it must show up nowhere.
const PASSWORD: &str = "hunter2-must-not-leak";

/// Asserts that a start on `database` failed as an operator should see it: non-zero exit, one
/// line on stderr saying `error: …` and containing `names`, no panic, no password.
fn fails_at_start(database: &str, names: &str) -> String {
    let started = Instant::now();
    let (status, stdout, stderr) = run_to_exit(&["--database", database], Duration::from_secs(60));
    assert!(!status.success(), "{database}: {status}; {stdout}");
    assert_eq!(status.code(), Some(1), "{database}: {status}; {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{database}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(names), "{stderr} does not name {names}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(PASSWORD), "a password printed: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
    assert!(
        !stdout.contains("listening on"),
        "served without a database: {stdout}"
    );
    println!("{database}: {:?}: {}", started.elapsed(), stderr.trim_end());
    stderr
}

/// Asserts that `server`, which stored one thread before a fault, writes again: a second thread
/// is created and the count is 2 (`nothing_else` says what that shows).
async fn writes_again(server: &Binary, nothing_else: &str) {
    let again = server
        .post(ALICE, "/threads", json!({"metadata": {"n": 2}}))
        .await;
    assert_eq!(again["metadata"]["n"], 2);
    let count = server.post(ALICE, "/threads/count", json!({})).await;
    assert_eq!(count, json!(2), "{nothing_else}");
}

#[test]
fn an_unreachable_postgres_is_one_line_with_the_password_masked() {
    // Nothing listens on port 1.
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:1/conversations");
    fails_at_start(&url, "postgres://app:***@127.0.0.1:1/conversations");
}

#[test]
fn an_unreachable_postgres_with_the_password_as_a_parameter_is_one_line_masked() {
    let url = format!("postgres://app@127.0.0.1:1/conversations?password={PASSWORD}");
    fails_at_start(&url, "127.0.0.1:1/conversations");
}

#[test]
fn an_invalid_database_url_is_one_line_masked() {
    fails_at_start(
        &format!("mysql://app:{PASSWORD}@db/conversations"),
        "mysql://app:***@db/conversations",
    );
    fails_at_start(
        &format!("postgres://app:{PASSWORD}@127.0.0.1:notaport/conversations"),
        "postgres://app:***@127.0.0.1:notaport/conversations",
    );
    fails_at_start("", "memory, sqlite:PATH or postgres://");
}

#[test]
fn a_sqlite_path_that_is_a_text_file_is_one_line() {
    let db = TestDatabase::sqlite();
    let path = db.url.strip_prefix("sqlite:").unwrap();
    std::fs::write(path, "these are notes, not a database\n".repeat(200)).unwrap();
    fails_at_start(&db.url, path);
    // Left as it was.
    assert!(
        std::fs::read_to_string(path)
            .unwrap()
            .starts_with("these are notes")
    );
}

#[test]
fn a_sqlite_directory_that_does_not_exist_is_one_line() {
    let db = TestDatabase::sqlite();
    let url = format!("{}/no/such/dir/conversations.db", db.url);
    fails_at_start(&url, "no/such/dir/conversations.db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_locked_by_another_process_is_one_line() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
    let db = TestDatabase::sqlite();
    let path = db.url.strip_prefix("sqlite:").unwrap().to_owned();
    // Another program's connection holds an exclusive lock: nobody else may read or write.
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete);
    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("CREATE TABLE theirs (x INTEGER)")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("INSERT INTO theirs VALUES (1)")
        .execute(&mut other)
        .await
        .unwrap();
    let url = db.url.clone();
    let stderr = tokio::task::spawn_blocking(move || fails_at_start(&url, &path))
        .await
        .unwrap();
    assert!(stderr.to_lowercase().contains("lock"), "{stderr}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones closed at once)
/// and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    links.lock().await.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Proxy {
            port,
            up,
            links,
            accept,
        }
    }

    /// The database is gone: open connections are dropped, new ones closed.
    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut links = self.links.lock().await;
        links.abort_all();
        while links.join_next().await.is_some() {}
    }

    /// The database is back.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// `host:port` of a PostgreSQL URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// Asserts an answer is 503 `{"detail": "…"}` without the password.
fn is_503(what: &str, status: u16, text: &str) {
    assert_eq!(status, 503, "{what}: {status} {text}");
    let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(body["detail"].is_string(), "{what}: {text}");
    assert!(!text.contains(PASSWORD), "{what}: a password in {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_while_serving_gives_503_then_recovers() {
    let Some(db) = TestDatabase::postgres_or_skip("db_faults").await else {
        return;
    };
    let proxy = Proxy::start(host_port(&db.url)).await;
    // The test database's URL, through the proxy, with a password trust authentication ignores.
    let rest = db.url.split_once("://").unwrap().1;
    let path = &rest[rest.find('/').unwrap()..];
    let user = rest[..rest.find('/').unwrap()]
        .rsplit_once('@')
        .map_or("postgres", |(u, _)| u.split(':').next().unwrap());
    let url = format!(
        "postgres://{user}:{PASSWORD}@127.0.0.1:{}{path}",
        proxy.port
    );
    let server = Binary::start(&["--database", &url, "--log-level", "info"]);

    let thread = server
        .post(ALICE, "/threads", json!({"metadata": {"n": 1}}))
        .await;
    let tid = thread["thread_id"].as_str().unwrap().to_owned();

    proxy.cut().await;
    let lost = Instant::now();
    let get = format!("/threads/{tid}");
    let store = json!({"namespace": ["user1"], "key": "k", "value": {"v": 1}});
    for (what, method, path, body) in [
        ("GET a thread", reqwest::Method::GET, get.as_str(), None),
        (
            "POST /threads",
            reqwest::Method::POST,
            "/threads",
            Some(json!({})),
        ),
        (
            "search",
            reqwest::Method::POST,
            "/threads/search",
            Some(json!({})),
        ),
        (
            "store put",
            reqwest::Method::PUT,
            "/store/items",
            Some(store),
        ),
    ] {
        let (status, text) = server.send_text(ALICE, method, path, body).await;
        is_503(what, status, &text);
    }
    println!("503s within {:?} of the cut", lost.elapsed());
    // A route that needs no database still answers.
    let (status, _) = server.get(ALICE, "/ok").await;
    assert_eq!(status, 200);

    proxy.restore();
    let back = Instant::now();
    loop {
        let (status, body) = server.get(ALICE, &get).await;
        if status == 200 {
            assert_eq!(body["metadata"]["n"], 1, "{body}");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "not recovered 30 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "recovered {:?} after the database came back",
        back.elapsed()
    );
    writes_again(&server, "nothing of the failed writes was stored").await;

    let (stdout, stderr) = server.kill();
    let logs = format!("{}\n{stderr}", stdout.join("\n"));
    assert!(!logs.contains(PASSWORD), "a password in the logs: {logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(
        stdout.iter().any(|l| l.contains(":***@127.0.0.1")),
        "the database in use, password masked: {stdout:?}"
    );
}

/// SQLite held by another process while serving: writes answer 503 `{"detail": …}` once the
/// busy wait is over, reads go on (WAL), and writes work again as soon as the other process lets
/// go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_while_serving_gives_503_on_writes_then_recovers() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    let db = TestDatabase::sqlite();
    let server = Binary::start(&["--database", &db.url, "--log-level", "info"]);
    let thread = server
        .post(ALICE, "/threads", json!({"metadata": {"n": 1}}))
        .await;
    let tid = thread["thread_id"].as_str().unwrap().to_owned();

    let path = db.url.strip_prefix("sqlite:").unwrap();
    let mut other = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let (status, text) = server
        .send_text(ALICE, reqwest::Method::POST, "/threads", Some(json!({})))
        .await;
    is_503("POST /threads while another process writes", status, &text);
    let (status, body) = server.get(ALICE, &format!("/threads/{tid}")).await;
    assert_eq!(status, 200, "reads go on: {body}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    writes_again(&server, "nothing of the refused write was stored").await;
    let (_, stderr) = server.kill();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
