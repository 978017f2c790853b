//! Where both LangGraph servers agree and the official JS client relies on it (issue 14):
//! errors of a joined stream are events of the stream; a copy of a thread one cannot see is a
//! 409; store filters see `namespace` and `key`; a run leaves LangGraph's checkpoints.

use crate::common;

use agent_server::Limits;
use common::{Client, Server};
use serde_json::{Value, json};
use tutorial_policy::Policy;

/// The events of a `text/event-stream` body: (event, data as JSON).
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

fn is_stream(r: &common::Reply) -> bool {
    r.status == 200
        && r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
}

/// The one `error` event of a stream, whose message starts with `status: `.
fn assert_error_event(r: &common::Reply, status: u16, what: &str) -> String {
    assert!(is_stream(r), "{what}: {} {}", r.status, r.text);
    let evs = events(&r.text);
    assert_eq!(evs.len(), 1, "{what}: {}", r.text);
    assert_eq!(evs[0].0, "error", "{what}: {}", r.text);
    assert_eq!(evs[0].1["error"], "HTTPException", "{what}: {}", r.text);
    let message = evs[0].1["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with(&format!("{status}: ")),
        "{what}: {message}"
    );
    message
}

fn input(text: &str) -> Value {
    json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}})
}

async fn thread_with_run(alice: &Client) -> (String, String) {
    let t = alice.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = alice.post(&format!("/threads/{t}/runs"), input("hi")).await;
    let r = run.ok()["run_id"].as_str().unwrap().to_owned();
    alice.get(&format!("/threads/{t}/runs/{r}/join")).await.ok();
    (t, r)
}

const RANDOM: &str = "00000000-0000-4000-8000-00000000abcd";

#[tokio::test]
async fn errors_of_a_joined_stream_are_events_of_the_stream() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let (t, r) = thread_with_run(&alice).await;

        // Alice joins her run's stream: its values.
        let own = alice.get(&format!("/threads/{t}/runs/{r}/stream")).await;
        assert!(is_stream(&own), "{}", own.text);
        let kinds: Vec<String> = events(&own.text).into_iter().map(|e| e.0).collect();
        assert_eq!(kinds, ["metadata", "values"], "{}", own.text);

        // Bob: a 200 stream with one error event, the same for a random thread id.
        let hidden = bob.get(&format!("/threads/{t}/runs/{r}/stream")).await;
        let message = assert_error_event(&hidden, 404, "hidden thread");
        let absent = bob.get(&format!("/threads/{RANDOM}/runs/{r}/stream")).await;
        let other = assert_error_event(&absent, 404, "absent thread");
        assert_eq!(message.replace(&t, "ID"), other.replace(RANDOM, "ID"));
        let thread_stream = bob.get(&format!("/threads/{t}/stream")).await;
        assert_error_event(&thread_stream, 404, "thread stream");
        // An absent run on her own thread: an error event too.
        let no_run = alice
            .get(&format!("/threads/{t}/runs/{RANDOM}/stream"))
            .await;
        let m = assert_error_event(&no_run, 404, "absent run");
        assert!(m.contains("Run"), "{m}");

        // Authentication and malformed requests stay plain HTTP errors.
        let anonymous = server.user(None);
        for r in [
            anonymous
                .get(&format!("/threads/{t}/runs/{r}/stream"))
                .await,
            anonymous.get(&format!("/threads/{t}/stream")).await,
            anonymous
                .post(&format!("/threads/{t}/runs/stream"), input("x"))
                .await,
            anonymous.post("/runs/stream", input("x")).await,
        ] {
            assert_eq!(r.status, 401, "{}", r.text);
            assert!(r.body["detail"].is_string());
        }
        for r in [
            bob.get(&format!("/threads/not-a-uuid/runs/{r}/stream"))
                .await,
            bob.get(&format!("/threads/{t}/runs/not-a-uuid/stream"))
                .await,
            bob.get("/threads/not-a-uuid/stream").await,
            bob.post("/runs/stream", json!({"assistant_id": "agent", "input": 3}))
                .await,
            bob.post(&format!("/threads/{t}/runs/stream"), json!({"input": {}}))
                .await,
        ] {
            assert_eq!(r.status, 422, "{}", r.text);
            assert!(r.body["detail"].is_string());
        }

        // Creating a streamed run is refused before the stream, as both LangGraph servers do.
        let r = bob
            .post(&format!("/threads/{t}/runs/stream"), input("x"))
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        let r = bob
            .post(
                "/runs/stream",
                json!({"assistant_id": RANDOM, "input": {"messages": []}}),
            )
            .await;
        // An assistant is read under `assistants.read`: the scoped policy refuses every one.
        let refused = if policy == Policy::Scoped { 403 } else { 404 };
        assert_eq!(r.status, refused, "{}", r.text);
        // A streamed stateless run of one's own is a stream.
        let ok = bob.post("/runs/stream", input("yo")).await;
        assert!(is_stream(&ok), "{}", ok.text);

        // Alice's thread is as it was: one run.
        let runs = alice.get(&format!("/threads/{t}/runs")).await;
        assert_eq!(runs.ok().as_array().unwrap().len(), 1);
        server.stop().await;
    }
}

