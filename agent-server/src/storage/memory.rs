//! In-memory storage.
//!
//! Each collection keeps its rows in a map under one `RwLock`, held only to find, insert or swap
//! an `Arc` (never across a copy of a large value, never across an `.await`), with an index on
//! top-level metadata scalars. Each resource has its own gate (a `Mutex`) that serializes the
//! changes to that resource alone, and that holds what a database keeps in other tables: a
//! thread's checkpoints and runs. So one thread's traffic waits only for itself.
//!
//! No write under the lock costs more as the collection grows: the rows and the index are
//! `Shards` (past a few thousand entries, a hash map split in many, so that growing one rehashes
//! a small part of the rows, not all of them at once), and so is each posting list.
//! A single `HashMap` of a million threads doubled its table under the write lock, stalling
//! every request for a hundred milliseconds and more (BENCHMARKS.md, "The `POST /threads`
//! stall").

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use async_trait::async_trait;
use auth::types::RunStatus;
use serde_json::Value;

use super::StoreError;
use super::{
    ABANDONED, Claim, Collection, HistoryPage, IfExists, Inserted, ItemSearch, ItemStore,
    LeaseTerms, Modifier, Page, Query, RunQueue, ThreadChange, ThreadStore, ThreadTx,
    refresh_status, store_item_passes,
};
use crate::authz::Access;
use crate::model::{Checkpoint, Cron, Item, Object, Record, Run, Thread};
use crate::util::now;

/// The index keys of a top-level metadata value: a scalar, or each scalar element of a list.
///
/// A posting list thus holds every resource whose metadata *contains* `{key: scalar}` (equal to
/// it, or a list holding it): a superset of the matches of an equality filter and of a caller's
/// containment filter alike. Candidates are always checked against every condition, so the
/// index decides only how many are looked at, never what the answer is.
fn index_keys(key: &str, value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(_) => Vec::new(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_object() && !v.is_array())
            .map(|v| (key.to_owned(), v.to_string()))
            .collect(),
        v => vec![(key.to_owned(), v.to_string())],
    }
}

/// How many maps a [`Shards`] splits into (a power of two).
const SHARDS: usize = 1024;

/// How many entries a [`Shards`] keeps in a single map before it splits into [`SHARDS`].
const SPLIT_AT: usize = 4096;

/// A hash map that, past [`SPLIT_AT`] entries, is split into [`SHARDS`] maps by a hash of the key
/// (with random keys of its own, so that no choice of keys fills one map). Each map grows on its
/// own, so an insert that grows one rehashes about `1 / SHARDS` of the entries: a million rows
/// cost about a thousand moves, not a million, whichever insert pays for them. A small one (most
/// posting lists) is one map and costs no second hash.
struct Shards<K, V> {
    pick: RandomState,
    /// One map, or [`SHARDS`].
    maps: Vec<HashMap<K, V>>,
    len: usize,
}

impl<K: Hash + Eq, V> Shards<K, V> {
    fn new() -> Self {
        Shards {
            pick: RandomState::new(),
            maps: vec![HashMap::new()],
            len: 0,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        if self.maps.len() == 1 {
            return 0;
        }
        // The top bits: `SHARDS` is a power of two.
        (self.pick.hash_one(key) >> (u64::BITS - SHARDS.trailing_zeros())) as usize
    }

    /// Before an insert: a single map that is full splits (once, moving `SPLIT_AT` entries).
    fn make_room(&mut self) {
        if self.maps.len() == 1 && self.len >= SPLIT_AT {
            let whole = std::mem::replace(
                &mut self.maps,
                (0..SHARDS).map(|_| HashMap::new()).collect(),
            );
            for (key, value) in whole.into_iter().flatten() {
                let at = self.shard(&key);
                self.maps[at].insert(key, value);
            }
        }
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.maps[self.shard(key)].get(key)
    }

    fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let at = self.shard(key);
        self.maps[at].get_mut(key)
    }

    /// The value at `key`, inserted with `make` if there was none.
    fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.make_room();
        let at = self.shard(&key);
        match self.maps[at].entry(key) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(place) => {
                self.len += 1;
                place.insert(make())
            }
        }
    }

    fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.make_room();
        let at = self.shard(&key);
        let old = self.maps[at].insert(key, value);
        self.len += usize::from(old.is_none());
        old
    }

    fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let at = self.shard(key);
        let old = self.maps[at].remove(key);
        self.len -= usize::from(old.is_some());
        old
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    fn keys(&self) -> impl Iterator<Item = &K> {
        self.maps.iter().flat_map(HashMap::keys)
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.maps.iter().flat_map(HashMap::values)
    }
}

/// The resources whose metadata contains one scalar at one key, by id: a search reads their rows
/// from here, without looking each one up again.
type Posting<T> = Shards<String, Arc<T>>;

fn lock<E>(m: &Mutex<E>) -> MutexGuard<'_, E> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One resource: its row, and its gate with what belongs to it alone.
struct Stored<T, E> {
    row: Arc<T>,
    gate: Arc<Mutex<E>>,
}

struct Inner<T, E> {
    items: Shards<String, Stored<T, E>>,
    /// (metadata key, JSON of a scalar) → the rows whose metadata contains that scalar at that
    /// key, by id.
    index: Shards<(String, String), Posting<T>>,
}

impl<T: Record, E> Inner<T, E> {
    fn index_add(&mut self, item: &Arc<T>) {
        for (k, v) in item.metadata() {
            for key in index_keys(k, v) {
                self.index
                    .get_or_insert_with(key, Posting::new)
                    .insert(item.id().to_owned(), item.clone());
            }
        }
    }

