//! Regression tests for the findings of the security review (issue 11), over HTTP, each under
//! the policies it was found with. `SECURITY.md` ("Findings of the security review") lists which
//! test covers which finding.

use crate::common;

use agent_server::Limits;
use common::{Client, Server};
use serde_json::{Value, json};
use tutorial_policy::Policy;

async fn thread_with(client: &Client, metadata: Value) -> String {
    let r = client
        .post("/threads", json!({ "metadata": metadata }))
        .await;
    r.ok()["thread_id"].as_str().unwrap().to_owned()
}

async fn count(client: &Client, body: Value) -> i64 {
    let r = client.post("/threads/count", body).await;
    r.ok().as_i64().unwrap()
}

async fn search_ids(client: &Client, body: Value) -> Vec<String> {
    let r = client.post("/threads/search", body).await;
    let mut ids: Vec<String> = r
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Finding 1: Bob's count of `{"project": "secret-x"}` must not depend on how many threads
/// Alice tagged with it, nor on how many threads Bob owns (the index picked its smallest list
/// and missed Bob's thread). A metadata search is PostgreSQL's `@>`: a bare scalar matches the
/// same scalar, not a list holding it, on every backend.
#[tokio::test]
async fn finding_1_counts_do_not_depend_on_other_users() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        for _ in 0..3 {
            thread_with(&alice, json!({"project": "secret-x"})).await;
        }
        let mine = thread_with(&bob, json!({"project": "secret-x"})).await;
        let listed = thread_with(&bob, json!({"project": ["secret-x"]})).await;
        let as_list = json!({"metadata": {"project": ["secret-x"]}});
        assert_eq!(search_ids(&bob, as_list).await, [listed]);
        let wanted = json!({"metadata": {"project": "secret-x"}, "limit": 100});
        assert_eq!(count(&bob, wanted.clone()).await, 1, "{policy:?}");
        for _ in 0..5 {
            thread_with(&bob, json!({})).await;
        }
        assert_eq!(count(&bob, wanted.clone()).await, 1, "{policy:?}");
        assert_eq!(search_ids(&bob, wanted.clone()).await, [mine]);
        // Alice tagging five threads does not change Bob's own answer.
        let bobs_tag = thread_with(&bob, json!({"tagz": "a"})).await;
        let tagz = json!({"metadata": {"tagz": "a"}});
        assert_eq!(count(&bob, tagz.clone()).await, 1, "{policy:?}");
        for _ in 0..5 {
            thread_with(&alice, json!({"tagz": "a"})).await;
        }
        assert_eq!(count(&bob, tagz.clone()).await, 1, "{policy:?}");
        assert_eq!(search_ids(&bob, tagz).await, [bobs_tag]);
        server.stop().await;
    }
}

fn secret_free(what: &str, r: &common::Reply) {
    assert!(
        !r.text.contains("ALICE-SECRET"),
        "{what} leaked Alice's config: {}",
        r.text
    );
}

