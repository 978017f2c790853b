//! `/runs/crons`: scheduled runs ([`crate::service::crons`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ids::{CronId, ThreadId};
use crate::model::{Cron, Object};
use crate::service::Caller;
use crate::service::crons::{self, SearchBody};
use crate::util::{ApiError, JsonBody};

pub(super) async fn create(
    c: Caller,
    JsonBody(body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    crons::create(&c, None, body).await.map(Json)
}

pub(super) async fn create_for_thread(
    c: Caller,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    crons::create_for_thread(&c, &tid, body).await.map(Json)
}

pub(super) async fn read(c: Caller, CronId(id): CronId) -> Result<Json<Cron>, ApiError> {
    crons::read(&c, &id).await.map(Json)
}

pub(super) async fn update(
    c: Caller,
    CronId(id): CronId,
    JsonBody(body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    crons::update(&c, &id, body).await.map(Json)
}

pub(super) async fn delete(c: Caller, CronId(id): CronId) -> Result<StatusCode, ApiError> {
    crons::delete(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn search(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Response, ApiError> {
    let (items, total) = crons::search(&c, body, false).await?;
    Ok(([("X-Pagination-Total", total.to_string())], Json(items)).into_response())
}

pub(super) async fn count(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<usize>, ApiError> {
    let (_, total) = crons::search(&c, body, true).await?;
    Ok(Json(total))
}
