//! Faults in the user's handlers, and filters that fail closed, end to end over HTTP.
//!
//! The tutorial policy has no faulty handler, so this file registers its own test-only policy
//! (module [`faulty`]) and serves it with [`Server::start_with`]. Every fault must answer that
//! request alone (500 or 504 with a JSON detail naming the handler), store nothing, and leave the
//! server serving everyone else.

use crate::common;

use std::time::{Duration, Instant};

use agent_server::Limits;
use common::{Client, Server};
use reqwest::Method;
use serde_json::json;

/// A test-only policy whose handlers fail on demand.
mod faulty {
    use auth::types::AuthValue;
    use auth::{AuthContext, Filter, HttpException, MinimalUser};
    use serde_json::Value;

    /// `Bearer <name>` is the user `<name>`; the tokens `panic` and `hang` make authentication
    /// itself panic or never answer.
    #[auth::authenticate]
    pub async fn who(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| HttpException::new(401).with_detail("Missing token"))?;
        match token {
            "panic" => panic!("authenticate blew up"),
            "hang" => std::future::pending().await,
            "" => Err(HttpException::new(401).with_detail("Invalid token")),
            name => Ok(MinimalUser::new(name.to_owned())),
        }
    }

    /// The tutorial's owner rule, with faults chosen by the caller:
    /// - the value's `metadata.fault` (on creates, updates and searches): `panic`, `error`
    ///   (an `HttpException` 500) or `hang`;
    /// - the user `bad-filter` gets a malformed filter (an unknown operator) on every event;
    /// - the user `contains` gets `$contains` on `owner`, which holds a string, not a list;
    /// - the user `admin` gets no filter (sees everything), to check what was stored.
    #[auth::on]
    pub async fn owner(
        ctx: &AuthContext,
        value: &mut AuthValue,
    ) -> Result<Option<Filter>, HttpException> {
        let me = ctx.user.identity().to_owned();
        let fault = value
            .metadata()
            .and_then(|m| m.get("fault"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match fault.as_deref() {
            Some("panic") => panic!("handler bug"),
            Some("error") => return Err(HttpException::new(500).with_detail("backend down")),
            Some("hang") => std::future::pending::<()>().await,
            _ => {}
        }
        if me == "admin" {
            return Ok(None);
        }
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), me.clone().into());
        }
        Ok(match me.as_str() {
            // A filter built at run time from bad input (`filter!` refuses it at compile time).
            "bad-filter" => Some(Filter::eq("$ne", me)),
            "contains" => Some(Filter::contains("owner", me)),
            _ => Some(Filter::eq("owner", me)),
        })
    }
}

/// Only an authenticate handler: every (resource, action) is uncovered.
mod authn_only {
    use auth::{HttpException, MinimalUser};

    /// `Bearer <name>` is the user `<name>`.
    #[auth::authenticate]
    pub async fn anyone(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|name| MinimalUser::new(name.to_owned()))
            .ok_or_else(|| HttpException::new(401).with_detail("Missing token"))
    }
}

const DEADLINE: Duration = Duration::from_millis(400);

async fn faulty_server() -> Server {
    let auth = auth::Auth::builder()
        .module(&format!("{}::faulty", module_path!()))
        .build()
        .unwrap();
    let limits = Limits {
        handler_timeout: DEADLINE,
        ..Limits::default()
    };
    Server::start_with(auth, limits).await
}

/// How many threads exist, whoever owns them (the `admin` user has no filter).
async fn total_threads(server: &Server) -> i64 {
    server
        .user(Some("admin"))
        .post("/threads/count", json!({}))
        .await
        .ok()
        .as_i64()
        .unwrap()
}

fn assert_fault(r: &common::Reply, status: u16, needles: &[&str]) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json", "{}", r.text);
    let detail = r.detail();
    for n in needles {
        assert!(detail.contains(n), "{n:?} not in {detail:?}");
    }
}

