//! `/threads`: conversations, their metadata and their state.

use auth::axum::Authenticated;
use auth::types::{
    AuthValue, IfExists as AuthIfExists, ThreadStatus, ThreadTtl, ThreadsCreate, ThreadsDelete,
    ThreadsRead, ThreadsSearch, ThreadsUpdate,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::authz::authorize;
use crate::graph;
use crate::history::Step;
use crate::model::{Checkpoint, Object, Thread};
use crate::storage::{IfExists, Inserted, Query, contains};
use crate::util::{ApiError, JsonBody, QueryParams, now, parse_uuid};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/threads", post(create))
        .route("/threads/search", post(search))
        .route("/threads/count", post(count))
        .route("/threads/prune", post(prune))
        .route(
            "/threads/{thread_id}",
            get(read).patch(update).delete(delete),
        )
        .route("/threads/{thread_id}/copy", post(copy))
        .route(
            "/threads/{thread_id}/state",
            get(state_get).post(state_update),
        )
        .route("/threads/{thread_id}/state/checkpoint", post(state_at_body))
        .route("/threads/{thread_id}/state/{checkpoint_id}", get(state_at))
        .route(
            "/threads/{thread_id}/history",
            get(history_get).post(history_post),
        )
}

/// 404 for a thread that does not exist or that the caller may not see.
pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Thread with ID {id} not found"))
}

/// A thread id from a path or body, normalized; 422 unless a UUID.
pub fn thread_id(id: &str) -> Result<String, ApiError> {
    parse_uuid("thread", id).map(|u| u.to_string())
}

/// A new, empty thread.
pub fn new_thread(id: String, metadata: Object) -> Thread {
    let at = now();
    Thread {
        thread_id: id,
        created_at: at.clone(),
        updated_at: at,
        metadata,
        status: "idle".into(),
        values: Value::Null,
        interrupts: Object::new(),
        config: Object::new(),
        error: Value::Null,
        history: Vec::new(),
        runs: Vec::new(),
    }
}

/// Emits `threads.read` for `id` and returns the thread if the filter lets the caller see it.
pub async fn read_checked(
    state: &AppState,
    user: &Authenticated,
    id: &str,
    run_id: Option<&str>,
) -> Result<Thread, ApiError> {
    let id = thread_id(id)?;
    let mut value = AuthValue::from(ThreadsRead {
        thread_id: Some(id.clone()),
        run_id: run_id.map(str::to_owned),
    });
    let filter = authorize(state, user, &mut value).await?;
    state
        .storage
        .threads
        .get(&id, filter.as_ref())
        .await
        .ok_or_else(|| not_found(&id))
}

#[derive(Deserialize)]
struct CreateBody {
    thread_id: Option<String>,
    metadata: Option<Object>,
    if_exists: Option<AuthIfExists>,
    ttl: Option<ThreadTtl>,
}

