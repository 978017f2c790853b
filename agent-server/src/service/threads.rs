//! Threads: conversations, their metadata and their state.

use std::sync::atomic::{AtomicBool, Ordering};

use auth::types::{
    IfExists as AuthIfExists, ThreadStatus, ThreadTtl, ThreadsCreate, ThreadsDelete, ThreadsRead,
    ThreadsSearch, ThreadsUpdate,
};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::input::{self, thread_id};
use super::{Caller, Found, Missing};
use crate::authz::{ReadsThread, Scope, WritesThreadState};
use crate::graph;
use crate::model::{Checkpoint, Object, Thread, new_thread};
use crate::storage::{
    Column, Condition, HistoryPage, IfExists, Inserted, NewCheckpoint, Search, ThreadTx,
};
use crate::util::{ApiError, now};

/// Emits `threads.read` for the thread `id` (normalized: a path's `ThreadId`, or
/// [`thread_id`]'s) and the run `run_id`: the caller's scope.
pub(crate) async fn read_scope(
    c: &Caller,
    id: &str,
    run_id: Option<&str>,
) -> Result<Scope<ThreadsRead>, ApiError> {
    c.scope(
        ThreadsRead::new()
            .with_thread_id(id)
            .maybe_run_id(run_id.map(str::to_owned)),
    )
    .await
}

/// `threads.read` of `id` (normalized, as for [`read_scope`]), with the run `run_id`: the thread
/// (its row: neither checkpoints nor runs) if the scope lets the caller see it.
pub(crate) async fn read(c: &Caller, id: &str, run_id: Option<&str>) -> Result<Thread, ApiError> {
    let scope = read_scope(c, id, run_id).await?;
    let found = c.state.storage.threads().get(id, &scope).await?;
    found.or_missing(Missing::Thread(id))
}

/// The body of `POST /threads`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ThreadCreate)]
pub(crate) struct CreateBody {
    /// An id of your choice (a UUID); default: a new one.
    thread_id: Option<String>,
    /// Metadata.
    metadata: Option<Object>,
    /// `raise` (409, the default) or `do_nothing` when it exists.
    #[schema(value_type = Option<String>)]
    if_exists: Option<AuthIfExists>,
    /// Time to live (accepted, not enforced).
    #[schema(value_type = Option<Object>)]
    ttl: Option<ThreadTtl>,
}

