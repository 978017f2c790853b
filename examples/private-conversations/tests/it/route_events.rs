//! Every route of the server emits the authorization events of LangGraph's route table
//! (reference, section 5), or is public. Peers of ours shipped routes on which no handler ever
//! ran; this test fails when a route is added without its event, or an event goes missing.
//!
//! A probe policy lets everything through and records, per caller, each event its handler saw.
//! Every request is made by a fresh caller, so the events it records are that route's.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use agent_server::testing::{AppState, router};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common;
use common::OpenStorage;

static EVENTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

mod probe {
    use auth::types::AuthValue;
    use auth::{AuthContext, HttpException};

    /// `Bearer <name>` authenticates as `<name>`.
    #[auth::authenticate]
    async fn by_name(authorization: &str) -> Result<String, HttpException> {
        authorization
            .strip_prefix("Bearer ")
            .map(str::to_owned)
            .ok_or_else(|| HttpException::new(401))
    }

    /// Allows everything, stamping the caller as owner and the event as `stamped_by`, and
    /// records the event.
    #[auth::on]
    async fn record(ctx: &AuthContext, value: &mut AuthValue) {
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), "probe".into());
            let event = format!("{}.{}", ctx.resource, ctx.action);
            metadata.insert("stamped_by".into(), event.into());
        }
        super::EVENTS.lock().unwrap().push((
            ctx.user.identity().to_owned(),
            format!("{}.{}", ctx.resource, ctx.action),
        ));
    }
}

/// The events each route emits, as the reference's route table gives them.
fn expected(method: &str, path: &str) -> Option<&'static [&'static str]> {
    let events: &[&str] = match (method, path) {
        ("GET", "/ok" | "/info" | "/docs" | "/openapi.json") => &[],
        ("POST", "/assistants") => &["assistants.create"],
        ("GET", "/assistants/{assistant_id}")
        | ("GET", "/assistants/{assistant_id}/graph")
        | ("GET", "/assistants/{assistant_id}/schemas")
        | ("GET", "/assistants/{assistant_id}/subgraphs")
        | ("POST", "/assistants/{assistant_id}/versions") => &["assistants.read"],
        ("PATCH", "/assistants/{assistant_id}") | ("POST", "/assistants/{assistant_id}/latest") => {
            &["assistants.update"]
        }
        ("DELETE", "/assistants/{assistant_id}") => &["assistants.delete"],
        ("POST", "/assistants/search" | "/assistants/count") => &["assistants.search"],
        ("POST", "/threads") => &["threads.create"],
        ("GET", "/threads/{thread_id}")
        | ("GET", "/threads/{thread_id}/state")
        | ("GET", "/threads/{thread_id}/state/{checkpoint_id}")
        | ("POST", "/threads/{thread_id}/state/checkpoint")
        | ("GET" | "POST", "/threads/{thread_id}/history") => &["threads.read"],
        ("PATCH", "/threads/{thread_id}") | ("POST", "/threads/{thread_id}/state") => {
            &["threads.update"]
        }
        ("DELETE", "/threads/{thread_id}") | ("POST", "/threads/prune") => &["threads.delete"],
        ("POST", "/threads/search" | "/threads/count") => &["threads.search"],
        ("POST", "/threads/{thread_id}/copy") => &["threads.read", "threads.create"],
        // With a graph's default assistant (`"agent"`, as here). Naming any other assistant adds
        // `assistants.read` before the run's or the cron's event (see
        // `runs_and_crons_naming_an_assistant_read_it`), and a cron naming a thread in its
        // payload adds `threads.read`.
        ("POST", "/threads/{thread_id}/runs")
        | ("POST", "/threads/{thread_id}/runs/stream")
        | ("POST", "/threads/{thread_id}/runs/wait")
        | ("POST", "/runs" | "/runs/stream" | "/runs/wait") => &["threads.create_run"],
        ("POST", "/runs/batch") => &["threads.create_run", "threads.create_run"],
        ("GET", "/threads/{thread_id}/runs") => &["threads.search"],
        ("GET", "/threads/{thread_id}/runs/{run_id}")
        | ("GET", "/threads/{thread_id}/runs/{run_id}/join")
        | ("GET", "/threads/{thread_id}/runs/{run_id}/stream")
        | ("GET", "/threads/{thread_id}/stream") => &["threads.read"],
        ("POST", "/threads/{thread_id}/runs/{run_id}/cancel") | ("POST", "/runs/cancel") => {
            &["threads.update"]
        }
        ("DELETE", "/threads/{thread_id}/runs/{run_id}") => &["threads.delete"],
        ("POST", "/runs/crons") => &["crons.create"],
        ("POST", "/threads/{thread_id}/runs/crons") => &["crons.create", "threads.read"],
        ("PATCH", "/runs/crons/{cron_id}") => &["crons.update"],
        ("GET", "/runs/crons/{cron_id}") => &["crons.read"],
        ("DELETE", "/runs/crons/{cron_id}") => &["crons.delete"],
        ("POST", "/runs/crons/search" | "/runs/crons/count") => &["crons.search"],
        ("PUT", "/store/items") => &["store.put"],
        ("GET", "/store/items") => &["store.get"],
        ("DELETE", "/store/items") => &["store.delete"],
        ("POST", "/store/items/search") => &["store.search"],
        ("POST", "/store/namespaces") => &["store.list_namespaces"],
        _ => return None,
    };
    Some(events)
}

