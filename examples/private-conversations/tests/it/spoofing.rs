//! Spoofing: a user who names another user (as `metadata.owner`, as an id in a run, cron, copy or
//! create, in a search filter, or in a store namespace) never gains access, and never plants
//! anything in the other user's view.

use crate::common;

use common::{Client, Server};
use serde_json::{Value, json};
use tutorial_policy::Policy;

async fn id_of(r: common::Reply, key: &str) -> String {
    r.ok()[key].as_str().unwrap().to_owned()
}

async fn thread_ids(client: &Client) -> Vec<String> {
    let found = client.post("/threads/search", json!({"limit": 100})).await;
    found
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap().to_owned())
        .collect()
}

fn input() -> Value {
    json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}})
}

#[tokio::test]
async fn owner_and_ids_of_another_user_grant_nothing() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let bobs = id_of(
            bob.post("/threads", json!({"metadata": {"topic": "bob's"}}))
                .await,
            "thread_id",
        )
        .await;

        // Alice claims Bob as the owner on create: the handler stamps her instead.
        let r = alice
            .post("/threads", json!({"metadata": {"owner": "user2", "x": 1}}))
            .await;
        assert_eq!(r.ok()["metadata"]["owner"], "user1", "{policy:?}");
        let planted = id_of(r, "thread_id").await;
        // ... and on update.
        let r = alice
            .patch(
                &format!("/threads/{planted}"),
                json!({"metadata": {"owner": "user2"}}),
            )
            .await;
        assert_eq!(r.ok()["metadata"]["owner"], "user1", "{policy:?}");
        assert_eq!(bob.get(&format!("/threads/{planted}")).await.status, 404);
        assert_eq!(
            thread_ids(&bob).await,
            std::slice::from_ref(&bobs),
            "{policy:?}"
        );

        // Alice names Bob's thread: as a new thread's id, in runs, crons and copies.
        for if_exists in ["raise", "do_nothing"] {
            let r = alice
                .post(
                    "/threads",
                    json!({"thread_id": bobs, "if_exists": if_exists}),
                )
                .await;
            assert_eq!(r.status, 409, "{policy:?} {if_exists}: {}", r.text);
            assert!(!r.text.contains("bob's"), "{}", r.text);
        }
        for r in [
            alice.post(&format!("/threads/{bobs}/runs"), input()).await,
            alice
                .post(&format!("/threads/{bobs}/runs/wait"), input())
                .await,
            alice
                .post(
                    &format!("/threads/{bobs}/runs/crons"),
                    json!({"assistant_id": "agent", "schedule": "* * * * *"}),
                )
                .await,
            alice
                .post("/runs/cancel", json!({"thread_id": bobs, "run_ids": []}))
                .await,
        ] {
            assert_eq!(r.status, 404, "{policy:?}: {}", r.text);
        }
        // A copy of a thread one cannot see is a 409, as LangGraph answers.
        let r = alice
            .post(&format!("/threads/{bobs}/copy"), json!({}))
            .await;
        assert_eq!(r.status, 409, "{policy:?}: {}", r.text);
        let mut create_it = input();
        create_it["if_not_exists"] = json!("create");
        let r = alice
            .post(&format!("/threads/{bobs}/runs"), create_it)
            .await;
        assert!(r.status == 409 || r.status == 404, "{policy:?}: {}", r.text);
        assert!(!r.text.contains("bob's"), "{}", r.text);

        // Alice searches with Bob as the owner: her view is not widened (the global handler
        // overwrites her `owner` condition with her own, so she may see her own threads).
        for body in [
            json!({"metadata": {"owner": "user2"}}),
            json!({"ids": [bobs]}),
            json!({"metadata": {"topic": "bob's"}}),
        ] {
            let found = alice.post("/threads/search", body.clone()).await;
            let found = found.ok().as_array().unwrap().clone();
            for t in &found {
                assert_eq!(t["metadata"]["owner"], "user1", "{policy:?} {body}");
            }
            let counted = alice.post("/threads/count", body.clone()).await;
            assert_eq!(counted.ok(), &json!(found.len()), "{policy:?} {body}");
        }
        assert_eq!(
            alice
                .post("/threads/search", json!({"ids": [bobs]}))
                .await
                .ok(),
            &json!([])
        );

        // Bob's thread is as he left it: no run, no copy, same metadata.
        let thread = bob.get(&format!("/threads/{bobs}")).await;
        assert_eq!(
            thread.ok()["metadata"],
            json!({"topic": "bob's", "owner": "user2"})
        );
        let runs = bob.get(&format!("/threads/{bobs}/runs")).await;
        assert_eq!(runs.ok(), &json!([]));
        assert_eq!(thread_ids(&bob).await, std::slice::from_ref(&bobs));
        server.stop().await;
    }
}

