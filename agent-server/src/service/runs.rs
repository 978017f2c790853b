//! Runs: background, wait and stream on a thread; stateless wait and stream; list, get, join,
//! cancel, delete; and the runs of crons, created as their owners.

use std::sync::Arc;
use std::time::Duration;

use auth::axum::Authenticated;
use auth::types::{
    IfNotExists, MultitaskStrategy, RunKwargs, RunStatus, RunsCreate, ThreadsDelete, ThreadsRead,
    ThreadsSearch, ThreadsUpdate, ThreadsUpdateAction,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::threads::read_scope;
use super::{Caller, Found, Missing, assistants, input};
use crate::AppState;
use crate::authz::{ReadsThread, Scope};
use crate::model::new_thread;
use crate::model::{Cron, Object, QueueState, Run, Thread};
use crate::runner::{ON_COMPLETION, run_input};
use crate::storage::{HistoryPage, IfExists, ThreadTx, now_ms};
use crate::util::{ApiError, now};

/// An event of a run's stream: its name (`metadata`, `values`, `updates`, `messages`, `error`)
/// and its data.
pub(crate) type StreamEvent = (&'static str, Value);

/// The body of a run creation (`POST /threads/{thread_id}/runs`, `/runs`, their `wait` and
/// `stream`, and each of `/runs/batch`).
#[derive(Deserialize, ToSchema)]
#[schema(as = RunCreate)]
pub(crate) struct RunBody {
    /// The assistant (an id, or a graph's name for its default assistant).
    assistant_id: Option<String>,
    /// Metadata.
    metadata: Option<Object>,
    /// `reject`, `interrupt`, `rollback` or `enqueue` (default).
    #[schema(value_type = Option<String>)]
    multitask_strategy: Option<MultitaskStrategy>,
    /// `create` to create the thread if missing, or `reject` (default).
    #[schema(value_type = Option<String>)]
    if_not_exists: Option<IfNotExists>,
    /// Delay before the run starts, in seconds (0 to 86400).
    after_seconds: Option<f64>,
    #[serde(flatten)]
    /// The graph's input and the run's options.
    #[schema(inline, value_type = crate::openapi::RunKwargs)]
    kwargs: RunKwargs,
}

use crate::storage::refresh_status;

/// 422 for a run body whose lists are over [`input::MAX_LIST`].
fn check_body(body: &RunBody) -> Result<(), ApiError> {
    if let Some(Value::Array(m)) = body.kwargs.input.as_ref().and_then(|i| i.get("messages")) {
        input::bounded("input.messages", m, input::MAX_LIST)?;
    }
    // The input itself is checked by the assistant's graph (`Graph::validate_input`).
    Ok(())
}

/// Authorizes and prepares a run: resolves the assistant as the caller may read it, emits
/// `threads.create_run`, puts the authenticated user into `config.configurable`.
async fn prepare(
    caller: &Caller,
    thread: Option<&str>,
    mut body: RunBody,
) -> Result<(Run, Scope<RunsCreate>, Placement), ApiError> {
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
    let assistant = assistants::resolve_for_run(caller, raw_assistant).await?;
    let assistant_id = assistant.current.assistant_id.clone();
    let graph = caller
        .state
        .graphs
        .get(&assistant.current.graph_id)
        .ok_or_else(|| ApiError::from(Missing::Graph(&assistant.current.graph_id)))?;
    graph
        .validate_input(body.kwargs.input.as_ref().unwrap_or(&Value::Null))
        .map_err(|e| ApiError::invalid(format!("Invalid input: {e}")))?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let (value, scope) = caller
        .authorize(
            RunsCreate::new()
                .with_assistant_id(assistant_id.clone())
                .maybe_thread_id(thread.map(str::to_owned))
                .with_run_id(run_id.clone())
                .with_status(RunStatus::Pending)
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
        c.insert("langgraph_auth_user".into(), caller.user.to_json());
        c.insert(
            "langgraph_auth_user_id".into(),
            caller.user.identity().into(),
        );
        c.insert(
            "langgraph_auth_permissions".into(),
            caller.user.permissions().into(),
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
        status: RunStatus::Pending,
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
        Placement {
            if_not_exists: v.if_not_exists,
            strategy,
            graph_id: assistant.current.graph_id.clone(),
        },
    ))
}

/// What `prepare` keeps from the body for insertion.
struct Placement {
    if_not_exists: Option<IfNotExists>,
    strategy: MultitaskStrategy,
    graph_id: String,
}

/// `threads.create_run` on the thread `tid` (normalized): creates the run, which enqueues it (the
/// [worker](crate::queue) executes it once its `after_seconds` have passed); the run and the
/// scope that authorized it.
pub(crate) async fn create_on_thread(
    c: &Caller,
    tid: &str,
    body: RunBody,
) -> Result<(Run, Scope<RunsCreate>), ApiError> {
    create_on_thread_then(c, tid, body, false).await
}

/// [`create_on_thread`]; with `delete_thread`, the thread is deleted once the run is finished.
///
/// With `if_not_exists: "create"` and a thread the caller cannot see (absent, or hidden: the two
/// look alike), the thread is created as `POST /threads` creates it: `threads.create` is
/// authorized (its handler may stamp or refuse), and the thread is stored under that decision,
/// with the run's metadata as the handler left it. A hidden thread is not replaced: the run is
/// then 404, as on an absent thread without `if_not_exists`.
async fn create_on_thread_then(
    c: &Caller,
    tid: &str,
    body: RunBody,
    delete_thread: bool,
) -> Result<(Run, Scope<RunsCreate>), ApiError> {
    let (mut run, scope, extra) = prepare(c, Some(tid), body).await?;
    if delete_thread {
        run.kwargs.insert(ON_COMPLETION.into(), "delete".into());
    }
    let threads = c.state.storage.threads();
    if extra.if_not_exists == Some(IfNotExists::Create) && threads.get(tid, &scope).await?.is_none()
    {
        let (value, create) = c
            .authorize(
                auth::types::ThreadsCreate::new()
                    .with_thread_id(tid)
                    .with_metadata(run.metadata.clone()),
            )
            .await?;
        let thread = new_thread(tid.to_owned(), value.metadata.unwrap_or_default());
        threads.insert(thread, IfExists::DoNothing, &create).await?;
    }
    let inserted = Arc::new(run.clone());
    let strategy = extra.strategy;
    let graph_id = extra.graph_id;
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        let inflight: Vec<usize> = (0..tx.runs.len())
            .filter(|&i| !tx.runs[i].status.is_finished())
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
                        r.status = RunStatus::Interrupted;
                        r.updated_at = now();
                    }
                }
                MultitaskStrategy::Enqueue => {}
                // A strategy added by a later LangGraph: refused until this server knows it.
                _ => return Err(ApiError::conflict("Unsupported multitask strategy.").into()),
            }
        }
        // As LangGraph's threads do (and chat UIs list threads by them): the graph and the
        // assistant of the thread's latest run, added to what the policy stamped.
        let metadata = &mut tx.thread.metadata;
        metadata.insert("graph_id".into(), graph_id.into());
        metadata.insert("assistant_id".into(), inserted.assistant_id.clone().into());
        tx.runs.push(inserted);
        refresh_status(tx);
        Ok(())
    });
    let changed = threads.transact(tid, &scope, change).await?;
    changed.or_missing(Missing::Thread(tid))?;
    c.state.queue.wake();
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
    let c = Caller {
        state: state.clone(),
        user: Authenticated(owner.into_auth_user().map_err(ApiError::from)?),
    };
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
            let (value, scope) = c
                .authorize(
                    auth::types::ThreadsCreate::new()
                        .with_thread_id(tid.clone())
                        .maybe_metadata(body.metadata.clone()),
                )
                .await?;
            let metadata = value.metadata.unwrap_or_default();
            state
                .storage
                .threads()
                .insert(new_thread(tid.clone(), metadata), IfExists::Raise, &scope)
                .await?;
            tid
        }
    };
    let delete = cron.thread_id.is_none() && cron.on_run_completed.as_str() != Some("keep");
    let created = create_on_thread_then(&c, &tid, body, delete).await;
    if created.is_err() && cron.thread_id.is_none() {
        // The run was refused: the thread made for it goes too.
        let system = Scope::system("removing the thread of a cron's run that was refused");
        state.storage.threads().remove(&tid, &system).await?;
    }
    created.map(|(run, _)| run)
}