/// `threads.create`: a new thread (or, with `if_exists: "do_nothing"`, the existing one).
pub(crate) async fn create(c: &Caller, body: CreateBody) -> Result<Thread, ApiError> {
    let id = match &body.thread_id {
        Some(id) => thread_id(id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let (value, scope) = c
        .authorize(
            ThreadsCreate::new()
                .with_thread_id(id.clone())
                .maybe_metadata(body.metadata)
                .maybe_if_exists(body.if_exists)
                .maybe_ttl(body.ttl),
        )
        .await?;
    let metadata = value.metadata.unwrap_or_default();
    let if_exists = match body.if_exists {
        Some(AuthIfExists::DoNothing) => IfExists::DoNothing,
        _ => IfExists::Raise,
    };
    let threads = c.state.storage.threads();
    match threads
        .insert(new_thread(id, metadata), if_exists, &scope)
        .await?
    {
        Inserted::Created(t) | Inserted::Existing(t) => Ok(t),
    }
}

/// The body of `PATCH /threads/{thread_id}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ThreadUpdate)]
pub(crate) struct UpdateBody {
    /// Metadata to merge.
    metadata: Option<Object>,
}

/// `threads.update`: merges the metadata (as the handler left it) into the thread's.
pub(crate) async fn update(c: &Caller, id: &str, body: UpdateBody) -> Result<Thread, ApiError> {
    let (value, scope) = c
        .authorize(
            ThreadsUpdate::new()
                .with_thread_id(id)
                .maybe_metadata(body.metadata),
        )
        .await?;
    let patch = value.metadata.unwrap_or_default();
    let change = Box::new(move |t: &mut Thread| {
        t.metadata.extend(patch);
        t.updated_at = now();
        Ok(())
    });
    let updated = c.state.storage.threads().modify(id, &scope, change).await?;
    updated.or_missing(Missing::Thread(id))
}

/// `threads.delete`: the thread, its checkpoints and its runs.
pub(crate) async fn delete(c: &Caller, id: &str) -> Result<(), ApiError> {
    let scope = c.scope(ThreadsDelete::new().with_thread_id(id)).await?;
    let removed = c.state.storage.threads().remove(id, &scope).await?;
    removed.map(drop).or_missing(Missing::Thread(id))
}

/// The body of `POST /threads/prune`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ThreadPrune)]
pub(crate) struct PruneBody {
    /// The threads to prune.
    thread_ids: Vec<String>,
    #[serde(default)]
    /// `delete` (default) or `keep_latest`.
    strategy: Option<String>,
}

/// `POST /threads/prune`: all or nothing. Every id is authorized (`threads.delete`) before any
/// thread is touched, so a refusal of any one answers the refusal and prunes nothing. Then each
/// thread its scope admits is pruned; absent and hidden ones alike are skipped and not counted.
/// Returns how many were pruned.
pub(crate) async fn prune(c: &Caller, body: PruneBody) -> Result<usize, ApiError> {
    let keep_latest = match body.strategy.as_deref() {
        None | Some("delete") => false,
        Some("keep_latest") => true,
        Some(s) => return Err(ApiError::invalid(format!("unknown prune strategy {s:?}"))),
    };
    let ids = input::id_set("thread_ids", &body.thread_ids, thread_id)?;
    let mut targets = Vec::with_capacity(ids.len());
    for id in ids {
        let scope = c
            .scope(ThreadsDelete::new().with_thread_id(id.clone()))
            .await?;
        targets.push((id, scope));
    }
    let threads = &c.state.storage.threads();
    let pruned = if keep_latest {
        threads.keep_latest(&targets).await?
    } else {
        threads.remove_all(&targets).await?
    };
    Ok(pruned)
}

/// The body of `POST /threads/search` and `POST /threads/count`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ThreadSearch)]
pub(crate) struct SearchBody {
    /// Metadata the threads contain.
    metadata: Option<Object>,
    /// State values the threads contain.
    values: Option<Object>,
    /// Only these ids.
    ids: Option<Vec<String>>,
    /// Only threads with this status (`idle`, `busy`, `interrupted`, `error`).
    #[schema(value_type = Option<String>)]
    status: Option<ThreadStatus>,
    /// At most this many (default 10, at most 10000).
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
    /// `created_at` (default), `updated_at`, `status` or `thread_id`.
    sort_by: Option<String>,
    /// `asc` or `desc` (default).
    sort_order: Option<String>,
}

/// `threads.search`: a page of the threads the caller may see that match, and how many match in
/// all (with `count_only`, no page: only the count).
pub(crate) async fn search(
    c: &Caller,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Thread>, usize), ApiError> {
    let (limit, offset) = input::page(body.limit, body.offset)?;
    let descending = input::descending(body.sort_order.as_deref())?;
    let ids = body
        .ids
        .map(|ids| input::id_set("ids", &ids, thread_id))
        .transpose()?;
    if let Some(s) = &body.sort_by
        && !["thread_id", "status", "created_at", "updated_at"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(format!("cannot sort threads by {s:?}")));
    }
    let (value, scope) = c
        .authorize(
            ThreadsSearch::new()
                .maybe_metadata(body.metadata)
                .maybe_values(body.values)
                .maybe_status(body.status)
                .with_limit(limit as i64)
                .with_offset(offset as i64)
                .maybe_ids(ids.clone()),
        )
        .await?;
    let wanted = value.metadata;
    let values = value.values;
    let mut conditions = Vec::new();
    if let Some(status) = body.status {
        conditions.push(Condition::Equals(
            Column::Status,
            status.as_str().to_owned(),
        ));
    }
    if let Some(v) = values.filter(|v| !v.is_empty()) {
        conditions.push(Condition::ValuesContain(v));
    }
    let sort = match body.sort_by.as_deref() {
        Some("thread_id") => Column::Id,
        Some("status") => Column::Status,
        Some("updated_at") => Column::UpdatedAt,
        _ => Column::CreatedAt,
    };
    let page = c
        .state
        .storage
        .threads()
        .search(Search {
            metadata: wanted.as_ref(),
            ids: ids.as_deref(),
            conditions,
            sort,
            descending,
            limit: if count_only { 0 } else { limit },
            offset,
            ..Search::new(&scope)
        })
        .await?;
    Ok((page.items, page.total))
}

/// `POST /threads/{id}/copy`: `threads.read` of the source, then `threads.create` of the copy
/// (with the source's metadata). A source the caller may not see answers 409, as both LangGraph
/// servers do, and so does an absent one, with the same detail: the two cannot be told apart.
pub(crate) async fn copy(c: &Caller, id: &str) -> Result<Thread, ApiError> {
    // Hidden and absent alike answer 409 with the same detail, as both LangGraph servers do.
    let conflict = |e: ApiError| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::conflict(e.detail)
        } else {
            e
        }
    };
    let read = read_scope(c, id, None).await.map_err(conflict)?;
    let threads = c.state.storage.threads();
    let source = threads
        .get(id, &read)
        .await?
        .or_missing(Missing::Thread(id))
        .map_err(conflict)?;
    let new_id = uuid::Uuid::new_v4().to_string();
    let (value, create) = c
        .authorize(
            ThreadsCreate::new()
                .with_thread_id(new_id.clone())
                .with_metadata(source.metadata),
        )
        .await?;
    let thread = new_thread(new_id, value.metadata.unwrap_or_default());
    let copied = threads.copy(id, &read, thread, &create).await?;
    copied.or_missing(Missing::Thread(id)).map_err(conflict)
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

