//! `/assistants`: configured instances of a graph ([`crate::service::assistants`]). An
//! assistant's path id is a UUID or a graph id, which stands for the graph's default assistant.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::model::{Assistant, AssistantVersion};
use crate::service::Caller;
use crate::service::assistants::{
    self, CreateBody, LatestBody, SearchBody, UpdateBody, VersionsBody,
};
use crate::util::{ApiError, JsonBody};

pub(super) async fn create(
    c: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<Assistant>, ApiError> {
    assistants::create(&c, body).await.map(Json)
}

pub(super) async fn read(c: Caller, Path(id): Path<String>) -> Result<Json<Assistant>, ApiError> {
    assistants::read(&c, &id).await.map(Json)
}

pub(super) async fn drawing(c: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    assistants::drawing(&c, &id).await.map(Json)
}

pub(super) async fn schemas(c: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    assistants::schemas(&c, &id).await.map(Json)
}

pub(super) async fn subgraphs(c: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    assistants::subgraphs(&c, &id).await.map(Json)
}

pub(super) async fn update(
    c: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Assistant>, ApiError> {
    assistants::update(&c, &id, body).await.map(Json)
}

pub(super) async fn delete(c: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    assistants::delete(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn search(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Response, ApiError> {
    let (items, total) = assistants::search(&c, body, false).await?;
    Ok(([("X-Pagination-Total", total.to_string())], Json(items)).into_response())
}

pub(super) async fn count(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<usize>, ApiError> {
    let (_, total) = assistants::search(&c, body, true).await?;
    Ok(Json(total))
}

pub(super) async fn versions(
    c: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<VersionsBody>,
) -> Result<Json<Vec<AssistantVersion>>, ApiError> {
    assistants::versions(&c, &id, body).await.map(Json)
}

pub(super) async fn set_latest(
    c: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LatestBody>,
) -> Result<Json<Assistant>, ApiError> {
    assistants::set_latest(&c, &id, body).await.map(Json)
}