mod refusing {
    use auth::types::ThreadsRead;
    use auth::{AuthContext, Filter, HttpException};

    #[auth::authenticate]
    async fn by_token(authorization: &str) -> Result<String, HttpException> {
        match authorization {
            "Bearer user1-token" => Ok("user1".into()),
            "Bearer user2-token" => Ok("user2".into()),
            _ => Err(HttpException::new(401).with_detail("Invalid token")),
        }
    }

    #[auth::on]
    async fn owner(ctx: &AuthContext, value: &mut auth::types::AuthValue) -> Filter {
        if let Some(m) = value.metadata_mut() {
            m.insert("owner".into(), ctx.user.identity().into());
        }
        Filter::eq("owner", ctx.user.identity())
    }

    /// Bob may read no thread at all: a 403 from the handler.
    #[auth::on(threads.read)]
    async fn read(ctx: &AuthContext, _value: &ThreadsRead) -> Result<Filter, HttpException> {
        auth::ensure!(ctx.user.identity() != "user2", "No reading for you");
        Ok(Filter::eq("owner", ctx.user.identity()))
    }
}

#[tokio::test]
async fn a_handlers_refusal_of_a_joined_stream_is_an_event_too() {
    let auth = auth::Auth::builder()
        .module(&format!("{}::refusing", module_path!()))
        .build()
        .unwrap();
    let server = Server::start_with(auth, Limits::default()).await;
    let (alice, bob) = (server.alice(), server.bob());
    let (t, r) = thread_with_run(&alice).await;
    let refused = bob.get(&format!("/threads/{t}/runs/{r}/stream")).await;
    let m = assert_error_event(&refused, 403, "refused");
    assert!(m.contains("No reading for you"), "{m}");
    // The same refusal on a route that does not stream is the plain 403.
    let plain = bob.get(&format!("/threads/{t}")).await;
    assert_eq!(plain.status, 403, "{}", plain.text);
    server.stop().await;
}

#[tokio::test]
async fn copying_a_thread_one_cannot_see_is_409_like_an_absent_one() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let (t, _) = thread_with_run(&alice).await;
        let hidden = bob.post(&format!("/threads/{t}/copy"), json!({})).await;
        let absent = bob
            .post(&format!("/threads/{RANDOM}/copy"), json!({}))
            .await;
        for r in [&hidden, &absent] {
            assert_eq!(r.status, 409, "{policy:?}: {}", r.text);
        }
        assert_eq!(
            hidden.detail().replace(&t, "ID"),
            absent.detail().replace(RANDOM, "ID")
        );
        // Nothing was created for Bob.
        assert_eq!(bob.post("/threads/count", json!({})).await.ok(), &json!(0));
        // A malformed id is still a 422; Alice's own copy works and keeps the history.
        let bad = bob.post("/threads/nope/copy", json!({})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        let copy = alice.post(&format!("/threads/{t}/copy"), json!({})).await;
        let c = copy.ok()["thread_id"].as_str().unwrap().to_owned();
        let history = alice.get(&format!("/threads/{c}/history")).await;
        assert_eq!(history.ok().as_array().unwrap().len(), 3);
        server.stop().await;
    }
}

