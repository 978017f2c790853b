//! Runs: background, wait and stream on a thread; stateless wait and stream; list, get, join,
//! cancel, delete.

use std::sync::Arc;
use std::time::Duration;

use auth::axum::Authenticated;
use auth::types::{
    AuthValue, IfNotExists, MultitaskStrategy, RunKwargs, RunsCreate, ThreadsDelete, ThreadsSearch,
    ThreadsUpdate, ThreadsUpdateAction,
};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::threads::{new_thread, not_found, read_scope, thread_id};
use crate::AppState;
use crate::authz::{Access, authorize};
use crate::graph;
use crate::model::{Cron, Object, QueueState, Run, Thread};
use crate::storage::{Claim, HistoryPage, IfExists, NewCheckpoint, StoreError, ThreadTx, now_ms};
use crate::util::{ApiError, JsonBody, QueryParams, now, parse_uuid};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/threads/{thread_id}/runs",
            post(create_background).get(list),
        )
        .route("/threads/{thread_id}/runs/wait", post(create_wait))
        .route("/threads/{thread_id}/runs/stream", post(create_stream))
        .route(
            "/threads/{thread_id}/runs/{run_id}",
            get(read).delete(delete),
        )
        .route("/threads/{thread_id}/runs/{run_id}/join", get(join))
        .route(
            "/threads/{thread_id}/runs/{run_id}/stream",
            get(join_stream),
        )
        .route("/threads/{thread_id}/runs/{run_id}/cancel", post(cancel))
        .route("/threads/{thread_id}/stream", get(thread_stream))
        .route("/runs", post(stateless_background))
        .route("/runs/batch", post(stateless_batch))
        .route("/runs/wait", post(stateless_wait))
        .route("/runs/stream", post(stateless_stream))
        .route("/runs/cancel", post(cancel_many))
}

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
async fn prepare(
    state: &AppState,
    user: &Authenticated,
    thread: Option<&str>,
    mut body: RunBody,
) -> Result<(Run, Access, RunBody2), ApiError> {
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
    let mut value = AuthValue::from({
        let mut built = RunsCreate::default();
        built.assistant_id = Some(assistant_id.clone());
        built.thread_id = thread.map(str::to_owned);
        built.run_id = Some(run_id.clone());
        built.status = Some(auth::types::RunStatus::Pending);
        built.metadata = body.metadata.clone();
        built.multitask_strategy = body.multitask_strategy;
        built.if_not_exists = body.if_not_exists;
        built.after_seconds = body.after_seconds.map(|s| s as i64);
        built.kwargs = Some(Box::new(body.kwargs.clone()));
        built
    });
    let scope = authorize(state, user, &mut value).await?;
    let AuthValue::Threads(auth::types::ThreadsValue::CreateRun(v)) = value else {
        return Err(ApiError::internal("the handler changed the event"));
    };
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

/// The run kwarg that makes the worker delete the run's thread once the run is finished: set by
/// the server for the runs of a thread-less cron whose `on_run_completed` is `delete` (removed
/// from what a caller sends).
const ON_COMPLETION: &str = "on_completion";

/// Creates a run on a thread, which enqueues it (the [worker](crate::queue) executes it once its
/// `after_seconds` have passed); the run and the scope that authorized it.
async fn create_on_thread(
    state: &AppState,
    user: &Authenticated,
    raw_thread: &str,
    body: RunBody,
) -> Result<(Run, Access), ApiError> {
    create_on_thread_then(state, user, raw_thread, body, false).await
}

/// [`create_on_thread`]; with `delete_thread`, the thread is deleted once the run is finished.
async fn create_on_thread_then(
    state: &AppState,
    user: &Authenticated,
    raw_thread: &str,
    body: RunBody,
    delete_thread: bool,
) -> Result<(Run, Access), ApiError> {
    let tid = thread_id(raw_thread)?;
    let (mut run, scope, extra) = prepare(state, user, Some(&tid), body).await?;
    if delete_thread {
        run.kwargs.insert(ON_COMPLETION.into(), "delete".into());
    }
    if extra.if_not_exists == Some(IfNotExists::Create) {
        // The new thread carries the run's metadata, as the handler left it.
        let thread = new_thread(tid.clone(), run.metadata.clone());
        state
            .storage
            .threads
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
        .threads
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
            let mut value = AuthValue::from({
                let mut built = auth::types::ThreadsCreate::default();
                built.thread_id = Some(tid.clone());
                built.metadata = body.metadata.clone();
                built
            });
            let scope = authorize(state, &user, &mut value).await?;
            let metadata = value.metadata().cloned().unwrap_or_default();
            state
                .storage
                .threads
                .insert(new_thread(tid.clone(), metadata), IfExists::Raise, &scope)
                .await?;
            tid
        }
    };
    let delete = cron.thread_id.is_none() && cron.on_run_completed.as_str() != Some("keep");
    let created = create_on_thread_then(state, &user, &tid, body, delete).await;
    if created.is_err() && cron.thread_id.is_none() {
        // The run was refused: the thread made for it goes too.
        let system = Access::system("removing the thread of a cron's run that was refused");
        state.storage.threads.remove(&tid, &system).await?;
    }
    created.map(|(run, _)| run)
}

