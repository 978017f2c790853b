//! The storage operations as routes and the run queue reach them: each takes a [`Scope`] typed
//! by the event that authorized it, and names (by a capability trait of [`crate::authz`]) the
//! events whose scope opens it. The backends behind ([`Collection`], [`ThreadStore`],
//! [`ItemStore`]) take the untyped decision; nothing outside `storage` reaches them.

use std::sync::Arc;

use crate::authz::{
    CreatesAssistant, CreatesCron, CreatesThread, DeletesItem, GetsItem, ListsNamespaces, PutsItem,
    ReadsAssistant, ReadsCron, ReadsThread, RemovesAssistant, RemovesCron, RemovesThread, Scope,
    SearchesAssistants, SearchesCrons, SearchesItems, SearchesThreads, UpdatesAssistant,
    UpdatesCron, UpdatesThread, WritesThreadState,
};
use crate::model::{Assistant, Checkpoint, Cron, Item, Object, Run, Thread};

use super::guard::{check_value, check_words};
use super::{
    Collection, Column, Condition, Deadline, Guard, HistoryPage, IfExists, Inserted, ItemSearch,
    ItemStore, Modifier, Page, Query, SearchBudget, Storage, StoreError, ThreadChange, ThreadStore,
};

/// A search under the scope of the event `E`: every condition is ANDed (see [`Query`]).
#[derive(Debug, Clone)]
pub struct Search<'a, E> {
    /// The scope of the event that authorized the search.
    pub scope: &'a Scope<E>,
    /// The caller's metadata filter (containment).
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
}

impl<'a, E> Search<'a, E> {
    /// Everything the scope shows, newest first, ten at a time.
    pub fn new(scope: &'a Scope<E>) -> Self {
        Search {
            scope,
            metadata: None,
            ids: None,
            conditions: Vec::new(),
            sort: Column::CreatedAt,
            descending: true,
            limit: 10,
            offset: 0,
        }
    }

    fn query(self, deadline: Deadline) -> Query<'a> {
        Query {
            scope: self.scope.access(),
            metadata: self.metadata,
            ids: self.ids,
            conditions: self.conditions,
            sort: self.sort,
            descending: self.descending,
            limit: self.limit,
            offset: self.offset,
            deadline,
        }
    }

    /// The caller's containment values within `budget`.
    fn check(&self, budget: &SearchBudget) -> Result<(), StoreError> {
        if let Some(m) = self.metadata {
            check_value("metadata", m, budget)?;
        }
        for c in &self.conditions {
            if let Condition::ValuesContain(v) = c {
                check_value("values", v, budget)?;
            }
        }
        Ok(())
    }
}

impl Storage {
    /// Threads, with their checkpoints and runs.
    pub fn threads(&self) -> Threads<'_> {
        Threads(&*self.threads, &self.guard)
    }

    /// Assistants (with their versions).
    pub fn assistants(&self) -> Assistants<'_> {
        Assistants(&*self.assistants, &self.guard)
    }

    /// Crons.
    pub fn crons(&self) -> Crons<'_> {
        Crons(&*self.crons, &self.guard)
    }

    /// The long-term store.
    pub fn items(&self) -> Items<'_> {
        Items(&*self.items, &self.guard)
    }
}

/// The decisions of `targets`, for the backends.
fn accesses<E>(targets: &[(String, Scope<E>)]) -> Vec<(String, crate::authz::Access)> {
    targets
        .iter()
        .map(|(id, scope)| (id.clone(), scope.access().clone()))
        .collect()
}

/// Threads, with their checkpoints and runs ([`Storage::threads`]). Searches and history pages
/// are guarded reads: their caller's containment values within the complexity budget, run in
/// turn and within the storage deadline ([`crate::Limits`]).
#[derive(Clone, Copy)]
pub struct Threads<'a>(&'a dyn ThreadStore, &'a Guard);

