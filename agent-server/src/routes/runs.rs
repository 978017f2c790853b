//! Runs: background, wait and stream on a thread; stateless wait and stream; list, get, join,
//! cancel, delete.

use std::sync::Arc;
use std::time::Duration;

use auth::axum::Authenticated;
use auth::types::{
    IfNotExists, MultitaskStrategy, RunKwargs, RunsCreate, ThreadsDelete, ThreadsRead,
    ThreadsSearch, ThreadsUpdate, ThreadsUpdateAction,
};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ids::{RunId, ThreadId};
use super::threads::{not_found, read_scope, thread_id};
use crate::AppState;
use crate::authz::{ReadsThread, Scope, authorize};
use crate::model::new_thread;
use crate::model::{Cron, Object, QueueState, Run, Thread};
use crate::runner::{ON_COMPLETION, run_input};
use crate::storage::{HistoryPage, IfExists, ThreadTx, now_ms};
use crate::util::{ApiError, JsonBody, QueryParams, now, parse_uuid};

/// The body of a run creation.
#[derive(Deserialize)]
pub(crate) struct RunBody {
    assistant_id: Option<String>,
    metadata: Option<Object>,
    multitask_strategy: Option<MultitaskStrategy>,
    if_not_exists: Option<IfNotExists>,
    after_seconds: Option<f64>,
    #[serde(flatten)]
    kwargs: RunKwargs,
}

fn run_not_found(run_id: &str) -> ApiError {
    ApiError::not_found(format!("Run {run_id} not found"))
}

use crate::storage::{refresh_status, run_finished as finished};

/// 422 for a run body whose lists are over [`super::MAX_LIST`].
fn check_body(body: &RunBody) -> Result<(), ApiError> {
    if let Some(Value::Array(m)) = body.kwargs.input.as_ref().and_then(|i| i.get("messages")) {
        super::bounded("input.messages", m, super::MAX_LIST)?;
    }
    // The input itself is checked by the assistant's graph (`Graph::validate_input`).
    Ok(())
}

/// Authorizes and prepares a run: resolves the assistant as the caller may read it, emits
/// `threads.create_run`, puts the authenticated user into `config.configurable`.
pub(super) async fn prepare(
    state: &AppState,
    user: &Authenticated,
    thread: Option<&str>,
    mut body: RunBody,
) -> Result<(Run, Scope<RunsCreate>, RunBody2), ApiError> {
    // Set only by the server, for the runs of a cron that deletes their threads.
    body.kwargs.extra.remove(ON_COMPLETION);
    let raw_assistant = body
        .assistant_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("assistant_id is required"))?;
    check_body(&body)?;
    if let Some(s) = body.after_seconds
        && !(0.0..=86_400.0).contains(&s)
    {
        return Err(ApiError::invalid(
            "after_seconds must be between 0 and 86400",
        ));
    }
    let assistant = super::assistants::resolve_for_run(state, user, raw_assistant).await?;
    let assistant_id = assistant.current.assistant_id.clone();
    let graph = state
        .graphs
        .get(&assistant.current.graph_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("Graph '{}' not found", assistant.current.graph_id))
        })?;
    graph
        .validate_input(body.kwargs.input.as_ref().unwrap_or(&Value::Null))
        .map_err(|e| ApiError::invalid(format!("Invalid input: {e}")))?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let (value, scope) = authorize(
        state,
        user,
        RunsCreate::new()
            .with_assistant_id(assistant_id.clone())
            .maybe_thread_id(thread.map(str::to_owned))
            .with_run_id(run_id.clone())
            .with_status(auth::types::RunStatus::Pending)
            .maybe_metadata(body.metadata.clone())
            .maybe_multitask_strategy(body.multitask_strategy)
            .maybe_if_not_exists(body.if_not_exists)
            .maybe_after_seconds(body.after_seconds.map(|s| s as i64))
            .with_kwargs(Box::new(body.kwargs.clone())),
    )
    .await?;
    let v = value;
    let kwargs = v.kwargs.map(|k| *k).unwrap_or_default();
    let mut kwargs = serde_json::to_value(&kwargs)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut config = match kwargs.remove("config") {
        Some(Value::Object(c)) => c,
        _ => match &assistant.current.config {
            Value::Object(c) => c.clone(),
            _ => Object::new(),
        },
    };
    let configurable = config.entry("configurable").or_insert_with(|| json!({}));
    if !configurable.is_object() {
        *configurable = json!({});
    }
    if let Some(c) = configurable.as_object_mut() {
        c.insert("langgraph_auth_user".into(), user.to_json());
        c.insert("langgraph_auth_user_id".into(), user.identity().into());
        c.insert(
            "langgraph_auth_permissions".into(),
            user.permissions().into(),
        );
        c.insert("run_id".into(), run_id.clone().into());
        c.insert("assistant_id".into(), assistant_id.clone().into());
        c.insert("graph_id".into(), assistant.current.graph_id.clone().into());
        if let Some(t) = thread {
            c.insert("thread_id".into(), t.into());
        }
    }
    kwargs.insert("config".into(), Value::Object(config));
    let at = now();
    let strategy = v.multitask_strategy.unwrap_or(MultitaskStrategy::Enqueue);
    // Checked above: within 0..=86 400 s.
    let delay_ms = body.after_seconds.map_or(0, |s| (s * 1000.0).ceil() as i64);
    let run = Run {
        run_id,
        thread_id: thread.unwrap_or_default().to_owned(),
        assistant_id,
        created_at: at.clone(),
        updated_at: at,
        status: "pending".into(),
        metadata: v.metadata.unwrap_or_default(),
        kwargs,
        multitask_strategy: serde_json::to_value(strategy)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "enqueue".into()),
        queue: QueueState {
            run_after: now_ms().saturating_add(delay_ms),
            ..QueueState::default()
        },
    };
    Ok((
        run,
        scope,
        RunBody2 {
            if_not_exists: v.if_not_exists,
            strategy,
        },
    ))
}