/// The graph's input for a stored run: its input, the state, its config.
fn run_input(run: &Run, state: Value) -> (String, graph::RunInput) {
    let config = run.kwargs.get("config").cloned().unwrap_or(Value::Null);
    let graph_id = config["configurable"]["graph_id"]
        .as_str()
        .unwrap_or(graph::GRAPH_ID)
        .to_owned();
    let input = run.kwargs.get("input").cloned().unwrap_or(Value::Null);
    (
        graph_id,
        graph::RunInput {
            input,
            state,
            config,
        },
    )
}

/// Executes a claimed run: the graph runs outside any lock on a copy of the thread's values; its
/// checkpoints are stored, and the run finished, in one transaction that succeeds only while the
/// claim still holds the run (not cancelled, not taken over) and the thread's state did not
/// change meanwhile (else the graph runs again on the new state).
pub(crate) async fn execute(state: &AppState, claim: &Claim) {
    // The run's creation was authorized; executing it is the server's own work on that thread.
    let system = Access::system("a run executing on its thread after its creation was authorized");
    let (tid, rid) = (claim.thread_id.as_str(), claim.run_id.as_str());
    // Each round finishes the run or finds the state changed; bounded all the same.
    for _ in 0..10_000 {
        let Ok(Some((_, runs))) = state.storage.threads.runs(tid, &system).await else {
            break;
        };
        // Cancelled, removed or taken over: not ours to finish.
        let Some(next) = runs.iter().find(|r| claim.holds(r)).cloned() else {
            break;
        };
        let Ok(Some((thread, latest))) = state.storage.threads.checkpoint(tid, &system, None).await
        else {
            break;
        };
        let expected = latest.map(|c| c.checkpoint_id.clone());
        let before = thread.values.to_json();
        let (graph_id, input) = run_input(&next, before.clone());
        // The graph's checkpoints become LangGraph's supersteps (input, then one per node), all
        // computed here, outside any lock.
        let run_input = input.input.clone();
        let result = state
            .graphs
            .run(&graph_id, input)
            .await
            .map(|checkpoints| crate::history::run_steps(&before, &run_input, &checkpoints));
        let change = Box::new(|tx: &mut ThreadTx<'_>| {
            if tx.latest().map(|c| &c.checkpoint_id) != expected.as_ref() {
                return Err(StoreError::Conflict(
                    "the thread changed during the run".into(),
                ));
            }
            let Some(i) = tx.runs.iter().position(|r| claim.holds(r)) else {
                // Cancelled, removed or taken over meanwhile: nothing to finish.
                return Err(StoreError::Conflict("the run is no longer held".into()));
            };
            match &result {
                Ok(steps) => {
                    let mut md = Object::new();
                    md.insert("run_id".into(), next.run_id.clone().into());
                    md.insert("thread_id".into(), next.thread_id.clone().into());
                    md.insert("assistant_id".into(), next.assistant_id.clone().into());
                    md.insert("graph_id".into(), graph_id.clone().into());
                    for step in steps {
                        let mut metadata = md.clone();
                        metadata.insert("source".into(), step.source.into());
                        metadata.insert("writes".into(), step.writes.clone());
                        let values = tx.thread.values.derive(step.values.clone());
                        tx.push(NewCheckpoint {
                            values,
                            metadata,
                            next: step.next.clone(),
                            parent: None,
                        });
                    }
                    Arc::make_mut(&mut tx.runs[i]).status = "success".into();
                    tx.thread.error = Value::Null;
                }
                Err(e) => {
                    Arc::make_mut(&mut tx.runs[i]).status = "error".into();
                    tx.thread.error = json!({ "error": "ValueError", "message": e });
                }
            }
            let run = Arc::make_mut(&mut tx.runs[i]);
            run.updated_at = now();
            run.queue.lease_owner = None;
            run.queue.lease_until = None;
            if let Some(Value::Object(c)) = run.kwargs.get("config") {
                tx.thread.config = c.clone();
            }
            refresh_status(tx);
            Ok(())
        });
        match state.storage.threads.transact(tid, &system, change).await {
            Ok(Some(_))
                if next.kwargs.get(ON_COMPLETION).and_then(Value::as_str) == Some("delete") =>
            {
                if let Err(e) = state.storage.threads.remove(tid, &system).await {
                    tracing::warn!(thread_id = tid, detail = %e, "a cron's thread");
                }
                break;
            }
            Ok(_) => break,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => {
                tracing::error!(
                    thread_id = tid,
                    run_id = rid,
                    scope = system.describe(),
                    detail = %e,
                    "run failed"
                );
                break;
            }
        }
    }
    state.runs_done.notify_waiters();
    // The thread's next run may be claimable now.
    state.queue.wake();
}