/// A thread's state at a checkpoint (its current values when `None`), in LangGraph's shape.
pub(crate) fn state_json(thread: &Thread, at: Option<&Checkpoint>) -> Value {
    let values = match at {
        Some(c) if !c.values.is_null() => c.values.to_json(),
        None if !thread.values.is_null() => thread.values.to_json(),
        _ => json!({}),
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

/// How many times a state change computed outside the thread's lock is computed again when
/// another change came first; past it the request is 409.
const RETRIES: usize = 64;

/// Appends a checkpoint to thread `id` whose step `compute` derives from the values of a base
/// checkpoint: the one named `from` (a fork: the new checkpoint is its child; 404 if the thread
/// has no such checkpoint), else the latest (the thread's current values). The computation
/// (which copies the values) runs outside any lock; an append after the latest then happens
/// only if no other checkpoint was appended meanwhile, else the step is computed again.
/// `finish` runs in the same transaction, after the append. `Ok(None)`: the thread is absent or
/// hidden. Returns the thread and the new checkpoint's id.
pub(crate) async fn append_state<E: ReadsThread + WritesThreadState>(
    state: &crate::AppState,
    id: &str,
    scope: &Scope<E>,
    from: Option<&str>,
    compute: impl Fn(&Value, Option<&Checkpoint>) -> Result<Option<crate::history::Step>, ApiError>,
    finish: impl Fn(&mut ThreadTx<'_>, Option<&str>) -> Result<(), ApiError> + Send + Sync,
) -> Result<Option<(Thread, Option<String>)>, ApiError> {
    for _ in 0..RETRIES {
        let Some((thread, base)) = state.storage.threads().checkpoint(id, scope, from).await?
        else {
            return Ok(None);
        };
        if let (Some(cid), None) = (from, &base) {
            return Err(Missing::Checkpoint(cid).into());
        }
        // A fork names its parent; an append after the latest expects it to stay the latest.
        let expected = match from {
            Some(_) => None,
            None => Some(base.as_ref().map(|c| c.checkpoint_id.clone())),
        };
        let values = base.as_ref().map_or(&thread.values, |c| &c.values);
        let next = compute(&values.to_json(), base.as_deref())?.map(|step| {
            let mut metadata = Object::new();
            metadata.insert("source".into(), step.source.into());
            metadata.insert("writes".into(), step.writes);
            NewCheckpoint {
                values: values.derive(step.values),
                metadata,
                next: step.next,
                parent: if from.is_some() { base.clone() } else { None },
            }
        });
        let stale = AtomicBool::new(false);
        let cid = std::sync::Mutex::new(None);
        let change = Box::new(|tx: &mut ThreadTx<'_>| {
            if let Some(expected) = &expected
                && tx.latest().map(|c| &c.checkpoint_id) != expected.as_ref()
            {
                stale.store(true, Ordering::Relaxed);
                return Err(ApiError::conflict("the thread changed meanwhile").into());
            }
            let id = next.map(|new| tx.push(new));
            finish(tx, id.as_deref())?;
            *cid.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = id;
            Ok(())
        });
        match state.storage.threads().transact(id, scope, change).await {
            Err(_) if stale.load(Ordering::Relaxed) => continue,
            Err(e) => return Err(e.into()),
            Ok(None) => return Ok(None),
            Ok(Some(t)) => {
                let cid = cid
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                return Ok(Some((t, cid)));
            }
        }
    }
    Err(ApiError::conflict(
        "the thread is changed too often to apply this change: try again",
    ))
}

/// `threads.read`: the state of thread `id` at a checkpoint (the latest when `None`), in
/// LangGraph's shape.
pub(crate) async fn state(
    c: &Caller,
    id: &str,
    checkpoint_id: Option<&str>,
) -> Result<Value, ApiError> {
    let scope = read_scope(c, id, None).await?;
    let found = c.state.storage.threads();
    let (thread, at) = found
        .checkpoint(id, &scope, checkpoint_id)
        .await?
        .or_missing(Missing::Thread(id))?;
    match (checkpoint_id, at) {
        (Some(cid), None) => Err(Missing::Checkpoint(cid).into()),
        (_, at) => Ok(state_json(&thread, at.as_deref())),
    }
}

/// The body of `POST /threads/{thread_id}/state/checkpoint`.
#[derive(Deserialize, ToSchema)]
#[schema(as = CheckpointRequest)]
pub(crate) struct CheckpointBody {
    /// The checkpoint (`checkpoint_id`).
    checkpoint: Option<Object>,
}

impl CheckpointBody {
    /// The checkpoint id it names, if any.
    pub(crate) fn checkpoint_id(&self) -> Option<&str> {
        self.checkpoint
            .as_ref()
            .and_then(|c| c.get("checkpoint_id"))
            .and_then(Value::as_str)
    }
}

/// The body of `POST /threads/{thread_id}/state`.
#[derive(Deserialize, ToSchema)]
#[schema(as = StateUpdate)]
pub(crate) struct StateUpdateBody {
    /// The values to write.
    values: Value,
    /// The node that writes them.
    as_node: Option<String>,
    /// The checkpoint to fork from (`checkpoint_id`); default: the latest.
    checkpoint: Option<Object>,
    /// The checkpoint to fork from, by id.
    checkpoint_id: Option<String>,
}

/// `threads.update`: saves a checkpoint with the values written as `as_node`, as the child of
/// the checkpoint named by `checkpoint` or `checkpoint_id` (a fork, for time travel; 404 if the
/// thread has no such checkpoint), else of the latest. It becomes the thread's state. Returns
/// the new checkpoint's reference, in LangGraph's shape.
pub(crate) async fn update_state(
    c: &Caller,
    id: &str,
    body: StateUpdateBody,
) -> Result<Value, ApiError> {
    let updates = match &body.values {
        Value::Null | Value::Object(_) => body.values.clone(),
        _ => return Err(ApiError::invalid("values must be an object")),
    };
    if let Some(Value::Array(list)) = updates.get("messages") {
        input::bounded("values.messages", list, input::MAX_LIST)?;
    }
    // Checked before the handler runs: a malformed update is a 422 whatever the thread.
    crate::history::update_step(&Value::Null, &updates, body.as_node.as_deref())
        .map_err(ApiError::invalid)?;
    let from = body
        .checkpoint
        .as_ref()
        .and_then(|c| c.get("checkpoint_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(body.checkpoint_id);
    let scope = c.scope(ThreadsUpdate::new().with_thread_id(id)).await?;
    let as_node = body.as_node;
    let compute = |base: &Value, at: Option<&Checkpoint>| {
        // Without `as_node`, the update is written as the node that wrote the base checkpoint
        // last (LangGraph's default), or as the echo graph's node.
        let last_writer = at
            .and_then(|c| c.metadata.get("writes"))
            .and_then(Value::as_object)
            .and_then(|w| w.keys().find(|k| k.as_str() != graph::START).cloned());
        let node = as_node.clone().or(last_writer);
        crate::history::update_step(base, &updates, node.as_deref())
            .map(Some)
            .map_err(ApiError::invalid)
    };
    let appended = append_state(
        &c.state,
        id,
        &scope,
        from.as_deref(),
        compute,
        |_, _| Ok(()),
    );
    let (_, cid) = appended.await?.or_missing(Missing::Thread(id))?;
    Ok(json!({ "checkpoint": checkpoint_ref(id, cid.as_deref()) }))
}

/// `threads.read`: a page of thread `id`'s history, newest first, in LangGraph's shape.
pub(crate) async fn history(
    c: &Caller,
    id: &str,
    page: HistoryPage<'_>,
) -> Result<Value, ApiError> {
    let scope = read_scope(c, id, None).await?;
    let threads = &c.state.storage.threads();
    let checkpoints = threads
        .history(id, &scope, page)
        .await?
        .or_missing(Missing::Thread(id))?;
    // Only the thread id goes into each state: a row stands in for the thread.
    let row = new_thread(id.to_owned(), Object::new());
    Ok(Value::Array(
        checkpoints
            .iter()
            .map(|c| state_json(&row, Some(c)))
            .collect(),
    ))
}

/// The body of `POST /threads/{thread_id}/history`.
#[derive(Deserialize, ToSchema)]
#[schema(as = HistorySearch)]
pub(crate) struct HistoryBody {
    /// At most this many states (default 10).
    limit: Option<i64>,
    /// Only states before this checkpoint (an id, a checkpoint or a config).
    before: Option<Value>,
    /// Metadata the checkpoints contain.
    metadata: Option<Object>,
}

/// [`history`] for a `GET` (`limit` and `before` from the query).
pub(crate) async fn history_page(
    c: &Caller,
    id: &str,
    limit: usize,
    before: Option<&str>,
) -> Result<Value, ApiError> {
    let (limit, _) = input::page(Some(limit as i64), None)?;
    let page = HistoryPage {
        limit,
        before,
        metadata: None,
    };
    history(c, id, page).await
}

/// [`history`] for a `POST` (its body).
pub(crate) async fn history_search(
    c: &Caller,
    id: &str,
    body: HistoryBody,
) -> Result<Value, ApiError> {
    let (limit, _) = input::page(body.limit, None)?;
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
    let page = HistoryPage {
        limit,
        before: before.as_deref(),
        metadata: body.metadata.as_ref(),
    };
    history(c, id, page).await
}
