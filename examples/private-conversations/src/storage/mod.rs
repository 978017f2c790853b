//! Storage behind traits: [`Collection`] for threads, assistants and crons, [`ItemStore`] for the
//! long-term store. [`memory`] keeps everything in memory; a durable backend implements the same
//! traits.
//!
//! Every operation that reads or changes one resource takes the authorization filter and applies
//! it **inside** the operation, so that "check the filter, then change" is atomic: a resource the
//! filter hides is reported as absent and left untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use auth::Filter;
use serde_json::Value;

use crate::model::{Assistant, Cron, Item, Object, Record, Thread};
use crate::util::ApiError;

pub mod memory;

/// The future a storage operation returns.
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A change to one resource, applied atomically; an error leaves the resource unchanged.
pub type Modifier<'a, T> = Box<dyn FnOnce(&mut T) -> Result<(), ApiError> + Send + 'a>;

/// What to do when a resource with the same id exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Fail with 409.
    #[default]
    Raise,
    /// Return the existing resource (if the caller may see it).
    DoNothing,
}

/// The result of [`Collection::insert`].
#[derive(Debug, Clone)]
pub enum Inserted<T> {
    /// The resource was stored.
    Created(T),
    /// A visible resource with that id existed and was returned unchanged.
    Existing(T),
}

/// Does `metadata` contain `wanted` (JSON containment, as Postgres' `@>`)?
///
/// Objects match when every wanted key is contained; arrays when every wanted element is
/// contained in some element; scalars when equal.
pub fn contains(have: &Value, wanted: &Value) -> bool {
    match (have, wanted) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            w.iter().all(|wv| h.iter().any(|hv| contains(hv, wv)))
        }
        (Value::Array(h), w) if !w.is_object() => h.iter().any(|hv| hv == w),
        (h, w) => h == w,
    }
}

/// Whether `metadata` passes the authorization filter and the caller's own metadata filter.
pub fn visible(metadata: &Object, auth: Option<&Filter>, wanted: Option<&Object>) -> bool {
    auth.is_none_or(|f| f.matches(metadata))
        && wanted.is_none_or(|w| {
            w.iter()
                .all(|(k, wv)| metadata.get(k).is_some_and(|hv| contains(hv, wv)))
        })
}

/// A search over a [`Collection`]: every condition is ANDed.
pub struct Query<'a, T> {
    /// The authorization handler's filter.
    pub auth: Option<&'a Filter>,
    /// The caller's metadata filter (containment).
    pub metadata: Option<&'a Object>,
    /// Only these ids.
    pub ids: Option<&'a [String]>,
    /// Any further condition (status, values, graph…).
    pub predicate: Option<&'a (dyn Fn(&T) -> bool + Send + Sync)>,
    /// The sort key (default: creation time).
    pub sort_key: Option<&'a (dyn Fn(&T) -> Value + Send + Sync)>,
    /// Sort in descending order.
    pub descending: bool,
    /// At most this many results.
    pub limit: usize,
    /// Skip this many results.
    pub offset: usize,
}

impl<T> Default for Query<'_, T> {
    fn default() -> Self {
        Query {
            auth: None,
            metadata: None,
            ids: None,
            predicate: None,
            sort_key: None,
            descending: true,
            limit: 10,
            offset: 0,
        }
    }
}

impl<T: Record> Query<'_, T> {
    /// Whether `item` passes every condition.
    pub fn accepts(&self, item: &T) -> bool {
        visible(item.metadata(), self.auth, self.metadata)
            && self
                .ids
                .is_none_or(|ids| ids.iter().any(|i| i == item.id()))
            && self.predicate.is_none_or(|p| p(item))
    }

    /// Top-level equality conditions that every result must satisfy, for an index.
    pub fn eq_conditions(&self) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = self
            .auth
            .map(|f| {
                f.eq_conditions()
                    .map(|(k, v)| (k.to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(m) = self.metadata {
            out.extend(
                m.iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        out
    }
}

/// A page of search results and the number of all matches.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The results within limit and offset.
    pub items: Vec<T>,
    /// How many resources matched in all.
    pub total: usize,
}

/// Threads, assistants or crons.
pub trait Collection<T: Record>: Send + Sync {
    /// Stores `item`. An existing resource with the same id: 409 when `if_exists` is `Raise` or
    /// when `visible` hides it; otherwise it is returned as [`Inserted::Existing`].
    fn insert<'a>(
        &'a self,
        item: T,
        if_exists: IfExists,
        visible: Option<&'a Filter>,
    ) -> StorageFuture<'a, Result<Inserted<T>, ApiError>>;

    /// The resource `id` if it exists and `filter` matches it.
    fn get<'a>(&'a self, id: &'a str, filter: Option<&'a Filter>) -> StorageFuture<'a, Option<T>>;

    /// Applies `change` to the resource `id` if it exists and `filter` matches it, atomically.
    /// `Ok(None)`: absent or hidden, nothing changed.
    fn modify<'a>(
        &'a self,
        id: &'a str,
        filter: Option<&'a Filter>,
        change: Modifier<'a, T>,
    ) -> StorageFuture<'a, Result<Option<T>, ApiError>>;

    /// Removes the resource `id` if it exists and `filter` matches it.
    fn remove<'a>(
        &'a self,
        id: &'a str,
        filter: Option<&'a Filter>,
    ) -> StorageFuture<'a, Option<T>>;

    /// The resources matching `query`, sorted, within its limit and offset.
    fn search<'a>(&'a self, query: Query<'a, T>) -> StorageFuture<'a, Page<T>>;
}