/// What `prepare` keeps from the body for insertion.
pub(crate) struct RunBody2 {
    if_not_exists: Option<IfNotExists>,
    strategy: MultitaskStrategy,
}

/// Creates a run on a thread, which enqueues it (the [worker](crate::queue) executes it once its
/// `after_seconds` have passed); the run and the scope that authorized it.
pub(super) async fn create_on_thread(
    state: &AppState,
    user: &Authenticated,
    raw_thread: &str,
    body: RunBody,
) -> Result<(Run, Scope<RunsCreate>), ApiError> {
    create_on_thread_then(state, user, raw_thread, body, false).await
}

/// [`create_on_thread`] (on the normalized thread id `tid`); with `delete_thread`, the thread is
/// deleted once the run is finished.
pub(super) async fn create_on_thread_then(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    body: RunBody,
    delete_thread: bool,
) -> Result<(Run, Scope<RunsCreate>), ApiError> {
    let tid = tid.to_owned();
    let (mut run, scope, extra) = prepare(state, user, Some(&tid), body).await?;
    if delete_thread {
        run.kwargs.insert(ON_COMPLETION.into(), "delete".into());
    }
    if extra.if_not_exists == Some(IfNotExists::Create) {
        // The new thread carries the run's metadata, as the handler left it.
        let thread = new_thread(tid.clone(), run.metadata.clone());
        state
            .storage
            .threads()
            .insert(thread, IfExists::DoNothing, &scope)
            .await?;
    }
    let inserted = Arc::new(run.clone());
    let strategy = extra.strategy;
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        let inflight: Vec<usize> = (0..tx.runs.len())
            .filter(|&i| !finished(&tx.runs[i].status))
            .collect();
        if !inflight.is_empty() {
            match strategy {
                MultitaskStrategy::Reject => {
                    return Err(ApiError::conflict(
                        "Thread is already running a task. Wait for it to finish or choose a different multitask strategy.",
                    )
                    .into());
                }
                MultitaskStrategy::Interrupt | MultitaskStrategy::Rollback => {
                    for i in inflight {
                        let r = Arc::make_mut(&mut tx.runs[i]);
                        r.status = "interrupted".into();
                        r.updated_at = now();
                    }
                }
                MultitaskStrategy::Enqueue => {}
                // A strategy added by a later LangGraph: refused until this server knows it.
                _ => return Err(ApiError::conflict("Unsupported multitask strategy.").into()),
            }
        }
        tx.runs.push(inserted);
        refresh_status(tx);
        Ok(())
    });
    state
        .storage
        .threads()
        .transact(&tid, &scope, change)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    state.queue.wake();
    Ok((run, scope))
}

