//! Authorization: the one place a request's event meets the dispatcher, and the typed
//! [`Scope`] that storage requires.
//!
//! A route builds the event's value (`ThreadsRead::new().with_thread_id(id)`) and hands it to
//! `authorize`: the handler runs (with its deadline), the decision is counted and logged, and
//! the route gets back the value as the handler left it and a `Scope<ThreadsRead>`. Storage
//! operations take a scope *typed by the event that authorized it*, and each operation names the
//! events whose scope opens it (the capability traits below, such as [`ReadsThread`]). So a
//! route that skips authorization has no scope to pass, and a route that authorized one event
//! cannot use its scope for another event's operation: neither compiles.
//!
//! A read scope reads:
//!
//! ```
//! # use agent_server::Storage;
//! # use agent_server::authz::Scope;
//! # use auth::types::ThreadsRead;
//! async fn read(storage: &Storage, scope: &Scope<ThreadsRead>) {
//!     let _ = storage.threads().get("id", scope).await;
//! }
//! ```
//!
//! but does not delete:
//!
//! ```compile_fail
//! # use agent_server::Storage;
//! # use agent_server::authz::Scope;
//! # use auth::types::ThreadsRead;
//! async fn delete(storage: &Storage, scope: &Scope<ThreadsRead>) {
//!     let _ = storage.threads().remove("id", scope).await; // ThreadsRead: RemovesThread is not satisfied
//! }
//! ```
//!
//! while a delete scope does:
//!
//! ```
//! # use agent_server::Storage;
//! # use agent_server::authz::Scope;
//! # use auth::types::ThreadsDelete;
//! async fn delete(storage: &Storage, scope: &Scope<ThreadsDelete>) {
//!     let _ = storage.threads().remove("id", scope).await;
//! }
//! ```
//!
//! Storage takes no filter and no untyped decision, only a scope:
//!
//! ```compile_fail
//! # use agent_server::Storage;
//! async fn read(storage: &Storage, filter: Option<&auth::Filter>) {
//!     let _ = storage.threads().get("id", filter).await; // expected `&Scope<_>`
//! }
//! ```
//!
//! and no code outside this crate can make a scope (it has no public constructor; system work,
//! such as a run executing after its creation was authorized, gets a `Scope<System>` made
//! inside the crate):
//!
//! ```compile_fail
//! use agent_server::authz::{Scope, System};
//! let scope: Scope<System> = Scope::system("I would like to see everything"); // private
//! ```

use std::marker::PhantomData;

use auth::types::{
    AssistantsCreate, AssistantsDelete, AssistantsRead, AssistantsSearch, AssistantsUpdate,
    CronsCreate, CronsDelete, CronsRead, CronsSearch, CronsUpdate, RunsCreate, StoreDelete,
    StoreGet, StoreListNamespaces, StorePut, StoreSearch, ThreadsCreate, ThreadsDelete,
    ThreadsRead, ThreadsSearch, ThreadsUpdate,
};
use auth::{Action, AuthUser, Event, Filter, Resource};

use crate::AppState;
use crate::util::ApiError;

/// What an authorization decided, untyped: the handler's filter, applied by storage in the same
/// operation that finds a resource, so a hidden resource is reported as absent. Storage
/// backends take it; only a [`Scope`] hands it to them.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    filter: Option<Filter>,
    by: By,
    /// The user whose request it is (`None`: system work), whose guarded reads storage counts
    /// ([`crate::Limits::searches_per_user`]); a clone is a reference count.
    caller: Option<AuthUser>,
}

#[derive(Debug, Clone, Copy)]
enum By {
    Event(Resource, Action),
    System(&'static str),
}

impl Access {
    /// Internal work of the storage itself (the run queue), which sees every resource.
    pub(crate) fn system(why: &'static str) -> Self {
        Access {
            filter: None,
            by: By::System(why),
            caller: None,
        }
    }

    /// The identity of the user whose request it is (`None`: system work).
    pub(crate) fn caller(&self) -> Option<&str> {
        self.caller.as_ref().map(AuthUser::identity)
    }

    /// The handler's filter (`None`: the handler allowed without one, or system work).
    pub(crate) fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// Whether this is the server's own work rather than a user's authorized event.
    pub(crate) fn is_system(&self) -> bool {
        matches!(self.by, By::System(_))
    }

    /// The event that was authorized (`threads.read`), or the system work, for logs.
    pub(crate) fn describe(&self) -> String {
        match self.by {
            By::Event(r, a) => format!("{r}.{a}"),
            By::System(why) => format!("system: {why}"),
        }
    }

    /// Whether this decision lets its holder see a resource with this metadata.
    pub(crate) fn admits(&self, metadata: &crate::model::Object) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(metadata))
    }
}