mod store_filters {
    use auth::types::StoreValue;
    use auth::{AuthContext, Filter, HttpException};

    #[auth::authenticate]
    async fn by_token(authorization: &str) -> Result<String, HttpException> {
        authorization
            .strip_prefix("Bearer ")
            .and_then(|t| t.strip_suffix("-token"))
            .map(str::to_owned)
            .ok_or_else(|| HttpException::new(401).with_detail("Invalid token"))
    }

    /// LangGraph.js's documented pattern for most users: only namespaces that contain my id.
    /// `carol` and `dave` get a filter on a value field instead (LangGraph Python's kind).
    #[auth::on(store)]
    async fn mine(ctx: &AuthContext, _value: &mut StoreValue) -> Filter {
        let me = ctx.user.identity();
        match me {
            "carol" | "dave" => Filter::eq("owner", me),
            "keyed" => Filter::eq("key", "open"),
            _ => Filter::contains("namespace", me),
        }
    }
}

async fn put(c: &Client, ns: Value, key: &str, value: Value) -> common::Reply {
    c.put(
        "/store/items",
        json!({"namespace": ns, "key": key, "value": value}),
    )
    .await
}

async fn gone(c: &Client, ns: Value, key: &str) -> common::Reply {
    c.delete_json("/store/items", json!({"namespace": ns, "key": key}))
        .await
}