#[tokio::test]
async fn crons_cannot_be_planted_in_another_users_view() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        // A cron's metadata comes from its payload, which its handler cannot stamp: the
        // server holds it to the handler's filter, so Alice's claim is overwritten.
        let r = alice
            .post(
                "/runs/crons",
                json!({"assistant_id": "agent", "schedule": "* * * * *",
                       "metadata": {"owner": "user2", "k": "v"}}),
            )
            .await;
        assert_eq!(
            r.ok()["metadata"],
            json!({"owner": "user1", "k": "v"}),
            "{policy:?}"
        );
        let cron = id_of(r, "cron_id").await;
        assert_eq!(
            bob.post("/runs/crons/count", json!({})).await.ok(),
            &json!(0)
        );
        assert_eq!(
            bob.post("/runs/crons/search", json!({})).await.ok(),
            &json!([])
        );
        assert_eq!(bob.get(&format!("/runs/crons/{cron}")).await.status, 404);
        // Her own cron stays hers, even when she tries to give it away.
        assert_eq!(alice.get(&format!("/runs/crons/{cron}")).await.status, 200);
        let r = alice
            .patch(
                &format!("/runs/crons/{cron}"),
                json!({"metadata": {"owner": "user2"}}),
            )
            .await;
        assert_eq!(r.ok()["metadata"]["owner"], "user1");
        assert_eq!(
            bob.post("/runs/crons/count", json!({})).await.ok(),
            &json!(0)
        );
        assert_eq!(
            alice.post("/runs/crons/count", json!({})).await.ok(),
            &json!(1)
        );
        // Bob cannot touch it.
        assert_eq!(
            bob.patch(&format!("/runs/crons/{cron}"), json!({"enabled": false}))
                .await
                .status,
            404
        );
        assert_eq!(bob.delete(&format!("/runs/crons/{cron}")).await.status, 404);
        assert_eq!(
            alice.get(&format!("/runs/crons/{cron}")).await.ok()["enabled"],
            true
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn assistants_are_stamped_with_their_creator() {
    let server = Server::start(Policy::Global).await;
    let (alice, bob) = (server.alice(), server.bob());
    let r = alice
        .post(
            "/assistants",
            json!({"graph_id": "agent", "metadata": {"owner": "user2"}}),
        )
        .await;
    assert_eq!(r.ok()["metadata"]["owner"], "user1");
    let aid = id_of(r, "assistant_id").await;
    assert_eq!(bob.get(&format!("/assistants/{aid}")).await.status, 404);
    let r = alice
        .patch(
            &format!("/assistants/{aid}"),
            json!({"metadata": {"owner": "user2"}}),
        )
        .await;
    assert_eq!(r.ok()["metadata"]["owner"], "user1");
    assert_eq!(bob.get(&format!("/assistants/{aid}")).await.status, 404);
    let found = bob
        .post(
            "/assistants/search",
            json!({"metadata": {"owner": "user1"}}),
        )
        .await;
    assert_eq!(found.ok(), &json!([]));
    server.stop().await;
}

#[tokio::test]
async fn store_namespaces_of_another_user_are_refused() {
    let server = Server::start(Policy::Scoped).await;
    let (alice, bob) = (server.alice(), server.bob());
    bob.put(
        "/store/items",
        json!({"namespace": ["user2", "notes"], "key": "k", "value": {"secret": 1}}),
    )
    .await;
    let bobs_item = || async { bob.get("/store/items?namespace=user2.notes&key=k").await };
    assert_eq!(bobs_item().await.ok()["value"], json!({"secret": 1}));

    for r in [
        alice
            .put(
                "/store/items",
                json!({"namespace": ["user2", "notes"], "key": "k", "value": {"secret": 2}}),
            )
            .await,
        alice.get("/store/items?namespace=user2.notes&key=k").await,
        alice
            .delete_json(
                "/store/items",
                json!({"namespace": ["user2", "notes"], "key": "k"}),
            )
            .await,
        alice
            .post(
                "/store/items/search",
                json!({"namespace_prefix": ["user2"]}),
            )
            .await,
        alice.post("/store/items/search", json!({})).await,
        alice
            .post("/store/namespaces", json!({"prefix": ["user2"]}))
            .await,
        alice.post("/store/namespaces", json!({})).await,
        // Her identity somewhere other than first does not make it hers.
        alice
            .put(
                "/store/items",
                json!({"namespace": ["user2", "user1"], "key": "k", "value": {}}),
            )
            .await,
    ] {
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.detail(), "Not authorized");
    }
    // Path tricks in a namespace are rejected before any handler runs.
    for ns in [
        json!(["user1.user2"]),
        json!(["user1", ".."]),
        json!(["user1", ""]),
    ] {
        let r = alice
            .put(
                "/store/items",
                json!({"namespace": ns, "key": "k", "value": {}}),
            )
            .await;
        assert_eq!(r.status, 422, "{ns}: {}", r.text);
    }
    // `namespace=user1.` in a query string is an empty label, not a wildcard.
    let r = alice.get("/store/items?namespace=user1.&key=k").await;
    assert_eq!(r.status, 422, "{}", r.text);

    assert_eq!(bobs_item().await.ok()["value"], json!({"secret": 1}));
    let listed = bob
        .post("/store/namespaces", json!({"prefix": ["user2"]}))
        .await;
    assert_eq!(listed.ok()["namespaces"], json!([["user2", "notes"]]));
    server.stop().await;
}