/// The decision of an authorization for the event `E` (or, for `E` = [`System`], internal work
/// that no user asked for directly): what the storage operations that `E` opens require.
///
/// It has no public constructor: the crate's `authorize` makes one for an event, and the crate
/// makes `Scope<System>` for its own work.
#[derive(Debug, Clone)]
pub struct Scope<E> {
    access: Access,
    event: PhantomData<fn() -> E>,
}

/// The event of a [`Scope`] for internal work that sees every resource: the start-up creation of
/// a graph's default assistant, a run executing on its thread after its creation was authorized,
/// a cron's run, seeding. Such scopes are made only inside this crate, each naming its work.
#[derive(Debug, Clone, Copy)]
pub struct System;

impl<E> Scope<E> {
    /// The handler's filter (`None`: the handler allowed without one, or system work).
    pub fn filter(&self) -> Option<&Filter> {
        self.access.filter()
    }

    /// The decision, for the storage backends.
    pub(crate) fn access(&self) -> &Access {
        &self.access
    }

    /// The event that was authorized (`threads.read`), or the system work, for logs.
    pub(crate) fn describe(&self) -> String {
        self.access.describe()
    }
}

impl Scope<System> {
    /// Internal work that sees every resource. `why` names the work, so that each use reads as
    /// what it is and can be found by searching for `Scope::system`.
    pub(crate) fn system(why: &'static str) -> Self {
        Scope {
            access: Access::system(why),
            event: PhantomData,
        }
    }

    /// [`Scope::system`] for the server's own integration tests and benchmarks, which read
    /// storage behind the server's back (feature `test-internals`, which no server may enable:
    /// the scope sees every resource).
    #[cfg(feature = "test-internals")]
    #[doc(hidden)]
    pub fn system_for_tests(why: &'static str) -> Self {
        Scope::system(why)
    }
}

/// Declares a capability: the storage operations it opens, and the events (and [`System`])
/// whose scope holds it.
macro_rules! capability {
    ($(#[$doc:meta])* $name:ident: $($event:ty),* $(,)?) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(
            message = "a `Scope<{Self}>` does not open this storage operation",
            label = "authorized for another event",
            note = "authorize the event this operation belongs to (`agent_server::authz` lists the events of each capability)"
        )]
        pub trait $name: sealed::Sealed {}
        $(impl $name for $event {})*
        impl $name for System {}
    };
}

mod sealed {
    /// Only the event types and [`System`](super::System) hold capabilities.
    pub trait Sealed {}
    impl<E: auth::Event> Sealed for E {}
    impl Sealed for super::System {}
}

capability!(
    /// Reading a thread, its state, history and runs: `threads.read`; the events that read the
    /// thread they change (`threads.update`, `threads.create_run`); `threads.search` (a
    /// thread's runs are listed under it, as LangGraph does).
    ReadsThread: ThreadsRead, ThreadsUpdate, RunsCreate, ThreadsSearch
);
capability!(
    /// Creating a thread: `threads.create`, and `threads.create_run` (a run's thread created
    /// with it, `if_not_exists: "create"`).
    CreatesThread: ThreadsCreate, RunsCreate
);
capability!(
    /// Changing a thread's metadata: `threads.update`.
    UpdatesThread: ThreadsUpdate
);
capability!(
    /// Changing a thread's state or its runs: `threads.update` (state updates, cancelling),
    /// `threads.create_run` (the run added), `threads.delete` (a run removed).
    WritesThreadState: ThreadsUpdate, RunsCreate, ThreadsDelete
);
capability!(
    /// Deleting a thread (or pruning it): `threads.delete`.
    RemovesThread: ThreadsDelete
);
capability!(
    /// Searching and counting threads: `threads.search`.
    SearchesThreads: ThreadsSearch
);
capability!(
    /// Reading an assistant: `assistants.read`.
    ReadsAssistant: AssistantsRead
);
capability!(
    /// Creating an assistant: `assistants.create`.
    CreatesAssistant: AssistantsCreate
);
capability!(
    /// Changing an assistant (a new version, the latest version): `assistants.update`.
    UpdatesAssistant: AssistantsUpdate
);
capability!(
    /// Deleting an assistant: `assistants.delete`.
    RemovesAssistant: AssistantsDelete
);
capability!(
    /// Searching and counting assistants: `assistants.search`.
    SearchesAssistants: AssistantsSearch
);
capability!(
    /// Reading a cron: `crons.read`.
    ReadsCron: CronsRead
);
capability!(
    /// Creating a cron: `crons.create`.
    CreatesCron: CronsCreate
);
capability!(
    /// Changing a cron: `crons.update`.
    UpdatesCron: CronsUpdate
);
capability!(
    /// Deleting a cron: `crons.delete`.
    RemovesCron: CronsDelete
);
capability!(
    /// Searching and counting crons: `crons.search`.
    SearchesCrons: CronsSearch
);
capability!(
    /// Writing a store item: `store.put`.
    PutsItem: StorePut
);
capability!(
    /// Reading a store item: `store.get`.
    GetsItem: StoreGet
);
capability!(
    /// Deleting a store item: `store.delete`, and `store.put` with a `null` value (LangGraph's
    /// put of `None` deletes).
    DeletesItem: StoreDelete, StorePut
);
capability!(
    /// Searching store items: `store.search`.
    SearchesItems: StoreSearch
);
capability!(
    /// Listing store namespaces: `store.list_namespaces`.
    ListsNamespaces: StoreListNamespaces
);

