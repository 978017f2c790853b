//! Fair share (issue 25, "Budget work, not bytes"): no user's search can spend the capacity
//! every other user depends on. On the backend `PC_TEST_BACKEND` names:
//!
//! - a search whose containment values are over the complexity budget (20,000 keys, a long
//!   array, many words) is 422 naming the bound, on every search route;
//! - the quadratic search of the review (a thread whose metadata holds a long array, searched
//!   for that array reversed) is refused, or, sized at the budget, answered or refused within
//!   the storage deadline;
//! - meanwhile another user's reads and writes are answered, never 503: one user's parallel
//!   searches take a bounded share of the database's connections;
//! - a client that goes away stops its search (on PostgreSQL its statement leaves
//!   `pg_stat_activity`);
//! - a slow statement is one log line with the route and the duration, never the statement.

use std::time::{Duration, Instant};

use agent_server::{Limits, SearchBudget};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tutorial_policy::Policy;

use crate::common::{Server, TestDatabase};
use crate::support;

/// A server of the scoped policy with a storage deadline of `deadline`.
async fn server_with(deadline: Duration) -> Server {
    let limits = Limits {
        storage_timeout: deadline,
        ..Limits::default()
    };
    Server::start_with(Policy::Scoped.build().unwrap(), limits).await
}

/// `POST` of `body` to `path` as the user of `token`, with a client timeout of `limit`: the
/// status and body, or `None` when the client gave up (and closed its connection).
async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &Value,
    limit: Duration,
) -> Option<(StatusCode, Value)> {
    let sent = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .timeout(limit)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return None,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = response.status();
    match response.json().await {
        Ok(body) => Some((status, body)),
        Err(e) if e.is_timeout() => None,
        Err(_) => Some((status, Value::Null)),
    }
}

/// The integers `0..n`, the array the review stored (about 7 bytes each as JSON).
fn numbers(n: i64) -> Vec<i64> {
    (0..n).collect()
}

