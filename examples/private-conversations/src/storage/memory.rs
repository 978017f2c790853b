//! In-memory storage: one lock per collection, and an index on top-level metadata equality.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use auth::Filter;
use serde_json::Value;

use super::{
    Collection, IfExists, Inserted, ItemCheck, ItemStore, Modifier, Page, Query, StorageFuture,
    visible,
};
use crate::model::{Item, Object, Record};
use crate::util::{ApiError, now};

/// The index key of a top-level metadata value: scalars only (objects and arrays are not indexed).
fn index_key(key: &str, value: &Value) -> Option<(String, String)> {
    match value {
        Value::Object(_) | Value::Array(_) => None,
        v => Some((key.to_owned(), v.to_string())),
    }
}

struct Inner<T> {
    items: HashMap<String, T>,
    /// (metadata key, JSON of a scalar value) → ids whose metadata has exactly that value.
    index: HashMap<(String, String), HashSet<String>>,
}

impl<T: Record> Inner<T> {
    fn index_add(&mut self, item: &T) {
        for (k, v) in item.metadata() {
            if let Some(key) = index_key(k, v) {
                self.index
                    .entry(key)
                    .or_default()
                    .insert(item.id().to_owned());
            }
        }
    }

    fn index_remove(&mut self, item: &T) {
        for (k, v) in item.metadata() {
            if let Some(key) = index_key(k, v)
                && let Some(ids) = self.index.get_mut(&key)
            {
                ids.remove(item.id());
                if ids.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
    }

    fn replace(&mut self, item: T) {
        if let Some(old) = self.items.remove(item.id()) {
            self.index_remove(&old);
        }
        self.index_add(&item);
        self.items.insert(item.id().to_owned(), item);
    }
}

/// A [`Collection`] in memory.
pub struct MemoryCollection<T> {
    kind: &'static str,
    inner: RwLock<Inner<T>>,
}

impl<T: Record> MemoryCollection<T> {
    /// An empty collection; `kind` names the resource in errors ("Thread").
    pub fn new(kind: &'static str) -> Self {
        MemoryCollection {
            kind,
            inner: RwLock::new(Inner {
                items: HashMap::new(),
                index: HashMap::new(),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<T>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<T>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn search_now(&self, query: &Query<'_, T>) -> Page<T> {
        let inner = self.read();
        let conditions = query.eq_conditions();
        // The smallest posting list among the equality conditions bounds the scan.
        let mut best: Option<(&HashSet<String>, &(String, Value))> = None;
        let empty = HashSet::new();
        for cond in &conditions {
            let Some(key) = index_key(&cond.0, &cond.1) else {
                continue;
            };
            let ids = inner.index.get(&key).unwrap_or(&empty);
            if best.is_none_or(|(b, _)| ids.len() < b.len()) {
                best = Some((ids, cond));
            }
        }
        let mut matches: Vec<&T> = match (best, query.ids) {
            (_, Some(ids)) => ids
                .iter()
                .filter_map(|id| inner.items.get(id))
                .filter(|t| query.accepts(t))
                .collect(),
            (Some((ids, (k, v))), None) => {
                // Every candidate has `k` equal to `v`: a filter or a metadata wanted that says
                // exactly that (the tutorial's owner filter) needs no check per candidate.
                let query = Query {
                    auth: query
                        .auth
                        .filter(|f| **f != Filter::eq(k.clone(), v.clone())),
                    metadata: query
                        .metadata
                        .filter(|w| !(w.len() == 1 && w.get(k) == Some(v))),
                    ..*query
                };
                ids.iter()
                    .filter_map(|id| inner.items.get(id))
                    .filter(|t| query.accepts(t))
                    .collect()
            }
            (None, None) => inner.items.values().filter(|t| query.accepts(t)).collect(),
        };
        matches.dedup_by(|a, b| a.id() == b.id());
        let total = matches.len();
        let wanted = query.offset.saturating_add(query.limit).min(total);
        if query.limit == 0 || query.offset >= total {
            return Page {
                items: Vec::new(),
                total,
            };
        }
        // Each sort key is computed once, not at every comparison; only the first
        // `offset + limit` results are put in order.
        let mut keyed: Vec<(Option<Value>, &T)> = matches
            .into_iter()
            .map(|t| (query.sort_key.map(|key| key(t)), t))
            .collect();
        let cmp = |(ka, a): &(Option<Value>, &T), (kb, b): &(Option<Value>, &T)| -> Ordering {
            let o = match (ka, kb) {
                (Some(ka), Some(kb)) => compare_json(ka, kb),
                _ => a.created_at().cmp(b.created_at()),
            }
            .then_with(|| a.id().cmp(b.id()));
            if query.descending { o.reverse() } else { o }
        };
        if wanted < keyed.len() {
            keyed.select_nth_unstable_by(wanted - 1, cmp);
            keyed.truncate(wanted);
        }
        keyed.sort_unstable_by(cmp);
        let items = keyed
            .into_iter()
            .skip(query.offset)
            .map(|(_, t)| t.clone())
            .collect();
        Page { items, total }
    }
}

fn compare_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

impl<T: Record> Collection<T> for MemoryCollection<T> {
    fn insert<'a>(
        &'a self,
        item: T,
        if_exists: IfExists,
        filter: Option<&'a Filter>,
    ) -> StorageFuture<'a, Result<Inserted<T>, ApiError>> {
        let result = (|| {
            let mut inner = self.write();
            if let Some(existing) = inner.items.get(item.id()) {
                let seen = visible(existing.metadata(), filter, None);
                return match if_exists {
                    IfExists::DoNothing if seen => Ok(Inserted::Existing(existing.clone())),
                    _ => Err(ApiError::conflict(format!("{} already exists", self.kind))),
                };
            }
            inner.replace(item.clone());
            Ok(Inserted::Created(item))
        })();
        Box::pin(std::future::ready(result))
    }

    fn get<'a>(&'a self, id: &'a str, filter: Option<&'a Filter>) -> StorageFuture<'a, Option<T>> {
        let found = self
            .read()
            .items
            .get(id)
            .filter(|t| visible(t.metadata(), filter, None))
            .cloned();
        Box::pin(std::future::ready(found))
    }

    fn modify<'a>(
        &'a self,
        id: &'a str,
        filter: Option<&'a Filter>,
        change: Modifier<'a, T>,
    ) -> StorageFuture<'a, Result<Option<T>, ApiError>> {
        let result = (|| {
            let mut inner = self.write();
            let Some(current) = inner
                .items
                .get(id)
                .filter(|t| visible(t.metadata(), filter, None))
            else {
                return Ok(None);
            };
            let mut changed = current.clone();
            change(&mut changed)?;
            if changed.id() != id {
                return Err(ApiError::internal("a change may not alter the id"));
            }
            inner.replace(changed.clone());
            Ok(Some(changed))
        })();
        Box::pin(std::future::ready(result))
    }

