//! Update, delete, runs, store and crons across users: what one user cannot see, they cannot
//! change either, and nothing changes.

use crate::common;

use common::Server;
use serde_json::json;
use tutorial_policy::Policy;

async fn thread_of(client: &common::Client, metadata: serde_json::Value) -> String {
    client
        .post("/threads", json!({"metadata": metadata}))
        .await
        .ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn threads_and_runs_are_private() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let t = thread_of(&alice, json!({"topic": "x"})).await;
        let input = json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hey"}]}});
        let run = alice
            .post(&format!("/threads/{t}/runs"), input.clone())
            .await;
        let run_id = run.ok()["run_id"].as_str().unwrap().to_owned();
        assert_eq!(
            run.headers["content-location"].to_str().unwrap(),
            format!("/threads/{t}/runs/{run_id}")
        );
        alice
            .get(&format!("/threads/{t}/runs/{run_id}/join"))
            .await
            .ok();

        // Bob: every operation on Alice's thread is a 404 and changes nothing.
        for r in [
            bob.patch(
                &format!("/threads/{t}"),
                json!({"metadata": {"topic": "hacked"}}),
            )
            .await,
            bob.delete(&format!("/threads/{t}")).await,
            bob.post(&format!("/threads/{t}/runs"), input.clone()).await,
            bob.post(&format!("/threads/{t}/runs/wait"), input.clone())
                .await,
            bob.get(&format!("/threads/{t}/runs")).await,
            bob.get(&format!("/threads/{t}/runs/{run_id}")).await,
            bob.get(&format!("/threads/{t}/runs/{run_id}/join")).await,
            bob.post(&format!("/threads/{t}/runs/{run_id}/cancel"), json!({}))
                .await,
            bob.delete(&format!("/threads/{t}/runs/{run_id}")).await,
            bob.post(
                &format!("/threads/{t}/state"),
                json!({"values": {"messages": [{"role": "user", "content": "x"}]}}),
            )
            .await,
            bob.post(&format!("/threads/{t}/history"), json!({})).await,
        ] {
            assert_eq!(r.status, 404, "{policy:?}: {}", r.text);
            assert!(r.body["detail"].is_string());
        }
        // Joining a stream: the refusal is the stream's one error event (see `streams.rs`).
        for path in [
            format!("/threads/{t}/runs/{run_id}/stream"),
            format!("/threads/{t}/stream"),
        ] {
            let r = bob.get(&path).await;
            assert_eq!(r.status, 200, "{policy:?} {path}: {}", r.text);
            assert!(r.text.starts_with("event: error\n"), "{path}: {}", r.text);
            assert!(r.text.contains("404: Thread with ID"), "{path}: {}", r.text);
        }
        // Copying: 409, as both LangGraph servers answer (see `streams.rs`).
        let r = bob.post(&format!("/threads/{t}/copy"), json!({})).await;
        assert_eq!(r.status, 409, "{policy:?}: {}", r.text);
        let pruned = bob.post("/threads/prune", json!({"thread_ids": [t]})).await;
        assert_eq!(pruned.ok()["pruned_count"], 0);
        // Bob's own metadata filter cannot widen his view.
        let found = bob
            .post("/threads/search", json!({"metadata": {"owner": "user1"}}))
            .await;
        assert_eq!(found.ok(), &json!([]));

        let thread = alice.get(&format!("/threads/{t}")).await;
        assert_eq!(thread.ok()["metadata"]["topic"], "x");
        assert_eq!(
            thread.body["values"]["messages"].as_array().unwrap().len(),
            2
        );
        let runs = alice.get(&format!("/threads/{t}/runs")).await;
        assert_eq!(runs.ok().as_array().unwrap().len(), 1);
        assert_eq!(runs.body[0]["status"], "success");

        // Alice can do all of it.
        let updated = alice
            .patch(
                &format!("/threads/{t}"),
                json!({"metadata": {"topic": "y"}}),
            )
            .await;
        assert_eq!(updated.ok()["metadata"]["topic"], "y");
        assert_eq!(updated.body["metadata"]["owner"], "user1");
        let found = alice
            .post("/threads/search", json!({"metadata": {"topic": "y"}}))
            .await;
        assert_eq!(found.ok().as_array().unwrap().len(), 1);
        let found = alice
            .post("/threads/search", json!({"metadata": {"topic": "x"}}))
            .await;
        assert_eq!(found.ok().as_array().unwrap().len(), 0);
        let copy = alice.post(&format!("/threads/{t}/copy"), json!({})).await;
        assert_eq!(copy.ok()["metadata"]["owner"], "user1");
        assert_eq!(copy.body["values"]["messages"].as_array().unwrap().len(), 2);
        let history = alice
            .post(&format!("/threads/{t}/history"), json!({}))
            .await;
        // One run: the input checkpoint and the two supersteps of the echo graph.
        assert_eq!(history.ok().as_array().unwrap().len(), 3);
        let streamed = alice
            .post(&format!("/threads/{t}/runs/stream"), json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "again"}]}, "stream_mode": ["values", "updates"]}))
            .await;
        assert_eq!(streamed.status, 200);
        assert!(
            streamed.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        assert!(streamed.text.starts_with("event: metadata\n"));
        assert!(streamed.text.contains("event: values\n"));
        assert!(streamed.text.contains("event: updates\n"));
        assert_eq!(
            alice
                .delete(&format!("/threads/{t}/runs/{run_id}"))
                .await
                .status,
            204
        );
        assert_eq!(
            alice
                .get(&format!("/threads/{t}/runs/{run_id}"))
                .await
                .status,
            404
        );
        assert_eq!(alice.delete(&format!("/threads/{t}")).await.status, 204);
        assert_eq!(alice.get(&format!("/threads/{t}")).await.status, 404);
        server.stop().await;
    }
}