struct Probe {
    base: String,
    http: reqwest::Client,
    calls: usize,
}

impl Probe {
    /// Sends one request as a fresh caller; returns the status, the body and the events seen.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, Vec<String>) {
        self.calls += 1;
        let caller = format!("caller-{}", self.calls);
        let mut req = self
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth(&caller);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let events = EVENTS
            .lock()
            .unwrap()
            .iter()
            .filter(|(who, _)| *who == caller)
            .map(|(_, e)| e.clone())
            .collect();
        (status, body, events)
    }

    async fn create(&mut self, path: &str, body: Value, id_field: &str) -> String {
        let (status, body, _) = self.call("POST", path, Some(body)).await;
        assert!(status < 300, "POST {path}: {status} {body}");
        body[id_field]
            .as_str()
            .unwrap_or_else(|| panic!("{id_field} in {body}"))
            .to_owned()
    }
}

fn run_input() -> Value {
    json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_emits_its_events() {
    let auth = auth::Auth::builder()
        .module(&format!("{}::probe", module_path!()))
        .build()
        .unwrap();
    // On the backend PC_TEST_BACKEND names; removed when the test ends.
    let db = common::TestDatabase::from_env().await;
    let state = AppState::new(Arc::new(auth), db.storage().await).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let mut p = Probe {
        base,
        http: reqwest::Client::new(),
        calls: 0,
    };

    // Resources for the routes that take ids.
    let assistant = p
        .create("/assistants", json!({"graph_id": "agent"}), "assistant_id")
        .await;
    let thread = p.create("/threads", json!({}), "thread_id").await;
    let other_thread = p.create("/threads", json!({}), "thread_id").await;
    let pruned_thread = p.create("/threads", json!({}), "thread_id").await;
    let run = p
        .create(&format!("/threads/{thread}/runs"), run_input(), "run_id")
        .await;
    let (status, body, _) = p
        .call("GET", &format!("/threads/{thread}/runs/{run}/join"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, state, _) = p
        .call("GET", &format!("/threads/{thread}/state"), None)
        .await;
    let checkpoint = state["checkpoint"]["checkpoint_id"]
        .as_str()
        .unwrap_or_else(|| panic!("checkpoint_id in {state}"))
        .to_owned();
    let cron = p
        .create(
            "/runs/crons",
            json!({"assistant_id": "agent", "schedule": "0 0 * * *"}),
            "cron_id",
        )
        .await;
    let (status, body, _) = p
        .call(
            "PUT",
            "/store/items",
            Some(json!({"namespace": ["probe"], "key": "k", "value": {"a": 1}})),
        )
        .await;
    assert!(status < 300, "{status} {body}");

    let mut seen = BTreeSet::new();
    // Deletions last, so that every other route finds what it needs.
    // Every route the server declares, from its OpenAPI document, with the events it declares.
    let doc: Value = p
        .http
        .get(format!("{}/openapi.json", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes: Vec<(String, String, Vec<String>)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // `/metrics` is served by the `Server` (not by `router`), with no event.
            let Some(declared) = op["x-auth-events"].as_array() else {
                assert_eq!(path, "/metrics", "{method} {path} declares no events");
                continue;
            };
            let declared = declared.iter().map(|e| e.as_str().unwrap().to_owned());
            routes.push((
                method.to_ascii_uppercase(),
                path.clone(),
                declared.collect(),
            ));
        }
    }
    let total = routes.len();
    routes.sort_by_key(|(method, path, _)| method == "DELETE" || path == "/threads/prune");
    for (method, template, declared) in &routes {
        let (method, template) = (method.as_str(), template.as_str());
        let expected = expected(method, template).unwrap_or_else(|| {
            panic!("{method} {template} is neither public nor in the route table")
        });
        // What the server declares (batch: once per run) is the reference's.
        let mut reference: Vec<&str> = expected.to_vec();
        reference.dedup();
        assert_eq!(
            declared, &reference,
            "{method} {template} declares other events"
        );
        let path = template
            .replace("{assistant_id}", &assistant)
            .replace(
                "{thread_id}",
                if method == "DELETE" && template == "/threads/{thread_id}" {
                    &other_thread
                } else {
                    &thread
                },
            )
            .replace("{run_id}", &run)
            .replace("{cron_id}", &cron)
            .replace("{checkpoint_id}", &checkpoint);
        let (path, body) = match (method, template) {
            ("GET", "/store/items") => ("/store/items?namespace=probe&key=k".to_owned(), None),
            ("PUT", "/store/items") => (
                path,
                Some(json!({"namespace": ["probe"], "key": "k2", "value": {}})),
            ),
            ("DELETE", "/store/items") => {
                (path, Some(json!({"namespace": ["probe"], "key": "k2"})))
            }
            ("POST", "/store/items/search") => (path, Some(json!({"namespace_prefix": ["probe"]}))),
            ("POST", "/assistants") => (path, Some(json!({"graph_id": "agent"}))),
            ("POST", "/assistants/{assistant_id}/latest") => (path, Some(json!({"version": 1}))),
            ("PATCH", _) if template.starts_with("/runs/crons") => {
                (path, Some(json!({"schedule": "0 1 * * *"})))
            }
            ("PATCH", _) => (path, Some(json!({"metadata": {"k": "v"}}))),
            ("POST", "/threads/{thread_id}/state") => {
                (path, Some(json!({"values": {"messages": []}})))
            }
            ("POST", "/threads/{thread_id}/state/checkpoint") => {
                (path, Some(json!({"checkpoint": {}})))
            }
            ("POST", "/threads/prune") => (path, Some(json!({"thread_ids": [pruned_thread]}))),
            ("POST", "/runs/cancel") => {
                (path, Some(json!({"thread_id": thread, "run_ids": [run]})))
            }
            ("POST", "/runs/batch") => (path, Some(json!([run_input(), run_input()]))),
            ("POST", "/runs/crons" | "/threads/{thread_id}/runs/crons") => (
                path,
                Some(json!({"assistant_id": "agent", "schedule": "0 0 * * *"})),
            ),
            ("POST", t)
                if t.ends_with("/runs") || t.ends_with("/wait") || t.ends_with("/stream") =>
            {
                (path, Some(run_input()))
            }
            ("POST", _) => (path, Some(json!({}))),
            _ => (path, None),
        };
        let (status, reply, events) = p.call(method, &path, body).await;
        assert!(status < 300, "{method} {template}: {status} {reply}");
        // The same events, each as often, in any order.
        let mut events: Vec<&str> = events.iter().map(String::as_str).collect();
        events.sort_unstable();
        let mut wanted = expected.to_vec();
        wanted.sort_unstable();
        assert_eq!(events, wanted, "{method} {template}");
        if expected.is_empty() {
            // A public route answers without any credentials.
            let resp = p
                .http
                .get(format!("{}{template}", p.base))
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "{template} without credentials: {}",
                resp.status()
            );
        }
        seen.insert((method, template));
    }
    assert_eq!(seen.len(), total, "a route is listed twice");
    runs_and_crons_naming_an_assistant_read_it(&mut p).await;
    a_run_that_creates_its_thread_creates_it_as_post_threads(&mut p).await;
    // Everything else needs credentials.
    let resp = p
        .http
        .post(format!("{}/threads/search", p.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    server.abort();
}

/// `if_not_exists: "create"` on a thread the caller cannot see creates the thread under
/// `threads.create` (after `threads.create_run`), as `POST /threads` would: the thread's
/// metadata is the one the `threads.create` handler left. On a thread the caller sees, only
/// `threads.create_run` runs.
async fn a_run_that_creates_its_thread_creates_it_as_post_threads(p: &mut Probe) {
    let new = uuid::Uuid::new_v4().to_string();
    let mut body = run_input();
    body["if_not_exists"] = json!("create");
    let (status, reply, mut events) = p
        .call(
            "POST",
            &format!("/threads/{new}/runs/wait"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    events.sort_unstable();
    assert_eq!(events, ["threads.create", "threads.create_run"]);
    let (status, thread, _) = p.call("GET", &format!("/threads/{new}"), None).await;
    assert_eq!(status, 200, "{thread}");
    assert_eq!(
        thread["metadata"]["stamped_by"], "threads.create",
        "{thread}"
    );

    let (status, reply, events) = p
        .call("POST", &format!("/threads/{new}/runs/wait"), Some(body))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(events, ["threads.create_run"]);
}

/// A run or a cron that names an assistant other than a graph's default one resolves it under
/// `assistants.read` (`SECURITY.md`, "Assistants of runs and crons"); a cron's payload thread
/// under `threads.read`.
async fn runs_and_crons_naming_an_assistant_read_it(p: &mut Probe) {
    // Fresh ones: the route loop deleted its own.
    let assistant = &p
        .create("/assistants", json!({"graph_id": "agent"}), "assistant_id")
        .await;
    let thread = &p.create("/threads", json!({}), "thread_id").await;
    let run = json!({"assistant_id": assistant, "input": null});
    let cron = json!({"assistant_id": assistant, "schedule": "0 0 * * *"});
    let cron_on_thread =
        json!({"assistant_id": "agent", "schedule": "0 0 * * *", "thread_id": thread});
    let cases: [(String, Value, &[&str]); 6] = [
        (
            "/runs/wait".into(),
            run.clone(),
            &["assistants.read", "threads.create_run"],
        ),
        (
            "/runs".into(),
            run.clone(),
            &["assistants.read", "threads.create_run"],
        ),
        (
            format!("/threads/{thread}/runs/wait"),
            run.clone(),
            &["assistants.read", "threads.create_run"],
        ),
        (
            "/runs/batch".into(),
            json!([run.clone(), run]),
            &[
                "assistants.read",
                "assistants.read",
                "threads.create_run",
                "threads.create_run",
            ],
        ),
        (
            "/runs/crons".into(),
            cron,
            &["assistants.read", "crons.create"],
        ),
        (
            "/runs/crons".into(),
            cron_on_thread,
            &["crons.create", "threads.read"],
        ),
    ];
    for (path, body, wanted) in cases {
        let (status, reply, mut events) = p.call("POST", &path, Some(body)).await;
        assert!(status < 300, "POST {path}: {status} {reply}");
        events.sort_unstable();
        assert_eq!(events, wanted, "POST {path}");
    }
}
