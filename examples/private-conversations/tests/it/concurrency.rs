//! Concurrency: many tasks hit one server at once over loopback, bounded in count (2 users × 16
//! tasks) and time (60 s for the whole test). No deadlock, no lost or duplicated writes, counts
//! consistent afterwards, and no user ever sees the other's data mid-flight.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{Client, Server};
use serde_json::{Value, json};
use tutorial_policy::Policy;

const TASKS: usize = 16;
const RUNS_PER_TASK: usize = 2;
const KEYS_PER_TASK: usize = 5;

fn input(text: &str) -> Value {
    json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}})
}

/// One task's work as `who`; `shared` is the user's thread that every task of theirs writes to,
/// `other` a thread of the other user. Returns the run ids it created.
async fn work(
    client: Arc<Client>,
    who: &'static str,
    task: usize,
    shared: String,
    other: String,
) -> Vec<String> {
    let mut runs = Vec::new();
    // Three threads of its own, one deleted again.
    let mut own = Vec::new();
    for i in 0..3 {
        let r = client
            .post("/threads", json!({"metadata": {"task": task, "i": i}}))
            .await;
        own.push(r.ok()["thread_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        client.delete(&format!("/threads/{}", own[2])).await.status,
        204
    );
    // Runs queued on the shared thread, and a key of its own in the shared thread's metadata.
    for n in 0..RUNS_PER_TASK {
        let r = client
            .post(
                &format!("/threads/{shared}/runs/wait"),
                input(&format!("{who}-{task}-{n}")),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let location = r.headers["content-location"].to_str().unwrap();
        runs.push(location.rsplit('/').next().unwrap().to_owned());
    }
    let r = client
        .patch(
            &format!("/threads/{shared}"),
            json!({"metadata": {format!("k{task}"): task}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Store items under the user's namespace.
    for k in 0..KEYS_PER_TASK {
        let r = client
            .put(
                "/store/items",
                json!({"namespace": [who, format!("t{task}")], "key": k.to_string(), "value": {"task": task, "k": k}}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    // Meanwhile, the other user's thread stays out of reach, and searches show only own data.
    assert_eq!(client.get(&format!("/threads/{other}")).await.status, 404);
    assert_eq!(
        client
            .patch(&format!("/threads/{other}"), json!({"metadata": {"x": 1}}))
            .await
            .status,
        404
    );
    let found = client.post("/threads/search", json!({"limit": 1000})).await;
    for t in found.ok().as_array().unwrap() {
        assert_eq!(t["metadata"]["owner"], who, "{}", found.text);
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_at_once_lose_and_duplicate_nothing() {
    let server = Server::start(Policy::Scoped).await;
    let users = [
        ("user1", Arc::new(server.alice())),
        ("user2", Arc::new(server.bob())),
    ];
    let mut shared = Vec::new();
    for (_, c) in &users {
        let r = c
            .post("/threads", json!({"metadata": {"shared": true}}))
            .await;
        shared.push(r.ok()["thread_id"].as_str().unwrap().to_owned());
    }

    let all = async {
        let mut handles = Vec::new();
        for (u, (who, client)) in users.iter().enumerate() {
            for task in 0..TASKS {
                handles.push(tokio::spawn(work(
                    client.clone(),
                    who,
                    task,
                    shared[u].clone(),
                    shared[1 - u].clone(),
                )));
            }
        }
        let mut runs = Vec::new();
        for h in handles {
            runs.push(h.await.unwrap());
        }
        runs
    };
    let runs = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("deadlock or stall: the tasks did not finish within 60 s");

    for (u, (who, client)) in users.iter().enumerate() {
        // Threads: 2 kept per task, plus the shared one.
        let count = client.post("/threads/count", json!({})).await;
        assert_eq!(count.ok(), &json!(TASKS * 2 + 1), "{who}");
        let found = client.post("/threads/search", json!({"limit": 1000})).await;
        let ids: HashSet<&str> = found
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["thread_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), TASKS * 2 + 1, "{who}: duplicates");

        // The shared thread: every task's key, every run exactly once, all finished.
        let thread = client.get(&format!("/threads/{}", shared[u])).await;
        let md = thread.ok()["metadata"].as_object().unwrap();
        for task in 0..TASKS {
            assert_eq!(md[&format!("k{task}")], task, "{who}: lost metadata write");
        }
        assert_eq!(md["owner"], *who);
        let messages = thread.body["values"]["messages"].as_array().unwrap();
        assert_eq!(messages.len(), TASKS * RUNS_PER_TASK * 2, "{who}: messages");
        let listed = client
            .get(&format!("/threads/{}/runs?limit=1000", shared[u]))
            .await;
        let listed = listed.ok().as_array().unwrap();
        let listed_ids: HashSet<&str> = listed
            .iter()
            .map(|r| r["run_id"].as_str().unwrap())
            .collect();
        let made: HashSet<&str> = runs[u * TASKS..(u + 1) * TASKS]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        assert_eq!(
            made.len(),
            TASKS * RUNS_PER_TASK,
            "{who}: duplicate run ids"
        );
        assert_eq!(listed_ids, made, "{who}: runs lost or duplicated");
        assert_eq!(listed.len(), made.len());
        assert!(listed.iter().all(|r| r["status"] == "success"), "{who}");
        for task in 0..TASKS {
            for n in 0..RUNS_PER_TASK {
                let text = format!("{who}-{task}-{n}");
                let times = messages
                    .iter()
                    .filter(|m| m["content"] == text.as_str() && m["type"] == "human")
                    .count();
                assert_eq!(times, 1, "{who}: message {text} appears {times} times");
            }
        }

        // Store: every item once, under the user's own namespace only.
        let items = client
            .post(
                "/store/items/search",
                json!({"namespace_prefix": [who], "limit": 1000}),
            )
            .await;
        let items = items.ok()["items"].as_array().unwrap();
        assert_eq!(items.len(), TASKS * KEYS_PER_TASK, "{who}: store items");
        assert!(items.iter().all(|i| i["namespace"][0] == *who));
    }
    server.stop().await;
}