#[tokio::test]
async fn invalid_ids_and_bodies_are_422_unknown_ids_404() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    for r in [
        alice.get("/threads/not-a-uuid").await,
        alice.post("/threads", json!({"thread_id": "nope"})).await,
        alice.post("/threads/search", json!({"limit": "ten"})).await,
        alice
            .post("/threads/search", json!({"status": "sleepy"}))
            .await,
    ] {
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.body["detail"].is_string());
    }
    let t = thread_of(&alice, json!({})).await;
    let bad_input = alice
        .post(
            &format!("/threads/{t}/runs"),
            json!({"assistant_id": "agent", "input": {"messages": 3}}),
        )
        .await;
    assert_eq!(bad_input.status, 422);
    let no_assistant = alice
        .post(
            &format!("/threads/{t}/runs"),
            json!({"assistant_id": uuid::Uuid::new_v4(), "input": null}),
        )
        .await;
    // The assistant is resolved under `assistants.read`: the scoped policy refuses every
    // assistant but a graph's default one, so a random id is that refusal (as is any other id).
    assert_eq!(no_assistant.status, 403, "{}", no_assistant.text);
    let r = alice
        .get(&format!("/threads/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(r.status, 404);
    assert!(r.detail().contains("not found"));
    let r = alice.get("/nowhere").await;
    assert_eq!((r.status.as_u16(), r.detail()), (404, "Not Found"));
    let dup = alice.post("/threads", json!({"thread_id": t})).await;
    assert_eq!(dup.status, 409);
    server.stop().await;
}

#[tokio::test]
async fn store_namespaces_are_private_in_the_scoped_policy() {
    let server = Server::start(Policy::Scoped).await;
    let (alice, bob) = (server.alice(), server.bob());
    let put = alice
        .put("/store/items", json!({"namespace": ["user1", "notes"], "key": "k", "value": {"text": "secret", "n": 1}}))
        .await;
    assert_eq!(put.status, 204, "{}", put.text);
    let got = alice.get("/store/items?namespace=user1.notes&key=k").await;
    assert_eq!(got.ok()["value"]["text"], "secret");
    assert_eq!(got.body["namespace"], json!(["user1", "notes"]));

    for r in [
        bob.get("/store/items?namespace=user1.notes&key=k").await,
        bob.put(
            "/store/items",
            json!({"namespace": ["user1", "notes"], "key": "k", "value": {"text": "mine now"}}),
        )
        .await,
        bob.delete_json(
            "/store/items",
            json!({"namespace": ["user1", "notes"], "key": "k"}),
        )
        .await,
        bob.post(
            "/store/items/search",
            json!({"namespace_prefix": ["user1"]}),
        )
        .await,
        bob.post("/store/namespaces", json!({"prefix": ["user1"]}))
            .await,
        bob.post("/store/namespaces", json!({})).await,
    ] {
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.detail(), "Not authorized");
    }
    let found = alice
        .post(
            "/store/items/search",
            json!({"namespace_prefix": ["user1"], "filter": {"n": 1}}),
        )
        .await;
    assert_eq!(found.ok()["items"].as_array().unwrap().len(), 1);
    let found = alice
        .post(
            "/store/items/search",
            json!({"namespace_prefix": ["user1"], "filter": {"n": 2}}),
        )
        .await;
    assert_eq!(found.ok()["items"].as_array().unwrap().len(), 0);
    let listed = alice
        .post("/store/namespaces", json!({"prefix": ["user1"]}))
        .await;
    assert_eq!(listed.ok()["namespaces"], json!([["user1", "notes"]]));
    // Unchanged by Bob's attempts.
    let got = alice.get("/store/items?namespace=user1.notes&key=k").await;
    assert_eq!(got.ok()["value"]["text"], "secret");
    let bad = alice
        .put(
            "/store/items",
            json!({"namespace": ["user1", "a.b"], "key": "k", "value": {}}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        alice
            .delete_json(
                "/store/items",
                json!({"namespace": ["user1", "notes"], "key": "k"})
            )
            .await
            .status,
        204
    );
    assert_eq!(
        alice
            .get("/store/items?namespace=user1.notes&key=k")
            .await
            .status,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn assistants_and_crons_follow_the_global_policy() {
    let server = Server::start(Policy::Global).await;
    let (alice, bob) = (server.alice(), server.bob());
    let a = alice
        .post("/assistants", json!({"graph_id": "agent", "name": "a1"}))
        .await;
    let aid = a.ok()["assistant_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.get(&format!("/assistants/{aid}")).await.status, 404);
    assert_eq!(
        bob.patch(&format!("/assistants/{aid}"), json!({"name": "b"}))
            .await
            .status,
        404
    );
    assert_eq!(bob.delete(&format!("/assistants/{aid}")).await.status, 404);
    assert_eq!(
        bob.post("/assistants/count", json!({})).await.body,
        json!(0)
    );
    assert_eq!(
        alice.post("/assistants/count", json!({})).await.body,
        json!(1)
    );
    let updated = alice
        .patch(&format!("/assistants/{aid}"), json!({"name": "a2"}))
        .await;
    assert_eq!(updated.ok()["version"], 2);
    let versions = alice
        .post(&format!("/assistants/{aid}/versions"), json!({}))
        .await;
    assert_eq!(versions.ok().as_array().unwrap().len(), 2);
    let latest = alice
        .post(&format!("/assistants/{aid}/latest"), json!({"version": 1}))
        .await;
    assert_eq!(latest.ok()["name"], "a1");
    assert_eq!(
        alice.get(&format!("/assistants/{aid}/schemas")).await.ok()["graph_id"],
        "agent"
    );

    let t = thread_of(&alice, json!({})).await;
    let cron = alice
        .post(
            &format!("/threads/{t}/runs/crons"),
            json!({"assistant_id": "agent", "schedule": "*/5 * * * *", "metadata": {"k": "v"}}),
        )
        .await;
    let cron_id = cron.ok()["cron_id"].as_str().unwrap().to_owned();
    assert_eq!(
        bob.post(
            &format!("/threads/{t}/runs/crons"),
            json!({"assistant_id": "agent", "schedule": "* * * * *"})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        bob.delete(&format!("/runs/crons/{cron_id}")).await.status,
        404
    );
    assert_eq!(
        bob.patch(&format!("/runs/crons/{cron_id}"), json!({"enabled": false}))
            .await
            .status,
        404
    );
    assert_eq!(
        bob.post("/runs/crons/count", json!({})).await.body,
        json!(0)
    );
    // The global handler stamps a cron's payload metadata: Alice sees her cron, with its owner.
    assert_eq!(
        alice.post("/runs/crons/count", json!({})).await.body,
        json!(1)
    );
    let mine = alice
        .post("/runs/crons/search", json!({}))
        .await
        .ok()
        .clone();
    assert_eq!(mine[0]["cron_id"], cron_id.as_str(), "{mine}");
    assert_eq!(mine[0]["metadata"]["owner"], "user1", "{mine}");
    assert_eq!(mine[0]["metadata"]["k"], "v", "{mine}");
    assert_eq!(
        alice.get(&format!("/runs/crons/{cron_id}")).await.status,
        200
    );
    assert_eq!(
        alice
            .post(
                "/runs/crons",
                json!({"assistant_id": "agent", "schedule": "bad"})
            )
            .await
            .status,
        422
    );
    assert_eq!(
        alice.delete(&format!("/assistants/{aid}")).await.status,
        204
    );
    server.stop().await;
}
