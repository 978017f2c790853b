//! Runs: background, wait and stream on a thread; stateless wait and stream; list, get, join,
//! cancel, delete.

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

use super::threads::{head, new_thread, not_found, push_checkpoint, read_checked, thread_id};
use crate::AppState;
use crate::authz::authorize;
use crate::graph;
use crate::model::{Object, Run, Thread};
use crate::storage::IfExists;
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

fn finished(status: &str) -> bool {
    !matches!(status, "pending" | "running")
}

fn refresh_status(t: &mut Thread) {
    t.status = if t.runs.iter().any(|r| !finished(&r.status)) {
        "busy".into()
    } else if t.error.is_null() {
        "idle".into()
    } else {
        "error".into()
    };
}

/// Authorizes and prepares a run: emits `threads.create_run`, resolves the assistant, puts the
/// authenticated user into `config.configurable`.
async fn prepare(
    state: &AppState,
    user: &Authenticated,
    thread: Option<&str>,
    body: RunBody,
) -> Result<(Run, Option<auth::Filter>, RunBody2), ApiError> {
    let raw_assistant = body
        .assistant_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("assistant_id is required"))?;
    let assistant_id = super::assistants::resolve_id(raw_assistant)?;
    graph::input_messages(body.kwargs.input.as_ref().unwrap_or(&Value::Null))
        .map_err(|e| ApiError::invalid(format!("Invalid input: {e}")))?;
    if let Some(s) = body.after_seconds
        && !(0.0..=86_400.0).contains(&s)
    {
        return Err(ApiError::invalid(
            "after_seconds must be between 0 and 86400",
        ));
    }
    // Ours does not emit assistants.read here (see the reference): the assistant must exist.
    let assistant = state
        .storage
        .assistants
        .get(&assistant_id, None)
        .await
        .ok_or_else(|| ApiError::not_found(format!("Assistant '{raw_assistant}' not found")))?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut value = AuthValue::from(RunsCreate {
        assistant_id: Some(assistant_id.clone()),
        thread_id: thread.map(str::to_owned),
        run_id: Some(run_id.clone()),
        status: Some(auth::types::RunStatus::Pending),
        metadata: body.metadata.clone(),
        multitask_strategy: body.multitask_strategy,
        if_not_exists: body.if_not_exists,
        after_seconds: body.after_seconds.map(|s| s as i64),
        kwargs: Some(Box::new(body.kwargs.clone())),
        ..Default::default()
    });
    let filter = authorize(state, user, &mut value).await?;
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
    };
    Ok((
        run,
        filter,
        RunBody2 {
            if_not_exists: v.if_not_exists,
            strategy,
            after_seconds: body.after_seconds,
        },
    ))
}

/// What `prepare` keeps from the body for insertion.
pub(crate) struct RunBody2 {
    if_not_exists: Option<IfNotExists>,
    strategy: MultitaskStrategy,
    after_seconds: Option<f64>,
}

/// Creates a run on a thread and starts it in the background.
async fn create_on_thread(
    state: &AppState,
    user: &Authenticated,
    raw_thread: &str,
    body: RunBody,
) -> Result<Run, ApiError> {
    let tid = thread_id(raw_thread)?;
    let (run, filter, extra) = prepare(state, user, Some(&tid), body).await?;
    if extra.if_not_exists == Some(IfNotExists::Create) {
        // The new thread carries the run's metadata, as the handler left it.
        let thread = new_thread(tid.clone(), run.metadata.clone());
        state
            .storage
            .threads
            .insert(thread, IfExists::DoNothing, filter.as_ref())
            .await?;
    }
    let inserted = run.clone();
    let strategy = extra.strategy;
    let change = Box::new(move |t: &mut Thread| {
        let inflight: Vec<usize> = (0..t.runs.len())
            .filter(|&i| !finished(&t.runs[i].status))
            .collect();
        if !inflight.is_empty() {
            match strategy {
                MultitaskStrategy::Reject => {
                    return Err(ApiError::conflict(
                        "Thread is already running a task. Wait for it to finish or choose a different multitask strategy.",
                    ));
                }
                MultitaskStrategy::Interrupt | MultitaskStrategy::Rollback => {
                    for i in inflight {
                        t.runs[i].status = "interrupted".into();
                        t.runs[i].updated_at = now();
                    }
                }
                MultitaskStrategy::Enqueue => {}
            }
        }
        t.runs.push(inserted);
        refresh_status(t);
        Ok(())
    });
    state
        .storage
        .threads
        .modify(&tid, filter.as_ref(), change)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    let (st, rid, delay) = (state.clone(), run.run_id.clone(), extra.after_seconds);
    let t2 = tid.clone();
    tokio::spawn(async move {
        if let Some(s) = delay {
            tokio::time::sleep(Duration::from_secs_f64(s)).await;
        }
        execute(&st, &t2, &rid).await;
    });
    Ok(run)
}