#[tokio::test]
async fn a_failing_handler_fails_its_request_only_and_stores_nothing() {
    let server = faulty_server().await;
    let alice = server.user(Some("alice"));
    let t = alice
        .post("/threads", json!({"metadata": {"topic": "kept"}}))
        .await
        .ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(total_threads(&server).await, 1);

    for (fault, status, needles) in [
        ("panic", 500, &["`owner`", "panicked"][..]),
        ("error", 500, &["backend down"][..]),
        (
            "hang",
            504,
            &["`owner`", "threads.", "did not answer within 400 ms"][..],
        ),
    ] {
        let md = json!({"metadata": {"fault": fault, "topic": "changed"}});
        let started = Instant::now();
        // A create: refused before anything is stored.
        assert_fault(&alice.post("/threads", md.clone()).await, status, needles);
        // An update of an existing thread: refused before anything changes.
        assert_fault(
            &alice.patch(&format!("/threads/{t}"), md.clone()).await,
            status,
            needles,
        );
        // A search, whose handler sees the caller's metadata filter.
        assert_fault(
            &alice.post("/threads/search", md.clone()).await,
            status,
            needles,
        );
        // A run on the thread, with the fault in the run's metadata.
        let run = json!({"assistant_id": "agent", "metadata": {"fault": fault},
            "input": {"messages": [{"role": "user", "content": "x"}]}});
        assert_fault(
            &alice.post(&format!("/threads/{t}/runs/wait"), run).await,
            status,
            needles,
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{fault}");

        // Nothing was stored or changed, and the server still serves.
        assert_eq!(total_threads(&server).await, 1, "{fault}");
        let thread = alice.get(&format!("/threads/{t}")).await;
        assert_eq!(
            thread.ok()["metadata"],
            json!({"topic": "kept", "owner": "alice"}),
            "{fault}"
        );
        assert_eq!(
            alice
                .get(&format!("/threads/{t}/runs"))
                .await
                .ok()
                .as_array()
                .unwrap()
                .len(),
            0,
            "{fault}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_failing_authenticate_handler_fails_its_request_only() {
    let server = faulty_server().await;
    let r = server.user(Some("panic")).get("/threads/search").await;
    // GET on a POST route: authentication runs first, so this is still the handler's 500.
    assert_fault(&r, 500, &["`who`", "panicked"]);
    let r = server.user(Some("panic")).post("/threads", json!({})).await;
    assert_fault(&r, 500, &["`who`", "panicked"]);

    // A hanging authentication holds only its own request.
    let hanging = {
        let client = server.user(Some("hang"));
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client.post("/threads", json!({})).await;
            (r, started.elapsed())
        })
    };
    let alice = server.user(Some("alice"));
    let served = Instant::now();
    alice.post("/threads", json!({})).await.ok();
    alice.post("/threads/count", json!({})).await.ok();
    assert!(
        served.elapsed() < DEADLINE,
        "others wait for the hung request"
    );
    let (r, took) = hanging.await.unwrap();
    assert_fault(&r, 504, &["`who`", "did not answer within 400 ms"]);
    assert!(
        took >= DEADLINE && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(total_threads(&server).await, 1);
    server.stop().await;
}

#[tokio::test]
async fn filters_fail_closed_end_to_end() {
    let server = faulty_server().await;
    let alice = server.user(Some("alice"));
    let t = alice.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A malformed filter (the operator `$ne` used as a key) is a 500 naming the handler, on every kind of
    // event, and never lets anything through.
    let bad = server.user(Some("bad-filter"));
    let needles = ["`owner`", "malformed filter", "$ne"];
    for r in [
        bad.get(&format!("/threads/{t}")).await,
        bad.post("/threads/search", json!({})).await,
        bad.post("/threads/count", json!({})).await,
        bad.patch(&format!("/threads/{t}"), json!({"metadata": {"x": 1}}))
            .await,
        bad.delete(&format!("/threads/{t}")).await,
        bad.post(&format!("/threads/{t}/copy"), json!({})).await,
        bad.post("/threads", json!({})).await,
    ] {
        assert_fault(&r, 500, &needles);
    }
    assert_eq!(total_threads(&server).await, 1);
    assert_eq!(
        alice.get(&format!("/threads/{t}")).await.ok()["metadata"],
        json!({"owner": "alice"})
    );

    // `$contains` on a key that holds a string matches nothing: the user's own thread is stored
    // (create does not read through the filter) but they can neither see nor change it.
    let odd = server.user(Some("contains"));
    let own = odd.post("/threads", json!({})).await;
    let own = own.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(odd.get(&format!("/threads/{own}")).await.status, 404);
    assert_eq!(odd.get(&format!("/threads/{t}")).await.status, 404);
    assert_eq!(
        odd.post("/threads/search", json!({})).await.ok(),
        &json!([])
    );
    assert_eq!(odd.post("/threads/count", json!({})).await.ok(), &json!(0));
    assert_eq!(odd.delete(&format!("/threads/{t}")).await.status, 404);
    assert_eq!(total_threads(&server).await, 2);
    server.stop().await;
}

#[tokio::test]
async fn uncovered_pairs_are_allowed_by_default_and_denied_on_request() {
    let build = |deny: bool| {
        auth::Auth::builder()
            .module(&format!("{}::authn_only", module_path!()))
            .deny_uncovered(deny)
            .build()
            .unwrap()
    };
    // LangGraph's default: no handler, no restriction, so users see each other's threads.
    let open = Server::start_with(build(false), Limits::default()).await;
    let t = open.user(Some("alice")).post("/threads", json!({})).await;
    let t = t.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(
        open.user(Some("bob"))
            .get(&format!("/threads/{t}"))
            .await
            .status,
        200
    );
    open.stop().await;

    // `deny_uncovered(true)`: every event is refused with 403 naming the pair.
    let closed = Server::start_with(build(true), Limits::default()).await;
    let alice: Client = closed.user(Some("alice"));
    for (method, path, body, pair) in [
        (Method::POST, "/threads", Some(json!({})), "threads.create"),
        (
            Method::POST,
            "/threads/search",
            Some(json!({})),
            "threads.search",
        ),
        (
            Method::POST,
            "/assistants",
            Some(json!({"graph_id": "agent"})),
            "assistants.create",
        ),
        (
            Method::PUT,
            "/store/items",
            Some(json!({"namespace": ["alice"], "key": "k", "value": {}})),
            "store.put",
        ),
    ] {
        let r = alice.send(method, path, body).await;
        assert_fault(&r, 403, &[pair]);
    }
    assert_eq!(
        closed
            .user(Some("admin"))
            .post("/threads/count", json!({}))
            .await
            .status,
        403
    );
    closed.stop().await;
}