/// Creates the run of a due cron, as its owner: the owner's user (as authentication saw them when
/// they created the cron) goes through the same authorization as a run they would create
/// themselves. A cron without a thread gets a new thread for each run, created as the owner
/// would create it (`threads.create`, then the run with `threads.create_run`), and deleted once
/// the run is finished unless the cron's `on_run_completed` is `keep` (LangGraph's default is
/// `delete`).
pub(crate) async fn create_for_cron(state: &AppState, cron: &Cron) -> Result<Run, ApiError> {
    use auth::IntoAuthUser;
    let owner = cron
        .owner
        .clone()
        .ok_or_else(|| ApiError::internal("the cron has no stored owner"))?;
    let user = Authenticated(owner.into_auth_user().map_err(ApiError::from)?);
    let mut payload = cron.payload.clone();
    for k in [
        "schedule",
        "end_time",
        "timezone",
        "on_run_completed",
        "enabled",
        "thread_id",
        "user_id",
        "after_seconds",
        "if_not_exists",
    ] {
        payload.remove(k);
    }
    payload.insert("assistant_id".into(), cron.assistant_id.clone().into());
    let body: RunBody = serde_json::from_value(Value::Object(payload))
        .map_err(|e| ApiError::invalid(format!("the cron's payload is not a run: {e}")))?;
    let tid = match &cron.thread_id {
        Some(t) => t.clone(),
        None => {
            let tid = uuid::Uuid::new_v4().to_string();
            let (value, scope) = authorize(
                state,
                &user,
                auth::types::ThreadsCreate::new()
                    .with_thread_id(tid.clone())
                    .maybe_metadata(body.metadata.clone()),
            )
            .await?;
            let metadata = value.metadata.clone().unwrap_or_default();
            state
                .storage
                .threads()
                .insert(new_thread(tid.clone(), metadata), IfExists::Raise, &scope)
                .await?;
            tid
        }
    };
    let delete = cron.thread_id.is_none() && cron.on_run_completed.as_str() != Some("keep");
    let created = create_on_thread_then(state, &user, &tid, body, delete).await;
    if created.is_err() && cron.thread_id.is_none() {
        // The run was refused: the thread made for it goes too.
        let system = Scope::system("removing the thread of a cron's run that was refused");
        state.storage.threads().remove(&tid, &system).await?;
    }
    created.map(|(run, _)| run)
}

/// Waits until the run is finished; the thread as it is then. `scope` is the caller's.
pub(super) async fn wait_done<E: ReadsThread>(
    state: &AppState,
    tid: &str,
    rid: &str,
    scope: &Scope<E>,
) -> Result<(Thread, Run), ApiError> {
    loop {
        let notified = state.runs_done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (thread, runs) = state
            .storage
            .threads()
            .runs(tid, scope)
            .await?
            .ok_or_else(|| not_found(tid))?;
        let run = runs
            .iter()
            .find(|r| r.run_id == rid)
            .map(|r| Run::clone(r))
            .ok_or_else(|| run_not_found(rid))?;
        if finished(&run.status) {
            return Ok((thread, run));
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
    }
}

fn with_location(mut response: Response, tid: Option<&str>, rid: &str) -> Response {
    let location = match tid {
        Some(t) => format!("/threads/{t}/runs/{rid}"),
        None => format!("/runs/{rid}"),
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    response
}

fn run_output(thread: &Thread, run: &Run) -> Value {
    if run.status == "error" {
        json!({ "__error__": thread.error })
    } else {
        thread.values.to_json()
    }
}

pub(super) async fn create_background(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, _) = create_on_thread(&state, &user, &tid, body).await?;
    let (t, r) = (run.thread_id.clone(), run.run_id.clone());
    Ok(with_location(Json(run).into_response(), Some(&t), &r))
}

pub(super) async fn create_wait(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, scope) = create_on_thread(&state, &user, &tid, body).await?;
    let (thread, run) = wait_done(&state, &run.thread_id, &run.run_id, &scope).await?;
    Ok(with_location(
        Json(run_output(&thread, &run)).into_response(),
        Some(&run.thread_id),
        &run.run_id,
    ))
}

