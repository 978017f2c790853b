//! Storage behind traits: [`Collection`] for assistants and crons, [`ThreadStore`] for threads
//! with their checkpoints and runs, [`ItemStore`] for the long-term store. [`memory`] keeps
//! everything in memory; [`sql`] implements the same traits on SQLite and PostgreSQL, one table
//! per kind (threads, checkpoints, runs, assistants, crons, store items), with every filter in
//! the SQL (its module documents the schema and the time encoding). [`Storage::connect`] picks
//! the backend from a URL.
//!
//! Searches are data, not closures ([`Query`] with [`Condition`]s and a sort [`Column`];
//! [`ItemSearch`]), so that a database evaluates them in its query; every backend gives the same
//! answers (metadata containment is PostgreSQL's `@>`, as [`auth::sql::metadata_contains`]
//! documents; text sorts by code point). Operations that reach a database return
//! `Result<_, StoreError>` ([`StoreError`], in storage terms: a database that fails is
//! [`StoreError::Unavailable`]); the HTTP edge decides how each is answered.
//!
//! Every operation on a user-visible resource takes the [`Access`] that authorization produced
//! (or a named [`Access::system`]) and applies its filter **inside** the operation that finds the
//! resource, before any other work on it: "check, then read or change" is atomic, and a resource
//! the filter hides is reported as absent, at the cost of an absent one.
//!
//! Shaped as a database would serve it: reading a thread reads neither its checkpoints nor its
//! runs; checkpoints are read a page at a time ([`HistoryPage`]); appending a checkpoint does not
//! copy the thread or its history.
//!
//! Runs are also a queue ([`RunQueue`], held as [`Storage::queue`]): a run is enqueued when it is
//! stored on its thread, and a worker ([`crate::queue`]) claims it with a lease, executes it and
//! finishes it in a transaction that succeeds only while it still holds that lease.
//!
//! # Shape
//!
//! - `mod.rs` (here): the traits a backend implements ([`Collection`], [`ThreadStore`],
//!   [`ItemStore`], [`RunQueue`]), the searches they run, and [`Storage`], which holds one of
//!   each;
//! - `error.rs`: [`StoreError`], what can go wrong, in storage terms (no HTTP status: the HTTP
//!   edge, `util.rs`, maps each variant to its answer);
//! - `guard.rs`: what a search may cost. The facade (`scoped.rs`) holds every caller's
//!   containment value to a complexity budget ([`SearchBudget`]) before a backend sees it, and
//!   runs searches, store searches and history pages as *guarded reads*: in turn (a share of the
//!   database's connections in all, a few per caller) and within a deadline that each backend
//!   enforces itself (`Deadline`: PostgreSQL's `statement_timeout`, SQLite's progress handler,
//!   a metered evaluation in memory, off the async workers and outside the collection's lock),
//!   stopped as soon as the caller is gone;
//! - [`memory`] and [`sql`]: the backends (`sql` writes its queries once, over a `Dialect` that
//!   SQLite and PostgreSQL implement);
//! - `contract/` (tests): the scenarios every backend answers alike, the differential test and
//!   the run queue's contract, each run on memory, SQLite and PostgreSQL.
//!
//! A new backend implements these traits, gets a [`Storage::connect`] URL, and is added to the
//! contract tests in `contract/` (`on_every_backend` and the queue's modules), which it must
//! pass as the others do.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth::types::{RunStatus, ThreadStatus};
use serde_json::Value;

use crate::authz::Access;
use crate::model::{Assistant, Checkpoint, Cron, Item, Object, Record, Run, Thread, Values};
use crate::util::now;

pub use error::StoreError;
pub use guard::{Busy, SearchBudget};
pub(crate) use guard::{Deadline, Guard, GuardSettings, Meter};

#[cfg(test)]
mod contract;
mod error;
mod guard;
pub mod memory;
mod scoped;
pub mod sql;

pub use scoped::Search;

/// A change to one resource, applied atomically; an error leaves the resource unchanged and is
/// returned as it is (a caller's own error travels as [`StoreError::Refused`]).
pub type Modifier<'a, T> = Box<dyn FnOnce(&mut T) -> Result<(), StoreError> + Send + 'a>;

/// What to do when a resource with the same id exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Fail with [`StoreError::Exists`].
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

