//! `/store`: the long-term key-value store ([`crate::service::store`]).

use axum::Json;
use axum::http::StatusCode;
use serde_json::Value;

use crate::model::Item;
use crate::service::Caller;
use crate::service::store::{self, DeleteBody, NamespacesBody, PutBody, SearchBody};
use crate::util::{ApiError, JsonBody, QueryParams};

pub(super) async fn put_item(
    c: Caller,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<StatusCode, ApiError> {
    store::put(&c, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /store/items?namespace=a.b&key=k`: the namespace's labels joined by `.`.
pub(super) async fn get_item(c: Caller, query: QueryParams) -> Result<Json<Item>, ApiError> {
    let namespace: Vec<String> = match query.0.get("namespace") {
        Some("") | None => Vec::new(),
        Some(ns) => ns.split('.').map(str::to_owned).collect(),
    };
    let key = query.0.get("key");
    let key = key.ok_or_else(|| ApiError::invalid("key is required"))?;
    store::get(&c, namespace, key.to_owned()).await.map(Json)
}

pub(super) async fn delete_item(
    c: Caller,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<StatusCode, ApiError> {
    store::delete(&c, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn search(
    c: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<Value>, ApiError> {
    store::search(&c, body).await.map(Json)
}

pub(super) async fn list_namespaces(
    c: Caller,
    JsonBody(body): JsonBody<NamespacesBody>,
) -> Result<Json<Value>, ApiError> {
    store::list_namespaces(&c, body).await.map(Json)
}