/// What a store item shows an authorization filter: its value with `namespace` (the label
/// list) and `key` added, which win over value fields of the same names, as LangGraph.js matches
/// store filters. `None` for the value: an item not yet written (only its place is known).
///
/// ```
/// use private_conversations::storage::store_view;
/// use serde_json::json;
///
/// let value = json!({"namespace": "spoofed", "text": "hi"});
/// let view = store_view(&["user1".into(), "notes".into()], "k", value.as_object());
/// assert_eq!(
///     serde_json::Value::Object(view),
///     json!({"namespace": ["user1", "notes"], "key": "k", "text": "hi"})
/// );
/// ```
pub fn store_view(namespace: &[String], key: &str, value: Option<&Object>) -> Object {
    let mut view = value.cloned().unwrap_or_default();
    view.insert(
        "namespace".into(),
        Value::Array(namespace.iter().cloned().map(Value::String).collect()),
    );
    view.insert("key".into(), Value::String(key.to_owned()));
    view
}

/// Whether the item passes a store handler's filter (none: every item), matched against its
/// [`store_view`].
pub fn store_item_passes(filter: Option<&Filter>, item: &Item) -> bool {
    filter.is_none_or(|f| f.matches(&store_view(&item.namespace, &item.key, Some(&item.value))))
}

/// A condition on stored items, such as [`store_item_passes`] with a handler's filter.
pub type ItemCheck<'a> = &'a (dyn Fn(&Item) -> bool + Send + Sync);

/// The long-term store: JSON objects under a namespace and a key.
///
/// `visible` is the caller's view of the store (the handler's filter): an item it refuses is
/// neither read, replaced nor removed, atomically with the check.
pub trait ItemStore: Send + Sync {
    /// Creates or replaces an item; `None` (nothing written) when an item is there that
    /// `visible` refuses.
    fn put<'a>(
        &'a self,
        namespace: Vec<String>,
        key: String,
        value: Object,
        visible: ItemCheck<'a>,
    ) -> StorageFuture<'a, Option<Item>>;

    /// The item, if any.
    fn get<'a>(&'a self, namespace: &'a [String], key: &'a str) -> StorageFuture<'a, Option<Item>>;

    /// Removes the item if `visible` lets it through: `Some(true)` removed, `Some(false)` absent,
    /// `None` present but refused (kept).
    fn delete<'a>(
        &'a self,
        namespace: &'a [String],
        key: &'a str,
        visible: ItemCheck<'a>,
    ) -> StorageFuture<'a, Option<bool>>;

    /// Items under `prefix` that pass `accept`, newest change first.
    fn search<'a>(
        &'a self,
        prefix: &'a [String],
        accept: ItemCheck<'a>,
        limit: usize,
        offset: usize,
    ) -> StorageFuture<'a, Vec<Item>>;

    /// Distinct namespaces starting with `prefix` and ending with `suffix` that hold at least one
    /// item passing `accept`, truncated to `max_depth` labels, sorted.
    fn list_namespaces<'a>(
        &'a self,
        prefix: &'a [String],
        suffix: &'a [String],
        max_depth: Option<usize>,
        accept: ItemCheck<'a>,
        limit: usize,
        offset: usize,
    ) -> StorageFuture<'a, Vec<Vec<String>>>;
}

/// Every collection the server uses.
#[derive(Clone)]
pub struct Storage {
    /// Threads (with their runs and state history).
    pub threads: Arc<dyn Collection<Thread>>,
    /// Assistants (with their versions).
    pub assistants: Arc<dyn Collection<Assistant>>,
    /// Crons.
    pub crons: Arc<dyn Collection<Cron>>,
    /// The long-term store.
    pub items: Arc<dyn ItemStore>,
}

impl Storage {
    /// Everything in memory, lost at exit.
    pub fn in_memory() -> Self {
        Storage {
            threads: Arc::new(memory::MemoryCollection::<Thread>::new("Thread")),
            assistants: Arc::new(memory::MemoryCollection::<Assistant>::new("Assistant")),
            crons: Arc::new(memory::MemoryCollection::<Cron>::new("Cron")),
            items: Arc::new(memory::MemoryItems::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containment() {
        assert!(contains(&json!({"a": 1, "b": [1, 2]}), &json!({"b": [2]})));
        assert!(contains(
            &json!({"a": {"x": 1, "y": 2}}),
            &json!({"a": {"x": 1}})
        ));
        assert!(!contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!contains(&json!({}), &json!({"a": null})));
        assert!(contains(&json!(["x", "y"]), &json!("x")));
    }
}