/// Finding 2: under the global policy Bob could run Alice's assistant (and read its config)
/// through every run and cron route. Now each route resolves it as `GET /assistants/{id}`
/// does: 404 for Alice's, exactly as for an id that does not exist; the graph's default
/// assistant stays usable by both users under both policies.
#[tokio::test]
async fn finding_2_runs_and_crons_use_only_assistants_the_caller_may_read() {
    let server = Server::start(Policy::Global).await;
    let (alice, bob) = (server.alice(), server.bob());
    let a = alice
        .post(
            "/assistants",
            json!({"graph_id": "agent", "config": {"configurable": {"api_key": "ALICE-SECRET"}}}),
        )
        .await;
    let hers = a.ok()["assistant_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.get(&format!("/assistants/{hers}")).await.status, 404);
    let bobs_thread = thread_with(&bob, json!({})).await;
    let input = json!({"messages": [{"role": "user", "content": "hi"}]});
    let random = uuid::Uuid::new_v4().to_string();
    for id in [hers.as_str(), random.as_str()] {
        let body = json!({"assistant_id": id, "input": input});
        let cron = json!({"assistant_id": id, "schedule": "* * * * *"});
        let replies = [
            ("POST /runs", bob.post("/runs", body.clone()).await),
            (
                "POST /runs/wait",
                bob.post("/runs/wait", body.clone()).await,
            ),
            (
                "POST /runs/stream",
                bob.post("/runs/stream", body.clone()).await,
            ),
            (
                "POST /runs/batch",
                bob.post("/runs/batch", json!([body.clone()])).await,
            ),
            (
                "POST /threads/{id}/runs",
                bob.post(&format!("/threads/{bobs_thread}/runs"), body.clone())
                    .await,
            ),
            (
                "POST /threads/{id}/runs/wait",
                bob.post(&format!("/threads/{bobs_thread}/runs/wait"), body.clone())
                    .await,
            ),
            (
                "POST /threads/{id}/runs/stream",
                bob.post(&format!("/threads/{bobs_thread}/runs/stream"), body.clone())
                    .await,
            ),
            (
                "POST /runs/crons",
                bob.post("/runs/crons", cron.clone()).await,
            ),
            (
                "POST /threads/{id}/runs/crons",
                bob.post(&format!("/threads/{bobs_thread}/runs/crons"), cron.clone())
                    .await,
            ),
        ];
        for (route, r) in replies {
            assert_eq!(r.status, 404, "{route} with {id}: {}", r.text);
            assert_eq!(r.detail(), format!("Assistant '{id}' not found"), "{route}");
            secret_free(route, &r);
        }
    }
    // Nothing of Alice's went into Bob's thread.
    let t = bob.get(&format!("/threads/{bobs_thread}")).await;
    secret_free("Bob's thread", &t);
    let runs = bob.get(&format!("/threads/{bobs_thread}/runs")).await;
    assert_eq!(runs.ok().as_array().unwrap().len(), 0);
    // Alice still runs her own, with its config.
    let r = alice
        .post("/runs", json!({"assistant_id": hers, "input": input}))
        .await;
    assert_eq!(
        r.ok()["kwargs"]["config"]["configurable"]["api_key"],
        "ALICE-SECRET"
    );
    server.stop().await;

    // The default assistant, by graph id or by its id, under both policies, for both users.
    let default = agent_server::graph::default_assistant_id("agent").to_string();
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        for client in [server.alice(), server.bob()] {
            let t = thread_with(&client, json!({})).await;
            for id in ["agent", default.as_str()] {
                let body = json!({"assistant_id": id, "input": input});
                let r = client
                    .post(&format!("/threads/{t}/runs/wait"), body.clone())
                    .await;
                assert_eq!(r.ok()["messages"][1]["content"], "hi", "{policy:?} {id}");
                client.post("/runs/wait", body).await.ok();
                let cron = json!({"assistant_id": id, "schedule": "* * * * *"});
                client.post("/runs/crons", cron).await.ok();
            }
        }
        server.stop().await;
    }
}

