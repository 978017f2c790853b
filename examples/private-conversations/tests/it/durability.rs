//! A 2xx answer means committed: the real binary on a SQLite file and on a fresh PostgreSQL
//! database takes threads, runs, state updates, store items, assistants and crons, is killed
//! with SIGKILL right after the last answer, and on restart on the same database gives everything
//! back to its owner and nothing to another user.
//!
//! PostgreSQL: a database created on `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped after; skipped, saying why, when
//! PostgreSQL is unreachable, unless `CI` is set.

use serde_json::{Value, json};

use crate::common;
use crate::support;

use common::TestDatabase;
use support::process::Binary;

/// The binary on `database` with `policy`.
fn start(database: &str, policy: &str) -> Binary {
    Binary::start(&[
        "--policy",
        policy,
        "--database",
        database,
        "--log-level",
        "warn",
    ])
}

const ALICE: &str = "user1-token";
const BOB: &str = "user2-token";

/// What the first lives of the server were told and answered.
struct Written {
    threads: Vec<(String, Value)>,
    updated: String,
    run_thread: String,
    background: (String, String),
    assistant: String,
    crons: Vec<String>,
    items: Vec<(String, Value)>,
}

/// Writes with the global policy (threads, runs, state, assistants, crons), then SIGKILL.
async fn write_global(database: &str) -> Written {
    let server = start(database, "global");
    let mut threads = Vec::new();
    for i in 0..20 {
        let thread = server
            .post(
                ALICE,
                "/threads",
                json!({"metadata": {"n": i, "topic": "durable"}}),
            )
            .await;
        threads.push((thread["thread_id"].as_str().unwrap().to_owned(), thread));
    }
    let run_thread = threads[0].0.clone();
    let values = server
        .post(
            ALICE,
            &format!("/threads/{run_thread}/runs/wait"),
            json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "remember me"}]}}),
        )
        .await;
    assert!(values.to_string().contains("remember me"), "{values}");
    let updated = threads[1].0.clone();
    server
        .post(
            ALICE,
            &format!("/threads/{updated}/state"),
            json!({"values": {"note": "kept after a kill"}}),
        )
        .await;
    let assistant = server
        .post(
            ALICE,
            "/assistants",
            json!({"graph_id": "agent", "name": "first"}),
        )
        .await["assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = server
        .ok(
            ALICE,
            reqwest::Method::PATCH,
            &format!("/assistants/{assistant}"),
            Some(json!({"name": "second"})),
        )
        .await;
    assert_eq!(renamed["version"], 2, "{renamed}");
    let mut crons = Vec::new();
    let cron = server
        .post(
            ALICE,
            &format!("/threads/{}/runs/crons", threads[2].0),
            json!({"assistant_id": "agent", "schedule": "*/5 * * * *", "metadata": {"k": "thread"}}),
        )
        .await;
    crons.push(cron["cron_id"].as_str().unwrap().to_owned());
    let cron = server
        .post(
            ALICE,
            "/runs/crons",
            json!({"assistant_id": "agent", "schedule": "0 3 * * *", "metadata": {"k": "stateless"}}),
        )
        .await;
    crons.push(cron["cron_id"].as_str().unwrap().to_owned());
    // Last: a background run, answered before it ran; the process dies right after.
    let bg_thread = threads[3].0.clone();
    let run = server
        .post(
            ALICE,
            &format!("/threads/{bg_thread}/runs"),
            json!({"assistant_id": "agent", "input": {"messages": "late"}, "after_seconds": 30}),
        )
        .await;
    let background = (bg_thread, run["run_id"].as_str().unwrap().to_owned());
    server.kill();
    Written {
        threads,
        updated,
        run_thread,
        background,
        assistant,
        crons,
        items: Vec::new(),
    }
}

/// Puts store items with the scoped policy (each user's namespaces are their own), then SIGKILL.
async fn write_store(database: &str, written: &mut Written) {
    let server = start(database, "scoped");
    for i in 0..10 {
        let key = format!("k{i}");
        let value = json!({"text": format!("note {i}"), "n": i});
        server
            .ok(
                ALICE,
                reqwest::Method::PUT,
                "/store/items",
                Some(json!({"namespace": ["user1", "notes"], "key": key, "value": value})),
            )
            .await;
        written.items.push((key, value));
    }
    server.kill();
}

