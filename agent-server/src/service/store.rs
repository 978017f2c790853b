//! The store: long-term key-value memory, namespaces guarded by `store.*` handlers.
//!
//! A filter a store handler returns is matched against each item's value with `namespace` and
//! `key` added ([`store_view`]), as LangGraph.js does, on every route: search and
//! list_namespaces show only what passes (a namespace is listed if at least one of its items
//! passes); get answers an item that fails it as absent (404); delete and put leave it as it is
//! and answer 404; put refuses (403) a new value that would fail it.

use auth::types::{StoreDelete, StoreGet, StoreListNamespaces, StorePut, StoreSearch};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Caller, Found, Missing, input};
use crate::authz::{DeletesItem, Scope};
use crate::model::{Item, Object};
use crate::storage::{ItemSearch, store_view};
use crate::util::ApiError;

/// Checks a namespace: labels are non-empty and contain no `.`; `allow_empty` for prefixes.
fn check_namespace(ns: &[String], allow_empty: bool) -> Result<(), ApiError> {
    input::bounded("a namespace", ns, input::MAX_NAMESPACE_LABELS)?;
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

/// The body of `PUT /store/items`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ItemPut)]
pub(crate) struct PutBody {
    /// The namespace, label by label.
    namespace: Vec<String>,
    /// The key.
    key: String,
    /// The value; `null` deletes.
    value: Option<Object>,
}

/// `store.put`: writes the item (a put without a value removes it, as [`remove`]). A new value
/// the scope's filter would not admit is refused (403).
pub(crate) async fn put(c: &Caller, body: PutBody) -> Result<(), ApiError> {
    check_namespace(&body.namespace, false)?;
    check_key(&body.key)?;
    let (value, scope) = c
        .authorize(
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
            c.state
                .storage
                .items()
                .put(&scope, ns, body.key, v)
                .await?
                .map(drop)
                .or_missing(Missing::Item)
        }
        None => remove(c, &scope, &ns, &body.key).await,
    }
}

/// Removes an item the filter lets the caller see. One it hides answers 404, and so does an
/// absent one whose place (namespace and key) the filter refuses: hidden and absent look alike.
async fn remove<E: DeletesItem>(
    c: &Caller,
    scope: &Scope<E>,
    ns: &[String],
    key: &str,
) -> Result<(), ApiError> {
    match c.state.storage.items().delete(scope, ns, key).await? {
        Some(true) => Ok(()),
        Some(false)
            if scope
                .filter()
                .is_none_or(|f| f.matches(&store_view(ns, key, None))) =>
        {
            Ok(())
        }
        _ => Err(Missing::Item.into()),
    }
}

/// `store.get`: the item at `namespace` and `key`, if the scope lets the caller see it.
pub(crate) async fn get(c: &Caller, namespace: Vec<String>, key: String) -> Result<Item, ApiError> {
    check_namespace(&namespace, false)?;
    check_key(&key)?;
    let (value, scope) = c
        .authorize(
            StoreGet::new()
                .with_namespace(namespace)
                .with_key(key.clone()),
        )
        .await?;
    let ns = namespace_after(value.namespace, false)?;
    c.state
        .storage
        .items()
        .get(&scope, &ns, &key)
        .await?
        .or_missing(Missing::Item)
}

/// The body of `DELETE /store/items`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ItemDelete)]
pub(crate) struct DeleteBody {
    /// The namespace.
    namespace: Vec<String>,
    /// The key.
    key: String,
}

/// `store.delete`: removes the item, as [`remove`].
pub(crate) async fn delete(c: &Caller, body: DeleteBody) -> Result<(), ApiError> {
    check_namespace(&body.namespace, false)?;
    check_key(&body.key)?;
    let (value, scope) = c
        .authorize(
            StoreDelete::new()
                .with_namespace(body.namespace)
                .with_key(body.key.clone()),
        )
        .await?;
    let ns = namespace_after(value.namespace, false)?;
    remove(c, &scope, &ns, &body.key).await
}

/// The body of `POST /store/items/search`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ItemSearch)]
pub(crate) struct SearchBody {
    #[serde(default)]
    /// The namespace prefix.
    namespace_prefix: Option<Vec<String>>,
    /// Values the items contain.
    filter: Option<Object>,
    /// At most this many.
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
    /// Words the items contain.
    query: Option<String>,
}

/// `store.search`: the items under a prefix that the scope admits and the search matches, in
/// LangGraph's shape (`{"items": [...]}`).
pub(crate) async fn search(c: &Caller, body: SearchBody) -> Result<Value, ApiError> {
    let (limit, offset) = input::page(body.limit, body.offset)?;
    let prefix = body.namespace_prefix.unwrap_or_default();
    check_namespace(&prefix, true)?;
    let (value, scope) = c
        .authorize(
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
    let items = c
        .state
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
    Ok(json!({ "items": items }))
}

/// The body of `POST /store/namespaces`.
#[derive(Deserialize, ToSchema)]
#[schema(as = NamespaceSearch)]
pub(crate) struct NamespacesBody {
    /// Only namespaces starting with these labels.
    prefix: Option<Vec<String>>,
    /// Only namespaces ending with these labels.
    suffix: Option<Vec<String>>,
    /// Cut namespaces to this many labels.
    max_depth: Option<i64>,
    /// At most this many (default 100).
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
}

/// `store.list_namespaces`: the namespaces with at least one item the scope admits, in
/// LangGraph's shape (`{"namespaces": [...]}`).
pub(crate) async fn list_namespaces(c: &Caller, body: NamespacesBody) -> Result<Value, ApiError> {
    let (limit, offset) = input::page(body.limit.or(Some(100)), body.offset)?;
    let prefix = body.prefix.unwrap_or_default();
    check_namespace(&prefix, true)?;
    let suffix = body.suffix.unwrap_or_default();
    check_namespace(&suffix, true)?;
    let max_depth = match body.max_depth {
        None => None,
        Some(d) if d > 0 => Some(d as usize),
        Some(_) => return Err(ApiError::invalid("max_depth must be positive")),
    };
    let (value, scope) = c
        .authorize(
            StoreListNamespaces::new()
                .with_namespace(prefix)
                .maybe_suffix((!suffix.is_empty()).then(|| suffix.clone()))
                .maybe_max_depth(body.max_depth)
                .with_limit(limit as i64)
                .with_offset(offset as i64),
        )
        .await?;
    let prefix = namespace_after(value.namespace, true)?;
    let namespaces = c
        .state
        .storage
        .items()
        .list_namespaces(&scope, &prefix, &suffix, max_depth, limit, offset)
        .await?;
    Ok(json!({ "namespaces": namespaces }))
}
