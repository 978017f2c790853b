//! Several replicas on one PostgreSQL database: two server processes serve the same users, what
//! one creates the other shows (to its owner only), a delayed run created on one is joined on the
//! other, and concurrent creates and updates spread over both lose nothing and duplicate nothing.
//!
//! PostgreSQL at `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); each
//! run makes its own database and drops it. Without PostgreSQL the test says so and passes,
//! unless `CI` is set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::TestDatabase;

use crate::support;

const BIN: &str = env!("CARGO_BIN_EXE_private-conversations");
const ALICE: &str = "user1-token";
const BOB: &str = "user2-token";

/// One replica: the binary on port 0 with the tutorial's scoped policy.
struct Replica {
    _child: support::Killed,
    base: String,
}

impl Replica {
    fn start(database: &str) -> Replica {
        let mut child = support::Killed(
            Command::new(BIN)
                .args(["--host", "127.0.0.1", "--port", "0", "--log-level", "warn"])
                .args(["--database", database])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let out = child.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the replica printed `listening on`");
            if let Some(base) = line.strip_prefix("listening on ") {
                return Replica {
                    _child: child,
                    base: base.to_owned(),
                };
            }
        }
    }
}

/// `method path` on `base` as `token`: status and JSON body.
async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let (status, body) = call(http, base, token, reqwest::Method::POST, path, Some(body)).await;
    assert_eq!(status, 200, "POST {path} on {base}: {body}");
    body
}