/// A search of 20,000 keys is 422 naming `--search-max-keys` on every route that searches by
/// containment (thread search and count by metadata and by values, assistants, crons, store,
/// history), as is an array over the budget, and a store query of too many words; a search
/// within the budget is answered. Configured bounds hold too. (Before: answered after the whole
/// containment test, or 503 where the database's driver ran out of bound values.)
#[tokio::test]
async fn wide_searches_are_422_naming_the_bound() {
    for policy in [Policy::Scoped, Policy::Global] {
        let server = Server::start(policy).await;
        let alice = server.alice();
        let t = alice.post("/threads", json!({"metadata": {"k1": 1}})).await;
        let t = t.ok()["thread_id"].as_str().unwrap().to_owned();
        let wide: serde_json::Map<String, Value> =
            (0..20_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let wide = Value::Object(wide);
        let long = json!({"tags": numbers(1000)});
        let history = format!("/threads/{t}/history");
        for (what, value, bound) in [
            ("20,000 keys", &wide, "--search-max-keys"),
            ("1,000 elements", &long, "--search-max-elements"),
        ] {
            for (path, body) in [
                ("/threads/search", json!({ "metadata": value })),
                ("/threads/count", json!({ "metadata": value })),
                ("/threads/search", json!({ "values": value })),
                ("/assistants/search", json!({ "metadata": value })),
                ("/assistants/count", json!({ "metadata": value })),
                ("/runs/crons/search", json!({ "metadata": value })),
                ("/runs/crons/count", json!({ "metadata": value })),
                (
                    "/store/items/search",
                    json!({"namespace_prefix": ["user1"], "filter": value}),
                ),
                (history.as_str(), json!({ "metadata": value })),
            ] {
                if policy == Policy::Scoped && path.starts_with("/assistants") {
                    // The scoped policy refuses assistants to users before any search.
                    continue;
                }
                let r = alice.post(path, body).await;
                assert_eq!(r.status, 422, "{policy:?} {path} {what}: {}", r.text);
                assert!(
                    r.detail().contains(bound),
                    "{policy:?} {path} {what}: {}",
                    r.text
                );
            }
        }
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let r = alice
            .post(
                "/store/items/search",
                json!({"namespace_prefix": ["user1"], "query": words.join(" ")}),
            )
            .await;
        assert_eq!(r.status, 422, "{policy:?}: {}", r.text);
        assert!(r.detail().contains("1000 words"), "{}", r.text);
        // Within the budget: answered.
        let r = alice
            .post("/threads/search", json!({"metadata": {"k1": 1}}))
            .await;
        assert_eq!(r.ok().as_array().unwrap().len(), 1, "{policy:?}");
    }
    // Bounds of one's own. They hold what reaches storage: the policy's `owner` counts too.
    let limits = Limits {
        search: SearchBudget {
            max_keys: 3,
            ..SearchBudget::default()
        },
        ..Limits::default()
    };
    let server = Server::start_with(Policy::Scoped.build().unwrap(), limits).await;
    let alice = server.alice();
    let r = alice
        .post("/threads/search", json!({"metadata": {"a": 1, "b": 2}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = alice
        .post(
            "/threads/search",
            json!({"metadata": {"a": 1, "b": 2, "c": 3}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.detail().contains("4 keys, more than 3"), "{}", r.text);
}

/// The review's quadratic search: a thread whose metadata holds a long array (about 1.4 MB,
/// within the body limit), searched for the whole array reversed, is refused at once; searched
/// for as much of it as the budget allows (the last 64 elements, reversed: each found only at
/// the end of the stored array), it is answered or refused within the storage deadline. (Before:
/// minutes of a database's CPU for one request.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quadratic_search_is_refused_or_answered_within_the_deadline() {
    let deadline = Duration::from_secs(2);
    let server = server_with(deadline).await;
    let http = reqwest::Client::new();
    let stored = numbers(200_000);
    let r = server
        .alice()
        .post("/threads", json!({"metadata": {"tags": stored}}))
        .await;
    r.ok();
    let mut reversed = stored.clone();
    reversed.reverse();
    let started = Instant::now();
    let whole = json!({"metadata": {"tags": reversed}});
    let answer = post(
        &http,
        &server.base,
        "user1-token",
        "/threads/search",
        &whole,
        Duration::from_secs(60),
    )
    .await;
    let (status, body) = answer.expect("an answer within a minute");
    assert_eq!(status, 422, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let at_the_budget = json!({"metadata": {"tags": &reversed[..64]}});
    for path in ["/threads/search", "/threads/count"] {
        let started = Instant::now();
        let answer = post(
            &http,
            &server.base,
            "user1-token",
            path,
            &at_the_budget,
            Duration::from_secs(60),
        )
        .await;
        let took = started.elapsed();
        let (status, body) = answer.expect("an answer within a minute");
        // Answered (the thread found) or too expensive: either within the deadline (and a
        // generous margin for the request around it).
        match status.as_u16() {
            200 => assert!(
                body.as_array().map_or(body == 1, |a| a.len() == 1),
                "{path}: {body}"
            ),
            422 => assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("storage deadline of 2000 ms"),
                "{path}: {body}"
            ),
            other => panic!("{path}: {other} {body}"),
        }
        assert!(took < deadline + Duration::from_secs(3), "{path}: {took:?}");
    }
}

/// While Alice sends 16 expensive searches at once (more than the database has connections for
/// searches), Bob's reads by id and his new threads are answered, never 503, each within a
/// second; Alice's searches are each answered within two deadlines (one waiting for a turn, one
/// running): found, too expensive (422), or asked to wait (429, 503 with `Retry-After`).
/// (Before: on PostgreSQL her searches held every connection and Bob got 503 after 10 s; in
/// memory they held the collection's lock and the async workers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_requests_are_answered_while_one_user_searches_in_parallel() {
    let deadline = Duration::from_secs(2);
    let server = server_with(deadline).await;
    let http = reqwest::Client::new();
    let stored = numbers(150_000);
    for _ in 0..4 {
        server
            .alice()
            .post("/threads", json!({"metadata": {"tags": stored}}))
            .await
            .ok();
    }
    let bobs = server
        .bob()
        .post("/threads", json!({"metadata": {"n": 1}}))
        .await;
    let bobs = bobs.ok()["thread_id"].as_str().unwrap().to_owned();
    let mut reversed = stored.clone();
    reversed.reverse();
    let search = json!({"metadata": {"tags": &reversed[..64]}});
    let alice = async {
        let searches = (0..16).map(|_| async {
            let started = Instant::now();
            let answer = post(
                &http,
                &server.base,
                "user1-token",
                "/threads/search",
                &search,
                Duration::from_secs(60),
            )
            .await;
            (answer, started.elapsed())
        });
        join_all(searches).await
    };
    let bob = async {
        // Alice's searches are under way.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut worst = Duration::ZERO;
        for i in 0..10 {
            let started = Instant::now();
            let r = server.bob().get(&format!("/threads/{bobs}")).await;
            assert_eq!(r.status, 200, "Bob's read {i}: {}", r.text);
            let r = server
                .bob()
                .post("/threads", json!({"metadata": {"i": i}}))
                .await;
            assert_eq!(r.status, 200, "Bob's write {i}: {}", r.text);
            worst = worst.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        worst
    };
    let (alices, bobs_worst) = tokio::join!(alice, bob);
    assert!(
        bobs_worst < Duration::from_secs(1),
        "Bob waited {bobs_worst:?}"
    );
    for (answer, took) in alices {
        let (status, body) = answer.expect("an answer within a minute");
        assert!(
            [200, 422, 429, 503].contains(&status.as_u16()),
            "{status} {body}"
        );
        assert!(
            took < 2 * deadline + Duration::from_secs(3),
            "{took:?}: {status} {body}"
        );
    }
}

/// A client that goes away stops its search: on PostgreSQL its statement is cancelled (gone
/// from `pg_stat_activity` within two seconds, where it would run on for its whole deadline);
/// on every backend the user's turn is free again at once (with one search per user, her next
/// search is answered, not made to wait for the abandoned one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_clients_search_is_cancelled() {
    let limits = Limits {
        storage_timeout: Duration::from_secs(60),
        searches_per_user: 1,
        ..Limits::default()
    };
    let server = Server::start_with(Policy::Scoped.build().unwrap(), limits).await;
    let http = reqwest::Client::new();
    let stored = numbers(150_000);
    for _ in 0..8 {
        server
            .alice()
            .post("/threads", json!({"metadata": {"tags": stored}}))
            .await
            .ok();
    }
    let mut reversed = stored.clone();
    reversed.reverse();
    let search = json!({"metadata": {"tags": &reversed[..64]}});
    let gone = post(
        &http,
        &server.base,
        "user1-token",
        "/threads/search",
        &search,
        Duration::from_millis(700),
    )
    .await;
    assert!(gone.is_none(), "the search was answered at once: {gone:?}");
    let left = Instant::now();
    if let Some(db) = server.postgres_database() {
        let mut still = true;
        while still && left.elapsed() < Duration::from_secs(2) {
            still = active_statements(&db).await > 0;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !still,
            "the statement still runs {:?} after its client left",
            left.elapsed()
        );
    }
    let started = Instant::now();
    let next = post(
        &http,
        &server.base,
        "user1-token",
        "/threads/count",
        &json!({"metadata": {"tags": [1]}}),
        Duration::from_secs(30),
    )
    .await;
    let (status, body) = next.expect("an answer");
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Statements running on the PostgreSQL database `name` (from another session).
async fn active_statements(name: &str) -> i64 {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&test_support::database::admin_url())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' \
         AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    n
}

/// With `--log-slow-storage-ms 0` every storage call is "slow": each is one `warn` line of
/// target `storage` with the route and the duration, and no line holds the statement's text
/// (sqlx's own statement logs, which hold it, are off). (Before: sqlx logged each slow statement
/// with its whole text at `warn`, 1.3 MB for a 29 KB search.)
#[tokio::test]
async fn slow_statements_are_one_line_with_the_route_never_the_statement() {
    let db = TestDatabase::from_env().await;
    let database = format!("--database={}", db.url);
    let server = support::process::Binary::start(&[
        &database,
        "--log-format",
        "json",
        "--log-slow-storage-ms",
        "0",
    ]);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/threads/search", server.base))
        .bearer_auth("user1-token")
        .json(&json!({"metadata": {"marker": "needle-in-the-log"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, stderr) = server.kill();
    let lines: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let slow: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "storage" && l["fields"]["route"] == "/threads/search")
        .collect();
    assert!(!slow.is_empty(), "{stderr}");
    for line in &slow {
        assert_eq!(line["level"], "WARN", "{line}");
        assert!(line["fields"]["duration_ms"].is_u64(), "{line}");
    }
    for needle in [
        "SELECT",
        "select ",
        "needle-in-the-log",
        "jsonb",
        "json_each",
    ] {
        assert!(!stderr.contains(needle), "{needle:?} in the log: {stderr}");
    }
}