    fn remove<'a>(
        &'a self,
        id: &'a str,
        filter: Option<&'a Filter>,
    ) -> StorageFuture<'a, Option<T>> {
        let mut inner = self.write();
        let removed = if inner
            .items
            .get(id)
            .is_some_and(|t| visible(t.metadata(), filter, None))
        {
            let item = inner.items.remove(id);
            if let Some(item) = &item {
                inner.index_remove(item);
            }
            item
        } else {
            None
        };
        drop(inner);
        Box::pin(std::future::ready(removed))
    }

    fn search<'a>(&'a self, query: Query<'a, T>) -> StorageFuture<'a, Page<T>> {
        Box::pin(std::future::ready(self.search_now(&query)))
    }
}

/// An [`ItemStore`] in memory, ordered by namespace and key.
#[derive(Default)]
pub struct MemoryItems {
    items: RwLock<BTreeMap<(Vec<String>, String), Item>>,
}

impl ItemStore for MemoryItems {
    fn put<'a>(
        &'a self,
        namespace: Vec<String>,
        key: String,
        value: Object,
        visible: ItemCheck<'a>,
    ) -> StorageFuture<'a, Option<Item>> {
        let mut items = self.items.write().unwrap_or_else(PoisonError::into_inner);
        let at = now();
        let place = (namespace, key);
        let created_at = match items.get(&place) {
            Some(old) if !visible(old) => return Box::pin(std::future::ready(None)),
            Some(old) => old.created_at.clone(),
            None => at.clone(),
        };
        let item = Item {
            namespace: place.0.clone(),
            key: place.1.clone(),
            value,
            created_at,
            updated_at: at,
        };
        items.insert(place, item.clone());
        Box::pin(std::future::ready(Some(item)))
    }

    fn get<'a>(&'a self, namespace: &'a [String], key: &'a str) -> StorageFuture<'a, Option<Item>> {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        let found = items.get(&(namespace.to_vec(), key.to_owned())).cloned();
        Box::pin(std::future::ready(found))
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a [String],
        key: &'a str,
        visible: ItemCheck<'a>,
    ) -> StorageFuture<'a, Option<bool>> {
        let mut items = self.items.write().unwrap_or_else(PoisonError::into_inner);
        let place = (namespace.to_vec(), key.to_owned());
        let outcome = match items.get(&place) {
            None => Some(false),
            Some(old) if !visible(old) => None,
            Some(_) => Some(items.remove(&place).is_some()),
        };
        Box::pin(std::future::ready(outcome))
    }

    fn search<'a>(
        &'a self,
        prefix: &'a [String],
        accept: ItemCheck<'a>,
        limit: usize,
        offset: usize,
    ) -> StorageFuture<'a, Vec<Item>> {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<Item> = items
            .values()
            .filter(|i| i.namespace.starts_with(prefix) && accept(i))
            .cloned()
            .collect();
        drop(items);
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        let page = found.into_iter().skip(offset).take(limit).collect();
        Box::pin(std::future::ready(page))
    }

    fn list_namespaces<'a>(
        &'a self,
        prefix: &'a [String],
        suffix: &'a [String],
        max_depth: Option<usize>,
        accept: ItemCheck<'a>,
        limit: usize,
        offset: usize,
    ) -> StorageFuture<'a, Vec<Vec<String>>> {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        let mut namespaces: Vec<Vec<String>> = items
            .values()
            .filter(|i| {
                i.namespace.starts_with(prefix) && i.namespace.ends_with(suffix) && accept(i)
            })
            .map(|i| match max_depth {
                Some(d) => i.namespace.iter().take(d).cloned().collect(),
                None => i.namespace.clone(),
            })
            .collect();
        drop(items);
        namespaces.sort();
        namespaces.dedup();
        let page = namespaces.into_iter().skip(offset).take(limit).collect();
        Box::pin(std::future::ready(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::threads::new_thread;
    use serde_json::json;

    fn meta(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn index_follows_changes_and_filters() {
        let c = MemoryCollection::new("Thread");
        for i in 0..30 {
            let owner = format!("u{}", i % 3);
            let t = new_thread(format!("t{i:02}"), meta(json!({"owner": owner, "n": i})));
            c.insert(t, IfExists::Raise, None).await.unwrap();
        }
        let f = Filter::eq("owner", "u1");
        let page = c
            .search(Query {
                auth: Some(&f),
                limit: 100,
                ..Query::default()
            })
            .await;
        assert_eq!(page.total, 10);
        assert!(page.items.iter().all(|t| t.metadata["owner"] == "u1"));
        // Moving a thread to another owner moves it in the index.
        let change: Modifier<'_, crate::model::Thread> = Box::new(|t| {
            t.metadata.insert("owner".into(), "u2".into());
            Ok(())
        });
        c.modify("t01", Some(&f), change).await.unwrap().unwrap();
        let page = c
            .search(Query {
                auth: Some(&f),
                limit: 0,
                ..Query::default()
            })
            .await;
        assert_eq!(page.total, 9);
        // A filtered-out modify changes nothing and reports absence.
        let change: Modifier<'_, crate::model::Thread> = Box::new(|t| {
            t.metadata.insert("owner".into(), "u1".into());
            Ok(())
        });
        assert!(c.modify("t01", Some(&f), change).await.unwrap().is_none());
        assert_eq!(c.get("t01", None).await.unwrap().metadata["owner"], "u2");
        // Caller metadata is ANDed with the auth filter.
        let wanted = meta(json!({"n": 4}));
        let page = c
            .search(Query {
                auth: Some(&f),
                metadata: Some(&wanted),
                ..Query::default()
            })
            .await;
        assert_eq!(page.total, 1);
        let wanted = meta(json!({"n": 5}));
        let page = c
            .search(Query {
                auth: Some(&f),
                metadata: Some(&wanted),
                ..Query::default()
            })
            .await;
        assert_eq!(page.total, 0);
        assert!(
            c.remove("t04", Some(&Filter::eq("owner", "u0")))
                .await
                .is_none()
        );
        assert!(c.remove("t04", Some(&f)).await.is_some());
    }

    #[tokio::test]
    async fn pages_are_the_sorted_slice() {
        let c = MemoryCollection::new("Thread");
        for i in 0..30 {
            let t = new_thread(
                format!("t{i:02}"),
                meta(json!({"owner": "u", "n": (i * 7) % 30})),
            );
            c.insert(t, IfExists::Raise, None).await.unwrap();
        }
        async fn page(
            c: &MemoryCollection<crate::model::Thread>,
            offset: usize,
            limit: usize,
            descending: bool,
        ) -> (Vec<Value>, usize) {
            let by_n = |t: &crate::model::Thread| t.metadata["n"].clone();
            let f = Filter::eq("owner", "u");
            let p = c
                .search(Query {
                    auth: Some(&f),
                    sort_key: Some(&by_n),
                    descending,
                    offset,
                    limit,
                    ..Query::default()
                })
                .await;
            let ns = p.items.iter().map(|t| t.metadata["n"].clone()).collect();
            (ns, p.total)
        }
        assert_eq!(
            page(&c, 5, 3, false).await,
            (vec![json!(5), json!(6), json!(7)], 30)
        );
        assert_eq!(page(&c, 0, 2, true).await, (vec![json!(29), json!(28)], 30));
        assert_eq!(
            page(&c, 28, 10, false).await,
            (vec![json!(28), json!(29)], 30)
        );
        assert_eq!(page(&c, 30, 10, false).await, (vec![], 30));
        assert_eq!(page(&c, 0, 100, false).await.0.len(), 30);
    }

    #[tokio::test]
    async fn conditions_beyond_the_indexed_one_are_checked() {
        let c = MemoryCollection::new("Thread");
        for i in 0..20 {
            let tags = if i % 2 == 0 { json!(["x"]) } else { json!([]) };
            let m = meta(json!({"owner": format!("u{}", i % 4), "tags": tags, "n": i}));
            c.insert(new_thread(format!("t{i:02}"), m), IfExists::Raise, None)
                .await
                .unwrap();
        }
        let total = |auth: Filter, wanted: Option<Value>| {
            let c = &c;
            async move {
                let wanted = wanted.map(meta);
                let q = Query {
                    auth: Some(&auth),
                    metadata: wanted.as_ref(),
                    limit: 100,
                    ..Query::default()
                };
                c.search(q).await.total
            }
        };
        // The owner's posting list alone: 5 threads each.
        assert_eq!(total(Filter::eq("owner", "u0"), None).await, 5);
        assert_eq!(
            total(Filter::eq("owner", "u1"), Some(json!({"owner": "u1"}))).await,
            5
        );
        // More than the indexed condition: the rest is still checked.
        let tagged = Filter::eq("owner", "u1").and(Filter::contains("tags", "x"));
        assert_eq!(total(tagged, None).await, 0);
        let tagged = Filter::eq("owner", "u2").and(Filter::contains("tags", "x"));
        assert_eq!(total(tagged, None).await, 5);
        assert_eq!(
            total(Filter::eq("owner", "u2"), Some(json!({"n": 3}))).await,
            0
        );
        assert_eq!(
            total(Filter::eq("owner", "u2"), Some(json!({"n": 6}))).await,
            1
        );
        // A caller's metadata on the same key with another value: nothing.
        assert_eq!(
            total(Filter::eq("owner", "u1"), Some(json!({"owner": "u2"}))).await,
            0
        );
    }
}
