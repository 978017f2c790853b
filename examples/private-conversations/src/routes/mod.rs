//! The HTTP API, one module per resource, as LangGraph's server exposes it.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
        .route("/docs", get(docs))
        .route("/openapi.json", get(openapi))
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
        "metadata": {"server": "private-conversations"},
    }))
}

async fn docs() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>private-conversations</title>\
         <p>A LangGraph-compatible server. The API is listed at <a href=\"/openapi.json\">/openapi.json</a>.</p>",
    )
        .into_response()
}

async fn openapi() -> axum::Json<Value> {
    let mut paths = serde_json::Map::new();
    for (method, path) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = json!({"responses": {"200": {"description": "OK"}}});
    }
    axum::Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "private-conversations", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    }))
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