fn ids(found: &Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[key].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_serve_the_same_private_conversations() {
    // Dropped last, after the replicas (FORCE ends any session left).
    let Some(db) = TestDatabase::postgres_or_skip("replicas").await else {
        return;
    };
    let (a, b) = (Replica::start(&db.url), Replica::start(&db.url));
    let http = reqwest::Client::new();
    let hi = json!({"messages": [{"role": "user", "content": "hi from A"}]});

    // The tutorial's steps, alternating: created on A, run and read on B.
    let thread = post(&http, &a.base, ALICE, "/threads", json!({})).await;
    let alice_thread = thread["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(thread["metadata"]["owner"], "user1");
    let out = post(
        &http,
        &b.base,
        ALICE,
        &format!("/threads/{alice_thread}/runs/wait"),
        json!({"assistant_id": "agent", "input": hi}),
    )
    .await;
    assert_eq!(out["messages"][1]["content"], "hi from A");
    for replica in [&a, &b] {
        let path = format!("/threads/{alice_thread}");
        let (status, _) = call(&http, &replica.base, BOB, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 404, "Bob sees Alice's thread on {}", replica.base);
        let (status, seen) = call(
            &http,
            &replica.base,
            ALICE,
            reqwest::Method::GET,
            &path,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(seen["values"]["messages"].as_array().unwrap().len(), 2);
    }
    let bob_thread = post(&http, &b.base, BOB, "/threads", json!({})).await["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for replica in [&a, &b] {
        let mine = post(&http, &replica.base, ALICE, "/threads/search", json!({})).await;
        assert_eq!(ids(&mine, "thread_id"), [alice_thread.as_str()]);
        let his = post(&http, &replica.base, BOB, "/threads/search", json!({})).await;
        assert_eq!(ids(&his, "thread_id"), [bob_thread.as_str()]);
    }

    // A delayed run created on A is joined on B, and another's thread stays hidden.
    let run = post(
        &http,
        &a.base,
        ALICE,
        &format!("/threads/{alice_thread}/runs"),
        json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "later"}]},
               "after_seconds": 1}),
    )
    .await;
    let run_id = run["run_id"].as_str().unwrap();
    let (status, joined) = call(
        &http,
        &b.base,
        ALICE,
        reqwest::Method::GET,
        &format!("/threads/{alice_thread}/runs/{run_id}/join"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["messages"].as_array().unwrap().len(), 4, "{joined}");
    assert_eq!(joined["messages"][3]["content"], "later");
    let (status, _) = call(
        &http,
        &b.base,
        BOB,
        reqwest::Method::GET,
        &format!("/threads/{alice_thread}/runs/{run_id}/join"),
        None,
    )
    .await;
    assert_eq!(status, 404, "Bob joins Alice's run");
    // Streamed from B while A's worker (or B's) runs it.
    let run = post(
        &http,
        &a.base,
        ALICE,
        &format!("/threads/{alice_thread}/runs"),
        json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "streamed"}]},
               "after_seconds": 1}),
    )
    .await;
    let run_id = run["run_id"].as_str().unwrap();
    let stream = http
        .get(format!(
            "{}/threads/{alice_thread}/runs/{run_id}/stream",
            b.base
        ))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let events = stream.text().await.unwrap();
    assert!(events.contains("event: values"), "{events}");
    assert!(events.contains("streamed"), "{events}");
    assert!(!events.contains("event: error"), "{events}");

    // Cancelled on B before it starts: it never runs, on either replica.
    let run = post(
        &http,
        &a.base,
        ALICE,
        &format!("/threads/{alice_thread}/runs"),
        json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "never"}]},
               "after_seconds": 2}),
    )
    .await;
    let run_id = run["run_id"].as_str().unwrap();
    let (status, body) = call(
        &http,
        &b.base,
        ALICE,
        reqwest::Method::POST,
        &format!("/threads/{alice_thread}/runs/{run_id}/cancel"),
        None,
    )
    .await;
    assert!(
        status == 200 || status == 202 || status == 204,
        "{status} {body}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, seen) = call(
        &http,
        &a.base,
        ALICE,
        reqwest::Method::GET,
        &format!("/threads/{alice_thread}/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(seen["status"], "interrupted", "{seen}");
    let (_, thread) = call(
        &http,
        &a.base,
        ALICE,
        reqwest::Method::GET,
        &format!("/threads/{alice_thread}"),
        None,
    )
    .await;
    assert!(
        !thread.to_string().contains("never"),
        "a cancelled run ran: {thread}"
    );

    let (status, _) = call(
        &http,
        &a.base,
        ALICE,
        reqwest::Method::POST,
        &format!("/threads/{bob_thread}/runs"),
        Some(json!({"assistant_id": "agent", "input": null})),
    )
    .await;
    assert_eq!(status, 404, "Alice runs on Bob's thread");

    // 200 concurrent creates, then 200 concurrent updates, spread over both replicas.
    let replicas = [a.base.clone(), b.base.clone()];
    let creates = (0..200).map(|i| {
        let (http, base) = (http.clone(), replicas[i % 2].clone());
        tokio::spawn(async move {
            post(
                &http,
                &base,
                ALICE,
                "/threads",
                json!({"metadata": {"n": i}}),
            )
            .await["thread_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    });
    let mut created = Vec::new();
    for task in creates.collect::<Vec<_>>() {
        created.push(task.await.unwrap());
    }
    let updates = created.iter().enumerate().map(|(i, tid)| {
        let (http, base, tid) = (http.clone(), replicas[(i + 1) % 2].clone(), tid.clone());
        tokio::spawn(async move {
            let (status, body) = call(
                &http,
                &base,
                ALICE,
                reqwest::Method::PATCH,
                &format!("/threads/{tid}"),
                Some(json!({"metadata": {"updated": i}})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        })
    });
    for task in updates.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    for base in &replicas {
        let count = post(&http, base, ALICE, "/threads/count", json!({})).await;
        assert_eq!(count, json!(201), "on {base}");
        let found = post(
            &http,
            base,
            ALICE,
            "/threads/search",
            json!({"limit": 1000}),
        )
        .await;
        let found = found.as_array().unwrap();
        let mut seen = std::collections::HashSet::new();
        for t in found {
            assert!(seen.insert(t["thread_id"].as_str().unwrap().to_owned()));
            if t["thread_id"] != json!(alice_thread) {
                let n = t["metadata"]["n"].as_u64().unwrap() as usize;
                assert_eq!(t["metadata"]["updated"], json!(n), "{t}");
                assert_eq!(created[n], t["thread_id"].as_str().unwrap());
            }
        }
        assert_eq!(seen.len(), 201);
        assert_eq!(
            post(&http, base, BOB, "/threads/count", json!({})).await,
            json!(1)
        );
    }

    // Runs created on both replicas each execute exactly once.
    let runs = created.iter().take(20).enumerate().map(|(i, tid)| {
        let (http, base, tid) = (http.clone(), replicas[i % 2].clone(), tid.clone());
        tokio::spawn(async move {
            let run = post(
                &http,
                &base,
                ALICE,
                &format!("/threads/{tid}/runs"),
                json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": format!("run {i}")}]}}),
            )
            .await;
            (tid, run["run_id"].as_str().unwrap().to_owned())
        })
    });
    let mut started = Vec::new();
    for task in runs.collect::<Vec<_>>() {
        started.push(task.await.unwrap());
    }
    for (i, (tid, rid)) in started.iter().enumerate() {
        let (status, out) = call(
            &http,
            &replicas[(i + 1) % 2],
            ALICE,
            reqwest::Method::GET,
            &format!("/threads/{tid}/runs/{rid}/join"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(
            out["messages"].as_array().unwrap().len(),
            2,
            "run {i} executed once: {out}"
        );
    }
    drop((a, b));
}
