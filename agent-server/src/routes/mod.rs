//! The HTTP API, one module per resource, as LangGraph's server exposes it.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::util::ApiError;

pub mod assistants;
pub mod crons;
pub mod runs;
pub mod store;
pub mod threads;

/// Every route of the API, without state or layers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ok", get(|| async { axum::Json(json!({"ok": true})) }))
        .route("/info", get(info))
        .route("/docs", get(crate::openapi::docs))
        .route("/openapi.json", get(crate::openapi::openapi))
        .merge(assistants::routes())
        .merge(threads::routes())
        .merge(runs::routes())
        .merge(crons::routes())
        .merge(store::routes())
        .fallback(|| async { ApiError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
}

/// The method and path template of every route (public ones included), for tests that check
/// each route emits an event.
///
/// Errors on the routes that stream (`text/event-stream`), as both LangGraph servers answer:
///
/// | route | 401, 422 | refused, not found, failed |
/// |---|---|---|
/// | `GET /threads/{thread_id}/runs/{run_id}/stream`, `GET /threads/{thread_id}/stream` | HTTP error | 200 stream, one `event: error` |
/// | `POST /threads/{thread_id}/runs/stream`, `POST /runs/stream` | HTTP error | HTTP error while the run is created; once it exists, an `event: error` |
///
/// The `error` event's data is `{"error": "HTTPException", "message": "<status>: <detail>"}`
/// (`"404: Thread with ID … not found"`); a run whose graph failed sends its own error instead.
///
/// `POST /threads/{thread_id}/copy` of a thread the caller may not see answers 409, exactly as
/// for an absent one.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/ok"),
    ("GET", "/info"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("POST", "/assistants"),
    ("POST", "/assistants/search"),
    ("POST", "/assistants/count"),
    ("GET", "/assistants/{assistant_id}"),
    ("PATCH", "/assistants/{assistant_id}"),
    ("DELETE", "/assistants/{assistant_id}"),
    ("GET", "/assistants/{assistant_id}/graph"),
    ("GET", "/assistants/{assistant_id}/schemas"),
    ("GET", "/assistants/{assistant_id}/subgraphs"),
    ("POST", "/assistants/{assistant_id}/versions"),
    ("POST", "/assistants/{assistant_id}/latest"),
    ("POST", "/threads"),
    ("POST", "/threads/search"),
    ("POST", "/threads/count"),
    ("POST", "/threads/prune"),
    ("GET", "/threads/{thread_id}"),
    ("PATCH", "/threads/{thread_id}"),
    ("DELETE", "/threads/{thread_id}"),
    ("POST", "/threads/{thread_id}/copy"),
    ("GET", "/threads/{thread_id}/state"),
    ("POST", "/threads/{thread_id}/state"),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}"),
    ("POST", "/threads/{thread_id}/state/checkpoint"),
    ("GET", "/threads/{thread_id}/history"),
    ("POST", "/threads/{thread_id}/history"),
    ("POST", "/threads/{thread_id}/runs"),
    ("GET", "/threads/{thread_id}/runs"),
    ("POST", "/threads/{thread_id}/runs/wait"),
    ("POST", "/threads/{thread_id}/runs/stream"),
    ("GET", "/threads/{thread_id}/runs/{run_id}"),
    ("DELETE", "/threads/{thread_id}/runs/{run_id}"),
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"),
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"),
    ("GET", "/threads/{thread_id}/stream"),
    ("POST", "/runs"),
    ("POST", "/runs/batch"),
    ("POST", "/runs/wait"),
    ("POST", "/runs/stream"),
    ("POST", "/runs/cancel"),
    ("POST", "/runs/crons"),
    ("POST", "/threads/{thread_id}/runs/crons"),
    ("POST", "/runs/crons/search"),
    ("POST", "/runs/crons/count"),
    ("GET", "/runs/crons/{cron_id}"),
    ("PATCH", "/runs/crons/{cron_id}"),
    ("DELETE", "/runs/crons/{cron_id}"),
    ("PUT", "/store/items"),
    ("GET", "/store/items"),
    ("DELETE", "/store/items"),
    ("POST", "/store/items/search"),
    ("POST", "/store/namespaces"),
];

async fn info() -> axum::Json<Value> {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "langgraph_py_version": null,
        "flags": {"assistants": true, "crons": true, "langsmith": false},
        "metadata": {"server": "agent-server"},
    }))
}

/// The most elements any list in a request body may hold: ids (`ids`, `thread_ids`,
/// `run_ids`), runs of a batch, input messages, stream modes. Over it the request is 422 before
/// any handler runs. (`SECURITY.md`, "Bounds".)
pub const MAX_LIST: usize = 1000;

/// The most labels a store namespace, prefix or suffix may hold; over it, 422.
pub const MAX_NAMESPACE_LABELS: usize = 100;

/// 422 when `list` holds more than `max` elements.
pub fn bounded<T>(what: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.len() > max {
        return Err(ApiError::invalid(format!(
            "{what} may hold at most {max} elements, not {}",
            list.len()
        )));
    }
    Ok(())
}

/// Ids of a request body as a set: each parsed by `parse` (422 for a malformed one), at most
/// [`MAX_LIST`] of them, duplicates dropped (first occurrence kept).
pub fn id_set(
    what: &str,
    ids: &[String],
    parse: impl Fn(&str) -> Result<String, ApiError>,
) -> Result<Vec<String>, ApiError> {
    bounded(what, ids, MAX_LIST)?;
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id = parse(id)?;
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// `limit` and `offset` of a search body, with LangGraph's defaults; 422 when out of range.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(10);
    let offset = offset.unwrap_or(0);
    if !(0..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 0 and 10000"));
    }
    if offset < 0 {
        return Err(ApiError::invalid("offset must not be negative"));
    }
    Ok((limit as usize, offset as usize))
}

/// `sort_order` of a search body: descending unless `"asc"`; 422 for anything else.
pub fn descending(sort_order: Option<&str>) -> Result<bool, ApiError> {
    match sort_order {
        None | Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(o) => Err(ApiError::invalid(format!(
            "sort_order must be \"asc\" or \"desc\", not {o:?}"
        ))),
    }
}