#[tokio::test]
async fn store_filters_see_namespace_and_key() {
    let auth = auth::Auth::builder()
        .module(&format!("{}::store_filters", module_path!()))
        .build()
        .unwrap();
    let server = Server::start_with(auth, Limits::default()).await;
    let (alice, bob) = (
        server.user(Some("user1-token")),
        server.user(Some("user2-token")),
    );

    // Each writes under a namespace holding their id; a value field named `namespace` or `key`
    // does not stand in for the real ones.
    assert_eq!(
        put(
            &alice,
            json!(["user1", "notes"]),
            "a",
            json!({"text": "hers"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        put(
            &bob,
            json!(["user2", "notes"]),
            "b",
            json!({"text": "his", "namespace": ["user1"], "key": "a"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        put(
            &bob,
            json!(["team", "user2"]),
            "c",
            json!({"text": "his too"})
        )
        .await
        .status,
        204
    );
    // A new item outside one's namespaces: 403, nothing stored.
    let r = put(
        &alice,
        json!(["user2", "notes"]),
        "x",
        json!({"namespace": ["user1"]}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.detail(), "Not authorized");

    // search: own items only, whatever the prefix.
    let found = alice
        .post("/store/items/search", json!({"namespace_prefix": []}))
        .await;
    let keys: Vec<&str> = found.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a"], "{}", found.text);
    let found = bob
        .post("/store/items/search", json!({"namespace_prefix": []}))
        .await;
    assert_eq!(
        found.ok()["items"].as_array().unwrap().len(),
        2,
        "{}",
        found.text
    );
    // The caller's own filter still matches the value only, ANDed.
    let found = bob
        .post(
            "/store/items/search",
            json!({"namespace_prefix": [], "filter": {"text": "his"}}),
        )
        .await;
    assert_eq!(
        found.ok()["items"].as_array().unwrap().len(),
        1,
        "{}",
        found.text
    );

    // get: someone else's item is absent.
    assert_eq!(
        alice
            .get("/store/items?namespace=user1.notes&key=a")
            .await
            .status,
        200
    );
    let r = alice.get("/store/items?namespace=user2.notes&key=b").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.detail(), "Item not found");

    // delete: someone else's item is kept, and answers as an absent one there would.
    let hidden = gone(&alice, json!(["user2", "notes"]), "b").await;
    let absent = gone(&alice, json!(["user2", "notes"]), "nothing").await;
    assert_eq!(
        (hidden.status.as_u16(), absent.status.as_u16()),
        (404, 404),
        "{} {}",
        hidden.text,
        absent.text
    );
    assert_eq!(
        bob.get("/store/items?namespace=user2.notes&key=b")
            .await
            .status,
        200
    );
    // Own items: delete works, an absent one is fine.
    assert_eq!(gone(&bob, json!(["team", "user2"]), "c").await.status, 204);
    assert_eq!(gone(&bob, json!(["team", "user2"]), "c").await.status, 204);
    assert_eq!(
        bob.get("/store/items?namespace=team.user2&key=c")
            .await
            .status,
        404
    );

    // list_namespaces: only namespaces holding an item that passes.
    let listed = alice.post("/store/namespaces", json!({})).await;
    assert_eq!(listed.ok()["namespaces"], json!([["user1", "notes"]]));
    let listed = bob.post("/store/namespaces", json!({})).await;
    assert_eq!(listed.ok()["namespaces"], json!([["user2", "notes"]]));
    let listed = bob.post("/store/namespaces", json!({"max_depth": 1})).await;
    assert_eq!(listed.ok()["namespaces"], json!([["user2"]]));

    // A filter on a value field (as in LangGraph Python): items whose value passes.
    let (carol, dave) = (
        server.user(Some("carol-token")),
        server.user(Some("dave-token")),
    );
    assert_eq!(
        put(&dave, json!(["pub"]), "k", json!({"owner": "dave"}))
            .await
            .status,
        204
    );
    assert_eq!(
        put(&carol, json!(["pub"]), "j", json!({"owner": "carol"}))
            .await
            .status,
        204
    );
    // Carol cannot overwrite Dave's item (hidden: 404), nor write one that is not hers (403).
    let r = put(&carol, json!(["pub"]), "k", json!({"owner": "carol"})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = put(&carol, json!(["pub"]), "z", json!({"owner": "dave"})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        dave.get("/store/items?namespace=pub&key=k").await.ok()["value"],
        json!({"owner": "dave"})
    );
    let found = carol
        .post("/store/items/search", json!({"namespace_prefix": ["pub"]}))
        .await;
    assert_eq!(found.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["items"][0]["key"], "j");
    // Alice's filter needs her id in the namespace: `pub` is not listed to her.
    assert_eq!(
        alice
            .post("/store/namespaces", json!({"prefix": ["pub"]}))
            .await
            .ok()["namespaces"],
        json!([])
    );
    assert_eq!(
        carol.post("/store/namespaces", json!({})).await.ok()["namespaces"],
        json!([["pub"]])
    );
    // Once Carol's only item is gone, `pub` is no longer hers to list, though Dave's is there.
    assert_eq!(gone(&carol, json!(["pub"]), "j").await.status, 204);
    assert_eq!(
        carol.post("/store/namespaces", json!({})).await.ok()["namespaces"],
        json!([])
    );
    assert_eq!(
        dave.post("/store/namespaces", json!({})).await.ok()["namespaces"],
        json!([["pub"]])
    );

    // A filter on the key.
    let keyed = server.user(Some("keyed-token"));
    assert_eq!(
        put(&keyed, json!(["k"]), "open", json!({})).await.status,
        204
    );
    assert_eq!(
        put(&keyed, json!(["k"]), "closed", json!({})).await.status,
        403
    );
    assert_eq!(
        keyed.get("/store/items?namespace=k&key=open").await.status,
        200
    );
    assert_eq!(
        keyed.get("/store/items?namespace=pub&key=k").await.status,
        404
    );
    server.stop().await;
}

fn ids(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["checkpoint"]["checkpoint_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_run_leaves_the_checkpoints_of_a_one_node_graph() {
    let server = Server::start(Policy::Scoped).await;
    let (alice, bob) = (server.alice(), server.bob());
    let t = alice.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = input("hi");
    alice
        .post(&format!("/threads/{t}/runs/wait"), first.clone())
        .await
        .ok();
    let h = alice
        .post(&format!("/threads/{t}/history"), json!({}))
        .await;
    let h = h.ok().clone();
    let states = h.as_array().unwrap();
    assert_eq!(states.len(), 3, "{h}");
    // Newest first: the echo's step, the input applied, the input.
    let meta = |i: usize, k: &str| states[i]["metadata"][k].clone();
    assert_eq!(
        (0..3).map(|i| meta(i, "step")).collect::<Vec<_>>(),
        [json!(1), json!(0), json!(-1)]
    );
    assert_eq!(
        (0..3).map(|i| meta(i, "source")).collect::<Vec<_>>(),
        [json!("loop"), json!("loop"), json!("input")]
    );
    assert_eq!(meta(2, "writes"), json!({"__start__": first["input"]}));
    assert_eq!(meta(1, "writes"), Value::Null);
    let replies = meta(0, "writes")["echo"]["messages"].clone();
    assert_eq!(replies.as_array().unwrap().len(), 1);
    assert_eq!(replies[0]["type"], "ai");
    assert_eq!(replies[0]["content"], "hi");
    assert_eq!(
        (0..3)
            .map(|i| states[i]["next"].clone())
            .collect::<Vec<_>>(),
        [json!([]), json!(["echo"]), json!(["__start__"])]
    );
    assert_eq!(states[1]["tasks"][0]["name"], "echo");
    assert_eq!(states[0]["tasks"], json!([]));
    assert_eq!(states[2]["values"], json!({}));
    assert_eq!(states[1]["values"]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(states[0]["values"]["messages"].as_array().unwrap().len(), 2);
    // Each checkpoint's parent is the one before it; the first has none.
    let first_ids = ids(&h);
    assert_eq!(
        states[0]["parent_checkpoint"]["checkpoint_id"],
        json!(first_ids[1])
    );
    assert_eq!(
        states[1]["parent_checkpoint"]["checkpoint_id"],
        json!(first_ids[2])
    );
    assert_eq!(states[2]["parent_checkpoint"], Value::Null);
    for s in states {
        assert_eq!(s["metadata"]["thread_id"], json!(t));
        assert_eq!(s["checkpoint"]["thread_id"], json!(t));
    }

    // A second run continues the steps from the first run's last checkpoint.
    alice
        .post(&format!("/threads/{t}/runs/wait"), input("again"))
        .await
        .ok();
    let h2 = alice
        .post(&format!("/threads/{t}/history"), json!({}))
        .await
        .ok()
        .clone();
    let states2 = h2.as_array().unwrap();
    assert_eq!(states2.len(), 6);
    let steps: Vec<Value> = states2
        .iter()
        .map(|s| s["metadata"]["step"].clone())
        .collect();
    assert_eq!(steps, [4, 3, 2, 1, 0, -1].map(|n| json!(n)));
    assert_eq!(states2[2]["metadata"]["source"], "input");
    assert_eq!(
        states2[2]["parent_checkpoint"]["checkpoint_id"],
        json!(first_ids[0])
    );
    // Paginated: `limit` and `before`.
    let page = alice
        .post(
            &format!("/threads/{t}/history"),
            json!({"limit": 2, "before": {"checkpoint_id": ids(&h2)[1]}}),
        )
        .await;
    assert_eq!(ids(page.ok()), ids(&h2)[2..4]);
    let by_source = alice
        .post(
            &format!("/threads/{t}/history"),
            json!({"metadata": {"source": "input"}}),
        )
        .await;
    assert_eq!(by_source.ok().as_array().unwrap().len(), 2);

    // Time travel: the state at the first run's end, by path and by body.
    let old = &first_ids[0];
    let at = alice.get(&format!("/threads/{t}/state/{old}")).await;
    assert_eq!(at.ok()["values"]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(at.body["metadata"]["step"], 1);
    let at = alice
        .post(
            &format!("/threads/{t}/state/checkpoint"),
            json!({"checkpoint": {"checkpoint_id": old}}),
        )
        .await;
    assert_eq!(at.ok()["checkpoint"]["checkpoint_id"], json!(old));

    // Fork from it: the update's parent is that checkpoint, its values build on it.
    let fork = alice
        .post(
            &format!("/threads/{t}/state"),
            json!({"values": {"messages": [{"role": "user", "content": "instead"}]}, "checkpoint": {"checkpoint_id": old}}),
        )
        .await;
    let fork_id = fork.ok()["checkpoint"]["checkpoint_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = alice.get(&format!("/threads/{t}/state")).await;
    let now = now.ok();
    assert_eq!(now["checkpoint"]["checkpoint_id"], json!(fork_id));
    assert_eq!(now["parent_checkpoint"]["checkpoint_id"], json!(old));
    assert_eq!(now["metadata"]["source"], "update");
    assert_eq!(now["metadata"]["step"], 2);
    assert_eq!(
        now["metadata"]["writes"]["echo"]["messages"][0]["content"],
        "instead"
    );
    let texts: Vec<&str> = now["values"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hi", "hi", "instead"]);
    // `checkpoint_id` alone names the base too; an unknown checkpoint is a 404, nothing saved.
    let r = alice
        .post(
            &format!("/threads/{t}/state"),
            json!({"values": {}, "checkpoint_id": first_ids[2]}),
        )
        .await;
    r.ok();
    let state = alice.get(&format!("/threads/{t}/state")).await;
    assert_eq!(state.ok()["metadata"]["step"], 0);
    assert_eq!(state.body["values"], json!({}));
    let r = alice
        .post(
            &format!("/threads/{t}/state"),
            json!({"values": {}, "checkpoint_id": RANDOM}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        alice
            .post(&format!("/threads/{t}/history"), json!({"limit": 100}))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        8
    );
    // Bob can neither read Alice's old state nor fork it.
    assert_eq!(
        bob.get(&format!("/threads/{t}/state/{old}")).await.status,
        404
    );
    let r = bob
        .post(
            &format!("/threads/{t}/state"),
            json!({"values": {}, "checkpoint_id": old}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn the_namespaced_policy_shows_each_user_the_namespaces_naming_them() {
    let server = Server::start(Policy::Namespaced).await;
    let (alice, bob) = (server.alice(), server.bob());
    for (c, ns, key) in [
        (&alice, json!(["user1", "notes"]), "a"),
        (&alice, json!(["team", "user1"]), "t"),
        (&bob, json!(["user2"]), "b"),
    ] {
        let r = put(c, ns, key, json!({"namespace": ["user1", "user2"]})).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let r = put(&alice, json!(["team"]), "x", json!({})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let listed = alice.post("/store/namespaces", json!({})).await;
    assert_eq!(
        listed.ok()["namespaces"],
        json!([["team", "user1"], ["user1", "notes"]])
    );
    let listed = bob.post("/store/namespaces", json!({})).await;
    assert_eq!(listed.ok()["namespaces"], json!([["user2"]]));
    let found = bob
        .post("/store/items/search", json!({"namespace_prefix": []}))
        .await;
    assert_eq!(found.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        bob.get("/store/items?namespace=user1.notes&key=a")
            .await
            .status,
        404
    );
    assert_eq!(gone(&bob, json!(["user1", "notes"]), "a").await.status, 404);
    assert_eq!(
        alice
            .get("/store/items?namespace=user1.notes&key=a")
            .await
            .status,
        200
    );
    // Threads follow the global handler.
    let t = alice.post("/threads", json!({})).await;
    let t = t.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.get(&format!("/threads/{t}")).await.status, 404);
    server.stop().await;
}
