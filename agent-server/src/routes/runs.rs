//! Runs ([`crate::service::runs`]): background, wait and stream on a thread; stateless wait
//! and stream; list, get, join, cancel, delete. What is HTTP's own is here: the
//! `Content-Location` of a created run, and the event streams (`text/event-stream`).

use auth::types::ThreadsUpdateAction;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ids::{RunId, ThreadId};
use crate::model::Run;
use crate::service::Caller;
use crate::service::runs::{self, CancelManyBody, RunBody, StreamEvent};
use crate::util::{ApiError, JsonBody, QueryParams};

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

fn sse(events: &[StreamEvent]) -> Response {
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
fn error_event(e: &ApiError) -> StreamEvent {
    (
        "error",
        json!({
            "error": "HTTPException",
            "message": format!("{}: {}", e.status.as_u16(), e.detail),
        }),
    )
}

/// A 200 stream of `events`, or of the one [`error_event`] of the error that ended them.
fn sse_or_error(events: Result<Vec<StreamEvent>, ApiError>) -> Response {
    match events {
        Ok(events) => sse(&events),
        Err(e) => sse(&[error_event(&e)]),
    }
}

pub(super) async fn create_background(
    c: Caller,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, _) = runs::create_on_thread(&c, &tid, body).await?;
    let rid = run.run_id.clone();
    Ok(with_location(Json(run).into_response(), Some(&tid), &rid))
}

pub(super) async fn create_wait(
    c: Caller,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, output) = runs::wait_on_thread(&c, &tid, body).await?;
    Ok(with_location(
        Json(output).into_response(),
        Some(&tid),
        &run.run_id,
    ))
}

/// Creating the run answers its errors as HTTP errors, as both LangGraph servers do; once it
/// exists, the stream is open and what goes wrong is an `error` event.
pub(super) async fn create_stream(
    c: Caller,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, events) = runs::stream_on_thread(&c, &tid, body).await?;
    Ok(with_location(sse_or_error(events), Some(&tid), &run.run_id))
}

pub(super) async fn stateless_background(
    c: Caller,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let run = runs::stateless_run(&c, body).await?;
    let rid = run.run_id.clone();
    Ok(with_location(Json(run).into_response(), None, &rid))
}

pub(super) async fn stateless_batch(
    c: Caller,
    JsonBody(bodies): JsonBody<Vec<RunBody>>,
) -> Result<Json<Vec<Run>>, ApiError> {
    runs::stateless_batch(&c, bodies).await.map(Json)
}

pub(super) async fn stateless_wait(
    c: Caller,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, output) = runs::stateless_wait(&c, body).await?;
    Ok(with_location(
        Json(output).into_response(),
        None,
        &run.run_id,
    ))
}

pub(super) async fn stateless_stream(
    c: Caller,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let (run, events) = runs::stateless_stream(&c, body).await?;
    Ok(with_location(sse(&events), None, &run.run_id))
}

pub(super) async fn list(
    c: Caller,
    ThreadId(tid): ThreadId,
    query: QueryParams,
) -> Result<Json<Vec<Run>>, ApiError> {
    let (limit, offset) = (query.int("limit", 10)?, query.int("offset", 0)?);
    let status = query.0.get("status").filter(|s| !s.is_empty());
    let status = status
        .map(|s| s.parse().map_err(|e| ApiError::invalid(format!("{e}"))))
        .transpose()?;
    runs::list(&c, &tid, limit, offset, status).await.map(Json)
}

pub(super) async fn read(
    c: Caller,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Json<Run>, ApiError> {
    runs::read(&c, &tid, &rid).await.map(Json)
}

pub(super) async fn join(
    c: Caller,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Json<Value>, ApiError> {
    runs::join(&c, &tid, &rid).await.map(Json)
}

/// `GET /threads/{thread_id}/runs/{run_id}/stream`: joins a run's stream. Once the ids are
/// well formed (else 422) and the caller authenticated (else 401, by the layer), every error,
/// a refusal or a thread or run not found among them, is one `error` event of a 200 stream, as
/// both LangGraph servers answer (see [`error_event`]).
pub(super) async fn join_stream(
    c: Caller,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<Response, ApiError> {
    Ok(sse_or_error(runs::join_events(&c, &tid, &rid).await))
}

/// `GET /threads/{thread_id}/stream`: joins the thread's stream; errors past a well-formed,
/// authenticated request are an `error` event, as for [`join_stream`].
pub(super) async fn thread_stream(
    c: Caller,
    ThreadId(tid): ThreadId,
) -> Result<Response, ApiError> {
    Ok(sse_or_error(runs::thread_events(&c, &tid).await))
}

/// The `action` query parameter of a cancel: `interrupt` (the default) or `rollback`.
fn cancel_action(query: &QueryParams) -> Result<ThreadsUpdateAction, ApiError> {
    match query.0.get("action") {
        None | Some("interrupt") => Ok(ThreadsUpdateAction::Interrupt),
        Some("rollback") => Ok(ThreadsUpdateAction::Rollback),
        Some(a) => Err(ApiError::invalid(format!("unknown cancel action {a:?}"))),
    }
}

pub(super) async fn cancel(
    c: Caller,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let action = cancel_action(&query)?;
    match runs::cancel(&c, &tid, &rid, action, query.flag("wait")).await? {
        Some(output) => Ok(Json(output).into_response()),
        None => Ok(StatusCode::ACCEPTED.into_response()),
    }
}

pub(super) async fn cancel_many(
    c: Caller,
    query: QueryParams,
    JsonBody(body): JsonBody<CancelManyBody>,
) -> Result<StatusCode, ApiError> {
    runs::cancel_many(&c, cancel_action(&query)?, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn delete(
    c: Caller,
    ThreadId(tid): ThreadId,
    RunId(rid): RunId,
) -> Result<StatusCode, ApiError> {
    runs::delete(&c, &tid, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}
