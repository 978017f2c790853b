//! `/threads`: conversations, their metadata and their state ([`crate::service::threads`]).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ids::ThreadId;
use crate::model::Thread;
use crate::service::Caller;
use crate::service::threads::{
    self, CheckpointBody, CreateBody, HistoryBody, PruneBody, SearchBody, StateUpdateBody,
    UpdateBody,
};
use crate::util::{ApiError, JsonBody, QueryParams};

pub(super) async fn create(
    c: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<Thread>, ApiError> {
    threads::create(&c, body).await.map(Json)
}

pub(super) async fn read(c: Caller, ThreadId(id): ThreadId) -> Result<Json<Thread>, ApiError> {
    threads::read(&c, &id, None).await.map(Json)
}

pub(super) async fn update(
    c: Caller,
    ThreadId(id): ThreadId,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Thread>, ApiError> {
    threads::update(&c, &id, body).await.map(Json)
}

pub(super) async fn delete(c: Caller, ThreadId(id): ThreadId) -> Result<StatusCode, ApiError> {
    threads::delete(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn prune(
    c: Caller,
    JsonBody(body): JsonBody<PruneBody>,
) -> Result<Json<Value>, ApiError> {
    let pruned = threads::prune(&c, body).await?;
    Ok(Json(json!({ "pruned_count": pruned })))
}

pub(super) async fn search(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Response, ApiError> {
    let (items, total) = threads::search(&c, body, false).await?;
    Ok(([("X-Pagination-Total", total.to_string())], Json(items)).into_response())
}

pub(super) async fn count(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<usize>, ApiError> {
    let (_, total) = threads::search(&c, body, true).await?;
    Ok(Json(total))
}

pub(super) async fn copy(c: Caller, ThreadId(id): ThreadId) -> Result<Json<Thread>, ApiError> {
    threads::copy(&c, &id).await.map(Json)
}

pub(super) async fn state_get(c: Caller, ThreadId(id): ThreadId) -> Result<Json<Value>, ApiError> {
    threads::state(&c, &id, None).await.map(Json)
}

pub(super) async fn state_at(
    c: Caller,
    ThreadId(id): ThreadId,
    Path((_, checkpoint_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    threads::state(&c, &id, Some(&checkpoint_id))
        .await
        .map(Json)
}

pub(super) async fn state_at_body(
    c: Caller,
    ThreadId(id): ThreadId,
    JsonBody(body): JsonBody<CheckpointBody>,
) -> Result<Json<Value>, ApiError> {
    threads::state(&c, &id, body.checkpoint_id())
        .await
        .map(Json)
}

pub(super) async fn state_update(
    c: Caller,
    ThreadId(id): ThreadId,
    JsonBody(body): JsonBody<StateUpdateBody>,
) -> Result<Json<Value>, ApiError> {
    threads::update_state(&c, &id, body).await.map(Json)
}

pub(super) async fn history_get(
    c: Caller,
    ThreadId(id): ThreadId,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let limit = query.int("limit", 10)?;
    let page = threads::history_page(&c, &id, limit, query.0.get("before"));
    page.await.map(Json)
}

pub(super) async fn history_post(
    c: Caller,
    ThreadId(id): ThreadId,
    JsonBody(body): JsonBody<HistoryBody>,
) -> Result<Json<Value>, ApiError> {
    threads::history_search(&c, &id, body).await.map(Json)
}