/// Reads it all back after the kills: Alice sees everything as it was answered, Bob nothing.
async fn read_back(database: &str, written: &Written) {
    // Scoped: threads, runs, state and store.
    let server = start(database, "scoped");
    for (id, created) in &written.threads {
        let (status, thread) = server.get(ALICE, &format!("/threads/{id}")).await;
        assert_eq!(status, 200, "thread {id}: {thread}");
        // As answered, plus the graph and assistant a run created on it stamped there.
        let mut metadata = thread["metadata"].clone();
        let stamped = metadata.as_object_mut().unwrap();
        let ran = stamped.remove("graph_id").is_some_and(|g| g == "agent");
        let assistant = stamped.remove("assistant_id");
        assert_eq!(metadata, created["metadata"], "{thread}");
        let runs_on_it = *id == written.run_thread || *id == written.background.0;
        assert_eq!(
            (ran, assistant.is_some()),
            (runs_on_it, runs_on_it),
            "{thread}"
        );
        assert_eq!(thread["created_at"], created["created_at"], "{thread}");
        assert_eq!(server.get(BOB, &format!("/threads/{id}")).await.0, 404);
    }
    let mine = server
        .post(
            ALICE,
            "/threads/search",
            json!({"metadata": {"topic": "durable"}, "limit": 100}),
        )
        .await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        written.threads.len(),
        "{mine}"
    );
    let theirs = server
        .post(
            BOB,
            "/threads/search",
            json!({"metadata": {"topic": "durable"}, "limit": 100}),
        )
        .await;
    assert_eq!(theirs, json!([]));

    let t = &written.run_thread;
    let (status, state) = server.get(ALICE, &format!("/threads/{t}/state")).await;
    assert_eq!(status, 200, "{state}");
    assert!(
        state["values"].to_string().contains("remember me"),
        "{state}"
    );
    assert_eq!(server.get(BOB, &format!("/threads/{t}/state")).await.0, 404);
    let (status, runs) = server.get(ALICE, &format!("/threads/{t}/runs")).await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "success", "{runs:?}");
    let history = server
        .post(
            ALICE,
            &format!("/threads/{t}/history"),
            json!({"limit": 100}),
        )
        .await;
    assert!(history.as_array().unwrap().len() >= 2, "{history}");

    let u = &written.updated;
    let (status, state) = server.get(ALICE, &format!("/threads/{u}/state")).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["values"]["note"], "kept after a kill", "{state}");

    let (bg_thread, run_id) = &written.background;
    let (status, run) = server
        .get(ALICE, &format!("/threads/{bg_thread}/runs/{run_id}"))
        .await;
    assert_eq!(status, 200, "the run answered 2xx before the kill: {run}");
    assert_eq!(run["run_id"], run_id.as_str());
    assert_eq!(
        server
            .get(BOB, &format!("/threads/{bg_thread}/runs/{run_id}"))
            .await
            .0,
        404
    );

    for (key, value) in &written.items {
        let path = format!("/store/items?namespace=user1.notes&key={key}");
        let (status, item) = server.get(ALICE, &path).await;
        assert_eq!(status, 200, "{key}: {item}");
        assert_eq!(&item["value"], value);
        assert_eq!(server.get(BOB, &path).await.0, 403);
    }
    let found = server
        .post(
            ALICE,
            "/store/items/search",
            json!({"namespace_prefix": ["user1"], "limit": 100}),
        )
        .await;
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        written.items.len(),
        "{found}"
    );
    server.kill();

    // Global: assistants and crons, each owner's own.
    let server = start(database, "global");
    let a = &written.assistant;
    let (status, assistant) = server.get(ALICE, &format!("/assistants/{a}")).await;
    assert_eq!(status, 200, "{assistant}");
    assert_eq!(assistant["name"], "second");
    assert_eq!(assistant["version"], 2);
    let versions = server
        .post(ALICE, &format!("/assistants/{a}/versions"), json!({}))
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    assert_eq!(server.get(BOB, &format!("/assistants/{a}")).await.0, 404);
    for cron in &written.crons {
        let (status, body) = server.get(ALICE, &format!("/runs/crons/{cron}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["cron_id"], cron.as_str());
        assert_eq!(server.get(BOB, &format!("/runs/crons/{cron}")).await.0, 404);
    }
    let count = server.post(ALICE, "/runs/crons/count", json!({})).await;
    assert_eq!(count, json!(written.crons.len()));
    assert_eq!(
        server.post(BOB, "/runs/crons/count", json!({})).await,
        json!(0)
    );
    // Threads seen through the other policy too.
    let count = server
        .post(
            ALICE,
            "/threads/count",
            json!({"metadata": {"topic": "durable"}}),
        )
        .await;
    assert_eq!(count, json!(written.threads.len()));
    server.kill();
}

async fn survive_sigkill(database: &str) {
    let mut written = write_global(database).await;
    write_store(database, &mut written).await;
    read_back(database, &written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_what_was_answered_2xx_across_sigkill() {
    let db = TestDatabase::sqlite();
    survive_sigkill(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_what_was_answered_2xx_across_sigkill() {
    let Some(db) = TestDatabase::postgres_or_skip("durability").await else {
        return;
    };
    survive_sigkill(&db.url).await;
}

/// `--seed-threads` on a database: the seeded threads are there for their owners after a restart,
/// and seeding again on the same database adds only what is missing.
async fn seeding_twice(database: &str) {
    let count = |server: &Binary, token: &'static str| {
        let server = server.base.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{server}/threads/count"))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let args = |n: &'static str| {
        [
            "--database",
            database,
            "--seed-threads",
            n,
            "--seed-users",
            "2",
            "--log-level",
            "warn",
        ]
    };
    let server = Binary::start(&args("6"));
    assert_eq!(count(&server, ALICE).await, json!(3));
    assert_eq!(count(&server, BOB).await, json!(3));
    server.kill();
    let server = Binary::start(&args("8"));
    assert_eq!(count(&server, ALICE).await, json!(4));
    assert_eq!(count(&server, BOB).await, json!(4));
    let (said, _) = server.kill();
    assert!(
        said.iter()
            .any(|l| l.starts_with(&format!("database: {database}"))),
        "the database in use is printed: {said:?}"
    );
}

/// Without `--database` or `DATABASE_URL`, the binary keeps its data in
/// `private-conversations.db` in its working directory, across a SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_is_a_sqlite_file_in_the_working_directory() {
    let db = TestDatabase::sqlite();
    let dir = std::path::PathBuf::from(format!("{}.dir", db.url.strip_prefix("sqlite:").unwrap()));
    std::fs::create_dir(&dir).unwrap();
    let server = Binary::start_in(&["--log-level", "warn"], Some(&dir));
    let thread = server
        .post(ALICE, "/threads", json!({"metadata": {"kept": true}}))
        .await;
    let id = thread["thread_id"].as_str().unwrap().to_owned();
    let (said, _) = server.kill();
    let file = dir.join("private-conversations.db");
    assert!(file.is_file(), "no {}", file.display());
    assert!(
        said.iter().any(
            |l| l.starts_with("database: sqlite:private-conversations.db (")
                && l.contains(&file.display().to_string())
        ),
        "{said:?}"
    );
    let server = Binary::start_in(&["--log-level", "warn"], Some(&dir));
    let (status, back) = server.get(ALICE, &format!("/threads/{id}")).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["metadata"]["kept"], true);
    server.kill();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_on_sqlite_survives_a_restart_and_is_not_doubled() {
    let db = TestDatabase::sqlite();
    seeding_twice(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_on_postgres_survives_a_restart_and_is_not_doubled() {
    let Some(db) = TestDatabase::postgres_or_skip("durability (seeding)").await else {
        return;
    };
    seeding_twice(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_works_in_memory() {
    seeding_twice("memory").await;
}