/// Waits until the run is finished; the thread as it is then. `scope` is the caller's.
pub(crate) async fn wait_done<E: ReadsThread>(
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
            .or_missing(Missing::Thread(tid))?;
        let run = runs
            .iter()
            .find(|r| r.run_id == rid)
            .map(|r| Run::clone(r))
            .or_missing(Missing::Run(rid))?;
        if run.status.is_finished() {
            return Ok((thread, run));
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
    }
}

/// What a finished run answers a wait or a join: the thread's values, or `{"__error__": …}`.
fn run_output(thread: &Thread, run: &Run) -> Value {
    if run.status == RunStatus::Error {
        json!({ "__error__": thread.error })
    } else {
        thread.values.to_json()
    }
}

/// `threads.create_run` on `tid`, then waits for the run: the run and its output.
pub(crate) async fn wait_on_thread(
    c: &Caller,
    tid: &str,
    body: RunBody,
) -> Result<(Run, Value), ApiError> {
    let (run, scope) = create_on_thread(c, tid, body).await?;
    let (thread, run) = wait_done(&c.state, &run.thread_id, &run.run_id, &scope).await?;
    let output = run_output(&thread, &run);
    Ok((run, output))
}

fn stream_modes(kwargs: &Object) -> Vec<String> {
    match kwargs.get("stream_mode") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .take(input::MAX_LIST)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec!["values".into()],
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
) -> Vec<StreamEvent> {
    let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
    if run.status == RunStatus::Error {
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
async fn run_writes<E: ReadsThread>(
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

/// `threads.create_run` on `tid`, then the run's events once it has finished. Creating the run
/// answers its errors (the outer `Result`), as both LangGraph servers do; once it exists, what
/// goes wrong ends its events (the inner one). The updates streamed are the run's own
/// checkpoints' writes, read under the scope that authorized the run.
pub(crate) async fn stream_on_thread(
    c: &Caller,
    tid: &str,
    body: RunBody,
) -> Result<(Run, Result<Vec<StreamEvent>, ApiError>), ApiError> {
    let (run, scope) = create_on_thread(c, tid, body).await?;
    let events = async {
        let (thread, run) = wait_done(&c.state, &run.thread_id, &run.run_id, &scope).await?;
        let writes = run_writes(&c.state, tid, &run.run_id, &scope).await?;
        let values = thread.values.to_json();
        Ok(stream_events(&values, &run, &thread.error, &writes))
    };
    let events = events.await;
    Ok((run, events))
}

/// A finished run without a stored thread: the run, its values, its error and its node writes.
struct Stateless {
    run: Run,
    values: Value,
    error: Value,
    writes: Vec<Value>,
}

/// `threads.create_run` without a thread: the graph runs on an empty state, and nothing is
/// stored, as no thread keeps it.
async fn stateless(c: &Caller, body: RunBody) -> Result<Stateless, ApiError> {
    let (mut run, _scope, _) = prepare(c, None, body).await?;
    let (graph_id, input) = run_input(&run, Value::Null);
    let run_input = input.input.clone();
    match c.state.graphs.run(&graph_id, input).await {
        Ok(checkpoints) => {
            let values = checkpoints.last().map_or(Value::Null, |c| c.values.clone());
            let steps = crate::history::run_steps(&Value::Null, &run_input, &checkpoints);
            run.status = RunStatus::Success;
            Ok(Stateless {
                run,
                values,
                error: Value::Null,
                writes: node_writes(&steps),
            })
        }
        Err(e) => {
            run.status = RunStatus::Error;
            Ok(Stateless {
                run,
                values: Value::Null,
                error: json!({ "error": "ValueError", "message": e }),
                writes: Vec::new(),
            })
        }
    }
}

/// `POST /runs`: a run without a thread. The graph answers before this returns, so the run
/// comes back finished.
pub(crate) async fn stateless_run(c: &Caller, body: RunBody) -> Result<Run, ApiError> {
    stateless(c, body).await.map(|s| s.run)
}

/// `POST /runs/batch`: at most [`input::MAX_LIST`] runs without a thread (over it, 422 before
/// any handler runs), each authorized on its own; the first refusal answers for the whole batch.
pub(crate) async fn stateless_batch(
    c: &Caller,
    bodies: Vec<RunBody>,
) -> Result<Vec<Run>, ApiError> {
    input::bounded("the batch", &bodies, input::MAX_LIST)?;
    for body in &bodies {
        check_body(body)?;
    }
    let mut runs = Vec::with_capacity(bodies.len());
    for body in bodies {
        runs.push(stateless(c, body).await?.run);
    }
    Ok(runs)
}

/// `POST /runs/wait`: a run without a thread and its output.
pub(crate) async fn stateless_wait(c: &Caller, body: RunBody) -> Result<(Run, Value), ApiError> {
    let s = stateless(c, body).await?;
    let out = if s.run.status == RunStatus::Error {
        json!({ "__error__": s.error })
    } else {
        s.values
    };
    Ok((s.run, out))
}

/// `POST /runs/stream`: a run without a thread and its events.
pub(crate) async fn stateless_stream(
    c: &Caller,
    body: RunBody,
) -> Result<(Run, Vec<StreamEvent>), ApiError> {
    let s = stateless(c, body).await?;
    let events = stream_events(&s.values, &s.run, &s.error, &s.writes);
    Ok((s.run, events))
}

/// `threads.search` on the thread `tid`: its runs, newest first, `status` only if given.
pub(crate) async fn list(
    c: &Caller,
    tid: &str,
    limit: usize,
    offset: usize,
    status: Option<RunStatus>,
) -> Result<Vec<Run>, ApiError> {
    let scope = c
        .scope(
            ThreadsSearch::new()
                .with_thread_id(tid)
                .with_limit(limit as i64)
                .with_offset(offset as i64),
        )
        .await?;
    let (_, runs) = c
        .state
        .storage
        .threads()
        .runs(tid, &scope)
        .await?
        .or_missing(Missing::Thread(tid))?;
    Ok(runs
        .iter()
        .rev()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .skip(offset)
        .take(limit)
        .map(|r| Run::clone(r))
        .collect())
}

/// `threads.read` for the run (both ids normalized, as their extractors give them): the thread
/// (row), the run and the scope.
async fn read_run(
    c: &Caller,
    tid: &str,
    rid: &str,
) -> Result<(Thread, Run, Scope<ThreadsRead>), ApiError> {
    let scope = read_scope(c, tid, Some(rid)).await?;
    let (thread, runs) = c
        .state
        .storage
        .threads()
        .runs(tid, &scope)
        .await?
        .or_missing(Missing::Thread(tid))?;
    let run = runs
        .iter()
        .find(|r| r.run_id == rid)
        .map(|r| Run::clone(r))
        .or_missing(Missing::Run(rid))?;
    Ok((thread, run, scope))
}

/// `threads.read` for the run: the run.
pub(crate) async fn read(c: &Caller, tid: &str, rid: &str) -> Result<Run, ApiError> {
    read_run(c, tid, rid).await.map(|(_, run, _)| run)
}

/// `threads.read` for the run: its output once it has finished.
pub(crate) async fn join(c: &Caller, tid: &str, rid: &str) -> Result<Value, ApiError> {
    let (thread, run, scope) = read_run(c, tid, rid).await?;
    let (thread, run) = wait_done(&c.state, &thread.thread_id, &run.run_id, &scope).await?;
    Ok(run_output(&thread, &run))
}

/// `threads.read` for the run: its events once it has finished (its metadata, then its values
/// or its error).
pub(crate) async fn join_events(
    c: &Caller,
    tid: &str,
    rid: &str,
) -> Result<Vec<StreamEvent>, ApiError> {
    let (thread, run, scope) = read_run(c, tid, rid).await?;
    let (thread, run) = wait_done(&c.state, &thread.thread_id, &run.run_id, &scope).await?;
    let mut events = vec![("metadata", json!({ "run_id": run.run_id, "attempt": 1 }))];
    if run.status == RunStatus::Error {
        events.push(("error", thread.error.clone()));
    } else {
        events.push(("values", thread.values.to_json()));
    }
    Ok(events)
}

/// `threads.read`: the thread's events. Ours are finite: it waits for the thread's latest run if
/// one is in flight, then sends its metadata and the thread's values.
pub(crate) async fn thread_events(c: &Caller, tid: &str) -> Result<Vec<StreamEvent>, ApiError> {
    let scope = read_scope(c, tid, None).await?;
    let (thread, runs) = c
        .state
        .storage
        .threads()
        .runs(tid, &scope)
        .await?
        .or_missing(Missing::Thread(tid))?;
    let latest = runs.iter().max_by(|a, b| a.created_at.cmp(&b.created_at));
    let mut events = Vec::new();
    let thread = match latest {
        Some(run) => {
            let (thread, run) = wait_done(&c.state, tid, &run.run_id, &scope).await?;
            events.push(("metadata", json!({ "run_id": run.run_id, "attempt": 1 })));
            thread
        }
        None => thread,
    };
    events.push(("values", thread.values.to_json()));
    Ok(events)
}

/// `threads.update` with the cancel `action`: cancels the given runs (all in-flight runs when
/// `None`) of a thread the caller may update. Returns how many runs this cancelled, and the
/// scope.
///
/// With `rollback`, the runs cancelled by this request are removed, and so are named runs that
/// were already interrupted; without `run_ids`, runs interrupted earlier (by another cancel or a
/// multitask strategy) are kept. An id that is not a run of the thread is 404 and nothing
/// changes.
async fn cancel_runs(
    c: &Caller,
    tid: &str,
    run_ids: Option<Vec<String>>,
    action: ThreadsUpdateAction,
) -> Result<(usize, Scope<ThreadsUpdate>), ApiError> {
    let scope = c
        .scope(ThreadsUpdate::new().with_thread_id(tid).with_action(action))
        .await?;
    let cancelled = std::sync::atomic::AtomicUsize::new(0);
    let ids = run_ids.clone();
    let change = Box::new(|tx: &mut ThreadTx<'_>| {
        if let Some(ids) = &ids
            && let Some(missing) = ids
                .iter()
                .find(|id| !tx.runs.iter().any(|r| &r.run_id == *id))
        {
            return Err(ApiError::from(Missing::Run(missing)).into());
        }
        let mut now_cancelled = std::collections::HashSet::new();
        for r in tx.runs.iter_mut() {
            if !r.status.is_finished() && ids.as_ref().is_none_or(|ids| ids.contains(&r.run_id)) {
                let r = Arc::make_mut(r);
                r.status = RunStatus::Interrupted;
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
                !(now_cancelled.contains(&r.run_id) || named && r.status == RunStatus::Interrupted)
            });
        }
        refresh_status(tx);
        Ok(())
    });
    let changed = c
        .state
        .storage
        .threads()
        .transact(tid, &scope, change)
        .await?;
    changed.or_missing(Missing::Thread(tid))?;
    c.state.runs_done.notify_waiters();
    Ok((cancelled.into_inner(), scope))
}

/// Cancels the run `rid` of thread `tid` (see [`cancel_runs`]); with `wait` (and `interrupt`),
/// waits until it stopped and returns its output.
pub(crate) async fn cancel(
    c: &Caller,
    tid: &str,
    rid: &str,
    action: ThreadsUpdateAction,
    wait: bool,
) -> Result<Option<Value>, ApiError> {
    let (_, scope) = cancel_runs(c, tid, Some(vec![rid.to_owned()]), action).await?;
    if wait && action == ThreadsUpdateAction::Interrupt {
        let (thread, run) = wait_done(&c.state, tid, rid, &scope).await?;
        return Ok(Some(run_output(&thread, &run)));
    }
    Ok(None)
}

/// The body of `POST /runs/cancel`.
#[derive(Deserialize, ToSchema)]
#[schema(as = CancelMany)]
pub(crate) struct CancelManyBody {
    /// The runs' thread.
    thread_id: Option<String>,
    /// The runs; default: every run in flight.
    run_ids: Option<Vec<String>>,
    /// Not supported: give `thread_id`.
    status: Option<String>,
}

/// `POST /runs/cancel`: cancels the runs named (all in-flight runs when none are) of one thread.
pub(crate) async fn cancel_many(
    c: &Caller,
    action: ThreadsUpdateAction,
    body: CancelManyBody,
) -> Result<(), ApiError> {
    if body.status.is_some() {
        return Err(ApiError::invalid(
            "cancelling by status across threads is not supported: give thread_id",
        ));
    }
    let tid = body
        .thread_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("thread_id is required"))?;
    let tid = input::thread_id(tid)?;
    let ids = body
        .run_ids
        .map(|ids| input::id_set("run_ids", &ids, input::run_id))
        .transpose()?;
    cancel_runs(c, &tid, ids, action).await?;
    Ok(())
}

/// `threads.delete` for the run: removes it from the thread.
pub(crate) async fn delete(c: &Caller, tid: &str, rid: &str) -> Result<(), ApiError> {
    let scope = c
        .scope(ThreadsDelete::new().with_thread_id(tid).with_run_id(rid))
        .await?;
    let r2 = rid.to_owned();
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        let before = tx.runs.len();
        tx.runs.retain(|r| r.run_id != r2);
        if tx.runs.len() == before {
            return Err(ApiError::from(Missing::Run(&r2)).into());
        }
        refresh_status(tx);
        Ok(())
    });
    let changed = c
        .state
        .storage
        .threads()
        .transact(tid, &scope, change)
        .await?;
    changed.or_missing(Missing::Thread(tid))?;
    Ok(())
}