/// Does `have` contain `wanted` (JSON containment, as PostgreSQL's `@>` between two members of
/// a metadata object, which [`auth::sql::metadata_contains`] documents)?
///
/// Objects contain an object when every wanted key is present and contains its value; arrays
/// contain an array when every wanted element is contained in some element; any other pair when
/// equal (no coercion: `1` is not `1.0`, and a list does not contain a bare scalar). (The
/// storage evaluates it metered, [`contains_within`].)
#[cfg(test)]
pub fn contains(have: &Value, wanted: &Value) -> bool {
    contains_within(have, wanted, &mut Meter::unlimited()).unwrap_or(false)
}

/// Whether `have` contains `wanted` (JSON containment, as PostgreSQL's `@>` between two members
/// of a metadata object, which [`auth::sql::metadata_contains`] documents), one step of `meter`
/// per comparison: stops with [`StoreError::Deadline`] when the meter's deadline passes (a large
/// stored array searched with a large wanted one costs their product).
///
/// Objects contain an object when every wanted key is present and contains its value; arrays
/// contain an array when every wanted element is contained in some element; any other pair when
/// equal (no coercion: `1` is not `1.0`, and a list does not contain a bare scalar).
pub(crate) fn contains_within(
    have: &Value,
    wanted: &Value,
    meter: &mut Meter<'_>,
) -> Result<bool, StoreError> {
    meter.step()?;
    Ok(match (have, wanted) {
        (Value::Object(h), Value::Object(w)) => object_contains_within(h, w, meter)?,
        (Value::Array(h), Value::Array(w)) => {
            for wv in w {
                let mut found = false;
                for hv in h {
                    if contains_within(hv, wv, meter)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            true
        }
        (h, w) => h == w,
    })
}

/// Whether the object `have` contains every member of `wanted`, as
/// [`auth::sql::metadata_contains`] decides, one step of `meter` per comparison.
pub(crate) fn object_contains_within(
    have: &Object,
    wanted: &Object,
    meter: &mut Meter<'_>,
) -> Result<bool, StoreError> {
    for (k, w) in wanted {
        match have.get(k) {
            Some(h) if contains_within(h, w, meter)? => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// Whether `metadata` contains every key of `wanted` (the caller's own metadata filter), as
/// [`auth::sql::metadata_contains`] (and so PostgreSQL's `@>`) decides.
pub fn wanted(metadata: &Object, wanted: Option<&Object>) -> bool {
    wanted.is_none_or(|w| auth::sql::metadata_contains(metadata, w))
}

/// [`wanted`], metered.
pub(crate) fn wanted_within(
    metadata: &Object,
    wanted: Option<&Object>,
    meter: &mut Meter<'_>,
) -> Result<bool, StoreError> {
    match wanted {
        None => Ok(true),
        Some(w) => object_contains_within(metadata, w, meter),
    }
}

/// How deeply `v` nests arrays and objects (a scalar: 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A caller's containment search (metadata, values, a store filter) that every backend can
/// run: [`StoreError::InvalidSearch`] when a value nests arrays and objects deeper than
/// [`auth::sql::MAX_VALUE_DEPTH`], as a database backend answers (so that memory answers the
/// same).
pub fn check_search(wanted: Option<&Object>) -> Result<(), StoreError> {
    match wanted {
        Some(w) if w.values().any(|v| depth(v) > auth::sql::MAX_VALUE_DEPTH) => {
            Err(StoreError::InvalidSearch(auth::sql::SqlError::TooDeep))
        }
        _ => Ok(()),
    }
}

/// Refuses a user's write that would create, change or remove a resource the server owns
/// ([`Record::system_owned`]: a graph's default assistant) with [`StoreError::SystemOwned`];
/// the server's own work ([`Access::system`]) may. Every backend checks it on the row it found
/// (and on the row a change leaves), in the same step as the change.
pub(crate) fn guard_system<T: Record>(
    scope: &Access,
    row: &T,
    kind: &'static str,
) -> Result<(), StoreError> {
    if row.system_owned() && !scope.is_system() {
        return Err(StoreError::SystemOwned {
            kind,
            id: row.id().to_owned(),
        });
    }
    Ok(())
}

/// A column that searches compare or sort by; which a resource has is [`Record::COLUMNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Column {
    /// The resource's id.
    Id,
    /// The creation time (the default sort).
    #[default]
    CreatedAt,
    /// The time of the last change.
    UpdatedAt,
    /// A thread's status.
    Status,
    /// An assistant's graph.
    GraphId,
    /// An assistant's name.
    Name,
    /// A cron's assistant.
    AssistantId,
    /// A cron's thread (none for a stateless cron).
    ThreadId,
}

impl Column {
    /// The column's name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::CreatedAt => "created_at",
            Column::UpdatedAt => "updated_at",
            Column::Status => "status",
            Column::GraphId => "graph_id",
            Column::Name => "name",
            Column::AssistantId => "assistant_id",
            Column::ThreadId => "thread_id",
        }
    }
}

/// A condition of a search beyond the scope, the caller's metadata and the ids: each backend
/// evaluates it where it keeps the rows (in SQL for a database).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The column equals this text (a resource without a value in it never matches).
    Equals(Column, String),
    /// The column holds this text as a substring (case-sensitive; the empty text always).
    Holds(Column, String),
    /// A thread's state values contain this object (JSON containment, as [`contains_within`]); an
    /// empty object matches every thread.
    ValuesContain(Object),
}

impl Condition {
    /// Whether `item` meets the condition (the in-memory evaluation; a database evaluates it in
    /// its query), one step of `meter` per comparison. A column the resource does not have is an
    /// error.
    pub(crate) fn accepts<T: Record>(
        &self,
        item: &T,
        meter: &mut Meter<'_>,
    ) -> Result<bool, StoreError> {
        Ok(match self {
            Condition::Equals(c, v) => {
                checked::<T>(*c)?.then(|| item.column(*c)).flatten() == Some(v.as_str())
            }
            Condition::Holds(c, v) => checked::<T>(*c)?
                .then(|| item.column(*c))
                .flatten()
                .is_some_and(|h| h.contains(v.as_str())),
            Condition::ValuesContain(w) => match item.values() {
                Some(values) => w.is_empty() || values.contains_within(w, meter)?,
                None => {
                    return Err(StoreError::Internal(
                        "this resource has no state values to search".into(),
                    ));
                }
            },
        })
    }
}

/// `Ok(true)` when resources of type `T` have the column `c`, else [`StoreError::Internal`]
/// naming it.
fn checked<T: Record>(c: Column) -> Result<bool, StoreError> {
    if T::COLUMNS.contains(&c) {
        Ok(true)
    } else {
        Err(StoreError::Internal(format!(
            "{} has no column {}",
            std::any::type_name::<T>(),
            c.name()
        )))
    }
}

/// A search over a [`Collection`]: every condition is ANDed.
#[derive(Debug, Clone)]
pub(crate) struct Query<'a> {
    /// The authorization's scope.
    pub(crate) scope: &'a Access,
    /// The caller's metadata filter (containment, as [`wanted`]).
    pub metadata: Option<&'a Object>,
    /// Only these ids (a set: duplicates count once).
    pub ids: Option<&'a [String]>,
    /// Further conditions (status, values, graph…).
    pub conditions: Vec<Condition>,
    /// The sort column (ties broken by id, in the same direction).
    pub sort: Column,
    /// Sort in descending order.
    pub descending: bool,
    /// At most this many results.
    pub limit: usize,
    /// Skip this many results.
    pub offset: usize,
    /// When the search must end (or stop, its caller gone).
    pub(crate) deadline: Deadline,
}