fn stream_modes(kwargs: &Object) -> Vec<String> {
    match kwargs.get("stream_mode") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .take(super::MAX_LIST)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec!["values".into()],
    }
}

fn sse(events: &[(&str, Value)]) -> Response {
    let mut body = String::new();
    for (event, data) in events {
        body.push_str(&format!("event: {event}\ndata: {data}\n\n"));
    }
    (
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The event a stream sends for an error met once the stream is open: `event: error` with
/// `{"error": "HTTPException", "message": "<status>: <detail>"}`, the shape LangGraph's Python
/// server gives an exception raised inside a stream (LangGraph.js: the same message).
pub(crate) fn error_event(e: &ApiError) -> (&'static str, Value) {
    (
        "error",
        json!({
            "error": "HTTPException",
            "message": format!("{}: {}", e.status.as_u16(), e.detail),
        }),
    )
}

/// A 200 stream of `events`, or of the one [`error_event`] of the error that ended them.
fn sse_or_error(events: Result<Vec<(&'static str, Value)>, ApiError>) -> Response {
    match events {
        Ok(events) => sse(&events),
        Err(e) => sse(&[error_event(&e)]),
    }
}

/// The events of a finished run in the modes it asked for. `writes` are the run's node writes in
/// order (`{node: update}`, the `metadata.writes` of its loop checkpoints): one `updates` event
/// each, and the AI messages among them as `messages` events naming their node.
fn stream_events(
    thread_values: &Value,
    run: &Run,
    error: &Value,
    writes: &[Value],
) -> Vec<(&'static str, Value)> {
    let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
    if run.status == "error" {
        events.push(("error", error.clone()));
        return events;
    }
    let nodes = || {
        writes
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|w| w.iter())
    };
    for mode in stream_modes(&run.kwargs) {
        match mode.as_str() {
            "values" => events.push(("values", thread_values.clone())),
            "updates" => {
                for (node, update) in nodes() {
                    events.push(("updates", json!({ node: update })));
                }
            }
            "messages" | "messages-tuple" => {
                for (node, update) in nodes() {
                    let replies = update["messages"].as_array().into_iter().flatten();
                    for m in replies.filter(|m| m["type"] == "ai") {
                        events.push(("messages", json!([m, { "langgraph_node": node }])));
                    }
                }
            }
            _ => {}
        }
    }
    events
}

/// The node writes of a run's steps (see [`stream_events`]).
fn node_writes(steps: &[crate::history::Step]) -> Vec<Value> {
    steps
        .iter()
        .filter(|s| s.source == "loop" && s.writes.is_object())
        .map(|s| s.writes.clone())
        .collect()
}

/// At most this many checkpoints of a run are read back to stream its node updates.
const MAX_RUN_CHECKPOINTS: usize = 256;

/// The node writes of the run `rid` on thread `tid`, oldest first, from its checkpoints.
pub(super) async fn run_writes<E: ReadsThread>(
    state: &AppState,
    tid: &str,
    rid: &str,
    scope: &Scope<E>,
) -> Result<Vec<Value>, ApiError> {
    let mut wanted = Object::new();
    wanted.insert("run_id".into(), rid.into());
    wanted.insert("source".into(), "loop".into());
    let page = HistoryPage {
        limit: MAX_RUN_CHECKPOINTS,
        before: None,
        metadata: Some(&wanted),
    };
    let mut writes: Vec<Value> = state
        .storage
        .threads()
        .history(tid, scope, page)
        .await?
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.metadata.get("writes").filter(|w| w.is_object()).cloned())
        .collect();
    writes.reverse();
    Ok(writes)
}

pub(super) async fn create_stream(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    // Creating the run answers its errors as HTTP errors, as both LangGraph servers do; once it
    // exists, the stream is open and what goes wrong is an `error` event. The updates streamed
    // are the run's own checkpoints' writes, read under the scope that authorized the run.
    let (run, scope) = create_on_thread(&state, &user, &tid, body).await?;
    let events = match wait_done(&state, &run.thread_id, &run.run_id, &scope).await {
        Ok((thread, run)) => {
            let writes = run_writes(&state, &tid, &run.run_id, &scope).await?;
            Ok(stream_events(
                &thread.values.to_json(),
                &run,
                &thread.error,
                &writes,
            ))
        }
        Err(e) => Err(e),
    };
    Ok(with_location(sse_or_error(events), Some(&tid), &run.run_id))
}

/// A run without a stored thread: the graph runs on an empty state.
pub(super) async fn stateless(
    state: &AppState,
    user: &Authenticated,
    body: RunBody,
) -> Result<(Run, Value, Value, Vec<Value>), ApiError> {
    let (mut run, _scope, _) = prepare(state, user, None, body).await?;
    let (graph_id, input) = run_input(&run, Value::Null);
    let run_input = input.input.clone();
    match state.graphs.run(&graph_id, input).await {
        Ok(checkpoints) => {
            let values = checkpoints.last().map_or(Value::Null, |c| c.values.clone());
            let steps = crate::history::run_steps(&Value::Null, &run_input, &checkpoints);
            run.status = "success".into();
            Ok((run, values, Value::Null, node_writes(&steps)))
        }
        Err(e) => {
            run.status = "error".into();
            Ok((
                run,
                Value::Null,
                json!({ "error": "ValueError", "message": e }),
                Vec::new(),
            ))
        }
    }
}

/// `POST /runs`: a run without a thread. The echo graph answers at once, so the run comes back
/// finished; nothing is stored, as no thread keeps it.
pub(super) async fn stateless_background(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, _, _, _) = stateless(&state, &user, body).await?;
    let rid = run.run_id.clone();
    Ok(with_location(Json(run).into_response(), None, &rid))
}

