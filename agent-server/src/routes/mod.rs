//! The HTTP API, one module per resource, as LangGraph's server exposes it, declared once in
//! [`TABLE`].
//!
//! Errors on the routes that stream (`text/event-stream`), as both LangGraph servers answer:
//!
//! | route | 401, 422 | refused, not found, failed |
//! |---|---|---|
//! | `GET /threads/{thread_id}/runs/{run_id}/stream`, `GET /threads/{thread_id}/stream` | HTTP error | 200 stream, one `event: error` |
//! | `POST /threads/{thread_id}/runs/stream`, `POST /runs/stream` | HTTP error | HTTP error while the run is created; once it exists, an `event: error` |
//!
//! The `error` event's data is `{"error": "HTTPException", "message": "<status>: <detail>"}`
//! (`"404: Thread with ID … not found"`); a run whose graph failed sends its own error instead.
//!
//! `POST /threads/{thread_id}/copy` of a thread the caller may not see answers 409, exactly as
//! for an absent one.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::openapi::Answer::{self, *};
use serde_json::{Value, json};

use crate::AppState;
use crate::util::ApiError;

pub mod assistants;
pub mod crons;
pub(crate) mod ids;
pub mod runs;
pub mod store;
pub mod threads;

/// One route, declared once: the router, the OpenAPI document and the authorization events a
/// route emits (`x-auth-events` in the document) all come from [`TABLE`].
pub(crate) struct Route {
    /// `GET`, `POST`, …
    pub(crate) method: &'static str,
    /// The path template (`/threads/{thread_id}`).
    pub(crate) path: &'static str,
    /// The handler (`None`: served outside this table, as `/metrics` is).
    pub(crate) handler: Option<fn() -> MethodRouter<AppState>>,
    /// The authorization events the route emits, in order (empty: a public route).
    pub(crate) events: &'static [&'static str],
    /// The OpenAPI summary.
    pub(crate) summary: &'static str,
    /// Query parameters: name, type, required, description.
    pub(crate) query: &'static [(&'static str, &'static str, bool, &'static str)],
    /// The body's component schema.
    pub(crate) body: Option<&'static str>,
    /// What it answers when it succeeds.
    pub(crate) answer: Answer,
    /// Its error statuses (the authenticated routes' 401, 403 and 504 are added).
    pub(crate) errors: &'static [u16],
}

/// One [`Route`] of [`TABLE`]: `"METHOD" "path" => handler` (or `none`), then its events and its
/// OpenAPI description.
macro_rules! route {
    ($m:literal $p:literal => none, $($rest:tt)*) => {
        route!(@build $m $p, None, $($rest)*)
    };
    ($m:literal $p:literal => $h:expr, $($rest:tt)*) => {
        route!(@build $m $p, Some(|| $h), $($rest)*)
    };
    (@build $m:literal $p:literal, $handler:expr, events [$($e:literal),*], $s:literal,
     query $q:expr, body $b:expr, $a:expr, errors $err:expr) => {
        Route {
            method: $m,
            path: $p,
            handler: $handler,
            events: &[$($e),*],
            summary: $s,
            query: $q,
            body: $b,
            answer: $a,
            errors: $err,
        }
    };
}

const NONE: &[(&str, &str, bool, &str)] = &[];