/// Finding 3: ids are a set, and every list of a request body is bounded.
#[tokio::test]
async fn finding_3_repeated_ids_count_once_and_lists_are_bounded() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    let a = thread_with(&alice, json!({})).await;
    let b = thread_with(&alice, json!({})).await;
    let repeated: Vec<&str> = (0..500).flat_map(|_| [a.as_str(), b.as_str()]).collect();
    let body = json!({"ids": repeated, "limit": 1000});
    let r = alice.post("/threads/search", body.clone()).await;
    assert_eq!(
        r.ok().as_array().unwrap().len(),
        2,
        "{} bytes",
        r.text.len()
    );
    assert_eq!(r.headers["x-pagination-total"], "2");
    assert_eq!(count(&alice, body).await, 2);

    let over: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let input = json!({"messages": [{"role": "user", "content": "hi"}]});
    let run = json!({"assistant_id": "agent", "input": input});
    let t = thread_with(&alice, json!({})).await;
    let too_many_messages: Vec<Value> = (0..1001).map(|i| json!(format!("m{i}"))).collect();
    let labels: Vec<String> = (0..101).map(|_| alice_label()).collect();
    let refused = [
        (
            "search ids",
            alice.post("/threads/search", json!({ "ids": over })).await,
        ),
        (
            "count ids",
            alice.post("/threads/count", json!({ "ids": over })).await,
        ),
        (
            "prune thread_ids",
            alice
                .post("/threads/prune", json!({ "thread_ids": over }))
                .await,
        ),
        (
            "cancel run_ids",
            alice
                .post("/runs/cancel", json!({"thread_id": t, "run_ids": over}))
                .await,
        ),
        (
            "batch of 1001 runs",
            alice
                .post("/runs/batch", Value::Array(vec![run.clone(); 1001]))
                .await,
        ),
        (
            "1001 input messages",
            alice
                .post(
                    "/runs/wait",
                    json!({"assistant_id": "agent", "input": {"messages": too_many_messages}}),
                )
                .await,
        ),
        (
            "1001 messages in a state update",
            alice
                .post(
                    &format!("/threads/{t}/state"),
                    json!({"values": {"messages": too_many_messages}}),
                )
                .await,
        ),
        (
            "101 namespace labels",
            alice
                .put(
                    "/store/items",
                    json!({"namespace": labels, "key": "k", "value": {}}),
                )
                .await,
        ),
    ];
    for (what, r) in refused {
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert!(r.detail().contains("at most"), "{what}: {}", r.text);
    }
    // At the bound, a batch is served.
    let r = alice
        .post("/runs/batch", Value::Array(vec![run; 1000]))
        .await;
    assert_eq!(r.ok().as_array().unwrap().len(), 1000);
    server.stop().await;
}

fn alice_label() -> String {
    "user1".to_owned()
}

/// A policy whose `threads.delete` refuses one thread, to see prune stop before changing
/// anything.
mod refuse_one {
    use auth::types::{AuthValue, ThreadsDelete};
    use auth::{AuthContext, Filter, HttpException, MinimalUser};

    /// The thread that `threads.delete` refuses.
    pub const REFUSED: &str = "ffffffff-ffff-4fff-bfff-ffffffffffff";

    /// `Bearer <name>` is the user `<name>`.
    #[auth::authenticate]
    pub async fn who(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|name| MinimalUser::new(name.to_owned()))
            .ok_or_else(|| HttpException::new(401).with_detail("Missing token"))
    }

    /// The owner rule.
    #[auth::on]
    pub async fn owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
        let me = ctx.user.identity();
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), me.into());
        }
        Filter::eq("owner", me)
    }

    /// The owner rule, refusing [`REFUSED`].
    #[auth::on(threads.delete)]
    pub async fn delete(ctx: &AuthContext, value: &ThreadsDelete) -> Result<Filter, HttpException> {
        if value.thread_id.as_deref() == Some(REFUSED) {
            return Err(HttpException::new(403).with_detail("this one stays"));
        }
        Ok(Filter::eq("owner", ctx.user.identity()))
    }
}

/// "Also": prune is all or nothing when authorization refuses one of its threads.
#[tokio::test]
async fn prune_is_all_or_nothing() {
    let auth = auth::Auth::builder()
        .module(&format!("{}::refuse_one", module_path!()))
        .build()
        .unwrap();
    let server = Server::start_with(auth, Limits::default()).await;
    let me = server.user(Some("me"));
    let first = thread_with(&me, json!({})).await;
    me.post("/threads", json!({"thread_id": refuse_one::REFUSED}))
        .await
        .ok();
    let r = me
        .post(
            "/threads/prune",
            json!({"thread_ids": [first, refuse_one::REFUSED]}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(me.get(&format!("/threads/{first}")).await.status, 200);
    // Without the refused one, it prunes (and counts a repeated id once).
    let r = me
        .post("/threads/prune", json!({"thread_ids": [first, first]}))
        .await;
    assert_eq!(r.ok()["pruned_count"], 1);
    assert_eq!(me.get(&format!("/threads/{first}")).await.status, 404);
    server.stop().await;
}

/// "Also": a cron may not name, in its payload, a thread the caller cannot see.
#[tokio::test]
async fn crons_refuse_a_hidden_thread_in_the_payload() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let hers = thread_with(&alice, json!({})).await;
        let random = uuid::Uuid::new_v4().to_string();
        for id in [&hers, &random] {
            let cron = json!({"assistant_id": "agent", "schedule": "* * * * *", "thread_id": id});
            let r = bob.post("/runs/crons", cron).await;
            assert_eq!(r.status, 404, "{policy:?}: {}", r.text);
        }
        let r = bob.post("/runs/crons/search", json!({"limit": 100})).await;
        assert_eq!(r.ok().as_array().unwrap().len(), 0);
        // Her own thread, she may.
        let cron = json!({"assistant_id": "agent", "schedule": "* * * * *", "thread_id": hers});
        let r = alice.post("/runs/crons", cron).await;
        assert_eq!(r.ok()["thread_id"], hers.as_str());
        server.stop().await;
    }
}