impl Threads<'_> {
    /// Stores `thread`. An existing thread with the same id: 409 when `if_exists` is `Raise` or
    /// when `scope` hides it; otherwise it is returned as [`Inserted::Existing`].
    pub async fn insert<E: CreatesThread>(
        &self,
        thread: Thread,
        if_exists: IfExists,
        scope: &Scope<E>,
    ) -> Result<Inserted<Thread>, StoreError> {
        self.0.insert(thread, if_exists, scope.access()).await
    }

    /// The thread `id` (its row) if it exists and `scope` admits it.
    pub async fn get<E: ReadsThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
    ) -> Result<Option<Thread>, StoreError> {
        self.0.get(id, scope.access()).await
    }

    /// Applies `change` to the thread's row if it exists and `scope` admits it, atomically.
    pub async fn modify<E: UpdatesThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
        change: Modifier<'_, Thread>,
    ) -> Result<Option<Thread>, StoreError> {
        self.0.modify(id, scope.access(), change).await
    }

    /// Removes the thread with its checkpoints and runs if it exists and `scope` admits it.
    pub async fn remove<E: RemovesThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
    ) -> Result<Option<Thread>, StoreError> {
        self.0.remove(id, scope.access()).await
    }

    /// Removes each `(id, scope)` of `targets` that exists and that its scope admits; how many.
    pub async fn remove_all<E: RemovesThread>(
        &self,
        targets: &[(String, Scope<E>)],
    ) -> Result<usize, StoreError> {
        self.0.remove_all(&accesses(targets)).await
    }

    /// Keeps only the latest checkpoint of each target that its scope admits; how many.
    pub async fn keep_latest<E: RemovesThread>(
        &self,
        targets: &[(String, Scope<E>)],
    ) -> Result<usize, StoreError> {
        self.0.keep_latest(&accesses(targets)).await
    }

    /// The threads matching `search`, sorted, within its limit and offset (a guarded read).
    pub async fn search<E: SearchesThreads>(
        &self,
        search: Search<'_, E>,
    ) -> Result<Page<Thread>, StoreError> {
        search.check(&self.1.settings().budget)?;
        let access = search.scope.access();
        self.1
            .run("threads.search", access, |d| self.0.search(search.query(d)))
            .await
    }

    /// Applies `change` to the thread, its runs and its latest checkpoint, atomically, if it
    /// exists and `scope` admits it.
    pub async fn transact<E: WritesThreadState>(
        &self,
        id: &str,
        scope: &Scope<E>,
        change: ThreadChange<'_>,
    ) -> Result<Option<Thread>, StoreError> {
        self.0.transact(id, scope.access(), change).await
    }

    /// The thread and the checkpoint `checkpoint_id` (the latest when `None`).
    pub async fn checkpoint<E: ReadsThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<(Thread, Option<Arc<Checkpoint>>)>, StoreError> {
        self.0.checkpoint(id, scope.access(), checkpoint_id).await
    }

    /// A page of the thread's checkpoints, newest first (a guarded read).
    pub async fn history<E: ReadsThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
        page: HistoryPage<'_>,
    ) -> Result<Option<Vec<Arc<Checkpoint>>>, StoreError> {
        if let Some(m) = page.metadata {
            check_value("metadata", m, &self.1.settings().budget)?;
        }
        let access = scope.access();
        self.1
            .run("threads.history", access, |d| async move {
                self.0.history(id, access, page, &d).await
            })
            .await
    }

    /// The thread and its runs.
    pub async fn runs<E: ReadsThread>(
        &self,
        id: &str,
        scope: &Scope<E>,
    ) -> Result<Option<(Thread, Vec<Arc<Run>>)>, StoreError> {
        self.0.runs(id, scope.access()).await
    }

    /// Copies the thread `from` (read under `read`) as `to` (created under `create`).
    pub async fn copy<R: ReadsThread, C: CreatesThread>(
        &self,
        from: &str,
        read: &Scope<R>,
        to: Thread,
        create: &Scope<C>,
    ) -> Result<Option<Thread>, StoreError> {
        self.0.copy(from, read.access(), to, create.access()).await
    }
}