/// Every route the server serves (`/metrics` when it is enabled), with the events it emits as
/// LangGraph's route table gives them. With a graph's default assistant: naming any other
/// assistant adds `assistants.read` before a run's or a cron's event, and a cron naming a thread
/// in its payload adds `threads.read`; a run with `if_not_exists: "create"` on a thread the caller
/// cannot see adds `threads.create` after `threads.create_run`, as `POST /threads` would emit it.
/// `POST /runs/batch` emits `threads.create_run` once per run.
#[rustfmt::skip]
pub(crate) const TABLE: &[Route] = &[
    route!("GET" "/ok" => get(ok), events [], "Health check", query NONE, body None, One("Ok"), errors &[]),
    route!("GET" "/info" => get(info), events [], "Server information", query NONE, body None, Json, errors &[]),
    route!("GET" "/docs" => get(crate::openapi::docs), events [], "This API, rendered", query NONE, body None, Html, errors &[]),
    route!("GET" "/openapi.json" => get(crate::openapi::openapi), events [], "This API, as OpenAPI 3.1", query NONE, body None, Json, errors &[]),
    route!("GET" "/metrics" => none, events [], "Prometheus metrics (when enabled: see --metrics)", query NONE, body None, Text, errors &[401, 404]),
    route!("POST" "/assistants" => post(assistants::create), events ["assistants.create"], "Create an assistant", query NONE, body Some("AssistantCreate"), One("Assistant"), errors &[404, 409, 413, 422]),
    route!("POST" "/assistants/search" => post(assistants::search), events ["assistants.search"], "Search assistants", query NONE, body Some("AssistantSearch"), List("Assistant"), errors &[413, 422]),
    route!("POST" "/assistants/count" => post(assistants::count), events ["assistants.search"], "Count assistants", query NONE, body Some("AssistantSearch"), Count, errors &[413, 422]),
    route!("GET" "/assistants/{assistant_id}" => get(assistants::read), events ["assistants.read"], "Get an assistant", query NONE, body None, One("Assistant"), errors &[404, 422]),
    route!("PATCH" "/assistants/{assistant_id}" => patch(assistants::update), events ["assistants.update"], "Update an assistant (a new version)", query NONE, body Some("AssistantUpdate"), One("Assistant"), errors &[404, 413, 422]),
    route!("DELETE" "/assistants/{assistant_id}" => delete(assistants::delete), events ["assistants.delete"], "Delete an assistant", query NONE, body None, Empty, errors &[404, 422]),
    route!("GET" "/assistants/{assistant_id}/graph" => get(assistants::drawing), events ["assistants.read"], "An assistant's graph drawing", query NONE, body None, Json, errors &[404, 422]),
    route!("GET" "/assistants/{assistant_id}/schemas" => get(assistants::schemas), events ["assistants.read"], "An assistant's graph schemas", query NONE, body None, Json, errors &[404, 422]),
    route!("GET" "/assistants/{assistant_id}/subgraphs" => get(assistants::subgraphs), events ["assistants.read"], "An assistant's subgraphs", query NONE, body None, Json, errors &[404, 422]),
    route!("POST" "/assistants/{assistant_id}/versions" => post(assistants::versions), events ["assistants.read"], "An assistant's versions", query NONE, body Some("VersionSearch"), List("Assistant"), errors &[404, 413, 422]),
    route!("POST" "/assistants/{assistant_id}/latest" => post(assistants::set_latest), events ["assistants.update"], "Make a version current", query NONE, body Some("SetLatest"), One("Assistant"), errors &[404, 413, 422]),
    route!("POST" "/threads" => post(threads::create), events ["threads.create"], "Create a thread", query NONE, body Some("ThreadCreate"), One("Thread"), errors &[409, 413, 422]),
    route!("POST" "/threads/search" => post(threads::search), events ["threads.search"], "Search threads", query NONE, body Some("ThreadSearch"), List("Thread"), errors &[413, 422]),
    route!("POST" "/threads/count" => post(threads::count), events ["threads.search"], "Count threads", query NONE, body Some("ThreadSearch"), Count, errors &[413, 422]),
    route!("POST" "/threads/prune" => post(threads::prune), events ["threads.delete"], "Prune threads", query NONE, body Some("ThreadPrune"), Json, errors &[413, 422]),
    route!("GET" "/threads/{thread_id}" => get(threads::read), events ["threads.read"], "Get a thread", query NONE, body None, One("Thread"), errors &[404, 422]),
    route!("PATCH" "/threads/{thread_id}" => patch(threads::update), events ["threads.update"], "Update a thread's metadata", query NONE, body Some("ThreadUpdate"), One("Thread"), errors &[404, 413, 422]),
    route!("DELETE" "/threads/{thread_id}" => delete(threads::delete), events ["threads.delete"], "Delete a thread", query NONE, body None, Empty, errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/copy" => post(threads::copy), events ["threads.read", "threads.create"], "Copy a thread", query NONE, body None, One("Thread"), errors &[404, 422]),
    route!("GET" "/threads/{thread_id}/state" => get(threads::state_get), events ["threads.read"], "A thread's current state", query NONE, body None, One("ThreadState"), errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/state" => post(threads::state_update), events ["threads.update"], "Write a thread's state", query NONE, body Some("StateUpdate"), Json, errors &[404, 413, 422]),
    route!("GET" "/threads/{thread_id}/state/{checkpoint_id}" => get(threads::state_at), events ["threads.read"], "A thread's state at a checkpoint", query NONE, body None, One("ThreadState"), errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/state/checkpoint" => post(threads::state_at_body), events ["threads.read"], "A thread's state at a checkpoint", query NONE, body Some("CheckpointRequest"), One("ThreadState"), errors &[404, 413, 422]),
    route!("GET" "/threads/{thread_id}/history" => get(threads::history_get), events ["threads.read"], "A thread's past states", query &[("limit", "integer", false, "at most this many (default 10)"), ("before", "string", false, "only states before this checkpoint id")], body None, List("ThreadState"), errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/history" => post(threads::history_post), events ["threads.read"], "Search a thread's past states", query NONE, body Some("HistorySearch"), List("ThreadState"), errors &[404, 413, 422]),
    route!("POST" "/threads/{thread_id}/runs" => post(runs::create_background), events ["threads.create_run"], "Start a run in the background", query NONE, body Some("RunCreate"), One("Run"), errors &[404, 409, 413, 422]),
    route!("GET" "/threads/{thread_id}/runs" => get(runs::list), events ["threads.search"], "A thread's runs", query &[("limit", "integer", false, "at most this many (default 10)"), ("offset", "integer", false, "skip this many"), ("status", "string", false, "only runs with this status")], body None, List("Run"), errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/runs/wait" => post(runs::create_wait), events ["threads.create_run"], "Run and wait for the output", query NONE, body Some("RunCreate"), Json, errors &[404, 409, 413, 422]),
    route!("POST" "/threads/{thread_id}/runs/stream" => post(runs::create_stream), events ["threads.create_run"], "Run and stream its events", query NONE, body Some("RunCreate"), Events, errors &[404, 409, 413, 422]),
    route!("GET" "/threads/{thread_id}/runs/{run_id}" => get(runs::read), events ["threads.read"], "Get a run", query NONE, body None, One("Run"), errors &[404, 422]),
    route!("DELETE" "/threads/{thread_id}/runs/{run_id}" => delete(runs::delete), events ["threads.delete"], "Delete a run", query NONE, body None, Empty, errors &[404, 422]),
    route!("GET" "/threads/{thread_id}/runs/{run_id}/join" => get(runs::join), events ["threads.read"], "Wait for a run's output", query NONE, body None, Json, errors &[404, 422]),
    route!("GET" "/threads/{thread_id}/runs/{run_id}/stream" => get(runs::join_stream), events ["threads.read"], "Stream a run's events", query NONE, body None, Events, errors &[404, 422]),
    route!("POST" "/threads/{thread_id}/runs/{run_id}/cancel" => post(runs::cancel), events ["threads.update"], "Cancel a run", query &[("wait", "boolean", false, "wait until it stopped"), ("action", "string", false, "`interrupt` (default) or `rollback`")], body None, Empty, errors &[404, 409, 422]),
    route!("GET" "/threads/{thread_id}/stream" => get(runs::thread_stream), events ["threads.read"], "Stream a thread's events", query NONE, body None, Events, errors &[404, 422]),
    route!("POST" "/runs" => post(runs::stateless_background), events ["threads.create_run"], "Start a run without a thread", query NONE, body Some("RunCreate"), One("Run"), errors &[404, 413, 422]),
    route!("POST" "/runs/batch" => post(runs::stateless_batch), events ["threads.create_run"], "Start several runs without a thread", query NONE, body Some("RunCreate"), List("Run"), errors &[404, 413, 422]),
    route!("POST" "/runs/wait" => post(runs::stateless_wait), events ["threads.create_run"], "Run without a thread and wait", query NONE, body Some("RunCreate"), Json, errors &[404, 413, 422]),
    route!("POST" "/runs/stream" => post(runs::stateless_stream), events ["threads.create_run"], "Run without a thread and stream", query NONE, body Some("RunCreate"), Events, errors &[404, 413, 422]),
    route!("POST" "/runs/cancel" => post(runs::cancel_many), events ["threads.update"], "Cancel several runs", query &[("action", "string", false, "`interrupt` (default) or `rollback`")], body Some("CancelMany"), Empty, errors &[404, 413, 422]),
    route!("POST" "/runs/crons" => post(crons::create), events ["crons.create"], "Create a cron", query NONE, body Some("CronCreate"), One("Cron"), errors &[404, 413, 422]),
    route!("POST" "/threads/{thread_id}/runs/crons" => post(crons::create_for_thread), events ["crons.create", "threads.read"], "Create a cron on a thread", query NONE, body Some("CronCreate"), One("Cron"), errors &[404, 413, 422]),
    route!("POST" "/runs/crons/search" => post(crons::search), events ["crons.search"], "Search crons", query NONE, body Some("CronSearch"), List("Cron"), errors &[413, 422]),
    route!("POST" "/runs/crons/count" => post(crons::count), events ["crons.search"], "Count crons", query NONE, body Some("CronSearch"), Count, errors &[413, 422]),
    route!("GET" "/runs/crons/{cron_id}" => get(crons::read), events ["crons.read"], "Get a cron", query NONE, body None, One("Cron"), errors &[404, 422]),
    route!("PATCH" "/runs/crons/{cron_id}" => patch(crons::update), events ["crons.update"], "Update a cron", query NONE, body Some("CronUpdate"), One("Cron"), errors &[404, 413, 422]),
    route!("DELETE" "/runs/crons/{cron_id}" => delete(crons::delete), events ["crons.delete"], "Delete a cron", query NONE, body None, Empty, errors &[404, 422]),
    route!("PUT" "/store/items" => put(store::put_item), events ["store.put"], "Put an item", query NONE, body Some("ItemPut"), Empty, errors &[413, 422]),
    route!("GET" "/store/items" => get(store::get_item), events ["store.get"], "Get an item", query &[("namespace", "string", true, "the namespace, labels joined by `.`"), ("key", "string", true, "the key")], body None, One("Item"), errors &[404, 422]),
    route!("DELETE" "/store/items" => delete(store::delete_item), events ["store.delete"], "Delete an item", query NONE, body Some("ItemDelete"), Empty, errors &[413, 422]),
    route!("POST" "/store/items/search" => post(store::search), events ["store.search"], "Search items", query NONE, body Some("ItemSearch"), One("ItemList"), errors &[413, 422]),
    route!("POST" "/store/namespaces" => post(store::list_namespaces), events ["store.list_namespaces"], "List namespaces", query NONE, body Some("NamespaceSearch"), One("NamespaceList"), errors &[413, 422]),
];

/// Every route of the API, without state or layers: [`TABLE`]'s handlers.
pub(crate) fn routes() -> Router<AppState> {
    TABLE
        .iter()
        .filter_map(|r| Some((r.path, (r.handler?)())))
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(|| async { ApiError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
}

/// `GET /ok`.
async fn ok() -> axum::Json<Value> {
    axum::Json(json!({"ok": true}))
}

async fn info() -> axum::Json<Value> {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "langgraph_py_version": null,
        "flags": {"assistants": true, "crons": true, "langsmith": false},
        "metadata": {"server": "agent-server"},
    }))
}