async fn run_statuses(client: &Client, t: &str) -> Vec<(String, String)> {
    let r = client.get(&format!("/threads/{t}/runs?limit=100")).await;
    r.ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// "Also": cancelling with rollback and no `run_ids` removes the runs it cancels, not runs
/// that were interrupted before.
#[tokio::test]
async fn rollback_without_run_ids_keeps_runs_interrupted_before() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    let t = thread_with(&alice, json!({})).await;
    let later = json!({"assistant_id": "agent", "input": null, "after_seconds": 60});
    let first = alice
        .post(&format!("/threads/{t}/runs"), later.clone())
        .await;
    let first = first.ok()["run_id"].as_str().unwrap().to_owned();
    let r = alice
        .post(&format!("/threads/{t}/runs/{first}/cancel"), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let second = alice.post(&format!("/threads/{t}/runs"), later).await;
    let second = second.ok()["run_id"].as_str().unwrap().to_owned();
    let r = alice
        .post("/runs/cancel?action=rollback", json!({"thread_id": t}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        run_statuses(&alice, &t).await,
        [(first.clone(), "interrupted".to_owned())],
        "the second run is rolled back, the first stays"
    );
    assert_eq!(
        alice
            .get(&format!("/threads/{t}/runs/{second}"))
            .await
            .status,
        404
    );
    // Named, an interrupted run is rolled back.
    let r = alice
        .post(
            "/runs/cancel?action=rollback",
            json!({"thread_id": t, "run_ids": [first]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(run_statuses(&alice, &t).await.is_empty());
    server.stop().await;
}

/// Finding 4 (the API part): history is read a page at a time, newest first, before a
/// checkpoint; state at a checkpoint still answers.
#[tokio::test]
async fn history_is_read_page_by_page() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    let t = thread_with(&alice, json!({})).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let r = alice
            .post(
                &format!("/threads/{t}/state"),
                json!({"values": {"messages": [format!("m{i}")], "n": i}}),
            )
            .await;
        ids.push(
            r.ok()["checkpoint"]["checkpoint_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = |r: common::Reply| -> Vec<(String, i64)> {
        r.ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["checkpoint"]["checkpoint_id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    s["values"]["n"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let first = page(alice.get(&format!("/threads/{t}/history?limit=3")).await);
    assert_eq!(
        first,
        [
            (ids[6].clone(), 6),
            (ids[5].clone(), 5),
            (ids[4].clone(), 4)
        ]
    );
    let next = page(
        alice
            .post(
                &format!("/threads/{t}/history"),
                json!({"limit": 3, "before": {"checkpoint_id": ids[4]}}),
            )
            .await,
    );
    assert_eq!(
        next,
        [
            (ids[3].clone(), 3),
            (ids[2].clone(), 2),
            (ids[1].clone(), 1)
        ]
    );
    // Each checkpoint keeps its own values; the messages accumulate.
    let at = alice.get(&format!("/threads/{t}/state/{}", ids[2])).await;
    let at = at.ok();
    assert_eq!(at["values"]["n"], 2);
    assert_eq!(at["values"]["messages"].as_array().unwrap().len(), 3);
    let now = alice.get(&format!("/threads/{t}/state")).await;
    assert_eq!(now.ok()["values"]["messages"].as_array().unwrap().len(), 7);
    assert_eq!(
        alice
            .get(&format!("/threads/{t}/state/{}", uuid::Uuid::new_v4()))
            .await
            .status,
        404
    );
    server.stop().await;
}