    fn index_remove(&mut self, item: &T) {
        for (k, v) in item.metadata() {
            for key in index_keys(k, v) {
                if let Some(ids) = self.index.get_mut(&key) {
                    ids.remove(item.id());
                    if ids.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
    }

    /// Swaps the row of a stored resource (its gate is kept).
    fn replace_row(&mut self, row: Arc<T>) {
        let Some(old) = self.items.get(row.id()).map(|s| s.row.clone()) else {
            return;
        };
        self.index_remove(&old);
        self.index_add(&row);
        if let Some(stored) = self.items.get_mut(row.id()) {
            stored.row = row;
        }
    }

    fn remove(&mut self, id: &str) -> Option<Arc<T>> {
        let stored = self.items.remove(id)?;
        self.index_remove(&stored.row);
        Some(stored.row)
    }
}

/// A [`Collection`] in memory; `E` is what each resource keeps apart from its row (a thread's
/// checkpoints and runs), behind the resource's gate.
pub struct MemoryCollection<T, E = ()> {
    kind: &'static str,
    inner: RwLock<Inner<T, E>>,
    /// The run queue's order (threads only): unfinished runs by insertion number. Locked after a
    /// thread's gate, never before.
    pending: Mutex<Pending>,
}

/// Unfinished runs in insertion order.
#[derive(Default)]
struct Pending {
    next_seq: u64,
    /// Insertion number → (thread id, run id).
    by_seq: BTreeMap<u64, (String, String)>,
}

/// The threads in memory.
pub type MemoryThreads = MemoryCollection<Thread, ThreadData>;

/// What a thread keeps apart from its row.
#[derive(Default, Clone)]
pub struct ThreadData {
    /// Checkpoints, oldest first.
    history: Vec<Arc<Checkpoint>>,
    /// Runs, oldest first.
    runs: Vec<Arc<Run>>,
    /// The unfinished runs' insertion numbers in the queue's order (run id → number).
    queued: HashMap<String, u64>,
}

impl<T: Record, E: Default + Send + 'static> MemoryCollection<T, E> {
    /// An empty collection; `kind` names the resource in errors ("Thread").
    pub fn new(kind: &'static str) -> Self {
        MemoryCollection {
            kind,
            inner: RwLock::new(Inner {
                items: Shards::new(),
                index: Shards::new(),
            }),
            pending: Mutex::new(Pending::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<T, E>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<T, E>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the resource `id` with its gate held, if it exists and `scope` admits it: the
    /// scope is checked on the row as it is once the gate is held, so no change can come
    /// between the check and `f`.
    fn with_gate<R>(
        &self,
        id: &str,
        scope: &Access,
        f: impl FnOnce(&mut E, Arc<T>) -> R,
    ) -> Option<R> {
        let gate = self.read().items.get(id)?.gate.clone();
        let mut extra = lock(&gate);
        let row = {
            let inner = self.read();
            let stored = inner.items.get(id)?;
            // Removed (and perhaps created again) while we waited: not the one we locked.
            if !Arc::ptr_eq(&stored.gate, &gate) {
                return None;
            }
            stored.row.clone()
        };
        if !scope.admits(row.metadata()) {
            return None;
        }
        Some(f(&mut extra, row))
    }

    fn insert_with(
        &self,
        item: T,
        extra: E,
        if_exists: IfExists,
        scope: &Access,
    ) -> Result<Inserted<T>, StoreError> {
        super::guard_system(scope, &item, self.kind)?;
        let mut inner = self.write();
        if let Some(existing) = inner.items.get(item.id()) {
            let existing = existing.row.clone();
            drop(inner);
            return if if_exists == IfExists::DoNothing && scope.admits(existing.metadata()) {
                Ok(Inserted::Existing(T::clone(&existing)))
            } else {
                Err(StoreError::Exists {
                    kind: self.kind,
                    id: item.id().to_owned(),
                })
            };
        }
        let row = Arc::new(item);
        inner.index_add(&row);
        inner.items.insert(
            row.id().to_owned(),
            Stored {
                row: row.clone(),
                gate: Arc::new(Mutex::new(extra)),
            },
        );
        drop(inner);
        Ok(Inserted::Created(T::clone(&row)))
    }

    /// The rows a search looks at, taken under the collection's lock and evaluated after it is
    /// released: the rows of the ids (a set), else of the smallest posting list of a required
    /// scalar (it holds every match), else all. Cloning their pointers is all the lock covers.
    fn candidates(&self, query: &Query<'_>) -> Vec<Arc<T>> {
        let inner = self.read();
        if let Some(ids) = query.ids {
            // The ids are a set: each is looked up once, whatever the request repeats.
            let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
            return ids
                .into_iter()
                .filter_map(|id| inner.items.get(id).map(|s| s.row.clone()))
                .collect();
        }
        let empty = Posting::<T>::new();
        // Any posting list of a required scalar holds every match; the smallest bounds the scan.
        let mut best: Option<&Posting<T>> = None;
        for (k, v) in query.required_scalars() {
            let ids = inner
                .index
                .get(&(k.to_owned(), v.to_string()))
                .unwrap_or(&empty);
            if best.is_none_or(|b| ids.len() < b.len()) {
                best = Some(ids);
            }
        }
        match best {
            Some(rows) => rows.values().cloned().collect(),
            None => inner.items.values().map(|s| s.row.clone()).collect(),
        }
    }
}

/// The page of `candidates` that `query` selects, sorted: the in-memory evaluation, one step of
/// `meter` per candidate and per comparison of the caller's values.
fn evaluate<T: Record>(
    candidates: Vec<Arc<T>>,
    query: &Query<'_>,
    meter: &mut super::Meter<'_>,
) -> Result<Page<T>, StoreError> {
    let mut matches: Vec<Arc<T>> = Vec::new();
    for t in candidates {
        if query.accepts(&*t, meter)? {
            matches.push(t);
        }
    }
    let total = matches.len();
    let wanted = query.offset.saturating_add(query.limit).min(total);
    if query.limit == 0 || query.offset >= total {
        return Ok(Page {
            items: Vec::new(),
            total,
        });
    }
    // Only the first `offset + limit` results are put in order; text compares as a database's
    // binary collation does (by code point), a missing value first.
    let mut keyed: Vec<(Option<&str>, &Arc<T>)> =
        matches.iter().map(|t| (t.column(query.sort), t)).collect();
    let cmp = |(ka, a): &(Option<&str>, &Arc<T>), (kb, b): &(Option<&str>, &Arc<T>)| {
        let o = ka.cmp(kb).then_with(|| a.id().cmp(b.id()));
        if query.descending { o.reverse() } else { o }
    };
    if wanted < keyed.len() {
        keyed.select_nth_unstable_by(wanted - 1, cmp);
        keyed.truncate(wanted);
    }
    keyed.sort_unstable_by(cmp);
    Ok(Page {
        items: keyed
            .into_iter()
            .skip(query.offset)
            .map(|(_, t)| T::clone(t))
            .collect(),
        total,
    })
}

/// Runs `work` with a meter of `deadline`: on a blocking thread when there is a deadline (a
/// caller's search: its evaluation neither holds a lock nor an async worker, and stops at the
/// deadline or once cancelled), at once otherwise (internal work and tests).
async fn off_the_workers<R: Send + 'static>(
    deadline: &super::Deadline,
    work: impl FnOnce(&mut super::Meter<'_>) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    if !deadline.is_limited() {
        return work(&mut super::Meter::unlimited());
    }
    let deadline = deadline.clone();
    tokio::task::spawn_blocking(move || work(&mut super::Meter::new(&deadline)))
        .await
        .map_err(|e| StoreError::Internal(format!("a search in memory failed: {e}")))?
}

/// A search's query with what it borrows owned, to be evaluated on another thread.
struct OwnedQuery {
    scope: Access,
    metadata: Option<Object>,
    ids: Option<Vec<String>>,
    conditions: Vec<super::Condition>,
    sort: super::Column,
    descending: bool,
    limit: usize,
    offset: usize,
    deadline: super::Deadline,
}

impl OwnedQuery {
    fn new(q: Query<'_>) -> Self {
        OwnedQuery {
            scope: q.scope.clone(),
            metadata: q.metadata.cloned(),
            ids: q.ids.map(<[String]>::to_vec),
            conditions: q.conditions,
            sort: q.sort,
            descending: q.descending,
            limit: q.limit,
            offset: q.offset,
            deadline: q.deadline,
        }
    }

    fn query(&mut self) -> Query<'_> {
        Query {
            scope: &self.scope,
            metadata: self.metadata.as_ref(),
            ids: self.ids.as_deref(),
            conditions: std::mem::take(&mut self.conditions),
            sort: self.sort,
            descending: self.descending,
            limit: self.limit,
            offset: self.offset,
            deadline: self.deadline.clone(),
        }
    }
}

#[async_trait]
impl<T: Record, E: Default + Send + 'static> Collection<T> for MemoryCollection<T, E> {
    async fn insert(
        &self,
        item: T,
        if_exists: IfExists,
        scope: &Access,
    ) -> Result<Inserted<T>, StoreError> {
        self.insert_with(item, E::default(), if_exists, scope)
    }

    async fn get(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError> {
        let row = self.read().items.get(id).map(|s| s.row.clone());
        Ok(row
            .filter(|row| scope.admits(row.metadata()))
            .map(|row| T::clone(&row)))
    }

    async fn modify(
        &self,
        id: &str,
        scope: &Access,
        change: Modifier<'_, T>,
    ) -> Result<Option<T>, StoreError> {
        self.with_gate(id, scope, |_, row| {
            super::guard_system(scope, &*row, self.kind)?;
            let mut changed = T::clone(&row);
            change(&mut changed)?;
            if changed.id() != id {
                return Err(StoreError::Internal("a change may not alter the id".into()));
            }
            super::guard_system(scope, &changed, self.kind)?;
            self.write().replace_row(Arc::new(changed.clone()));
            Ok(changed)
        })
        .transpose()
    }

    async fn remove(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError> {
        Ok(self
            .with_gate(id, scope, |_, row| {
                super::guard_system(scope, &*row, self.kind)?;
                Ok::<_, StoreError>(self.write().remove(id))
            })
            .transpose()?
            .flatten()
            .map(|row| T::clone(&row)))
    }

    async fn remove_all(&self, targets: &[(String, Access)]) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (id, scope) in targets {
            removed += usize::from(self.remove(id, scope).await?.is_some());
        }
        Ok(removed)
    }

    async fn search(&self, query: Query<'_>) -> Result<Page<T>, StoreError> {
        // A column this kind of resource lacks is the caller's mistake, found before any row.
        if !T::COLUMNS.contains(&query.sort) {
            return Err(StoreError::Internal(format!(
                "cannot sort by {}",
                query.sort.name()
            )));
        }
        super::check_search(query.metadata)?;
        for c in &query.conditions {
            if let super::Condition::ValuesContain(w) = c {
                super::check_search(Some(w))?;
            }
        }
        let candidates = self.candidates(&query);
        if !query.deadline.is_limited() {
            return evaluate(candidates, &query, &mut super::Meter::unlimited());
        }
        let deadline = query.deadline.clone();
        let mut owned = OwnedQuery::new(query);
        off_the_workers(&deadline, move |meter| {
            evaluate(candidates, &owned.query(), meter)
        })
        .await
    }
}

impl MemoryThreads {
    /// [`ThreadStore::transact`], at once.
    fn apply(
        &self,
        id: &str,
        scope: &Access,
        change: ThreadChange<'_>,
    ) -> Result<Option<Thread>, StoreError> {
        self.with_gate(id, scope, |data, row| {
            // The change works on copies of pointers; nothing is kept unless it succeeds.
            let mut thread = Thread::clone(&row);
            let mut runs = data.runs.clone();
            let mut tx = ThreadTx::new(&mut thread, &mut runs, data.history.last().cloned());
            change(&mut tx)?;
            let appended = tx.into_appended();
            if thread.thread_id != id {
                return Err(StoreError::Internal("a change may not alter the id".into()));
            }
            data.history.extend(appended);
            data.runs = runs;
            self.sync_queue(id, data);
            self.write().replace_row(Arc::new(thread.clone()));
            Ok(thread)
        })
        .transpose()
    }

    /// Brings the queue's order up to date with the thread's runs (its gate held): unfinished
    /// runs not yet numbered are enqueued, finished or removed ones leave.
    fn sync_queue(&self, id: &str, data: &mut ThreadData) {
        let mut pending = lock(&self.pending);
        let runs = &data.runs;
        data.queued.retain(|rid, seq| {
            let live = runs
                .iter()
                .any(|r| &r.run_id == rid && !r.status.is_finished());
            if !live {
                pending.by_seq.remove(seq);
            }
            live
        });
        for r in runs {
            if !r.status.is_finished() && !data.queued.contains_key(&r.run_id) {
                let seq = pending.next_seq;
                pending.next_seq += 1;
                pending
                    .by_seq
                    .insert(seq, (id.to_owned(), r.run_id.clone()));
                data.queued.insert(r.run_id.clone(), seq);
            }
        }
    }
}

#[async_trait]
impl ThreadStore for MemoryThreads {
    async fn transact(
        &self,
        id: &str,
        scope: &Access,
        change: ThreadChange<'_>,
    ) -> Result<Option<Thread>, StoreError> {
        self.apply(id, scope, change)
    }

    async fn checkpoint(
        &self,
        id: &str,
        scope: &Access,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<(Thread, Option<Arc<Checkpoint>>)>, StoreError> {
        let Some((row, at)) = self.with_gate(id, scope, |data, row| {
            let at = match checkpoint_id {
                None => data.history.last().cloned(),
                Some(c) => data
                    .history
                    .iter()
                    .rev()
                    .find(|h| h.checkpoint_id == c)
                    .cloned(),
            };
            (row, at)
        }) else {
            return Ok(None);
        };
        Ok(Some((Thread::clone(&row), at)))
    }

    async fn history(
        &self,
        id: &str,
        scope: &Access,
        page: HistoryPage<'_>,
        deadline: &super::Deadline,
    ) -> Result<Option<Vec<Arc<Checkpoint>>>, StoreError> {
        super::check_search(page.metadata)?;
        // Under the thread's gate only the pointers of the checkpoints to look at are copied: the
        // page itself without a metadata filter, else every checkpoint before `before`.
        let Some(older) = self.with_gate(id, scope, |data, _| {
            let end = page
                .before
                .and_then(|b| data.history.iter().rposition(|c| c.checkpoint_id == b))
                .unwrap_or(data.history.len());
            let from = match page.metadata {
                None => end.saturating_sub(page.limit),
                Some(_) => 0,
            };
            data.history[from..end].to_vec()
        }) else {
            return Ok(None);
        };
        let Some(wanted) = page.metadata.cloned() else {
            return Ok(Some(older.into_iter().rev().collect()));
        };
        let limit = page.limit;
        let newest_first = move |meter: &mut super::Meter<'_>| {
            let mut out = Vec::new();
            for c in older.into_iter().rev() {
                if out.len() >= limit {
                    break;
                }
                meter.step()?;
                if super::object_contains_within(&c.metadata, &wanted, meter)? {
                    out.push(c);
                }
            }
            Ok(out)
        };
        off_the_workers(deadline, newest_first).await.map(Some)
    }

    async fn runs(
        &self,
        id: &str,
        scope: &Access,
    ) -> Result<Option<(Thread, Vec<Arc<Run>>)>, StoreError> {
        Ok(self
            .with_gate(id, scope, |data, row| (row, data.runs.clone()))
            .map(|(row, runs)| (Thread::clone(&row), runs)))
    }

    async fn copy(
        &self,
        from: &str,
        read: &Access,
        to: Thread,
        create: &Access,
    ) -> Result<Option<Thread>, StoreError> {
        let Some((source, history)) =
            self.with_gate(from, read, |data, row| (row, data.history.clone()))
        else {
            return Ok(None);
        };
        let mut to = to;
        to.values = source.values.clone();
        to.config = source.config.clone();
        let data = ThreadData {
            history,
            ..ThreadData::default()
        };
        match self.insert_with(to, data, IfExists::Raise, create)? {
            Inserted::Created(t) | Inserted::Existing(t) => Ok(Some(t)),
        }
    }

    async fn keep_latest(&self, targets: &[(String, Access)]) -> Result<usize, StoreError> {
        let mut pruned = 0;
        for (id, scope) in targets {
            let done = self.with_gate(id, scope, |data, _| {
                let last = data.history.pop();
                data.history = last.into_iter().collect();
            });
            pruned += usize::from(done.is_some());
        }
        Ok(pruned)
    }
}

/// The run queue over [`MemoryThreads`]' runs, and the crons of a [`MemoryCollection`].
pub struct MemoryQueue {
    threads: Arc<MemoryThreads>,
    crons: Arc<MemoryCollection<Cron>>,
}

impl MemoryQueue {
    /// The queue of these threads' runs, fed by these crons.
    pub fn new(threads: Arc<MemoryThreads>, crons: Arc<MemoryCollection<Cron>>) -> Self {
        MemoryQueue { threads, crons }
    }
}

/// What [`RunQueue::claim`] found of one candidate.
enum Step {
    /// Claimed.
    Claimed(Claim),
    /// Not claimable yet (delayed, leased, or behind an unfinished run of its thread).
    Wait,
    /// No longer in the queue (finished, removed, or abandoned just now).
    Gone,
}

fn system() -> Access {
    Access::system("the run queue: claiming, renewing and releasing runs, firing crons")
}

#[async_trait]
impl RunQueue for MemoryQueue {
    async fn claim(&self, terms: &LeaseTerms, now: i64) -> Result<Option<Claim>, StoreError> {
        let candidates: Vec<(u64, String, String)> = lock(&self.threads.pending)
            .by_seq
            .iter()
            .map(|(seq, (t, r))| (*seq, t.clone(), r.clone()))
            .collect();
        let scope = system();
        for (seq, tid, rid) in candidates {
            let step = self.threads.with_gate(&tid, &scope, |data, row| {
                let Some(pos) = data.runs.iter().position(|r| r.run_id == rid) else {
                    self.threads.sync_queue(&tid, data);
                    return Step::Gone;
                };
                let run = &data.runs[pos];
                if run.status.is_finished() {
                    self.threads.sync_queue(&tid, data);
                    return Step::Gone;
                }
                let leased = run.status == RunStatus::Running
                    && run.queue.lease_until.is_some_and(|until| until > now);
                if leased
                    || run.queue.run_after > now
                    || data.runs[..pos].iter().any(|r| !r.status.is_finished())
                {
                    return Step::Wait;
                }
                let at = crate::util::now();
                if run.queue.attempts >= terms.max_attempts {
                    let mut thread = Thread::clone(&row);
                    let r = Arc::make_mut(&mut data.runs[pos]);
                    r.status = RunStatus::Error;
                    r.updated_at = at;
                    r.queue.lease_owner = None;
                    r.queue.lease_until = None;
                    thread.error =
                        serde_json::json!({"error": "RunAbandoned", "message": ABANDONED});
                    refresh_status(&mut ThreadTx::new(&mut thread, &mut data.runs, None));
                    self.threads.sync_queue(&tid, data);
                    self.threads.write().replace_row(Arc::new(thread));
                    return Step::Gone;
                }
                let r = Arc::make_mut(&mut data.runs[pos]);
                r.status = RunStatus::Running;
                r.updated_at = at;
                r.queue.attempts += 1;
                r.queue.lease_owner = Some(terms.worker.clone());
                r.queue.lease_until = Some(terms.until(now));
                Step::Claimed(Claim {
                    thread_id: tid.clone(),
                    run_id: rid.clone(),
                    owner: terms.worker.clone(),
                    attempt: r.queue.attempts,
                })
            });
            match step {
                Some(Step::Claimed(claim)) => return Ok(Some(claim)),
                Some(Step::Wait) => {}
                Some(Step::Gone) => {}
                // The thread is gone, and its runs with it.
                None => {
                    lock(&self.threads.pending).by_seq.remove(&seq);
                }
            }
        }
        Ok(None)
    }

    async fn renew(&self, claim: &Claim, terms: &LeaseTerms, now: i64) -> Result<bool, StoreError> {
        let renewed = self
            .threads
            .with_gate(&claim.thread_id, &system(), |data, _| {
                let Some(run) = data.runs.iter_mut().find(|r| claim.holds(r)) else {
                    return false;
                };
                Arc::make_mut(run).queue.lease_until = Some(terms.until(now));
                true
            });
        Ok(renewed == Some(true))
    }

    async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        let released = self
            .threads
            .with_gate(&claim.thread_id, &system(), |data, _| {
                let Some(run) = data.runs.iter_mut().find(|r| claim.holds(r)) else {
                    return false;
                };
                let r = Arc::make_mut(run);
                r.status = RunStatus::Pending;
                r.queue.lease_owner = None;
                r.queue.lease_until = None;
                r.queue.attempts = r.queue.attempts.saturating_sub(1);
                true
            });
        Ok(released == Some(true))
    }

    async fn due_crons(&self, now: &str, limit: usize) -> Result<Vec<Cron>, StoreError> {
        let mut due: Vec<Arc<Cron>> = self
            .crons
            .read()
            .items
            .values()
            .filter(|s| s.row.enabled && s.row.next_run_date.as_str().is_some_and(|at| at <= now))
            .map(|s| s.row.clone())
            .collect();
        due.sort_by(|a, b| {
            let date = |c: &Cron| c.next_run_date.as_str().map(str::to_owned);
            date(a)
                .cmp(&date(b))
                .then_with(|| a.cron_id.cmp(&b.cron_id))
        });
        Ok(due.iter().take(limit).map(|c| Cron::clone(c)).collect())
    }

    async fn advance_cron(
        &self,
        cron_id: &str,
        from: &str,
        to: Option<String>,
    ) -> Result<bool, StoreError> {
        let change: Modifier<'_, Cron> = Box::new(move |c| {
            if c.next_run_date.as_str() != Some(from) {
                return Err(StoreError::Conflict(
                    "the cron was advanced by another worker".into(),
                ));
            }
            c.next_run_date = to.map_or(Value::Null, Value::String);
            Ok(())
        });
        match self.crons.modify(cron_id, &system(), change).await {
            Ok(changed) => Ok(changed.is_some()),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Store items by (namespace, key).
type ItemMap = BTreeMap<(Vec<String>, String), Arc<Item>>;

/// An [`ItemStore`] in memory, ordered by namespace and key.
#[derive(Default)]
pub struct MemoryItems {
    items: RwLock<ItemMap>,
}

impl MemoryItems {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, ItemMap> {
        self.items.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ItemMap> {
        self.items.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ItemStore for MemoryItems {
    async fn put(
        &self,
        scope: &Access,
        namespace: Vec<String>,
        key: String,
        value: Object,
    ) -> Result<Option<Item>, StoreError> {
        let at = now();
        let mut item = Item {
            namespace,
            key,
            value,
            created_at: at.clone(),
            updated_at: at,
        };
        let place = (item.namespace.clone(), item.key.clone());
        let mut items = self.write();
        if let Some(old) = items.get(&place) {
            if !store_item_passes(scope.filter(), old) {
                return Ok(None);
            }
            item.created_at = old.created_at.clone();
        }
        items.insert(place, Arc::new(item.clone()));
        Ok(Some(item))
    }

    async fn get(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<Item>, StoreError> {
        let found = self
            .read()
            .get(&(namespace.to_vec(), key.to_owned()))
            .cloned();
        Ok(found
            .filter(|f| store_item_passes(scope.filter(), f))
            .map(|f| Item::clone(&f)))
    }

    async fn delete(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<bool>, StoreError> {
        let place = (namespace.to_vec(), key.to_owned());
        let mut items = self.write();
        Ok(match items.get(&place) {
            None => Some(false),
            Some(old) if !store_item_passes(scope.filter(), old) => None,
            Some(_) => Some(items.remove(&place).is_some()),
        })
    }

    async fn search(
        &self,
        scope: &Access,
        prefix: &[String],
        search: &ItemSearch,
        limit: usize,
        offset: usize,
        deadline: &super::Deadline,
    ) -> Result<Vec<Item>, StoreError> {
        super::check_search(search.filter.as_ref())?;
        // Under the lock only the pointers of the items under the prefix are copied.
        let under: Vec<Arc<Item>> = self
            .read()
            .values()
            .filter(|item| item.namespace.starts_with(prefix))
            .cloned()
            .collect();
        let (scope, search) = (scope.clone(), search.clone());
        let select = move |meter: &mut super::Meter<'_>| {
            let mut found: Vec<Arc<Item>> = Vec::new();
            for item in under {
                meter.step()?;
                if store_item_passes(scope.filter(), &item) && search.accepts(&item.value, meter)? {
                    found.push(item);
                }
            }
            // Newest change first; ties in (namespace, key) order (the map's, kept by a stable
            // sort).
            found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
            Ok(found
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|i| Item::clone(&i))
                .collect())
        };
        off_the_workers(deadline, select).await
    }

    async fn list_namespaces(
        &self,
        scope: &Access,
        prefix: &[String],
        suffix: &[String],
        max_depth: Option<usize>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut namespaces: Vec<Vec<String>> = {
            let items = self.read();
            items
                .values()
                .filter(|i| {
                    i.namespace.starts_with(prefix)
                        && i.namespace.ends_with(suffix)
                        && store_item_passes(scope.filter(), i)
                })
                .map(|i| match max_depth {
                    Some(d) => i.namespace.iter().take(d).cloned().collect(),
                    None => i.namespace.clone(),
                })
                .collect()
        };
        namespaces.sort();
        namespaces.dedup();
        Ok(namespaces.into_iter().skip(offset).take(limit).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::new_thread;
    use crate::storage::Column;
    use auth::Filter;
    use serde_json::json;

    fn sees(f: &Filter) -> Access {
        Access::for_tests(Some(f.clone()))
    }

    fn all() -> Access {
        Access::system("test")
    }

    fn meta(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn shards_are_one_map_of_small_parts() {
        let mut m: Shards<String, usize> = Shards::new();
        let n = 100_000;
        for i in 0..n {
            assert_eq!(m.insert(format!("k{i}"), i), None);
            if i < SPLIT_AT {
                assert_eq!(m.maps.len(), 1, "split at {i}");
            }
        }
        assert_eq!(m.maps.len(), SHARDS);
        assert_eq!(m.len(), n);
        assert_eq!(m.insert("k7".into(), 70), Some(7));
        *m.get_mut("k8").unwrap() += 1;
        assert_eq!(*m.get_or_insert_with("k9".into(), || 0), 9);
        assert_eq!(*m.get_or_insert_with("new".into(), || 5), 5);
        for i in (0..n).step_by(2) {
            assert!(m.remove(&format!("k{i}") as &str).is_some(), "k{i}");
        }
        assert_eq!(m.remove("k0"), None);
        for i in 0..n {
            let want = match i {
                _ if i % 2 == 0 => None,
                7 => Some(70),
                9 => Some(9),
                _ => Some(i),
            };
            assert_eq!(m.get(&format!("k{i}") as &str).copied(), want, "k{i}");
        }
        assert_eq!(m.get("new"), Some(&5));
        assert_eq!(m.len(), n / 2 + 1);
        let mut values: Vec<usize> = m.values().copied().collect();
        values.sort_unstable();
        assert_eq!(values.len(), n / 2 + 1);
        assert_eq!(values[..3], [1, 3, 5]);
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n / 2 + 1);
        // What bounds a stall: no part holds much more than its share (here ~49 of 50,001).
        let largest = m.maps.iter().map(HashMap::len).max().unwrap();
        assert!(largest < 2 * (n / 2) / SHARDS, "a part holds {largest}");
        // Entries carried over by the split are found, changed and removed like the others.
        for i in (1..SPLIT_AT).step_by(2) {
            assert!(m.remove(&format!("k{i}") as &str).is_some(), "k{i}");
        }
        assert_eq!(m.len(), n / 2 + 1 - SPLIT_AT / 2);
        let mut small: Shards<String, ()> = Shards::new();
        assert!(small.is_empty());
        small.insert("a".into(), ());
        assert_eq!(small.remove("a"), Some(()));
        assert!(small.is_empty() && small.maps.len() == 1);
    }

    #[tokio::test]
    async fn index_follows_changes_and_filters() {
        let c = MemoryThreads::new("Thread");
        for i in 0..30 {
            let owner = format!("u{}", i % 3);
            let t = new_thread(format!("t{i:02}"), meta(json!({"owner": owner, "n": i})));
            c.insert(t, IfExists::Raise, &all()).await.unwrap();
        }
        let f = Filter::eq("owner", "u1");
        let page = c
            .search(Query {
                limit: 100,
                ..Query::new(&sees(&f))
            })
            .await
            .unwrap();
        assert_eq!(page.total, 10);
        assert!(page.items.iter().all(|t| t.metadata["owner"] == "u1"));
        // Moving a thread to another owner moves it in the index.
        let change: Modifier<'_, crate::model::Thread> = Box::new(|t| {
            t.metadata.insert("owner".into(), "u2".into());
            Ok(())
        });
        c.modify("t01", &sees(&f), change).await.unwrap().unwrap();
        let page = c
            .search(Query {
                limit: 0,
                ..Query::new(&sees(&f))
            })
            .await
            .unwrap();
        assert_eq!(page.total, 9);
        // A filtered-out modify changes nothing and reports absence.
        let change: Modifier<'_, crate::model::Thread> = Box::new(|t| {
            t.metadata.insert("owner".into(), "u1".into());
            Ok(())
        });
        assert!(c.modify("t01", &sees(&f), change).await.unwrap().is_none());
        assert_eq!(
            c.get("t01", &all()).await.unwrap().unwrap().metadata["owner"],
            "u2"
        );
        // A search through the index answers the row as it is now, not as it was indexed.
        let change: Modifier<'_, crate::model::Thread> = Box::new(|t| {
            t.metadata.insert("n".into(), 100.into());
            t.status = auth::types::ThreadStatus::Busy;
            Ok(())
        });
        c.modify("t07", &sees(&f), change).await.unwrap().unwrap();
        let now_100 = meta(json!({"n": 100}));
        let page = c
            .search(Query {
                metadata: Some(&now_100),
                ..Query::new(&sees(&f))
            })
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].status, auth::types::ThreadStatus::Busy);
        // Caller metadata is ANDed with the auth filter.
        let wanted = meta(json!({"n": 4}));
        let page = c
            .search(Query {
                metadata: Some(&wanted),
                ..Query::new(&sees(&f))
            })
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        let wanted = meta(json!({"n": 5}));
        let page = c
            .search(Query {
                metadata: Some(&wanted),
                ..Query::new(&sees(&f))
            })
            .await
            .unwrap();
        assert_eq!(page.total, 0);
        assert!(
            c.remove("t04", &sees(&Filter::eq("owner", "u0")))
                .await
                .unwrap()
                .is_none()
        );
        assert!(c.remove("t04", &sees(&f)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn pages_are_the_sorted_slice() {
        let c = MemoryThreads::new("Thread");
        for i in 0..30 {
            let t = new_thread(
                format!("t{i:02}"),
                meta(json!({"owner": "u", "n": (i * 7) % 30})),
            );
            c.insert(t, IfExists::Raise, &all()).await.unwrap();
        }
        async fn page(
            c: &MemoryThreads,
            offset: usize,
            limit: usize,
            descending: bool,
        ) -> (Vec<String>, usize) {
            let f = Filter::eq("owner", "u");
            let p = c
                .search(Query {
                    sort: Column::Id,
                    descending,
                    offset,
                    limit,
                    ..Query::new(&sees(&f))
                })
                .await
                .unwrap();
            let ids = p.items.iter().map(|t| t.thread_id.clone()).collect();
            (ids, p.total)
        }
        let ids = |r: std::ops::Range<usize>| r.map(|i| format!("t{i:02}")).collect::<Vec<_>>();
        assert_eq!(page(&c, 5, 3, false).await, (ids(5..8), 30));
        assert_eq!(
            page(&c, 0, 2, true).await,
            (vec!["t29".to_owned(), "t28".to_owned()], 30)
        );
        assert_eq!(page(&c, 28, 10, false).await, (ids(28..30), 30));
        assert_eq!(page(&c, 30, 10, false).await, (vec![], 30));
        assert_eq!(page(&c, 0, 100, false).await.0.len(), 30);
    }

    #[tokio::test]
    async fn conditions_beyond_the_indexed_one_are_checked() {
        let c = MemoryThreads::new("Thread");
        for i in 0..20 {
            let tags = if i % 2 == 0 { json!(["x"]) } else { json!([]) };
            let m = meta(json!({"owner": format!("u{}", i % 4), "tags": tags, "n": i}));
            c.insert(new_thread(format!("t{i:02}"), m), IfExists::Raise, &all())
                .await
                .unwrap();
        }
        let total = |auth: Filter, wanted: Option<Value>| {
            let c = &c;
            async move {
                let wanted = wanted.map(meta);
                let scope = sees(&auth);
                let q = Query {
                    metadata: wanted.as_ref(),
                    limit: 100,
                    ..Query::new(&scope)
                };
                c.search(q).await.unwrap().total
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

/// The index never changes an answer (finding 1 of the security review): each user's searches
/// and counts, among other users' generated operations, equal those of the same operations run
/// alone.
#[cfg(test)]
mod isolation {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use auth::Filter;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::model::new_thread;
    use crate::util::format_rfc3339;

    /// The in-memory store answers at once.
    fn now<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("the in-memory store waited"),
        }
    }

    const USERS: usize = 3;

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize, Object),
        Update(usize, usize, Object),
        Delete(usize, usize),
        Search {
            user: usize,
            wanted: Option<Object>,
            ids: Option<Vec<usize>>,
            limit: usize,
            offset: usize,
            descending: bool,
        },
    }

    impl Op {
        fn user(&self) -> usize {
            match self {
                Op::Create(u, _) | Op::Update(u, _, _) | Op::Delete(u, _) => *u,
                Op::Search { user, .. } => *user,
            }
        }
    }

    /// Values that make equality and containment differ: a scalar and lists holding it.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => Just(json!("x")),
            3 => Just(json!(["x"])),
            1 => Just(json!("y")),
            1 => Just(json!(["x", "y"])),
            1 => Just(json!(1)),
            1 => Just(json!([1])),
            1 => Just(json!({"x": 1})),
        ]
    }

    fn metadata() -> impl Strategy<Value = Object> {
        proptest::collection::btree_map(
            prop_oneof![3 => Just("project"), 1 => Just("tagz")],
            value(),
            0..3,
        )
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A caller's metadata filter: mostly one condition.
    fn wanted() -> impl Strategy<Value = Object> {
        proptest::collection::btree_map(
            prop_oneof![3 => Just("project"), 1 => Just("tagz")],
            value(),
            1..3,
        )
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn op() -> impl Strategy<Value = Op> {
        let user = 0..USERS;
        prop_oneof![
            3 => (user.clone(), metadata()).prop_map(|(u, m)| Op::Create(u, m)),
            1 => (user.clone(), 0..8usize, metadata()).prop_map(|(u, i, m)| Op::Update(u, i, m)),
            1 => (user.clone(), 0..8usize).prop_map(|(u, i)| Op::Delete(u, i)),
            3 => (
                user,
                proptest::option::weighted(0.8, wanted()),
                proptest::option::weighted(0.2, proptest::collection::vec(0..60usize, 0..6)),
                0..6usize,
                0..3usize,
                any::<bool>(),
            )
                .prop_map(|(user, wanted, ids, limit, offset, descending)| Op::Search {
                    user,
                    wanted,
                    ids,
                    limit,
                    offset,
                    descending,
                }),
        ]
    }

    fn thread_id(at: usize) -> String {
        format!("t{at:04}")
    }

    /// Runs `ops` (each with its place in the whole sequence, which fixes ids and creation times)
    /// on a fresh store; the answers of each search, in order, per user.
    fn answers(ops: &[(usize, Op)]) -> Vec<Vec<(Vec<String>, usize)>> {
        let store = MemoryThreads::new("Thread");
        let scopes: Vec<Access> = (0..USERS)
            .map(|u| Access::for_tests(Some(Filter::eq("owner", format!("u{u}")))))
            .collect();
        let mut mine: Vec<Vec<String>> = vec![Vec::new(); USERS];
        let mut out = vec![Vec::new(); USERS];
        for (at, op) in ops {
            let u = op.user();
            let scope = &scopes[u];
            match op {
                Op::Create(_, m) => {
                    let mut m = m.clone();
                    m.insert("owner".into(), format!("u{u}").into());
                    let mut t = new_thread(thread_id(*at), m);
                    t.created_at = format_rfc3339(*at as u64, 0);
                    now(store.insert(t, IfExists::Raise, scope)).unwrap();
                    mine[u].push(thread_id(*at));
                }
                Op::Update(_, i, patch) => {
                    if let Some(id) = mine[u].get(i % mine[u].len().max(1)).cloned() {
                        let patch = patch.clone();
                        let change: Modifier<'_, Thread> = Box::new(move |t| {
                            t.metadata.extend(patch);
                            Ok(())
                        });
                        now(store.modify(&id, scope, change)).unwrap();
                    }
                }
                Op::Delete(_, i) => {
                    if !mine[u].is_empty() {
                        let at = i % mine[u].len();
                        let id = mine[u].remove(at);
                        now(store.remove(&id, scope)).unwrap();
                    }
                }
                Op::Search {
                    wanted,
                    ids,
                    limit,
                    offset,
                    descending,
                    ..
                } => {
                    let ids: Option<Vec<String>> = ids
                        .as_ref()
                        .map(|ids| ids.iter().map(|&i| thread_id(i)).collect());
                    let page = now(store.search(Query {
                        metadata: wanted.as_ref(),
                        ids: ids.as_deref(),
                        limit: *limit,
                        offset: *offset,
                        descending: *descending,
                        ..Query::new(scope)
                    }))
                    .unwrap();
                    let got = page.items.iter().map(|t| t.thread_id.clone()).collect();
                    out[u].push((got, page.total));
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn each_users_answers_are_those_of_their_operations_alone(
            ops in proptest::collection::vec(op(), 1..60)
        ) {
            let placed: Vec<(usize, Op)> = ops.into_iter().enumerate().collect();
            let together = answers(&placed);
            for (u, answered) in together.iter().enumerate() {
                let alone: Vec<(usize, Op)> =
                    placed.iter().filter(|(_, op)| op.user() == u).cloned().collect();
                prop_assert_eq!(answered, &answers(&alone)[u], "user u{}", u);
            }
        }
    }

    /// The review's case: Bob's count of `{"project": "secret-x"}` stayed 1 only while Alice's
    /// three tagged threads were the smallest posting list.
    #[test]
    fn the_reviewed_case() {
        let store = MemoryThreads::new("Thread");
        let alice = Access::for_tests(Some(Filter::eq("owner", "alice")));
        let bob = Access::for_tests(Some(Filter::eq("owner", "bob")));
        let meta = |owner: &str, v: Value| -> Object {
            let mut m = Object::new();
            m.insert("owner".into(), owner.into());
            if !v.is_null() {
                m.insert("project".into(), v);
            }
            m
        };
        for i in 0..3 {
            let t = new_thread(format!("a{i}"), meta("alice", json!("secret-x")));
            now(store.insert(t, IfExists::Raise, &alice)).unwrap();
        }
        // (The review had `["secret-x"]` here; a search for the bare scalar no longer matches a
        // list, as PostgreSQL's `@>` decides, so Bob's own match is the scalar.)
        let t = new_thread("b".into(), meta("bob", json!("secret-x")));
        now(store.insert(t, IfExists::Raise, &bob)).unwrap();
        let t = new_thread("b-list".into(), meta("bob", json!(["secret-x"])));
        now(store.insert(t, IfExists::Raise, &bob)).unwrap();
        let wanted = meta("bob", json!("secret-x"));
        let mut wanted = wanted;
        wanted.remove("owner");
        for i in 0..6 {
            let q = Query {
                metadata: Some(&wanted),
                limit: 0,
                ..Query::new(&bob)
            };
            assert_eq!(
                now(store.search(q)).unwrap().total,
                1,
                "with {i} more threads of Bob's"
            );
            let t = new_thread(format!("b{i}"), meta("bob", Value::Null));
            now(store.insert(t, IfExists::Raise, &bob)).unwrap();
        }
    }

    /// One resource's change does not hold up others: while a change to thread A is under way
    /// (its gate held), thread B is read, changed, listed and searched.
    #[test]
    fn a_change_to_one_thread_does_not_hold_up_another() {
        let store = Arc::new(MemoryThreads::new("Thread"));
        let all = Access::system("test");
        for id in ["A", "B"] {
            now(store.insert(new_thread(id.into(), Object::new()), IfExists::Raise, &all)).unwrap();
        }
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let store = store.clone();
            std::thread::spawn(move || {
                let all = Access::system("test");
                let change: crate::storage::ThreadChange<'_> = Box::new(move |_| {
                    entered_tx.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                });
                now(store.transact("A", &all, change)).unwrap();
            })
        };
        entered.recv().unwrap();
        let (done_tx, done) = std::sync::mpsc::channel();
        let worker = {
            let store = store.clone();
            std::thread::spawn(move || {
                let all = Access::system("test");
                assert!(now(store.get("B", &all)).unwrap().is_some());
                let change: Modifier<'_, Thread> = Box::new(|t| {
                    t.metadata.insert("seen".into(), true.into());
                    Ok(())
                });
                assert!(now(store.modify("B", &all, change)).unwrap().is_some());
                assert!(now(store.runs("B", &all)).unwrap().is_some());
                let page = HistoryPage {
                    limit: 10,
                    ..HistoryPage::default()
                };
                assert!(
                    now(store.history("B", &all, page, &super::super::Deadline::unlimited()))
                        .unwrap()
                        .is_some()
                );
                assert_eq!(now(store.search(Query::new(&all))).unwrap().total, 2);
                // Reading A's row does not wait for A's change either.
                assert!(now(store.get("A", &all)).unwrap().is_some());
                done_tx.send(()).unwrap();
            })
        };
        // A liveness bound, not a speed one: with one lock for all, this never arrives.
        let finished = done.recv_timeout(std::time::Duration::from_secs(30));
        release.send(()).unwrap();
        holder.join().unwrap();
        worker.join().unwrap();
        assert!(finished.is_ok(), "B waited for A's change");
    }
}