impl<'a> Query<'a> {
    /// Everything the scope shows, newest first, ten at a time (the unit tests' searches).
    #[cfg(test)]
    pub(crate) fn new(scope: &'a Access) -> Self {
        Query {
            scope,
            metadata: None,
            ids: None,
            conditions: Vec::new(),
            sort: Column::CreatedAt,
            descending: true,
            limit: 10,
            offset: 0,
            deadline: Deadline::unlimited(),
        }
    }

    /// Whether `item` passes every condition (the in-memory evaluation), one step of `meter`
    /// per comparison of the caller's containment values.
    pub(crate) fn accepts<T: Record>(
        &self,
        item: &T,
        meter: &mut Meter<'_>,
    ) -> Result<bool, StoreError> {
        meter.step()?;
        if !self.scope.admits(item.metadata())
            || !self
                .ids
                .is_none_or(|ids| ids.iter().any(|i| i == item.id()))
            || !wanted_within(item.metadata(), self.metadata, meter)?
        {
            return Ok(false);
        }
        for c in &self.conditions {
            if !c.accepts(item, meter)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Top-level (key, scalar) pairs that every result's metadata must contain (equal the
    /// scalar, or be a list holding it), for an index: the filter's equalities and the caller's
    /// scalar conditions.
    pub fn required_scalars(&self) -> Vec<(&str, &Value)> {
        let mut out: Vec<(&str, &Value)> = self
            .scope
            .filter()
            .map(|f| f.eq_conditions().collect())
            .unwrap_or_default();
        if let Some(m) = self.metadata {
            out.extend(m.iter().map(|(k, v)| (k.as_str(), v)));
        }
        out.retain(|(_, v)| !v.is_object() && !v.is_array());
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

/// Assistants or crons, and the rows of threads.
#[async_trait]
pub(crate) trait Collection<T: Record>: Send + Sync {
    /// Stores `item`. An existing resource with the same id: [`StoreError::Exists`] when
    /// `if_exists` is `Raise` or when `scope` hides it; otherwise it is returned as
    /// [`Inserted::Existing`].
    async fn insert(
        &self,
        item: T,
        if_exists: IfExists,
        scope: &Access,
    ) -> Result<Inserted<T>, StoreError>;

    /// The resource `id` if it exists and `scope` admits it.
    async fn get(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError>;

    /// Applies `change` to the resource `id` if it exists and `scope` admits it, atomically.
    /// `Ok(None)`: absent or hidden, nothing changed.
    async fn modify(
        &self,
        id: &str,
        scope: &Access,
        change: Modifier<'_, T>,
    ) -> Result<Option<T>, StoreError>;

    /// Removes the resource `id` (a thread with its checkpoints and runs) if it exists and
    /// `scope` admits it.
    async fn remove(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError>;

    /// Removes each `(id, scope)` of `targets` that exists and that its scope admits (each
    /// checked and removed atomically, as [`Collection::remove`]); how many were removed. The
    /// caller authorizes every target first, so a refusal changes nothing.
    async fn remove_all(&self, targets: &[(String, Access)]) -> Result<usize, StoreError>;

    /// The resources matching `query`, sorted, within its limit and offset; stopped at the
    /// query's deadline ([`StoreError::Deadline`]).
    async fn search(&self, query: Query<'_>) -> Result<Page<T>, StoreError>;
}

/// Which checkpoints of a thread to read: newest first, at most `limit`, older than `before`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryPage<'a> {
    /// At most this many.
    pub limit: usize,
    /// Only checkpoints older than this one (all when `None` or unknown).
    pub before: Option<&'a str>,
    /// Only checkpoints whose metadata contains this.
    pub metadata: Option<&'a Object>,
}

/// What a change to one thread sees and may change: the thread's row, its runs, and its latest
/// checkpoint, to which it may append.
pub struct ThreadTx<'a> {
    /// The thread's row.
    pub thread: &'a mut Thread,
    /// Its runs, oldest first (change one with [`Arc::make_mut`]).
    pub runs: &'a mut Vec<Arc<Run>>,
    latest: Option<Arc<Checkpoint>>,
    appended: Vec<Arc<Checkpoint>>,
}

/// A checkpoint for [`ThreadTx::push`] to append: what LangGraph records of one superstep.
#[derive(Debug, Clone, Default)]
pub struct NewCheckpoint {
    /// The state values after it.
    pub values: Values,
    /// Its metadata (`source`, `writes`, `run_id`…); `step` and `parents` are set when pushed.
    pub metadata: Object,
    /// The nodes that run next (empty once a run is done).
    pub next: Vec<String>,
    /// The checkpoint it follows (a fork, for time travel); `None`: the latest.
    pub parent: Option<Arc<Checkpoint>>,
}

/// A checkpoint's superstep number (`metadata.step`; `-1` for the input of a new thread).
pub fn step_of(c: &Checkpoint) -> i64 {
    c.metadata.get("step").and_then(Value::as_i64).unwrap_or(-1)
}

impl<'a> ThreadTx<'a> {
    /// A transaction over these parts (for backends).
    pub fn new(
        thread: &'a mut Thread,
        runs: &'a mut Vec<Arc<Run>>,
        latest: Option<Arc<Checkpoint>>,
    ) -> Self {
        ThreadTx {
            thread,
            runs,
            latest,
            appended: Vec::new(),
        }
    }

    /// The latest checkpoint, including one appended in this transaction.
    pub fn latest(&self) -> Option<&Arc<Checkpoint>> {
        self.appended.last().or(self.latest.as_ref())
    }

    /// Appends a checkpoint with these values after the latest (nothing next) and makes them
    /// the thread's values; its id. See [`ThreadTx::push`].
    pub fn push_checkpoint(&mut self, values: Values, metadata: Object) -> String {
        self.push(NewCheckpoint {
            values,
            metadata,
            ..NewCheckpoint::default()
        })
    }

    /// Appends `new` as the child of its parent (the latest when it names none) and makes its
    /// values the thread's; its id. Its `step` is its parent's plus one (`-1` without a parent,
    /// as LangGraph numbers the input checkpoint of a new thread).
    pub fn push(&mut self, new: NewCheckpoint) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let parent = new.parent.as_ref().or(self.latest());
        let step = parent.map_or(-1, |p| step_of(p) + 1);
        let parent = parent.map(|c| c.checkpoint_id.clone());
        let mut metadata = new.metadata;
        metadata.insert("step".into(), step.into());
        metadata
            .entry("parents")
            .or_insert_with(|| Value::Object(Object::new()));
        let at = now();
        self.thread.values = new.values.clone();
        self.thread.updated_at = at.clone();
        self.appended.push(Arc::new(Checkpoint {
            checkpoint_id: id.clone(),
            parent_checkpoint_id: parent,
            values: new.values,
            metadata,
            next: new.next,
            created_at: at,
        }));
        id
    }

    /// The checkpoints appended, oldest first (for backends).
    pub fn into_appended(self) -> Vec<Arc<Checkpoint>> {
        self.appended
    }
}

/// A change to one thread, applied atomically; an error leaves the thread, its runs and its
/// checkpoints unchanged and is returned as it is (as for [`Modifier`]).
pub type ThreadChange<'a> =
    Box<dyn FnOnce(&mut ThreadTx<'_>) -> Result<(), StoreError> + Send + 'a>;

/// Threads: their rows ([`Collection`]), checkpoints and runs.
#[async_trait]
pub(crate) trait ThreadStore: Collection<Thread> {
    /// Applies `change` to the thread `id`, its runs and checkpoints, if the thread exists and
    /// `scope` admits it, atomically. `Ok(None)`: absent or hidden, nothing changed.
    async fn transact(
        &self,
        id: &str,
        scope: &Access,
        change: ThreadChange<'_>,
    ) -> Result<Option<Thread>, StoreError>;

    /// The thread and its checkpoint `checkpoint_id` (the latest when `None`; `None` in the pair
    /// when there is no such checkpoint), if the thread exists and `scope` admits it.
    async fn checkpoint(
        &self,
        id: &str,
        scope: &Access,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<(Thread, Option<Arc<Checkpoint>>)>, StoreError>;

    /// A page of the thread's checkpoints, newest first, if it exists and `scope` admits it;
    /// stopped at `deadline` ([`StoreError::Deadline`]).
    async fn history(
        &self,
        id: &str,
        scope: &Access,
        page: HistoryPage<'_>,
        deadline: &Deadline,
    ) -> Result<Option<Vec<Arc<Checkpoint>>>, StoreError>;

    /// The thread and its runs (oldest first), if it exists and `scope` admits it.
    async fn runs(
        &self,
        id: &str,
        scope: &Access,
    ) -> Result<Option<(Thread, Vec<Arc<Run>>)>, StoreError>;

    /// Stores `to` with the values, configuration and checkpoints of thread `from`, if `from`
    /// exists and `read` admits it (`Ok(None)` otherwise); `create` as for
    /// [`Collection::insert`] with [`IfExists::Raise`].
    async fn copy(
        &self,
        from: &str,
        read: &Access,
        to: Thread,
        create: &Access,
    ) -> Result<Option<Thread>, StoreError>;

    /// Keeps only the latest checkpoint of each `(id, scope)` of `targets` that exists and that
    /// its scope admits; how many threads were pruned. The caller authorizes every target
    /// first, so a refusal changes nothing.
    async fn keep_latest(&self, targets: &[(String, Access)]) -> Result<usize, StoreError>;
}

/// What a store item shows an authorization filter: its value with `namespace` (the label
/// list) and `key` added, which win over value fields of the same names, as LangGraph.js matches
/// store filters. `None` for the value: an item not yet written (only its place is known).
/// (`{"namespace": "spoofed", "text": "hi"}` at `["user1", "notes"]`, key `k`, shows
/// `{"namespace": ["user1", "notes"], "key": "k", "text": "hi"}`: the `store_view_*` unit test.)
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
pub fn store_item_passes(filter: Option<&auth::Filter>, item: &Item) -> bool {
    filter.is_none_or(|f| f.matches(&store_view(&item.namespace, &item.key, Some(&item.value))))
}

/// What a store search selects beyond the namespace prefix and the scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemSearch {
    /// The value contains this object (JSON containment, as [`wanted`]).
    pub filter: Option<Object>,
    /// Lower-case words: the value's JSON text, lower-cased, holds at least one of them (none:
    /// every value). Backends lower-case and print JSON as they do: ASCII words in string
    /// values match alike on every backend.
    pub words: Vec<String>,
}

impl ItemSearch {
    /// Whether an item's value is selected (the in-memory evaluation), one step of `meter` per
    /// comparison of the filter and per word.
    pub(crate) fn accepts(
        &self,
        value: &Object,
        meter: &mut Meter<'_>,
    ) -> Result<bool, StoreError> {
        if !wanted_within(value, self.filter.as_ref(), meter)? {
            return Ok(false);
        }
        if self.words.is_empty() {
            return Ok(true);
        }
        let text = serde_json::to_string(value)
            .unwrap_or_default()
            .to_lowercase();
        for w in &self.words {
            meter.step()?;
            if text.contains(w.as_str()) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The long-term store: JSON objects under a namespace and a key.
///
/// Every operation takes the [`Access`] of the caller's `store.*` authorization, as proof that the
/// handler decided first (it decides on the namespace, which it may rewrite). The scope's filter
/// is matched against each item's [`store_view`] (its value with `namespace` and `key` added, as
/// LangGraph.js does) in every operation, atomically with it: an item the filter refuses is
/// neither read, listed, replaced nor removed.
#[async_trait]
pub(crate) trait ItemStore: Send + Sync {
    /// Creates or replaces an item; `None` (nothing written) when an item is there that the
    /// scope refuses.
    async fn put(
        &self,
        scope: &Access,
        namespace: Vec<String>,
        key: String,
        value: Object,
    ) -> Result<Option<Item>, StoreError>;

    /// The item, if any and the scope admits it.
    async fn get(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<Item>, StoreError>;

    /// Removes the item if the scope admits it: `Some(true)` removed, `Some(false)` absent,
    /// `None` present but refused (kept).
    async fn delete(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<bool>, StoreError>;

    /// Items under `prefix` that the scope admits and that `search` selects, newest change
    /// first (ties by namespace and key); stopped at `deadline` ([`StoreError::Deadline`]).
    // The facade's arguments and the deadline it adds: one more than clippy's default.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        scope: &Access,
        prefix: &[String],
        search: &ItemSearch,
        limit: usize,
        offset: usize,
        deadline: &Deadline,
    ) -> Result<Vec<Item>, StoreError>;

    /// Distinct namespaces starting with `prefix` and ending with `suffix` that hold at least one
    /// item the scope admits, truncated to `max_depth` labels, sorted.
    async fn list_namespaces(
        &self,
        scope: &Access,
        prefix: &[String],
        suffix: &[String],
        max_depth: Option<usize>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Vec<String>>, StoreError>;
}

/// Sets the thread's status from its runs and its error: `busy` while a run is unfinished, else
/// `error` if the last run failed, else `idle`.
pub fn refresh_status(tx: &mut ThreadTx<'_>) {
    tx.thread.status = if tx.runs.iter().any(|r| !r.status.is_finished()) {
        ThreadStatus::Busy
    } else if tx.thread.error.is_null() {
        ThreadStatus::Idle
    } else {
        ThreadStatus::Error
    };
}

/// Milliseconds since the Unix epoch by this process's clock: the time of the run queue.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// On what terms a worker claims runs.
#[derive(Debug, Clone)]
pub struct LeaseTerms {
    /// The worker's id (unique per server process).
    pub worker: String,
    /// How long a lease holds unless renewed.
    pub lease: Duration,
    /// A run already claimed this many times (each lease expired: its workers died) is not
    /// taken over again but finished with status `error`.
    pub max_attempts: u32,
}

impl LeaseTerms {
    /// When a lease taken or renewed at `now` ends.
    pub fn until(&self, now: i64) -> i64 {
        now.saturating_add(i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A run claimed by a worker: it executes it while it holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The run's thread.
    pub thread_id: String,
    /// The run.
    pub run_id: String,
    /// The worker holding the lease.
    pub owner: String,
    /// Which claim of the run this is (1 for the first): a run claimed again by the same worker
    /// after its lease expired is another claim.
    pub attempt: u32,
}

impl Claim {
    /// Whether `run` is still this claim's: running under this lease (not cancelled, finished
    /// or taken over). A worker's final transaction changes the run only if it is.
    pub fn holds(&self, run: &Run) -> bool {
        run.run_id == self.run_id
            && run.status == RunStatus::Running
            && run.queue.lease_owner.as_deref() == Some(self.owner.as_str())
            && run.queue.attempts == self.attempt
    }
}

/// The message a run gets when its workers kept dying.
pub const ABANDONED: &str = "the run was abandoned: its lease expired on every attempt";

/// The run queue, and the crons that feed it.
///
/// A run is enqueued when it is stored on its thread (by [`ThreadStore::transact`]) with status
/// `pending` and [`QueueState::run_after`](crate::model::QueueState) set. A worker claims it,
/// which makes it `running` under a lease; the worker's final transaction changes it only while
/// [`Claim::holds`] it. A run whose lease expired is claimed again (taken over) by any worker,
/// up to [`LeaseTerms::max_attempts`] claims, after which it is finished with status `error`.
/// A run is never executed by two workers at once as long as a worker stops executing once its
/// lease is lost (it renews before the lease ends, and stops when [`RunQueue::renew`] fails).
///
/// `now` is passed in (milliseconds since the Unix epoch, [`now_ms`]): every time of the queue
/// comes from the server processes' clocks, so `run_after` (set by the process that created the
/// run) and leases are compared on the same footing, and tests can move time.
#[async_trait]
pub trait RunQueue: Send + Sync {
    /// Atomically takes the oldest run (in insertion order) that is claimable at `now`: pending,
    /// or running under an expired lease; whose `run_after` has passed; and with no unfinished
    /// run before it on its thread (runs of one thread execute one at a time, in order). The run
    /// becomes `running`, leased to `terms.worker` until `now + terms.lease`, its attempts
    /// counted. Runs met on the way that used up their attempts are finished as `error`.
    async fn claim(&self, terms: &LeaseTerms, now: i64) -> Result<Option<Claim>, StoreError>;

    /// Extends the lease to `now + terms.lease`, if `claim` still holds its run; whether it did.
    async fn renew(&self, claim: &Claim, terms: &LeaseTerms, now: i64) -> Result<bool, StoreError>;

    /// Gives the run back without executing it (at shutdown): it becomes pending again, without
    /// a lease, and this attempt is not counted. Whether `claim` still held it.
    async fn release(&self, claim: &Claim) -> Result<bool, StoreError>;

    /// The enabled crons whose `next_run_date` is at or before `now` (RFC 3339, as
    /// [`crate::util::now`] writes it), oldest due first, at most `limit`.
    async fn due_crons(&self, now: &str, limit: usize) -> Result<Vec<Cron>, StoreError>;

    /// Moves the cron's `next_run_date` from `from` to `to` if it is still `from` (atomically:
    /// of the workers that saw it due, exactly one succeeds, and that one fires it). Whether it
    /// did.
    async fn advance_cron(
        &self,
        cron_id: &str,
        from: &str,
        to: Option<String>,
    ) -> Result<bool, StoreError>;
}

/// Every collection the server uses.
#[derive(Clone)]
pub struct Storage {
    /// Threads, with their checkpoints and runs.
    pub(in crate::storage) threads: Arc<dyn ThreadStore>,
    /// Assistants (with their versions).
    pub(in crate::storage) assistants: Arc<dyn Collection<Assistant>>,
    /// Crons.
    pub(in crate::storage) crons: Arc<dyn Collection<Cron>>,
    /// The long-term store.
    pub(in crate::storage) items: Arc<dyn ItemStore>,
    /// The run queue over `threads`' runs, and the crons' schedule.
    pub(in crate::storage) queue: Arc<dyn RunQueue>,
    /// The database the collections keep their tables in (`None`: in memory).
    pub(crate) database: Option<sql::Database>,
    /// The pool that the collections write through, when it is not [`Storage::database`]'s
    /// (SQLite: one connection, so that writers queue instead of retrying on a busy database);
    /// [`Storage::close`] closes it too.
    pub(crate) writer: Option<sql::Database>,
    /// What admits and bounds the guarded reads (searches, history pages, store searches): the
    /// complexity budget, the deadline and the turns ([`Guard`]); shared by every clone.
    pub(crate) guard: Arc<Guard>,
}

/// Why [`Storage::connect`] could not open a database: one line that names the database with
/// its password masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    /// What went wrong, for people (no password).
    pub message: String,
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {}

impl Storage {
    /// The run queue over the threads' runs, and the crons' schedule (system work: no scope).
    pub(crate) fn queue(&self) -> &dyn RunQueue {
        &*self.queue
    }

    /// [`Storage::queue`] for the server's own tests (feature `test-internals`: never in
    /// production).
    #[cfg(feature = "test-internals")]
    #[doc(hidden)]
    pub fn queue_for_tests(&self) -> &dyn RunQueue {
        self.queue()
    }

    /// Opens the storage that `url` names: `memory`, `sqlite:PATH` or `postgres://…`, applying
    /// the embedded schema migrations to a database.
    pub async fn connect(url: &str) -> Result<Storage, StorageError> {
        if url == "memory" {
            Ok(Storage::in_memory())
        } else if url.starts_with("sqlite:") {
            sql::sqlite::connect(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            sql::postgres::connect(url).await
        } else {
            Err(StorageError {
                message: format!(
                    "unsupported database {:?}: expected memory, sqlite:PATH or postgres://…",
                    sql::mask_url(url)
                ),
            })
        }
    }

    /// Everything in memory, lost at exit.
    pub fn in_memory() -> Self {
        let threads = Arc::new(memory::MemoryThreads::new("Thread"));
        let crons = Arc::new(memory::MemoryCollection::<Cron>::new("Cron"));
        Storage {
            threads: threads.clone(),
            assistants: Arc::new(memory::MemoryCollection::<Assistant>::new("Assistant")),
            crons: crons.clone(),
            items: Arc::new(memory::MemoryItems::default()),
            queue: Arc::new(memory::MemoryQueue::new(threads, crons)),
            database: None,
            writer: None,
            guard: Arc::new(Guard::new(usize::MAX)),
        }
    }

    /// Applies the storage settings of `limits` (the deadline, the complexity budget and the
    /// turns of guarded reads) to this storage and every clone of it.
    pub(crate) fn configure(&self, limits: &crate::Limits) {
        self.guard.configure(GuardSettings {
            deadline: limits.storage_timeout,
            budget: limits.search,
            in_flight: limits.searches_in_flight,
            per_caller: limits.searches_per_user,
        });
    }

    /// Closes the database's connections, if any (SQLite then folds its write-ahead log into
    /// the file). Later operations answer 503 (the database is unavailable).
    pub async fn close(&self) {
        if let Some(db) = &self.writer {
            db.close().await;
        }
        if let Some(db) = &self.database {
            db.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn store_view_puts_the_place_over_the_value() {
        let value = serde_json::json!({"namespace": "spoofed", "text": "hi"});
        let view = super::store_view(&["user1".into(), "notes".into()], "k", value.as_object());
        assert_eq!(
            serde_json::Value::Object(view),
            serde_json::json!({"namespace": ["user1", "notes"], "key": "k", "text": "hi"})
        );
    }

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
        // As PostgreSQL's `@>` below the top level: a list holds no bare scalar.
        assert!(!contains(&json!(["x", "y"]), &json!("x")));
        assert!(contains(&json!(["x", "y"]), &json!(["x"])));
    }
}