/// `POST /runs/batch`: at most [`super::MAX_LIST`] runs without a thread (over it, 422 before
/// any handler runs), each authorized on its own; the first refusal answers for the whole batch.
pub(super) async fn stateless_batch(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(bodies): JsonBody<Vec<RunBody>>,
) -> Result<Json<Vec<Run>>, ApiError> {
    super::bounded("the batch", &bodies, super::MAX_LIST)?;
    for body in &bodies {
        check_body(body)?;
    }
    let mut runs = Vec::with_capacity(bodies.len());
    for body in bodies {
        runs.push(stateless(&state, &user, body).await?.0);
    }
    Ok(Json(runs))
}

pub(super) async fn stateless_wait(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, values, error, _) = stateless(&state, &user, body).await?;
    let out = if run.status == "error" {
        json!({ "__error__": error })
    } else {
        values
    };
    Ok(with_location(Json(out).into_response(), None, &run.run_id))
}

pub(super) async fn stateless_stream(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, values, error, writes) = stateless(&state, &user, body).await?;
    let events = stream_events(&values, &run, &error, &writes);
    Ok(with_location(sse(&events), None, &run.run_id))
}

pub(super) async fn list(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    query: QueryParams,
) -> Result<Json<Vec<Run>>, ApiError> {
    let limit = query.int("limit", 10)?;
    let offset = query.int("offset", 0)?;
    let status = query.0.get("status").map(str::to_owned);
    let (_, scope) = authorize(
        &state,
        &user,
        ThreadsSearch::new()
            .with_thread_id(tid.clone())
            .with_limit(limit as i64)
            .with_offset(offset as i64),
    )
    .await?;
    let (_, runs) = state
        .storage
        .threads()
        .runs(&tid, &scope)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    Ok(Json(
        runs.iter()
            .rev()
            .filter(|r| status.as_ref().is_none_or(|s| &r.status == s))
            .skip(offset)
            .take(limit)
            .map(|r| Run::clone(r))
            .collect(),
    ))
}

