//! The tutorial's scenario over real HTTP, for both policies.

use crate::common;

use common::Server;
use serde_json::json;
use tutorial_policy::Policy;

const HI: &str = "Hi, this is Alice's private chat";

async fn common_steps(server: &Server) {
    let (alice, bob) = (server.alice(), server.bob());

    // Alice creates a thread and chats in it.
    let thread = alice.post("/threads", json!({})).await;
    let alice_thread = thread.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(thread.body["metadata"]["owner"], "user1");
    let out = alice
        .post(
            &format!("/threads/{alice_thread}/runs/wait"),
            json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": HI}]}}),
        )
        .await;
    let messages = out.ok()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["type"], "ai");
    assert_eq!(messages[1]["content"], HI);
    assert_eq!(
        messages[1]["response_metadata"]["langgraph_auth_user_id"],
        "user1"
    );

    // Bob cannot see it: 404, as if it did not exist.
    let denied = bob.get(&format!("/threads/{alice_thread}")).await;
    assert_eq!(denied.status, 404, "{}", denied.text);
    assert!(denied.detail().contains("not found"));
    let denied = bob.get(&format!("/threads/{alice_thread}/state")).await;
    assert_eq!(denied.status, 404);

    // Bob has his own thread and run (in the background).
    let bob_thread = bob.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = bob
        .post(
            &format!("/threads/{bob_thread}/runs"),
            json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "Bob here"}]}}),
        )
        .await;
    let run_id = run.ok()["run_id"].as_str().unwrap().to_owned();
    assert_eq!(
        run.body["kwargs"]["config"]["configurable"]["langgraph_auth_user"]["identity"],
        "user2"
    );
    let joined = bob
        .get(&format!("/threads/{bob_thread}/runs/{run_id}/join"))
        .await;
    assert_eq!(joined.ok()["messages"][1]["content"], "Bob here");
    let state = bob.get(&format!("/threads/{bob_thread}")).await;
    assert_eq!(
        state.ok()["values"]["messages"].as_array().unwrap().len(),
        2
    );
    assert_eq!(state.body["status"], "idle");

    // Each sees exactly their own thread.
    for (client, own) in [(&alice, &alice_thread), (&bob, &bob_thread)] {
        let found = client.post("/threads/search", json!({})).await;
        let ids: Vec<&str> = found
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["thread_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [own.as_str()]);
        assert_eq!(
            client.post("/threads/count", json!({})).await.body,
            json!(1)
        );
    }
}

#[tokio::test]
async fn global_policy() {
    let server = Server::start(Policy::Global).await;
    let alice = server.alice();
    let created = alice
        .post("/assistants", json!({"graph_id": "agent", "name": "mine"}))
        .await;
    assert_eq!(created.ok()["metadata"]["owner"], "user1");
    common_steps(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn scoped_policy() {
    let server = Server::start(Policy::Scoped).await;
    common_steps(&server).await;
    let alice = server.alice();
    let denied = alice
        .post("/assistants", json!({"graph_id": "agent"}))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.detail(), "User lacks the required permissions.");
    let denied = alice.post("/assistants/search", json!({})).await;
    assert_eq!(denied.status, 403);
    assert_eq!(alice.post("/threads", json!({})).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn authentication_failures_are_401_with_detail() {
    let server = Server::start(Policy::Scoped).await;
    let anon = server.user(None);
    for header in [
        None,
        Some("Bearer"),
        Some("Basic dXNlcjE="),
        Some("Bearer nope"),
        Some("Bearer  a b"),
    ] {
        let r = anon
            .raw(reqwest::Method::POST, "/threads/search", header)
            .await;
        assert_eq!(r.status, 401, "{header:?}: {}", r.text);
        assert!(!r.detail().is_empty());
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    // Public routes need no token.
    assert_eq!(
        anon.raw(reqwest::Method::GET, "/ok", None).await.status,
        200
    );
    assert_eq!(
        anon.raw(reqwest::Method::GET, "/info", None).await.status,
        200
    );
    server.stop().await;
}