/// Runs the graph for a pending run, atomically with the thread: a run executes after the
/// runs before it (they are all pending in order, and each execution finishes them in order).
async fn execute(state: &AppState, tid: &str, rid: &str) {
    let rid_owned = rid.to_owned();
    let change = Box::new(move |t: &mut Thread| {
        // Enqueue: earlier pending runs go first.
        let Some(pos) = t.runs.iter().position(|r| r.run_id == rid_owned) else {
            return Ok(());
        };
        for i in 0..=pos {
            if t.runs[i].status != "pending" {
                continue;
            }
            let input = t.runs[i]
                .kwargs
                .get("input")
                .cloned()
                .unwrap_or(Value::Null);
            let user_id = t.runs[i].kwargs["config"]["configurable"]["langgraph_auth_user_id"]
                .as_str()
                .map(str::to_owned);
            match crate::history::run_steps(&t.values, &input, user_id.as_deref()) {
                Ok(steps) => {
                    let mut md = Object::new();
                    md.insert("run_id".into(), t.runs[i].run_id.clone().into());
                    md.insert("thread_id".into(), t.thread_id.clone().into());
                    md.insert("assistant_id".into(), t.runs[i].assistant_id.clone().into());
                    md.insert("graph_id".into(), graph::GRAPH_ID.into());
                    for step in steps {
                        let parent = head(t);
                        push_checkpoint(t, step, parent, md.clone());
                    }
                    t.runs[i].status = "success".into();
                    t.error = Value::Null;
                }
                Err(e) => {
                    t.runs[i].status = "error".into();
                    t.error = json!({ "error": "ValueError", "message": e });
                }
            }
            t.runs[i].updated_at = now();
            if let Some(Value::Object(c)) = t.runs[i].kwargs.get("config") {
                t.config = c.clone();
            }
        }
        refresh_status(t);
        Ok(())
    });
    if let Err(e) = state.storage.threads.modify(tid, None, change).await {
        tracing::error!(
            thread_id = tid,
            run_id = rid,
            detail = e.detail,
            "run failed"
        );
    }
    state.runs_done.notify_waiters();
}

/// Waits until the run is finished; the thread as it is then.
async fn wait_done(state: &AppState, tid: &str, rid: &str) -> Result<(Thread, Run), ApiError> {
    loop {
        let notified = state.runs_done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let thread = state
            .storage
            .threads
            .get(tid, None)
            .await
            .ok_or_else(|| not_found(tid))?;
        let run = thread
            .runs
            .iter()
            .find(|r| r.run_id == rid)
            .cloned()
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
        thread.values.clone()
    }
}

async fn create_background(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let run = create_on_thread(&state, &user, &tid, body).await?;
    let (t, r) = (run.thread_id.clone(), run.run_id.clone());
    Ok(with_location(Json(run).into_response(), Some(&t), &r))
}