fn run_id(raw: &str) -> Result<String, ApiError> {
    parse_uuid("run", raw).map(|u| u.to_string())
}

/// Emits `threads.read` for the run (both ids normalized, as their extractors give them) and
/// returns the thread (row), the run and the scope.
pub(super) async fn read_run(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    rid: &str,
) -> Result<(Thread, Run, Scope<ThreadsRead>), ApiError> {
    let scope = read_scope(state, user, tid, Some(rid)).await?;
    let (thread, runs) = state
        .storage
        .threads()
        .runs(tid, &scope)
        .await?
        .ok_or_else(|| not_found(tid))?;
    let run = runs
        .iter()
        .find(|r| r.run_id == rid)
        .map(|r| Run::clone(r))
        .ok_or_else(|| run_not_found(rid))?;
    Ok((thread, run, scope))
}

pub(super) async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Json<Run>, ApiError> {
    read_run(&state, &user, &tid, &rid)
        .await
        .map(|(_, run, _)| Json(run))
}

pub(super) async fn join(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Json<Value>, ApiError> {
    let (thread, run, scope) = read_run(&state, &user, &tid, &rid).await?;
    let (thread, run) = wait_done(&state, &thread.thread_id, &run.run_id, &scope).await?;
    Ok(Json(run_output(&thread, &run)))
}

/// `GET /threads/{thread_id}/runs/{run_id}/stream`: joins a run's stream. Once the ids are
/// well formed (else 422) and the caller authenticated (else 401, by the layer), every error,
/// a refusal or a thread or run not found among them, is one `error` event of a 200 stream, as
/// both LangGraph servers answer (see [`error_event`]).
pub(super) async fn join_stream(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Response, ApiError> {
    let events = async {
        let (thread, run, scope) = read_run(&state, &user, &tid, &rid).await?;
        let (thread, run) = wait_done(&state, &thread.thread_id, &run.run_id, &scope).await?;
        let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
        if run.status == "error" {
            events.push(("error", thread.error.clone()));
        } else {
            events.push(("values", thread.values.to_json()));
        }
        Ok(events)
    };
    Ok(sse_or_error(events.await))
}

/// `GET /threads/{thread_id}/stream`: joins the thread's stream. Ours is finite: it waits for the
/// thread's latest run if one is in flight, then sends its metadata and the thread's values.
/// Errors past a well-formed, authenticated request are an `error` event, as for
/// [`join_stream`].
pub(super) async fn thread_stream(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
) -> Result<Response, ApiError> {
    let events = async {
        let scope = read_scope(&state, &user, &tid, None).await?;
        let (thread, runs) = state
            .storage
            .threads()
            .runs(&tid, &scope)
            .await?
            .ok_or_else(|| not_found(&tid))?;
        let latest = runs.iter().max_by(|a, b| a.created_at.cmp(&b.created_at));
        let mut events = Vec::new();
        let thread = match latest {
            Some(run) => {
                let (thread, run) = wait_done(&state, &tid, &run.run_id, &scope).await?;
                events.push(("metadata", json!({ "run_id": run.run_id, "attempt": 1 })));
                thread
            }
            None => thread,
        };
        events.push(("values", thread.values.to_json()));
        Ok(events)
    };
    Ok(sse_or_error(events.await))
}

fn cancel_action(query: &QueryParams) -> Result<ThreadsUpdateAction, ApiError> {
    match query.0.get("action") {
        None | Some("interrupt") => Ok(ThreadsUpdateAction::Interrupt),
        Some("rollback") => Ok(ThreadsUpdateAction::Rollback),
        Some(a) => Err(ApiError::invalid(format!("unknown cancel action {a:?}"))),
    }
}

/// Cancels the given runs (all in-flight runs when `None`) of a thread the caller may update.
///
/// With `rollback`, the runs cancelled by this request are removed, and so are named runs that
/// were already interrupted; without `run_ids`, runs interrupted earlier (by another cancel or a
/// multitask strategy) are kept. An id that is not a run of the thread
/// is 404 and nothing changes.
pub(super) async fn cancel_runs(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    run_ids: Option<Vec<String>>,
    action: ThreadsUpdateAction,
) -> Result<(usize, Scope<ThreadsUpdate>), ApiError> {
    let (_, scope) = authorize(
        state,
        user,
        ThreadsUpdate::new()
            .with_thread_id(tid.to_owned())
            .with_action(action),
    )
    .await?;
    let cancelled = std::sync::atomic::AtomicUsize::new(0);
    let ids = run_ids.clone();
    let change = Box::new(|tx: &mut ThreadTx<'_>| {
        if let Some(ids) = &ids
            && let Some(missing) = ids
                .iter()
                .find(|id| !tx.runs.iter().any(|r| &r.run_id == *id))
        {
            return Err(run_not_found(missing).into());
        }
        let mut now_cancelled = std::collections::HashSet::new();
        for r in tx.runs.iter_mut() {
            if !finished(&r.status) && ids.as_ref().is_none_or(|ids| ids.contains(&r.run_id)) {
                let r = Arc::make_mut(r);
                r.status = "interrupted".into();
                r.updated_at = now();
                now_cancelled.insert(r.run_id.clone());
            }
        }
        cancelled.store(now_cancelled.len(), std::sync::atomic::Ordering::Relaxed);
        if action == ThreadsUpdateAction::Rollback {
            // Named runs that are interrupted go; without names, only what this request
            // cancelled (older interrupted runs stay).
            tx.runs.retain(|r| {
                let named = ids.as_ref().is_some_and(|ids| ids.contains(&r.run_id));
                !(now_cancelled.contains(&r.run_id) || named && r.status == "interrupted")
            });
        }
        refresh_status(tx);
        Ok(())
    });
    state
        .storage
        .threads()
        .transact(tid, &scope, change)
        .await?
        .ok_or_else(|| not_found(tid))?;
    state.runs_done.notify_waiters();
    Ok((cancelled.into_inner(), scope))
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let action = cancel_action(&query)?;
    let (_, scope) = cancel_runs(&state, &user, &tid, Some(vec![rid.clone()]), action).await?;
    if query.flag("wait") && action == ThreadsUpdateAction::Interrupt {
        let (thread, run) = wait_done(&state, &tid, &rid, &scope).await?;
        return Ok(Json(run_output(&thread, &run)).into_response());
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
pub(super) struct CancelManyBody {
    thread_id: Option<String>,
    run_ids: Option<Vec<String>>,
    status: Option<String>,
}

pub(super) async fn cancel_many(
    State(state): State<AppState>,
    user: Authenticated,
    query: QueryParams,
    JsonBody(body): JsonBody<CancelManyBody>,
) -> Result<Response, ApiError> {
    let action = cancel_action(&query)?;
    if body.status.is_some() {
        return Err(ApiError::invalid(
            "cancelling by status across threads is not supported: give thread_id",
        ));
    }
    let tid = body
        .thread_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("thread_id is required"))?;
    let tid = thread_id(tid)?;
    let ids = body
        .run_ids
        .map(|ids| super::id_set("run_ids", &ids, run_id))
        .transpose()?;
    cancel_runs(&state, &user, &tid, ids, action).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Response, ApiError> {
    let (_, scope) = authorize(
        &state,
        &user,
        ThreadsDelete::new()
            .with_thread_id(tid.clone())
            .with_run_id(rid.clone()),
    )
    .await?;
    let r2 = rid.clone();
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        let before = tx.runs.len();
        tx.runs.retain(|r| r.run_id != r2);
        if tx.runs.len() == before {
            return Err(run_not_found(&r2).into());
        }
        refresh_status(tx);
        Ok(())
    });
    state
        .storage
        .threads()
        .transact(&tid, &scope, change)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