/// Runs the handler for the event `value` is, and returns the value as the handler left it (its
/// metadata stamped, say) with the handler's decision as a [`Scope`] of that event, or the error
/// to answer with.
///
/// The handler has [`Limits::handler_timeout`](crate::Limits) to answer, else the answer is 504
/// naming it. It runs before the route changes anything, so a handler that fails, panics or
/// misses the deadline leaves storage as it was.
///
/// Logs (at `debug`) the user, the event, the handler that decided and the outcome, never a
/// token; counts the decision in `auth_authorizations_total{event, handler, outcome}`.
pub(crate) async fn authorize<E: Event>(
    state: &AppState,
    user: &AuthUser,
    value: E,
) -> Result<(E, Scope<E>), ApiError> {
    let (resource, action) = (E::RESOURCE, E::ACTION);
    let limit = state.limits.handler_timeout;
    // The dispatcher's typed entry point: the handler's value comes back as `E` (a handler that
    // put another event's value in its place is a 500 naming it).
    let result = tokio::time::timeout(limit, state.auth.authorize_as(user, value))
        .await
        .unwrap_or_else(|_| {
            let handler = state
                .auth
                .handler_for(resource, action)
                .map_or_else(|| "none".to_owned(), |h| h.location().to_string());
            Err(auth::HttpException::new(504).with_detail(format!(
                "the handler {handler} for {resource}.{action} did not answer within {} ms",
                limit.as_millis()
            )))
        });
    let outcome = result
        .as_ref()
        .map(|authorized| authorized.filter.is_some());
    record(state, user, resource, action, outcome);
    let (value, filter) = result.map_err(ApiError::from)?.into_parts();
    let access = Access {
        filter,
        by: By::Event(resource, action),
        caller: Some(user.clone()),
    };
    Ok((
        value,
        Scope {
            access,
            event: PhantomData,
        },
    ))
}

/// [`authorize`] for the server's benchmarks (feature `test-internals`).
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub async fn authorize_for_tests<E: Event>(
    state: &AppState,
    user: &AuthUser,
    value: E,
) -> Result<(E, Scope<E>), ApiError> {
    authorize(state, user, value).await
}

/// Counts the decision in `auth_authorizations_total{event, handler, outcome}` and logs it (at
/// `debug`); `outcome` is whether the handler returned a filter, or its refusal.
fn record(
    state: &AppState,
    user: &AuthUser,
    resource: Resource,
    action: Action,
    outcome: Result<bool, &auth::HttpException>,
) {
    let handler = state
        .auth
        .handler_for(resource, action)
        .map_or("none", |h| h.name());
    metrics::counter!(
        "auth_authorizations_total",
        "event" => event_name(resource, action),
        "handler" => handler,
        "outcome" => match outcome {
            Ok(false) => "allowed",
            Ok(true) => "filtered",
            Err(_) => "denied",
        }
    )
    .increment(1);
    // The fields are only evaluated when the event is logged.
    tracing::debug!(
        user = user.identity(),
        event = %format_args!("{resource}.{action}"),
        handler,
        outcome = %Outcome(outcome),
        "authorization"
    );
}

impl Access {
    /// A user's decision with this filter, for the unit tests of storage.
    #[cfg(test)]
    pub(crate) fn for_tests(filter: Option<Filter>) -> Self {
        Access {
            filter,
            by: By::Event(Resource::Threads, Action::Search),
            caller: None,
        }
    }

    /// A user's decision without a filter, made for `caller`, for the unit tests of storage.
    #[cfg(test)]
    pub(crate) fn for_caller(caller: &str) -> Self {
        Access {
            filter: None,
            by: By::Event(Resource::Threads, Action::Search),
            caller: Some(AuthUser::from(auth::MinimalUser::new(caller.to_owned()))),
        }
    }
}

/// `resource.action`, the `event` label of a decision.
fn event_name(resource: auth::Resource, action: auth::Action) -> String {
    format!("{}.{}", resource.as_str(), action.as_str())
}

/// How an authorization ended, as the log line says it: with or without a filter, or refused.
struct Outcome<'a>(Result<bool, &'a auth::HttpException>);

impl std::fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(false) => f.write_str("allowed"),
            Ok(true) => f.write_str("allowed with filter"),
            Err(e) => write!(f, "denied {}", e.status()),
        }
    }
}