async fn create(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<Thread>, ApiError> {
    let id = match &body.thread_id {
        Some(id) => thread_id(id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut value = AuthValue::from(ThreadsCreate {
        thread_id: Some(id.clone()),
        metadata: body.metadata,
        if_exists: body.if_exists,
        ttl: body.ttl,
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let metadata = value.metadata().cloned().unwrap_or_default();
    let if_exists = match body.if_exists {
        Some(AuthIfExists::DoNothing) => IfExists::DoNothing,
        _ => IfExists::Raise,
    };
    match state
        .storage
        .threads
        .insert(new_thread(id, metadata), if_exists, filter.as_ref())
        .await?
    {
        Inserted::Created(t) | Inserted::Existing(t) => Ok(Json(t)),
    }
}

async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Thread>, ApiError> {
    read_checked(&state, &user, &id, None).await.map(Json)
}

#[derive(Deserialize)]
struct UpdateBody {
    metadata: Option<Object>,
}

async fn update(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Thread>, ApiError> {
    let id = thread_id(&id)?;
    let mut value = AuthValue::from(ThreadsUpdate {
        thread_id: Some(id.clone()),
        metadata: body.metadata,
        action: None,
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let patch = value.metadata().cloned().unwrap_or_default();
    let change = Box::new(move |t: &mut Thread| {
        t.metadata.extend(patch);
        t.updated_at = now();
        Ok(())
    });
    state
        .storage
        .threads
        .modify(&id, filter.as_ref(), change)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

async fn delete(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = thread_id(&id)?;
    let mut value = AuthValue::from(ThreadsDelete {
        thread_id: Some(id.clone()),
        run_id: None,
    });
    let filter = authorize(&state, &user, &mut value).await?;
    match state.storage.threads.remove(&id, filter.as_ref()).await {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&id)),
    }
}

#[derive(Deserialize)]
struct PruneBody {
    thread_ids: Vec<String>,
    #[serde(default)]
    strategy: Option<String>,
}

async fn prune(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<PruneBody>,
) -> Result<Json<Value>, ApiError> {
    let keep_latest = match body.strategy.as_deref() {
        None | Some("delete") => false,
        Some("keep_latest") => true,
        Some(s) => return Err(ApiError::invalid(format!("unknown prune strategy {s:?}"))),
    };
    let ids = body
        .thread_ids
        .iter()
        .map(|id| thread_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pruned = 0;
    for id in ids {
        let mut value = AuthValue::from(ThreadsDelete {
            thread_id: Some(id.clone()),
            run_id: None,
        });
        let filter = authorize(&state, &user, &mut value).await?;
        let done = if keep_latest {
            let change = Box::new(|t: &mut Thread| {
                let last = t.history.pop();
                t.history = last.into_iter().collect();
                Ok(())
            });
            state
                .storage
                .threads
                .modify(&id, filter.as_ref(), change)
                .await?
                .is_some()
        } else {
            state
                .storage
                .threads
                .remove(&id, filter.as_ref())
                .await
                .is_some()
        };
        pruned += usize::from(done);
    }
    Ok(Json(json!({ "pruned_count": pruned })))
}

#[derive(Deserialize)]
struct SearchBody {
    metadata: Option<Object>,
    values: Option<Object>,
    ids: Option<Vec<String>>,
    status: Option<ThreadStatus>,
    limit: Option<i64>,
    offset: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

async fn run_search(
    state: &AppState,
    user: &Authenticated,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Thread>, usize), ApiError> {
    let (limit, offset) = super::page(body.limit, body.offset)?;
    let descending = super::descending(body.sort_order.as_deref())?;
    let ids = body
        .ids
        .map(|ids| {
            ids.iter()
                .map(|id| thread_id(id))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(s) = &body.sort_by
        && !["thread_id", "status", "created_at", "updated_at"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(format!("cannot sort threads by {s:?}")));
    }
    let mut value = AuthValue::from(ThreadsSearch {
        metadata: body.metadata,
        values: body.values,
        status: body.status,
        limit: Some(limit as i64),
        offset: Some(offset as i64),
        ids: ids.clone(),
        thread_id: None,
    });
    let filter = authorize(state, user, &mut value).await?;
    let wanted = value.metadata().cloned();
    let values = body_values(&value);
    let status = body
        .status
        .map(|s| serde_json::to_value(s).unwrap_or_default());
    let predicate = move |t: &Thread| {
        status.as_ref().is_none_or(|s| s == t.status.as_str())
            && values
                .as_ref()
                .is_none_or(|v| contains(&t.values, &Value::Object(v.clone())))
    };
    let sort_by = body.sort_by;
    let sort_key = move |t: &Thread| -> Value {
        match sort_by.as_deref() {
            Some("thread_id") => t.thread_id.clone().into(),
            Some("status") => t.status.clone().into(),
            Some("updated_at") => t.updated_at.clone().into(),
            _ => t.created_at.clone().into(),
        }
    };
    let page = state
        .storage
        .threads
        .search(Query {
            auth: filter.as_ref(),
            metadata: wanted.as_ref(),
            ids: ids.as_deref(),
            predicate: Some(&predicate),
            sort_key: Some(&sort_key),
            descending,
            limit: if count_only { 0 } else { limit },
            offset,
        })
        .await;
    Ok((page.items, page.total))
}

fn body_values(value: &AuthValue) -> Option<Object> {
    match value {
        AuthValue::Threads(auth::types::ThreadsValue::Search(s)) => s.values.clone(),
        _ => None,
    }
}

async fn search(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Response, ApiError> {
    let (items, total) = run_search(&state, &user, body, false).await?;
    Ok(([("X-Pagination-Total", total.to_string())], Json(items)).into_response())
}

async fn count(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<usize>, ApiError> {
    run_search(&state, &user, body, true)
        .await
        .map(|(_, total)| Json(total))
}

/// `POST /threads/{id}/copy`. A source the caller may not see answers 409, as both LangGraph
/// servers do, and so does an absent one, with the same detail: the two cannot be told apart.
async fn copy(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Thread>, ApiError> {
    let source = read_checked(&state, &user, &id, None).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::conflict(e.detail)
        } else {
            e
        }
    })?;
    let new_id = uuid::Uuid::new_v4().to_string();
    let mut value = AuthValue::from(ThreadsCreate {
        thread_id: Some(new_id.clone()),
        metadata: Some(source.metadata.clone()),
        ..Default::default()
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let mut thread = new_thread(new_id, value.metadata().cloned().unwrap_or_default());
    thread.values = source.values;
    thread.history = source.history;
    thread.config = source.config;
    match state
        .storage
        .threads
        .insert(thread, IfExists::Raise, filter.as_ref())
        .await?
    {
        Inserted::Created(t) | Inserted::Existing(t) => Ok(Json(t)),
    }
}

fn checkpoint_ref(thread_id: &str, checkpoint_id: Option<&str>) -> Value {
    json!({
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id,
        "checkpoint_map": null,
    })
}

/// The tasks of a checkpoint: one per node in `next`, not yet run.
fn tasks(thread_id: &str, at: &Checkpoint) -> Value {
    at.next
        .iter()
        .map(|name| {
            let id = uuid::Uuid::new_v5(
                &graph::NAMESPACE_GRAPH,
                format!("{thread_id}:{}:{name}", at.checkpoint_id).as_bytes(),
            );
            json!({
                "id": id.to_string(),
                "name": name,
                "path": ["__pregel_pull", name],
                "error": null,
                "interrupts": [],
                "checkpoint": null,
                "state": null,
            })
        })
        .collect()
}

/// A thread's state at a checkpoint (the latest when `None`), in LangGraph's shape.
pub fn state_json(thread: &Thread, at: Option<&Checkpoint>) -> Value {
    let at = at.or(thread.history.last());
    let values = match at {
        Some(c) => c.values.clone(),
        None if thread.values.is_null() => json!({}),
        None => thread.values.clone(),
    };
    json!({
        "values": values,
        "next": at.map_or_else(Vec::new, |c| c.next.clone()),
        "tasks": at.map_or_else(|| json!([]), |c| tasks(&thread.thread_id, c)),
        "checkpoint": checkpoint_ref(&thread.thread_id, at.map(|c| c.checkpoint_id.as_str())),
        "metadata": at.map_or_else(|| json!({}), |c| Value::Object(c.metadata.clone())),
        "created_at": at.map(|c| c.created_at.clone()),
        "parent_checkpoint": at
            .and_then(|c| c.parent_checkpoint_id.as_deref())
            .map(|p| checkpoint_ref(&thread.thread_id, Some(p))),
        "interrupts": [],
    })
}

/// A checkpoint's superstep number (`metadata.step`).
fn step_of(c: &Checkpoint) -> i64 {
    c.metadata.get("step").and_then(Value::as_i64).unwrap_or(-1)
}

/// The id and step of the thread's latest checkpoint, the parent of the next one a run saves.
pub fn head(thread: &Thread) -> Option<(String, i64)> {
    thread
        .history
        .last()
        .map(|c| (c.checkpoint_id.clone(), step_of(c)))
}

/// Appends the checkpoint of `step` as the child of `parent` (id and step number; none: the
/// first, step -1) and makes its values the thread's. `metadata` holds what the run adds
/// (`run_id`…); source, step, writes and parents are set here. Returns its id.
pub fn push_checkpoint(
    thread: &mut Thread,
    step: Step,
    parent: Option<(String, i64)>,
    mut metadata: Object,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let number = parent.as_ref().map_or(-1, |(_, n)| n + 1);
    metadata.insert("source".into(), step.source.into());
    metadata.insert("step".into(), number.into());
    metadata.insert("writes".into(), step.writes);
    metadata.insert("parents".into(), json!({}));
    let at = now();
    thread.history.push(Checkpoint {
        checkpoint_id: id.clone(),
        parent_checkpoint_id: parent.map(|(p, _)| p),
        values: step.values.clone(),
        metadata,
        next: step.next,
        created_at: at.clone(),
    });
    thread.values = step.values;
    thread.updated_at = at;
    id
}

async fn state_get(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let thread = read_checked(&state, &user, &id, None).await?;
    Ok(Json(state_json(&thread, None)))
}

fn find_checkpoint<'t>(
    thread: &'t Thread,
    checkpoint_id: &str,
) -> Result<&'t Checkpoint, ApiError> {
    thread
        .history
        .iter()
        .find(|c| c.checkpoint_id == checkpoint_id)
        .ok_or_else(|| ApiError::not_found(format!("Checkpoint {checkpoint_id} not found")))
}

async fn state_at(
    State(state): State<AppState>,
    user: Authenticated,
    Path((id, checkpoint_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let thread = read_checked(&state, &user, &id, None).await?;
    let at = find_checkpoint(&thread, &checkpoint_id)?;
    Ok(Json(state_json(&thread, Some(at))))
}

#[derive(Deserialize)]
struct CheckpointBody {
    checkpoint: Option<Object>,
}

async fn state_at_body(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CheckpointBody>,
) -> Result<Json<Value>, ApiError> {
    let thread = read_checked(&state, &user, &id, None).await?;
    match body
        .checkpoint
        .as_ref()
        .and_then(|c| c.get("checkpoint_id"))
        .and_then(Value::as_str)
    {
        Some(cid) => {
            let at = find_checkpoint(&thread, cid)?;
            Ok(Json(state_json(&thread, Some(at))))
        }
        None => Ok(Json(state_json(&thread, None))),
    }
}

#[derive(Deserialize)]
struct StateUpdateBody {
    values: Value,
    as_node: Option<String>,
    checkpoint: Option<Object>,
    checkpoint_id: Option<String>,
}

/// `POST /threads/{id}/state`: saves a checkpoint with the values written as `as_node`, as the
/// child of the checkpoint named by `checkpoint` or `checkpoint_id` (a fork, for time travel;
/// 404 if the thread has no such checkpoint), else of the latest. It becomes the thread's state.
async fn state_update(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StateUpdateBody>,
) -> Result<Json<Value>, ApiError> {
    let id = thread_id(&id)?;
    // Checked before the handler runs: a malformed update is a 422 whatever the thread.
    crate::history::update_step(&Value::Null, &body.values, body.as_node.as_deref())
        .map_err(ApiError::invalid)?;
    let base_id = body
        .checkpoint
        .as_ref()
        .and_then(|c| c.get("checkpoint_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(body.checkpoint_id);
    let mut value = AuthValue::from(ThreadsUpdate {
        thread_id: Some(id.clone()),
        ..Default::default()
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let (values, as_node) = (body.values, body.as_node);
    let checkpoint = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let out = checkpoint.clone();
    let change = Box::new(move |t: &mut Thread| {
        let (base, parent) = match &base_id {
            Some(cid) => {
                let c = find_checkpoint(t, cid)?;
                (
                    c.values.clone(),
                    Some((c.checkpoint_id.clone(), step_of(c))),
                )
            }
            None => (t.values.clone(), head(t)),
        };
        let step = crate::history::update_step(&base, &values, as_node.as_deref())
            .map_err(ApiError::invalid)?;
        let cid = push_checkpoint(t, step, parent, Object::new());
        *out.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = cid;
        Ok(())
    });
    state
        .storage
        .threads
        .modify(&id, filter.as_ref(), change)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let cid = checkpoint
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(Json(
        json!({ "checkpoint": checkpoint_ref(&id, Some(&cid)) }),
    ))
}

fn history(thread: &Thread, limit: usize, before: Option<&str>, wanted: Option<&Object>) -> Value {
    let end = before
        .and_then(|b| thread.history.iter().position(|c| c.checkpoint_id == b))
        .unwrap_or(thread.history.len());
    Value::Array(
        thread.history[..end]
            .iter()
            .rev()
            .filter(|c| crate::storage::visible(&c.metadata, None, wanted))
            .take(limit)
            .map(|c| state_json(thread, Some(c)))
            .collect(),
    )
}

async fn history_get(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let limit = query.int("limit", 10)?;
    let thread = read_checked(&state, &user, &id, None).await?;
    Ok(Json(history(&thread, limit, query.0.get("before"), None)))
}

#[derive(Deserialize)]
struct HistoryBody {
    limit: Option<i64>,
    before: Option<Value>,
    metadata: Option<Object>,
}

async fn history_post(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<HistoryBody>,
) -> Result<Json<Value>, ApiError> {
    let (limit, _) = super::page(body.limit, None)?;
    let before = match &body.before {
        Some(Value::String(s)) => Some(s.clone()),
        // A checkpoint, or a config holding one in `configurable` (the JS client's `before`).
        Some(Value::Object(c)) => c
            .get("checkpoint_id")
            .or_else(|| c.get("configurable").and_then(|k| k.get("checkpoint_id")))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let thread = read_checked(&state, &user, &id, None).await?;
    Ok(Json(history(
        &thread,
        limit,
        before.as_deref(),
        body.metadata.as_ref(),
    )))
}