/// Declares the facade of a plain collection (assistants, crons).
macro_rules! collection {
    ($(#[$doc:meta])* $name:ident<$T:ty>: $creates:ident, $reads:ident, $updates:ident,
     $removes:ident, $searches:ident, $op:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(&'a dyn Collection<$T>, &'a Guard);

        impl $name<'_> {
            /// Stores `item`. An existing one with the same id: 409 when `if_exists` is
            /// `Raise` or when `scope` hides it; otherwise it is returned as
            /// [`Inserted::Existing`].
            pub async fn insert<E: $creates>(
                &self,
                item: $T,
                if_exists: IfExists,
                scope: &Scope<E>,
            ) -> Result<Inserted<$T>, StoreError> {
                self.0.insert(item, if_exists, scope.access()).await
            }

            /// The resource `id` if it exists and `scope` admits it.
            pub async fn get<E: $reads>(
                &self,
                id: &str,
                scope: &Scope<E>,
            ) -> Result<Option<$T>, StoreError> {
                self.0.get(id, scope.access()).await
            }

            /// Applies `change` to the resource `id` if it exists and `scope` admits it,
            /// atomically.
            pub async fn modify<E: $updates>(
                &self,
                id: &str,
                scope: &Scope<E>,
                change: Modifier<'_, $T>,
            ) -> Result<Option<$T>, StoreError> {
                self.0.modify(id, scope.access(), change).await
            }

            /// Removes the resource `id` if it exists and `scope` admits it.
            pub async fn remove<E: $removes>(
                &self,
                id: &str,
                scope: &Scope<E>,
            ) -> Result<Option<$T>, StoreError> {
                self.0.remove(id, scope.access()).await
            }

            /// The resources matching `search`, sorted, within its limit and offset (a
            /// guarded read).
            pub async fn search<E: $searches>(
                &self,
                search: Search<'_, E>,
            ) -> Result<Page<$T>, StoreError> {
                search.check(&self.1.settings().budget)?;
                let access = search.scope.access();
                self.1
                    .run($op, access, |d| self.0.search(search.query(d)))
                    .await
            }
        }
    };
}

collection!(
    /// Assistants, with their versions ([`Storage::assistants`]). Searches are guarded reads.
    Assistants<Assistant>: CreatesAssistant, ReadsAssistant, UpdatesAssistant, RemovesAssistant,
    SearchesAssistants, "assistants.search"
);
collection!(
    /// Crons ([`Storage::crons`]). Searches are guarded reads.
    Crons<Cron>: CreatesCron, ReadsCron, UpdatesCron, RemovesCron, SearchesCrons,
    "crons.search"
);

/// The long-term store ([`Storage::items`]). Searches are guarded reads.
#[derive(Clone, Copy)]
pub struct Items<'a>(&'a dyn ItemStore, &'a Guard);

impl Items<'_> {
    /// Creates or replaces an item; `None` (nothing written) when an item is there that the
    /// scope refuses.
    pub async fn put<E: PutsItem>(
        &self,
        scope: &Scope<E>,
        namespace: Vec<String>,
        key: String,
        value: Object,
    ) -> Result<Option<Item>, StoreError> {
        self.0.put(scope.access(), namespace, key, value).await
    }

    /// The item at `(namespace, key)` if it exists and `scope` admits it.
    pub async fn get<E: GetsItem>(
        &self,
        scope: &Scope<E>,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<Item>, StoreError> {
        self.0.get(scope.access(), namespace, key).await
    }

    /// Removes the item if the scope admits it: `Some(true)` removed, `Some(false)` absent,
    /// `None` present but refused (kept).
    pub async fn delete<E: DeletesItem>(
        &self,
        scope: &Scope<E>,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<bool>, StoreError> {
        self.0.delete(scope.access(), namespace, key).await
    }

    /// The items under `prefix` that match `search` and that `scope` admits (a guarded read).
    pub async fn search<E: SearchesItems>(
        &self,
        scope: &Scope<E>,
        prefix: &[String],
        search: &ItemSearch,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let budget = self.1.settings().budget;
        if let Some(f) = &search.filter {
            check_value("filter", f, &budget)?;
        }
        check_words(&search.words, &budget)?;
        let access = scope.access();
        self.1
            .run("store.search", access, |d| async move {
                self.0
                    .search(access, prefix, search, limit, offset, &d)
                    .await
            })
            .await
    }

    /// The namespaces under `prefix` (and ending with `suffix`) that hold items `scope` admits.
    pub async fn list_namespaces<E: ListsNamespaces>(
        &self,
        scope: &Scope<E>,
        prefix: &[String],
        suffix: &[String],
        max_depth: Option<usize>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        self.0
            .list_namespaces(scope.access(), prefix, suffix, max_depth, limit, offset)
            .await
    }
}