async fn create_wait(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let run = create_on_thread(&state, &user, &tid, body).await?;
    let (thread, run) = wait_done(&state, &run.thread_id, &run.run_id).await?;
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

fn stream_events(
    before: &Value,
    thread_values: &Value,
    run: &Run,
    error: &Value,
) -> Vec<(&'static str, Value)> {
    let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
    if run.status == "error" {
        events.push(("error", error.clone()));
        return events;
    }
    let new_messages: Vec<Value> = {
        let old = before["messages"].as_array().map_or(0, Vec::len);
        thread_values["messages"]
            .as_array()
            .map(|m| m.iter().skip(old).cloned().collect())
            .unwrap_or_default()
    };
    for mode in stream_modes(&run.kwargs) {
        match mode.as_str() {
            "values" => events.push(("values", thread_values.clone())),
            "updates" => {
                // What the node wrote: its replies (the input is not the node's update).
                let replies: Vec<&Value> =
                    new_messages.iter().filter(|m| m["type"] == "ai").collect();
                events.push(("updates", json!({ graph::NODE: { "messages": replies } })));
            }
            "messages" | "messages-tuple" => {
                for m in new_messages.iter().filter(|m| m["type"] == "ai") {
                    events.push(("messages", json!([m, { "langgraph_node": "echo" }])));
                }
            }
            _ => {}
        }
    }
    events
}

async fn create_stream(
    State(state): State<AppState>,
    user: Authenticated,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let tid = thread_id(&tid)?;
    let before = state
        .storage
        .threads
        .get(&tid, None)
        .await
        .map(|t| t.values)
        .unwrap_or(Value::Null);
    // Creating the run answers its errors as HTTP errors, as both LangGraph servers do; once it
    // exists, the stream is open and what goes wrong is an `error` event.
    let run = create_on_thread(&state, &user, &tid, body).await?;
    let events = wait_done(&state, &run.thread_id, &run.run_id)
        .await
        .map(|(thread, run)| stream_events(&before, &thread.values, &run, &thread.error));
    Ok(with_location(sse_or_error(events), Some(&tid), &run.run_id))
}

/// A run without a stored thread: the graph runs on an empty state.
async fn stateless(
    state: &AppState,
    user: &Authenticated,
    body: RunBody,
) -> Result<(Run, Value, Value), ApiError> {
    let (mut run, _filter, _) = prepare(state, user, None, body).await?;
    let input = run.kwargs.get("input").cloned().unwrap_or(Value::Null);
    match graph::run(&Value::Null, &input, Some(user.identity())) {
        Ok(values) => {
            run.status = "success".into();
            Ok((run, values, Value::Null))
        }
        Err(e) => {
            run.status = "error".into();
            Ok((
                run,
                Value::Null,
                json!({ "error": "ValueError", "message": e }),
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
    let (run, _, _) = stateless(&state, &user, body).await?;
    let rid = run.run_id.clone();
    Ok(with_location(Json(run).into_response(), None, &rid))
}

/// `POST /runs/batch`: several runs without a thread, each authorized on its own; the first
/// refusal answers for the whole batch.
async fn stateless_batch(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(bodies): JsonBody<Vec<RunBody>>,
) -> Result<Json<Vec<Run>>, ApiError> {
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
    let (run, values, error) = stateless(&state, &user, body).await?;
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
    let (run, values, error) = stateless(&state, &user, body).await?;
    let events = stream_events(&Value::Null, &values, &run, &error);
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
    let mut value = AuthValue::from(ThreadsSearch {
        thread_id: Some(tid.clone()),
        limit: Some(limit as i64),
        offset: Some(offset as i64),
        ..Default::default()
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let thread = state
        .storage
        .threads
        .get(&tid, filter.as_ref())
        .await
        .ok_or_else(|| not_found(&tid))?;
    Ok(Json(
        thread
            .runs
            .into_iter()
            .rev()
            .filter(|r| status.as_ref().is_none_or(|s| &r.status == s))
            .skip(offset)
            .take(limit)
            .collect(),
    ))
}

fn run_id(raw: &str) -> Result<String, ApiError> {
    parse_uuid("run", raw).map(|u| u.to_string())
}

async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<Run>, ApiError> {
    let rid = run_id(&rid)?;
    let thread = read_checked(&state, &user, &tid, Some(&rid)).await?;
    thread
        .runs
        .into_iter()
        .find(|r| r.run_id == rid)
        .map(Json)
        .ok_or_else(|| run_not_found(&rid))
}

async fn join(
    State(state): State<AppState>,
    user: Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let rid = run_id(&rid)?;
    let thread = read_checked(&state, &user, &tid, Some(&rid)).await?;
    if !thread.runs.iter().any(|r| r.run_id == rid) {
        return Err(run_not_found(&rid));
    }
    let (thread, run) = wait_done(&state, &thread.thread_id, &rid).await?;
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
    let tid = thread_id(&tid)?;
    let rid = run_id(&rid)?;
    let events = async {
        let thread = read_checked(&state, &user, &tid, Some(&rid)).await?;
        if !thread.runs.iter().any(|r| r.run_id == rid) {
            return Err(run_not_found(&rid));
        }
        let (thread, run) = wait_done(&state, &thread.thread_id, &rid).await?;
        let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
        if run.status == "error" {
            events.push(("error", thread.error.clone()));
        } else {
            events.push(("values", thread.values.clone()));
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
    let tid = thread_id(&tid)?;
    let events = async {
        let thread = read_checked(&state, &user, &tid, None).await?;
        let latest = thread
            .runs
            .iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at));
        let mut events = Vec::new();
        let thread = match latest {
            Some(run) => {
                let (thread, run) = wait_done(&state, &thread.thread_id, &run.run_id).await?;
                events.push(("metadata", json!({ "run_id": run.run_id, "attempt": 1 })));
                thread
            }
            None => thread,
        };
        events.push(("values", thread.values.clone()));
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
async fn cancel_runs(
    state: &AppState,
    user: &Authenticated,
    tid: &str,
    run_ids: Option<Vec<String>>,
    action: ThreadsUpdateAction,
) -> Result<usize, ApiError> {
    let mut value = AuthValue::from(ThreadsUpdate {
        thread_id: Some(tid.to_owned()),
        metadata: None,
        action: Some(action),
    });
    let filter = authorize(state, user, &mut value).await?;
    let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = cancelled.clone();
    let ids = run_ids.clone();
    let change = Box::new(move |t: &mut Thread| {
        if let Some(ids) = &ids
            && let Some(missing) = ids
                .iter()
                .find(|id| !t.runs.iter().any(|r| &r.run_id == *id))
        {
            return Err(run_not_found(missing));
        }
        for r in t.runs.iter_mut() {
            if !finished(&r.status) && ids.as_ref().is_none_or(|ids| ids.contains(&r.run_id)) {
                r.status = "interrupted".into();
                r.updated_at = now();
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if action == ThreadsUpdateAction::Rollback {
            let keep: Vec<bool> = t
                .runs
                .iter()
                .map(|r| {
                    r.status != "interrupted"
                        || ids.as_ref().is_some_and(|i| !i.contains(&r.run_id))
                })
                .collect();
            let mut k = keep.iter();
            t.runs.retain(|_| *k.next().unwrap_or(&true));
        }
        refresh_status(t);
        Ok(())
    });
    state
        .storage
        .threads
        .modify(tid, filter.as_ref(), change)
        .await?
        .ok_or_else(|| not_found(tid))?;
    state.runs_done.notify_waiters();
    Ok(cancelled.load(std::sync::atomic::Ordering::Relaxed))
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
    cancel_runs(&state, &user, &tid, Some(vec![rid.clone()]), action).await?;
    if query.flag("wait") && action == ThreadsUpdateAction::Interrupt {
        let (thread, run) = wait_done(&state, &tid, &rid).await?;
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
        .map(|ids| ids.iter().map(|i| run_id(i)).collect::<Result<Vec<_>, _>>())
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
    let mut value = AuthValue::from(ThreadsDelete {
        thread_id: Some(tid.clone()),
        run_id: Some(rid.clone()),
    });
    let filter = authorize(&state, &user, &mut value).await?;
    let r2 = rid.clone();
    let change = Box::new(move |t: &mut Thread| {
        let before = t.runs.len();
        t.runs.retain(|r| r.run_id != r2);
        if t.runs.len() == before {
            return Err(run_not_found(&r2));
        }
        refresh_status(t);
        Ok(())
    });
    state
        .storage
        .threads
        .modify(&tid, filter.as_ref(), change)
        .await?
        .ok_or_else(|| not_found(&tid))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
