//! `/store`: the long-term key-value store, namespaces guarded by `store.*` handlers.
//!
//! A filter a store handler returns is matched against each item's value with `namespace` and
//! `key` added ([`store_view`]), as LangGraph.js does, on every route: search and
//! list_namespaces show only what passes (a namespace is listed if at least one of its items
//! passes); get answers an item that fails it as absent (404); delete and put leave it as it is
//! and answer 404; put refuses (403) a new value that would fail it.

use auth::axum::Authenticated;
use auth::types::{StoreDelete, StoreGet, StoreListNamespaces, StorePut, StoreSearch};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::authz::{DeletesItem, Scope, authorize};
use crate::model::{Item, Object};
use crate::storage::{ItemSearch, store_view};
use crate::util::{ApiError, JsonBody, QueryParams};

/// Checks a namespace: labels are non-empty and contain no `.`; `allow_empty` for prefixes.
fn check_namespace(ns: &[String], allow_empty: bool) -> Result<(), ApiError> {
    super::bounded("a namespace", ns, super::MAX_NAMESPACE_LABELS)?;
    if ns.is_empty() && !allow_empty {
        return Err(ApiError::invalid("Namespace cannot be empty"));
    }
    if let Some(bad) = ns.iter().find(|l| l.is_empty() || l.contains('.')) {
        return Err(ApiError::invalid(format!(
            "Invalid namespace label {bad:?}: labels must be non-empty and contain no '.'"
        )));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::invalid("Key cannot be empty"));
    }
    Ok(())
}

/// The namespace as the handler left it, validated again.
fn namespace_after(ns: Vec<String>, allow_empty: bool) -> Result<Vec<String>, ApiError> {
    check_namespace(&ns, allow_empty)?;
    Ok(ns)
}

#[derive(Deserialize)]
pub(super) struct PutBody {
    namespace: Vec<String>,
    key: String,
    value: Option<Object>,
}

pub(super) async fn put_item(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Response, ApiError> {
    check_namespace(&body.namespace, false)?;
    check_key(&body.key)?;
    let (value, scope) = authorize(
        &state,
        &user,
        StorePut::new()
            .with_namespace(body.namespace)
            .with_key(body.key.clone())
            .maybe_value(body.value.clone()),
    )
    .await?;
    let ns = namespace_after(value.namespace, false)?;
    match body.value {
        Some(v) => {
            if !scope
                .filter()
                .is_none_or(|f| f.matches(&store_view(&ns, &body.key, Some(&v))))
            {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "Not authorized"));
            }
            state
                .storage
                .items()
                .put(&scope, ns, body.key, v)
                .await?
                .ok_or_else(item_not_found)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => remove(&state, &scope, &ns, &body.key).await,
    }
}

fn item_not_found() -> ApiError {
    ApiError::not_found("Item not found")
}

/// Removes an item the filter lets the caller see. One it hides answers 404, and so does an
/// absent one whose place (namespace and key) the filter refuses: hidden and absent look alike.
pub(super) async fn remove<E: DeletesItem>(
    state: &AppState,
    scope: &Scope<E>,
    ns: &[String],
    key: &str,
) -> Result<Response, ApiError> {
    match state.storage.items().delete(scope, ns, key).await? {
        Some(true) => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(false)
            if scope
                .filter()
                .is_none_or(|f| f.matches(&store_view(ns, key, None))) =>
        {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(item_not_found()),
    }
}

pub(super) async fn get_item(
    State(state): State<AppState>,
    user: Authenticated,
    query: QueryParams,
) -> Result<Json<Item>, ApiError> {
    let namespace: Vec<String> = match query.0.get("namespace") {
        Some("") | None => Vec::new(),
        Some(ns) => ns.split('.').map(str::to_owned).collect(),
    };
    let key = query
        .0
        .get("key")
        .ok_or_else(|| ApiError::invalid("key is required"))?
        .to_owned();
    check_namespace(&namespace, false)?;
    check_key(&key)?;
    let (value, scope) = authorize(
        &state,
        &user,
        StoreGet::new()
            .with_namespace(namespace)
            .with_key(key.clone()),
    )
    .await?;
    let ns = namespace_after(value.namespace, false)?;
    state
        .storage
        .items()
        .get(&scope, &ns, &key)
        .await?
        .map(Json)
        .ok_or_else(item_not_found)
}

#[derive(Deserialize)]
pub(super) struct DeleteBody {
    namespace: Vec<String>,
    key: String,
}

pub(super) async fn delete_item(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<Response, ApiError> {
    check_namespace(&body.namespace, false)?;
    check_key(&body.key)?;
    let (value, scope) = authorize(
        &state,
        &user,
        StoreDelete::new()
            .with_namespace(body.namespace)
            .with_key(body.key.clone()),
    )
    .await?;
    let ns = namespace_after(value.namespace, false)?;
    remove(&state, &scope, &ns, &body.key).await
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    #[serde(default)]
    namespace_prefix: Option<Vec<String>>,
    filter: Option<Object>,
    limit: Option<i64>,
    offset: Option<i64>,
    query: Option<String>,
}

pub(super) async fn search(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = super::page(body.limit, body.offset)?;
    let prefix = body.namespace_prefix.unwrap_or_default();
    check_namespace(&prefix, true)?;
    let (value, scope) = authorize(
        &state,
        &user,
        StoreSearch::new()
            .with_namespace(prefix)
            .maybe_filter(body.filter)
            .with_limit(limit as i64)
            .with_offset(offset as i64)
            .maybe_query(body.query.clone()),
    )
    .await?;
    let wanted = value.filter;
    let prefix = namespace_after(value.namespace, true)?;
    let words: Vec<String> = body
        .query
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let search = ItemSearch {
        filter: wanted,
        words,
    };
    let items = state
        .storage
        .items()
        .search(&scope, &prefix, &search, limit, offset)
        .await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            v["score"] = Value::Null;
            v
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
pub(super) struct NamespacesBody {
    prefix: Option<Vec<String>>,
    suffix: Option<Vec<String>>,
    max_depth: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub(super) async fn list_namespaces(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<NamespacesBody>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = super::page(body.limit.or(Some(100)), body.offset)?;
    let prefix = body.prefix.unwrap_or_default();
    check_namespace(&prefix, true)?;
    let suffix = body.suffix.unwrap_or_default();
    check_namespace(&suffix, true)?;
    let max_depth = match body.max_depth {
        None => None,
        Some(d) if d > 0 => Some(d as usize),
        Some(_) => return Err(ApiError::invalid("max_depth must be positive")),
    };
    let (value, scope) = authorize(
        &state,
        &user,
        StoreListNamespaces::new()
            .with_namespace(prefix)
            .maybe_suffix((!suffix.is_empty()).then(|| suffix.clone()))
            .maybe_max_depth(body.max_depth)
            .with_limit(limit as i64)
            .with_offset(offset as i64),
    )
    .await?;
    let prefix = namespace_after(value.namespace, true)?;
    let namespaces = state
        .storage
        .items()
        .list_namespaces(&scope, &prefix, &suffix, max_depth, limit, offset)
        .await?;
    Ok(Json(json!({ "namespaces": namespaces })))
}