/// Waits until the run is finished; the thread as it is then. `scope` is the caller's.
async fn wait_done(
    state: &AppState,
    tid: &str,
    rid: &str,
    scope: &Access,
) -> Result<(Thread, Run), ApiError> {
    loop {
        let notified = state.runs_done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (thread, runs) = state
            .storage
            .threads
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

async fn create_background(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, _) = create_on_thread(&state, &user, &tid, body).await?;
    let (t, r) = (run.thread_id.clone(), run.run_id.clone());
    Ok(with_location(Json(run).into_response(), Some(&t), &r))
}

async fn create_wait(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
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
async fn run_writes(
    state: &AppState,
    tid: &str,
    rid: &str,
    scope: &Access,
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
        .threads
        .history(tid, scope, page)
        .await?
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.metadata.get("writes").filter(|w| w.is_object()).cloned())
        .collect();
    writes.reverse();
    Ok(writes)
}

async fn create_stream(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let tid = thread_id(&tid)?;
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
async fn stateless(
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
async fn stateless_background(
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
async fn stateless_batch(
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

async fn stateless_wait(
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

async fn stateless_stream(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, values, error, writes) = stateless(&state, &user, body).await?;
    let events = stream_events(&values, &run, &error, &writes);
    Ok(with_location(sse(&events), None, &run.run_id))
}

async fn list(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    query: QueryParams,
) -> Result<Json<Vec<Run>>, ApiError> {
    let tid = thread_id(&tid)?;
    let limit = query.int("limit", 10)?;
    let offset = query.int("offset", 0)?;
    let status = query.0.get("status").map(str::to_owned);
    let mut value = AuthValue::from({
        let mut built = ThreadsSearch::default();
        built.thread_id = Some(tid.clone());
        built.limit = Some(limit as i64);
        built.offset = Some(offset as i64);
        built
    });
    let scope = authorize(&state, &user, &mut value).await?;
    let (_, runs) = state
        .storage
        .threads
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

/// Emits `threads.read` for the run and returns the thread (row), the run and the scope.
async fn read_run(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    rid: &str,
) -> Result<(Thread, Run, Access), ApiError> {
    let rid = run_id(rid)?;
    let (tid, scope) = read_scope(state, user, tid, Some(&rid)).await?;
    let (thread, runs) = state
        .storage
        .threads
        .runs(&tid, &scope)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    let run = runs
        .iter()
        .find(|r| r.run_id == rid)
        .map(|r| Run::clone(r))
        .ok_or_else(|| run_not_found(&rid))?;
    Ok((thread, run, scope))
}

async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<Run>, ApiError> {
    read_run(&state, &user, &tid, &rid)
        .await
        .map(|(_, run, _)| Json(run))
}

async fn join(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (thread, run, scope) = read_run(&state, &user, &tid, &rid).await?;
    let (thread, run) = wait_done(&state, &thread.thread_id, &run.run_id, &scope).await?;
    Ok(Json(run_output(&thread, &run)))
}

/// `GET /threads/{thread_id}/runs/{run_id}/stream`: joins a run's stream. Once the ids are
/// well formed (else 422) and the caller authenticated (else 401, by the layer), every error,
/// a refusal or a thread or run not found among them, is one `error` event of a 200 stream, as
/// both LangGraph servers answer (see [`error_event`]).
async fn join_stream(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    thread_id(&tid)?;
    run_id(&rid)?;
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
async fn thread_stream(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
) -> Result<Response, ApiError> {
    thread_id(&tid)?;
    let events = async {
        let (tid, scope) = read_scope(&state, &user, &tid, None).await?;
        let (thread, runs) = state
            .storage
            .threads
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
async fn cancel_runs(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    run_ids: Option<Vec<String>>,
    action: ThreadsUpdateAction,
) -> Result<(usize, Access), ApiError> {
    let mut value = AuthValue::from({
        let mut built = ThreadsUpdate::default();
        built.thread_id = Some(tid.to_owned());
        built.metadata = None;
        built.action = Some(action);
        built
    });
    let scope = authorize(state, user, &mut value).await?;
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
        .threads
        .transact(tid, &scope, change)
        .await?
        .ok_or_else(|| not_found(tid))?;
    state.runs_done.notify_waiters();
    Ok((cancelled.into_inner(), scope))
}

async fn cancel(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let tid = thread_id(&tid)?;
    let rid = run_id(&rid)?;
    let action = cancel_action(&query)?;
    let (_, scope) = cancel_runs(&state, &user, &tid, Some(vec![rid.clone()]), action).await?;
    if query.flag("wait") && action == ThreadsUpdateAction::Interrupt {
        let (thread, run) = wait_done(&state, &tid, &rid, &scope).await?;
        return Ok(Json(run_output(&thread, &run)).into_response());
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
struct CancelManyBody {
    thread_id: Option<String>,
    run_ids: Option<Vec<String>>,
    status: Option<String>,
}

async fn cancel_many(
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

async fn delete(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tid = thread_id(&tid)?;
    let rid = run_id(&rid)?;
    let mut value = AuthValue::from({
        let mut built = ThreadsDelete::default();
        built.thread_id = Some(tid.clone());
        built.run_id = Some(rid.clone());
        built
    });
    let scope = authorize(&state, &user, &mut value).await?;
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
        .threads
        .transact(&tid, &scope, change)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
