//! The typed value of every authorization event.
//!
//! Each (resource, action) pair has its own struct — [`ThreadsCreate`] for `threads.create`,
//! [`RunsCreate`] for `threads.create_run`, [`StorePut`] for `store.put`, … — with the fields
//! LangGraph hands its handlers. Each resource has an enum of its actions ([`ThreadsValue`],
//! [`AssistantsValue`], [`CronsValue`], [`StoreValue`]) and [`AuthValue`] holds any event.
//!
//! A handler takes the narrowest type that covers its target: `&mut ThreadsCreate` for
//! `threads.create`, `&mut ThreadsValue` for `threads` (or several threads actions), and
//! `&mut AuthValue` for a global handler or targets across resources.
//!
//! Values serialize as LangGraph's JSON (the enums as their inner struct) and are built from
//! JSON with [`AuthValue::from_json`], given the event they belong to.
//!
//! Every struct implements [`Event`]: its resource and action as constants, and the conversions
//! into [`AuthValue`] and back, with which [`Auth::authorize_as`](crate::Auth::authorize_as)
//! authorizes a struct and gives it back typed.
//!
//! # Building values
//!
//! Every struct has `new()`, with every field unset (its [`Default`]), and one builder-style
//! setter `with_<field>` per field. A setter takes the field's type, without the `Option` of an
//! optional field (it stores `Some(value)`); a `String`, a JSON [`Value`] or a `Box<T>` is taken
//! as `impl Into<…>` of it: a `&str` for a string, any JSON value (`json!(…)`, `"*"`, `true`) for
//! a `Value`, a `T` for a `Box<T>`. Every other type is taken as it is (a `Vec<String>`, a
//! [`JsonObject`], an enum of literals, an `i64`). A field no setter is called for stays unset;
//! a field set twice keeps the last value.
//!
//! ```
//! use auth::types::{AuthValue, IfExists, JsonObject, RunKwargs, RunsCreate, ThreadsCreate};
//! use serde_json::json;
//!
//! let create = ThreadsCreate::new()
//!     .with_thread_id("2f1c6a0e-8d0b-4f7e-9c53-5a4e3b1d2c10")
//!     .with_if_exists(IfExists::DoNothing)
//!     .with_metadata(JsonObject::from_iter([("owner".to_owned(), json!("user1"))]));
//! assert_eq!(create.if_exists, Some(IfExists::DoNothing));
//! assert_eq!(AuthValue::from(create).metadata().unwrap()["owner"], "user1");
//!
//! let run = RunsCreate::new()
//!     .with_assistant_id("agent")
//!     .with_kwargs(
//!         RunKwargs::new()
//!             .with_input(json!({"messages": []}))
//!             .with_stream_mode("values"),
//!     );
//! assert_eq!(run.kwargs.unwrap().stream_mode, Some(json!("values")));
//! ```
//!
//! # Growing with LangGraph
//!
//! The structs and the enums of literals are `#[non_exhaustive]`: LangGraph adds fields and
//! values, and this crate follows without a breaking release. Outside this crate a struct is
//! therefore not built with a struct expression (not even with `..Default::default()`): build it
//! with `new()` and its setters. A `match` on an enum of literals needs a `_` arm.
//!
//! ```compile_fail
//! // error[E0639]: cannot create non-exhaustive struct using struct expression
//! let create = auth::types::ThreadsCreate { thread_id: None, ..Default::default() };
//! ```
//!
//! ```
//! use auth::types::{AuthValue, ThreadsCreate, IfExists};
//! use auth::{Action, Event, Resource};
//! use serde_json::json;
//!
//! let value = AuthValue::from_json(
//!     Resource::Threads,
//!     Action::Create,
//!     json!({"thread_id": "2f1c6a0e-8d0b-4f7e-9c53-5a4e3b1d2c10", "if_exists": "do_nothing"}),
//! )?;
//! let create = ThreadsCreate::from_value_ref(&value).unwrap();
//! assert_eq!(create.if_exists, Some(IfExists::DoNothing));
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::__private::{Fits, HandlerValue};
use crate::vocab::{Action, Resource};
// `new()` and the `with_*` setters of every struct below (see "Building values" above).
use auth_macros::__Builders as Builders;

/// A JSON object, as LangGraph's `metadata`, `config`, `context` and `payload` fields are.
pub type JsonObject = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Literal sets
// ---------------------------------------------------------------------------------------------

/// What to do when the thread or assistant being created already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum IfExists {
    /// Fail with a conflict (`"raise"`).
    Raise,
    /// Keep the existing one and succeed (`"do_nothing"`).
    DoNothing,
}

/// What an update does to a thread's in-flight run (`"interrupt"` or `"rollback"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum ThreadsUpdateAction {
    /// Interrupt the run (`"interrupt"`).
    Interrupt,
    /// Roll the run back (`"rollback"`).
    Rollback,
}

/// How a new run treats a run already in flight on its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum MultitaskStrategy {
    /// Refuse the new run (`"reject"`).
    Reject,
    /// Cancel and roll back the current run, then start the new one (`"rollback"`).
    Rollback,
    /// Interrupt the current run, then start the new one (`"interrupt"`).
    Interrupt,
    /// Queue the new run after the current one (`"enqueue"`).
    Enqueue,
}

/// What a run does when its thread does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum IfNotExists {
    /// Create the thread (`"create"`).
    Create,
    /// Fail (`"reject"`).
    Reject,
}

/// The status of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum ThreadStatus {
    /// Available for work (`"idle"`).
    Idle,
    /// Running something (`"busy"`).
    Busy,
    /// Stopped at an interrupt (`"interrupted"`).
    Interrupted,
    /// Its last run failed (`"error"`).
    Error,
}

/// The status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Queued, not yet started (`"pending"`).
    Pending,
    /// Claimed by a worker and executing (`"running"`).
    Running,
    /// Failed (`"error"`).
    Error,
    /// Finished (`"success"`).
    Success,
    /// Ran out of time (`"timeout"`).
    Timeout,
    /// Interrupted (`"interrupted"`).
    Interrupted,
}

impl RunStatus {
    /// Whether the run is over: neither pending nor running.
    pub const fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

/// A status name that is not one of its enum's (`ThreadStatus` or `RunStatus` from `&str`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status {:?}", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

/// `as_str`, `Display` and `FromStr` for a status enum, by the names it serializes to.
macro_rules! status_names {
    ($ty:ident { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The status as LangGraph names it (its JSON string).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)*
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    _ => Err(UnknownStatus(s.to_owned())),
                }
            }
        }
    };
}

status_names!(ThreadStatus {
    Idle => "idle",
    Busy => "busy",
    Interrupted => "interrupted",
    Error => "error",
});

status_names!(RunStatus {
    Pending => "pending",
    Running => "running",
    Error => "error",
    Success => "success",
    Timeout => "timeout",
    Interrupted => "interrupted",
});

/// What happens to a thread when its time to live runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum TtlStrategy {
    /// The thread is deleted (`"delete"`, the only strategy).
    Delete,
}

/// A thread's time to live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadTtl {
    /// What happens when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<TtlStrategy>,
    /// Minutes from now until the thread is swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

/// How a stored item is indexed for search: `false` (not indexed) or the field paths to index.
///
/// In JSON it is `false` or a list of strings; `true` is refused. The absence of an index
/// setting (JSON `null`) is `None` in [`StorePut::index`].
///
/// ```
/// use auth::types::StoreIndex;
/// let fields: StoreIndex = serde_json::from_str(r#"["text", "title"]"#)?;
/// assert_eq!(fields, StoreIndex::Fields(vec!["text".into(), "title".into()]));
/// assert_eq!(serde_json::from_str::<StoreIndex>("false")?, StoreIndex::Disabled);
/// assert!(serde_json::from_str::<StoreIndex>("true").is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreIndex {
    /// Not indexed (`false`).
    Disabled,
    /// Index these field paths.
    Fields(Vec<String>),
}

impl Serialize for StoreIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StoreIndex::Disabled => serializer.serialize_bool(false),
            StoreIndex::Fields(fields) => fields.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StoreIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IndexVisitor;
        impl<'de> Visitor<'de> for IndexVisitor {
            type Value = StoreIndex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`false` or a list of field paths")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<StoreIndex, E> {
                if v {
                    Err(E::invalid_value(de::Unexpected::Bool(true), &self))
                } else {
                    Ok(StoreIndex::Disabled)
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoreIndex, A::Error> {
                let mut fields = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(field) = seq.next_element::<String>()? {
                    fields.push(field);
                }
                Ok(StoreIndex::Fields(fields))
            }
        }
        deserializer.deserialize_any(IndexVisitor)
    }
}

/// Reads a namespace prefix where a missing or `null` prefix is the empty namespace.
fn prefix_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Option::<Vec<String>>::deserialize(deserializer).map(Option::unwrap_or_default)
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

/// The value of `threads.create`: a thread about to be created.
///
/// What a handler writes into `metadata` is stored with the thread.
///
/// ```
/// use auth::types::{IfExists, ThreadsCreate};
/// use serde_json::json;
///
/// let mut create: ThreadsCreate = serde_json::from_value(json!({
///     "thread_id": "6e3f5d2a-1b4c-4d8e-9f00-0a1b2c3d4e5f",
///     "metadata": {"topic": "weather"},
///     "if_exists": "raise",
/// }))?;
/// assert_eq!(create.if_exists, Some(IfExists::Raise));
/// create.metadata.get_or_insert_default().insert("owner".into(), json!("user1"));
/// assert_eq!(serde_json::to_value(&create)?["metadata"]["owner"], "user1");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadsCreate {
    /// The new thread's id (a UUID string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The metadata stored with the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// What to do if a thread with this id exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_exists: Option<IfExists>,
    /// The thread's time to live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<ThreadTtl>,
}

/// The value of `threads.read`: a thread (or one of its runs) about to be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadsRead {
    /// The thread's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The run's id, when a run of the thread is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The value of `threads.update`: a thread about to change (or one of its runs cancelled).
///
/// It holds the change being sent, never the stored thread: the thread's id, the `metadata`
/// patch (merged into the stored metadata) or a cancel's `action`. So a rule such as "stamp the
/// owner when the value has none" fires on every patch that does not name an owner, and hands the
/// stored thread to whoever updates it. Return a filter (`owner == me`: a thread it hides is
/// answered 404 and left as it is), stamp the owner on create only, and remove `owner` from the
/// patch if it may not change (SECURITY.md, "What your handlers must do"). The same holds for
/// `assistants.update` and `crons.update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadsUpdate {
    /// The thread's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The metadata to merge into the thread's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// What happens to the thread's in-flight run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ThreadsUpdateAction>,
}

/// The value of `threads.delete`: a thread (or one of its runs) about to be deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadsDelete {
    /// The thread's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The run's id, when a run of the thread is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The value of `threads.search`: a search or count of threads (or of a thread's runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct ThreadsSearch {
    /// The metadata the threads must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// The state values the threads must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<JsonObject>,
    /// The status the threads must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ThreadStatus>,
    /// The most results to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many results to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// The thread ids to restrict the search to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    /// The thread whose runs are listed, when runs are searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

/// The keyword arguments of a run ([`RunsCreate::kwargs`]): the named ones LangGraph passes,
/// and every other one in [`extra`](RunKwargs::extra).
///
/// ```
/// use auth::types::RunKwargs;
/// use serde_json::json;
///
/// let kwargs: RunKwargs = serde_json::from_value(json!({
///     "input": {"messages": [{"role": "user", "content": "Hi"}]},
///     "stream_mode": ["values"],
///     "durability": "async",
/// }))?;
/// assert_eq!(kwargs.stream_mode, Some(json!(["values"])));
/// assert_eq!(kwargs.extra["durability"], "async");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct RunKwargs {
    /// The graph's input (any JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// A command to resume or steer the graph (`update`, `resume`, `goto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Value>,
    /// The run's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<JsonObject>,
    /// The run's static context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonObject>,
    /// The stream mode: a mode name or a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_mode: Option<Value>,
    /// The nodes to interrupt before: `"*"` or a list of node names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt_before: Option<Value>,
    /// The nodes to interrupt after: `"*"` or a list of node names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt_after: Option<Value>,
    /// The URL called when the run finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The feedback keys the run accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_keys: Option<Vec<String>>,
    /// Whether the thread is deleted after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary: Option<bool>,
    /// Whether subgraphs' output is streamed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgraphs: Option<bool>,
    /// Every other keyword argument, as given.
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// The value of `threads.create_run`: a run about to be created.
///
/// ```
/// use auth::types::{MultitaskStrategy, RunsCreate};
/// use serde_json::json;
///
/// let run: RunsCreate = serde_json::from_value(json!({
///     "assistant_id": "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
///     "thread_id": "6e3f5d2a-1b4c-4d8e-9f00-0a1b2c3d4e5f",
///     "multitask_strategy": "enqueue",
///     "kwargs": {"input": {"messages": []}},
/// }))?;
/// assert_eq!(run.multitask_strategy, Some(MultitaskStrategy::Enqueue));
/// assert_eq!(run.kwargs.unwrap().input, Some(json!({"messages": []})));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct RunsCreate {
    /// The assistant that runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The thread the run belongs to (none for a stateless run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The new run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run's initial status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// The metadata stored with the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// Whether to refuse the run while another is in flight on the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_insert_if_inflight: Option<bool>,
    /// How the run treats a run already in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multitask_strategy: Option<MultitaskStrategy>,
    /// What to do if the thread does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_not_exists: Option<IfNotExists>,
    /// Seconds to wait before the run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<i64>,
    /// The run's keyword arguments (input, config, stream mode, …), boxed to keep the value small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kwargs: Option<Box<RunKwargs>>,
    /// What happens to an existing run being replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ThreadsUpdateAction>,
}

// ---------------------------------------------------------------------------------------------
// Assistants
// ---------------------------------------------------------------------------------------------

/// The value of `assistants.create`: an assistant about to be created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct AssistantsCreate {
    /// The new assistant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The graph the assistant configures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_id: Option<String>,
    /// The assistant's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<JsonObject>,
    /// The assistant's static context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonObject>,
    /// The metadata stored with the assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// What to do if an assistant with this id exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_exists: Option<IfExists>,
    /// The assistant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The value of `assistants.read`: an assistant about to be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct AssistantsRead {
    /// The assistant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// Metadata given with the read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
}

/// The value of `assistants.update`: an assistant about to change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct AssistantsUpdate {
    /// The assistant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The new graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_id: Option<String>,
    /// The new configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<JsonObject>,
    /// The new static context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonObject>,
    /// The metadata to merge into the assistant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// The new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The version to make current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The value of `assistants.delete`: an assistant about to be deleted.
///
/// `assistant_id` is required in JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct AssistantsDelete {
    /// The assistant's id (required).
    pub assistant_id: String,
}

/// The value of `assistants.search`: a search or count of assistants.
///
/// Every key is always present; an absent filter is `null`.
///
/// ```
/// use auth::types::AssistantsSearch;
/// let search = AssistantsSearch::new().with_limit(10);
/// assert_eq!(
///     serde_json::to_string(&search)?,
///     r#"{"graph_id":null,"metadata":null,"limit":10,"offset":null}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct AssistantsSearch {
    /// The graph the assistants must configure.
    #[serde(default)]
    pub graph_id: Option<String>,
    /// The metadata the assistants must match.
    #[serde(default)]
    pub metadata: Option<JsonObject>,
    /// The most results to return.
    #[serde(default)]
    pub limit: Option<i64>,
    /// How many results to skip.
    #[serde(default)]
    pub offset: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Crons
// ---------------------------------------------------------------------------------------------

/// The value of `crons.create`: a scheduled run about to be created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct CronsCreate {
    /// The run each firing creates (assistant, input, config, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<JsonObject>,
    /// The cron schedule (such as `"0 9 * * 1-5"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The new cron's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_id: Option<String>,
    /// The thread the cron's runs go to (none for stateless runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The user the cron belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the cron stops firing (an ISO 8601 date-time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The value of `crons.read`: a cron about to be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct CronsRead {
    /// The cron's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_id: Option<String>,
}

/// The value of `crons.update`: a cron about to change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct CronsUpdate {
    /// The cron's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_id: Option<String>,
    /// The new run payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<JsonObject>,
    /// The new schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// The value of `crons.delete`: a cron about to be deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct CronsDelete {
    /// The cron's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_id: Option<String>,
}

/// The value of `crons.search`: a search or count of crons.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct CronsSearch {
    /// The assistant the crons must use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The thread the crons must target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The most results to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many results to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/// The value of `store.put`: an item about to be written (or, with no value, removed).
///
/// A handler may rewrite `namespace`; the namespace it leaves is the one used.
///
/// ```
/// use auth::types::StorePut;
/// use serde_json::json;
///
/// let mut put: StorePut = serde_json::from_value(json!({
///     "namespace": ["memories"], "key": "k1", "value": {"text": "likes tea"}, "index": false,
/// }))?;
/// put.namespace.insert(0, "user1".into());
/// assert_eq!(serde_json::to_value(&put)?["namespace"], json!(["user1", "memories"]));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct StorePut {
    /// The item's namespace path (required).
    pub namespace: Vec<String>,
    /// The item's key within its namespace (required).
    pub key: String,
    /// The item's data, or `None` (JSON `null`) to remove it; always serialized.
    #[serde(default)]
    pub value: Option<JsonObject>,
    /// How the item is indexed for search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<StoreIndex>,
}

/// The value of `store.get`: an item about to be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct StoreGet {
    /// The item's namespace path (required).
    pub namespace: Vec<String>,
    /// The item's key within its namespace (required).
    pub key: String,
}

/// The value of `store.search`: a search of items under a namespace prefix.
///
/// A missing or `null` prefix is the empty namespace (every item).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct StoreSearch {
    /// The namespace prefix searched under (empty: everywhere).
    #[serde(default, deserialize_with = "prefix_or_empty")]
    pub namespace: Vec<String>,
    /// Conditions on the items' values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<JsonObject>,
    /// The most results to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many results to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// A natural-language query for semantic search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The value of `store.delete`: an item about to be deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct StoreDelete {
    /// The item's namespace path (required).
    pub namespace: Vec<String>,
    /// The item's key within its namespace (required).
    pub key: String,
}

/// The value of `store.list_namespaces`: a listing of namespaces under a prefix.
///
/// LangGraph hands handlers `None` when the request has no prefix; here a missing or `null`
/// prefix is the empty namespace, so `namespace[0]`-style checks fail closed.
///
/// ```
/// use auth::types::StoreListNamespaces;
/// let list: StoreListNamespaces = serde_json::from_str(r#"{"namespace": null, "max_depth": 2}"#)?;
/// assert!(list.namespace.is_empty());
/// assert_eq!(list.max_depth, Some(2));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Builders)]
#[non_exhaustive]
pub struct StoreListNamespaces {
    /// The namespace prefix listed under (empty: everywhere).
    #[serde(default, deserialize_with = "prefix_or_empty")]
    pub namespace: Vec<String>,
    /// The suffix the namespaces must end with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Vec<String>>,
    /// The depth namespaces are truncated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<i64>,
    /// The most namespaces to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many namespaces to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Field access shared by the enums
// ---------------------------------------------------------------------------------------------

/// Access to the `metadata` and `namespace` fields of the structs that have them.
trait Fields {
    fn metadata_mut(&mut self) -> Option<&mut JsonObject> {
        None
    }
    fn metadata_ref(&self) -> Option<&JsonObject> {
        None
    }
    fn namespace_slot(&mut self) -> Option<&mut Vec<String>> {
        None
    }
    fn namespace_ref(&self) -> Option<&Vec<String>> {
        None
    }
}

macro_rules! fields {
    (metadata: $($m:ident),*; payload_metadata: $($p:ident),*; namespace: $($n:ident),*; neither: $($x:ident),*;) => {
        $(impl Fields for $m {
            fn metadata_mut(&mut self) -> Option<&mut JsonObject> {
                Some(self.metadata.get_or_insert_with(JsonObject::new))
            }
            fn metadata_ref(&self) -> Option<&JsonObject> {
                self.metadata.as_ref()
            }
        })*
        // A cron has no metadata of its own: its metadata is that of the runs it creates, in
        // its payload. Stamping it is how a policy makes a cron its creator's.
        $(impl Fields for $p {
            fn metadata_mut(&mut self) -> Option<&mut JsonObject> {
                let payload = self.payload.get_or_insert_with(JsonObject::new);
                let slot = payload
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(JsonObject::new()));
                if !slot.is_object() {
                    *slot = Value::Object(JsonObject::new());
                }
                slot.as_object_mut()
            }
            fn metadata_ref(&self) -> Option<&JsonObject> {
                self.payload.as_ref()?.get("metadata")?.as_object()
            }
        })*
        $(impl Fields for $n {
            fn namespace_slot(&mut self) -> Option<&mut Vec<String>> {
                Some(&mut self.namespace)
            }
            fn namespace_ref(&self) -> Option<&Vec<String>> {
                Some(&self.namespace)
            }
        })*
        $(impl Fields for $x {})*
    };
}

fields! {
    metadata: ThreadsCreate, ThreadsUpdate, ThreadsSearch, RunsCreate,
        AssistantsCreate, AssistantsRead, AssistantsUpdate, AssistantsSearch;
    payload_metadata: CronsCreate, CronsUpdate;
    namespace: StorePut, StoreGet, StoreSearch, StoreDelete, StoreListNamespaces;
    neither: ThreadsRead, ThreadsDelete, AssistantsDelete, CronsRead, CronsDelete, CronsSearch;
}

// ---------------------------------------------------------------------------------------------
// The struct of one event, as a trait
// ---------------------------------------------------------------------------------------------

mod sealed {
    /// Keeps [`Event`](super::Event) to the structs of this module.
    pub trait Sealed {}
}

/// The value struct of one authorization event: [`ThreadsCreate`] for `threads.create`,
/// [`StorePut`] for `store.put`, … — one implementation per (resource, action).
///
/// It names the event of a struct at compile time ([`RESOURCE`](Event::RESOURCE),
/// [`ACTION`](Event::ACTION)) and converts it into an [`AuthValue`] and back, so that code
/// generic over events — a server's route helper, [`Auth::authorize_as`](crate::Auth::authorize_as)
/// — keeps the typed value. The trait is sealed: only this module's structs implement it, and
/// it may gain methods without a breaking release.
///
/// ```
/// use auth::Event;
/// use auth::types::{AuthValue, StoreGet, ThreadsCreate};
/// use auth::{Action, Resource};
///
/// /// The event's name, as LangGraph spells it.
/// fn event_name<E: Event>() -> String {
///     format!("{}.{}", E::RESOURCE, E::ACTION)
/// }
/// assert_eq!(event_name::<ThreadsCreate>(), "threads.create");
/// assert_eq!((StoreGet::RESOURCE, StoreGet::ACTION), (Resource::Store, Action::Get));
///
/// let value: AuthValue = ThreadsCreate::new().with_thread_id("t1").into_value();
/// assert_eq!(ThreadsCreate::from_value_ref(&value).unwrap().thread_id.as_deref(), Some("t1"));
/// // The value of another event is given back unchanged.
/// let value = StoreGet::from_value(value).unwrap_err();
/// let create = ThreadsCreate::from_value(value).unwrap();
/// assert_eq!(create.thread_id.as_deref(), Some("t1"));
/// ```
///
/// Outside this crate it cannot be implemented:
///
/// ```compile_fail,E0277
/// #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Mine;
/// impl From<Mine> for auth::AuthValue {
///     fn from(_: Mine) -> Self { unimplemented!() }
/// }
/// impl auth::Event for Mine {
///     const RESOURCE: auth::Resource = auth::Resource::Threads;
///     const ACTION: auth::Action = auth::Action::Create;
///     fn into_value(self) -> auth::AuthValue { unimplemented!() }
///     fn from_value(v: auth::AuthValue) -> Result<Self, auth::AuthValue> { Err(v) }
///     fn from_value_ref(_: &auth::AuthValue) -> Option<&Self> { None }
///     fn from_value_mut(_: &mut auth::AuthValue) -> Option<&mut Self> { None }
/// }
/// ```
pub trait Event:
    sealed::Sealed
    + Into<AuthValue>
    + fmt::Debug
    + Clone
    + Default
    + PartialEq
    + Serialize
    + de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The event's resource (also an inherent constant of each struct, such as
    /// `ThreadsCreate::RESOURCE`).
    const RESOURCE: Resource;
    /// The event's action (also an inherent constant of each struct, such as
    /// `ThreadsCreate::ACTION`).
    const ACTION: Action;

    /// The value as an [`AuthValue`] (what `AuthValue::from(self)` gives).
    fn into_value(self) -> AuthValue;

    /// The struct inside `value`, or `value` back unchanged when it holds another event.
    #[allow(
        clippy::result_large_err,
        reason = "the value is given back whole; `Ok` is as large as `Err`"
    )]
    fn from_value(value: AuthValue) -> Result<Self, AuthValue>;

    /// The struct inside `value`, if it holds this event.
    fn from_value_ref(value: &AuthValue) -> Option<&Self>;

    /// The struct inside `value`, mutably, if it holds this event.
    fn from_value_mut(value: &mut AuthValue) -> Option<&mut Self>;
}

// ---------------------------------------------------------------------------------------------
// The event table: enums, conversions, projections and markers
// ---------------------------------------------------------------------------------------------

/// Defines the value enums and `AuthValue` with their conversions, projections and fit markers,
/// from the vocabulary table of `auth-macros` (see `crate::vocab`): one struct per event.
macro_rules! event_table {
    (
        resources: [$({
            $Res:ident, $res_name:literal, $res_doc:literal, $Enum:ident,
            [$({ $Act:ident, $name:literal, $Struct:ident, $idx:literal }),*]
        }),*],
        actions: [$($action:tt),*],
        event_count: $count:literal,
    ) => {
        $(
            #[doc = concat!("The value of a `", $res_name, "` event.")]
            #[derive(Debug, Clone, PartialEq, Serialize)]
            #[serde(untagged)]
            pub enum $Enum {
                $(
                    #[doc = concat!("`", $name, "`.")]
                    $Act($Struct),
                )*
            }

            impl $Enum {
                /// The resource: the same for every variant.
                pub const fn resource(&self) -> Resource {
                    Resource::$Res
                }

                /// The action this variant is the value of.
                pub const fn action(&self) -> Action {
                    match self {
                        $( $Enum::$Act(_) => Action::$Act, )*
                    }
                }

                /// The `metadata` object, for variants that have one, creating it empty if it
                /// was absent (Python's `value.setdefault("metadata", {})`); `None` for
                /// variants without metadata.
                pub fn metadata_mut(&mut self) -> Option<&mut JsonObject> {
                    match self {
                        $( $Enum::$Act(v) => Fields::metadata_mut(v), )*
                    }
                }

                /// The `metadata` object, if the variant has one and it is present.
                pub fn metadata(&self) -> Option<&JsonObject> {
                    match self {
                        $( $Enum::$Act(v) => Fields::metadata_ref(v), )*
                    }
                }

                /// The store namespace (or namespace prefix), for store variants.
                pub fn namespace_mut(&mut self) -> Option<&mut Vec<String>> {
                    match self {
                        $( $Enum::$Act(v) => Fields::namespace_slot(v), )*
                    }
                }

                /// The store namespace (or namespace prefix), for store variants.
                pub fn namespace(&self) -> Option<&[String]> {
                    match self {
                        $( $Enum::$Act(v) => Fields::namespace_ref(v).map(Vec::as_slice), )*
                    }
                }
            }

            impl From<$Enum> for AuthValue {
                fn from(v: $Enum) -> Self {
                    AuthValue::$Res(v)
                }
            }

            impl HandlerValue for $Enum {
                fn project_ref(v: &AuthValue) -> Option<&Self> {
                    match v {
                        AuthValue::$Res(inner) => Some(inner),
                        _ => None,
                    }
                }
                fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
                    match v {
                        AuthValue::$Res(inner) => Some(inner),
                        _ => None,
                    }
                }
            }

            impl Fits<$Enum> for $Enum {}
            impl Fits<$Enum> for AuthValue {}

            $(
                impl $Struct {
                    #[doc = concat!("The resource of `", $name, "` (the same as [`Event::RESOURCE`]).")]
                    pub const RESOURCE: Resource = Resource::$Res;
                    #[doc = concat!("The action of `", $name, "` (the same as [`Event::ACTION`]).")]
                    pub const ACTION: Action = Action::$Act;
                }

                impl From<$Struct> for $Enum {
                    fn from(v: $Struct) -> Self {
                        $Enum::$Act(v)
                    }
                }

                impl From<$Struct> for AuthValue {
                    #[inline]
                    fn from(v: $Struct) -> Self {
                        <$Struct as Event>::into_value(v)
                    }
                }

                impl sealed::Sealed for $Struct {}

                impl Event for $Struct {
                    const RESOURCE: Resource = Resource::$Res;
                    const ACTION: Action = Action::$Act;

                    #[inline]
                    fn into_value(self) -> AuthValue {
                        AuthValue::$Res($Enum::$Act(self))
                    }
                    #[inline]
                    fn from_value(value: AuthValue) -> Result<Self, AuthValue> {
                        match value {
                            AuthValue::$Res($Enum::$Act(inner)) => Ok(inner),
                            other => Err(other),
                        }
                    }
                    #[inline]
                    fn from_value_ref(value: &AuthValue) -> Option<&Self> {
                        match value {
                            AuthValue::$Res($Enum::$Act(inner)) => Some(inner),
                            _ => None,
                        }
                    }
                    #[inline]
                    fn from_value_mut(value: &mut AuthValue) -> Option<&mut Self> {
                        match value {
                            AuthValue::$Res($Enum::$Act(inner)) => Some(inner),
                            _ => None,
                        }
                    }
                }

                impl HandlerValue for $Struct {
                    #[inline]
                    fn project_ref(v: &AuthValue) -> Option<&Self> {
                        <Self as Event>::from_value_ref(v)
                    }
                    #[inline]
                    fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
                        <Self as Event>::from_value_mut(v)
                    }
                }

                impl Fits<$Struct> for $Struct {}
                impl Fits<$Struct> for $Enum {}
                impl Fits<$Struct> for AuthValue {}
            )*
        )*

        /// The value of any authorization event: one variant per resource.
        ///
        /// Serializes as the inner struct's JSON; built from JSON with
        /// [`AuthValue::from_json`], given the event.
        ///
        /// ```
        /// use auth::types::{AuthValue, ThreadsCreate};
        /// use auth::{Action, Resource};
        /// use serde_json::json;
        ///
        /// let mut value = AuthValue::from(ThreadsCreate::default());
        /// assert_eq!((value.resource(), value.action()), (Resource::Threads, Action::Create));
        /// value.metadata_mut().unwrap().insert("owner".into(), json!("user1"));
        /// assert_eq!(serde_json::to_value(&value)?, json!({"metadata": {"owner": "user1"}}));
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum AuthValue {
            $(
                #[doc = concat!("An event of `", stringify!($Res), "`.")]
                $Res($Enum),
            )*
        }

        impl AuthValue {
            /// Reads the value of the event `resource.action` from its JSON.
            ///
            /// Unknown fields are ignored (except in [`RunKwargs::extra`]). Fails on a pair that
            /// is not an event (such as `threads.put`), a field of the wrong type or an unknown
            /// literal.
            ///
            /// ```
            /// use auth::types::AuthValue;
            /// use auth::{Action, Resource};
            /// use serde_json::json;
            ///
            /// let v = AuthValue::from_json(Resource::Store, Action::Get,
            ///     json!({"namespace": ["user1", "notes"], "key": "k1"}))?;
            /// assert_eq!(v.namespace().unwrap(), &["user1", "notes"]);
            /// assert!(AuthValue::from_json(Resource::Threads, Action::Put, json!({})).is_err());
            /// assert!(AuthValue::from_json(Resource::Threads, Action::Create,
            ///     json!({"if_exists": "replace"})).is_err());
            /// # Ok::<(), serde_json::Error>(())
            /// ```
            pub fn from_json(
                resource: Resource,
                action: Action,
                json: Value,
            ) -> Result<AuthValue, serde_json::Error> {
                match (resource, action) {
                    $($(
                        (Resource::$Res, Action::$Act) => {
                            serde_json::from_value::<$Struct>(json).map(AuthValue::from)
                        }
                    )*)*
                    _ => Err(<serde_json::Error as de::Error>::custom(format_args!(
                        "`{resource}.{action}` is not an authorization event"
                    ))),
                }
            }

            /// The resource of the event.
            pub const fn resource(&self) -> Resource {
                match self {
                    $( AuthValue::$Res(_) => Resource::$Res, )*
                }
            }

            /// The action of the event.
            pub const fn action(&self) -> Action {
                match self {
                    $( AuthValue::$Res(v) => v.action(), )*
                }
            }

            /// The event's dense index, equal to `event_index(self.resource(), self.action())`.
            pub(crate) const fn event_index(&self) -> usize {
                match self {
                    $( AuthValue::$Res(v) => match v { $( $Enum::$Act(_) => $idx, )* }, )*
                }
            }

            /// The `metadata` object, for events that have one, creating it empty if it was
            /// absent (Python's `value.setdefault("metadata", {})`); `None` for the others.
            pub fn metadata_mut(&mut self) -> Option<&mut JsonObject> {
                match self {
                    $( AuthValue::$Res(v) => v.metadata_mut(), )*
                }
            }

            /// The `metadata` object, if the event has one and it is present.
            pub fn metadata(&self) -> Option<&JsonObject> {
                match self {
                    $( AuthValue::$Res(v) => v.metadata(), )*
                }
            }

            /// The store namespace (or namespace prefix), for store events.
            pub fn namespace_mut(&mut self) -> Option<&mut Vec<String>> {
                match self {
                    $( AuthValue::$Res(v) => v.namespace_mut(), )*
                }
            }

            /// The store namespace (or namespace prefix), for store events.
            pub fn namespace(&self) -> Option<&[String]> {
                match self {
                    $( AuthValue::$Res(v) => v.namespace(), )*
                }
            }
        }
    };
}

impl HandlerValue for AuthValue {
    fn project_ref(v: &AuthValue) -> Option<&Self> {
        Some(v)
    }
    fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
        Some(v)
    }
}

impl Fits<AuthValue> for AuthValue {}

auth_macros::__vocabulary!(event_table);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    const T: &str = "6e3f5d2a-1b4c-4d8e-9f00-0a1b2c3d4e5f";

    /// Each status's name is its JSON string, and parses back; other names are refused.
    #[test]
    fn status_names_are_their_json() {
        use std::str::FromStr;
        let runs = [
            RunStatus::Pending,
            RunStatus::Running,
            RunStatus::Error,
            RunStatus::Success,
            RunStatus::Timeout,
            RunStatus::Interrupted,
        ];
        for status in runs {
            assert_eq!(json!(status), json!(status.as_str()));
            assert_eq!(RunStatus::from_str(status.as_str()), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        let finished: Vec<_> = runs.into_iter().filter(|s| s.is_finished()).collect();
        assert_eq!(finished.len(), 4);
        let threads = [
            ThreadStatus::Idle,
            ThreadStatus::Busy,
            ThreadStatus::Interrupted,
            ThreadStatus::Error,
        ];
        for status in threads {
            assert_eq!(json!(status), json!(status.as_str()));
            assert_eq!(ThreadStatus::from_str(status.as_str()), Ok(status));
        }
        assert_eq!(
            RunStatus::from_str("Pending"),
            Err(UnknownStatus("Pending".into()))
        );
        assert!(ThreadStatus::from_str("running").is_err());
    }
    const A: &str = "fe096781-5601-53d2-b2f6-0d3403f7e9ca";
    const R: &str = "1ef4a9b8-0c7d-6e5f-8a9b-0c1d2e3f4a5b";
    const C: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

    /// Reads `json` as `S`, writes it back and checks the JSON is unchanged; returns the value.
    fn round_trip<S: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(json: Value) -> S {
        let v: S = serde_json::from_value(json.clone()).expect("valid JSON for the type");
        assert_eq!(serde_json::to_value(&v).unwrap(), json);
        let again: S = serde_json::from_value(serde_json::to_value(&v).unwrap()).unwrap();
        assert_eq!(again, v);
        v
    }

    /// A realistic JSON value for each event, in `events()` order.
    fn sample(resource: Resource, action: Action) -> Value {
        use Action::*;
        match (resource, action) {
            (Resource::Threads, Create) => json!({
                "thread_id": T, "metadata": {"topic": "weather"}, "if_exists": "do_nothing",
                "ttl": {"strategy": "delete", "ttl": 60}
            }),
            (Resource::Threads, Read) => json!({"thread_id": T, "run_id": R}),
            (Resource::Threads, Update) => {
                json!({"thread_id": T, "metadata": {"title": "x"}, "action": "interrupt"})
            }
            (Resource::Threads, Delete) => json!({"thread_id": T}),
            (Resource::Threads, Search) => json!({
                "metadata": {"owner": "user1"}, "values": {"done": false}, "status": "idle",
                "limit": 10, "offset": 0, "ids": [T], "thread_id": T
            }),
            (Resource::Threads, CreateRun) => json!({
                "assistant_id": A, "thread_id": T, "run_id": R, "status": "pending",
                "metadata": {}, "prevent_insert_if_inflight": true,
                "multitask_strategy": "reject", "if_not_exists": "create", "after_seconds": 0,
                "kwargs": {
                    "input": {"messages": [{"role": "user", "content": "Hi"}]},
                    "config": {"configurable": {"model": "x"}}, "stream_mode": ["values"],
                    "interrupt_before": "*", "webhook": "http://127.0.0.1:9/hook",
                    "feedback_keys": ["score"], "temporary": false, "subgraphs": true,
                    "durability": "async", "checkpoint_id": null
                },
                "action": "rollback"
            }),
            (Resource::Assistants, Create) => json!({
                "assistant_id": A, "graph_id": "agent", "config": {}, "context": {"k": 1},
                "metadata": {"team": "a"}, "if_exists": "raise", "name": "Agent"
            }),
            (Resource::Assistants, Read) => json!({"assistant_id": A, "metadata": {}}),
            (Resource::Assistants, Update) => json!({
                "assistant_id": A, "graph_id": "agent", "metadata": {"v": 2}, "name": "New",
                "version": 3
            }),
            (Resource::Assistants, Delete) => json!({"assistant_id": A}),
            (Resource::Assistants, Search) => {
                json!({"graph_id": "agent", "metadata": null, "limit": 10, "offset": 0})
            }
            (Resource::Crons, Create) => json!({
                "payload": {"assistant_id": A, "input": {}}, "schedule": "0 9 * * 1-5",
                "cron_id": C, "thread_id": T, "user_id": "user1",
                "end_time": "2026-12-31T00:00:00+00:00"
            }),
            (Resource::Crons, Read) => json!({"cron_id": C}),
            (Resource::Crons, Update) => {
                json!({"cron_id": C, "payload": {"input": {}}, "schedule": "*/5 * * * *"})
            }
            (Resource::Crons, Delete) => json!({"cron_id": C}),
            (Resource::Crons, Search) => {
                json!({"assistant_id": A, "thread_id": T, "limit": 5, "offset": 5})
            }
            (Resource::Store, Put) => json!({
                "namespace": ["user1", "memories"], "key": "k1", "value": {"text": "tea"},
                "index": ["text"]
            }),
            (Resource::Store, Get) => json!({"namespace": ["user1"], "key": "k1"}),
            (Resource::Store, Search) => json!({
                "namespace": ["user1"], "filter": {"kind": "note"}, "limit": 10, "offset": 0,
                "query": "tea"
            }),
            (Resource::Store, Delete) => json!({"namespace": ["user1"], "key": "k1"}),
            (Resource::Store, ListNamespaces) => json!({
                "namespace": ["user1"], "suffix": ["notes"], "max_depth": 3, "limit": 100,
                "offset": 0
            }),
            _ => unreachable!("not an event"),
        }
    }

    fn obj(json: Value) -> JsonObject {
        match json {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn setters_build_the_sample_of_every_event() {
        let kwargs = RunKwargs::new()
            .with_input(json!({"messages": [{"role": "user", "content": "Hi"}]}))
            .with_config(obj(json!({"configurable": {"model": "x"}})))
            .with_stream_mode(json!(["values"]))
            .with_interrupt_before("*")
            .with_webhook("http://127.0.0.1:9/hook")
            .with_feedback_keys(vec!["score".into()])
            .with_temporary(false)
            .with_subgraphs(true)
            .with_extra(obj(json!({"durability": "async", "checkpoint_id": null})));
        let built: Vec<AuthValue> = vec![
            ThreadsCreate::new()
                .with_thread_id(T)
                .with_metadata(obj(json!({"topic": "weather"})))
                .with_if_exists(IfExists::DoNothing)
                .with_ttl(
                    ThreadTtl::new()
                        .with_strategy(TtlStrategy::Delete)
                        .with_ttl(60),
                )
                .into(),
            ThreadsRead::new().with_thread_id(T).with_run_id(R).into(),
            ThreadsUpdate::new()
                .with_thread_id(T)
                .with_metadata(obj(json!({"title": "x"})))
                .with_action(ThreadsUpdateAction::Interrupt)
                .into(),
            ThreadsDelete::new().with_thread_id(T).into(),
            ThreadsSearch::new()
                .with_metadata(obj(json!({"owner": "user1"})))
                .with_values(obj(json!({"done": false})))
                .with_status(ThreadStatus::Idle)
                .with_limit(10)
                .with_offset(0)
                .with_ids(vec![T.into()])
                .with_thread_id(T)
                .into(),
            RunsCreate::new()
                .with_assistant_id(A)
                .with_thread_id(T)
                .with_run_id(R)
                .with_status(RunStatus::Pending)
                .with_metadata(JsonObject::new())
                .with_prevent_insert_if_inflight(true)
                .with_multitask_strategy(MultitaskStrategy::Reject)
                .with_if_not_exists(IfNotExists::Create)
                .with_after_seconds(0)
                .with_kwargs(kwargs)
                .with_action(ThreadsUpdateAction::Rollback)
                .into(),
            AssistantsCreate::new()
                .with_assistant_id(A)
                .with_graph_id("agent")
                .with_config(JsonObject::new())
                .with_context(obj(json!({"k": 1})))
                .with_metadata(obj(json!({"team": "a"})))
                .with_if_exists(IfExists::Raise)
                .with_name("Agent")
                .into(),
            AssistantsRead::new()
                .with_assistant_id(A)
                .with_metadata(JsonObject::new())
                .into(),
            AssistantsUpdate::new()
                .with_assistant_id(A)
                .with_graph_id("agent")
                .with_metadata(obj(json!({"v": 2})))
                .with_name("New")
                .with_version(3)
                .into(),
            AssistantsDelete::new().with_assistant_id(A).into(),
            AssistantsSearch::new()
                .with_graph_id("agent")
                .with_limit(10)
                .with_offset(0)
                .into(),
            CronsCreate::new()
                .with_payload(obj(json!({"assistant_id": A, "input": {}})))
                .with_schedule("0 9 * * 1-5")
                .with_cron_id(C)
                .with_thread_id(T)
                .with_user_id("user1")
                .with_end_time("2026-12-31T00:00:00+00:00")
                .into(),
            CronsRead::new().with_cron_id(C).into(),
            CronsUpdate::new()
                .with_cron_id(C)
                .with_payload(obj(json!({"input": {}})))
                .with_schedule("*/5 * * * *")
                .into(),
            CronsDelete::new().with_cron_id(C).into(),
            CronsSearch::new()
                .with_assistant_id(A)
                .with_thread_id(T)
                .with_limit(5)
                .with_offset(5)
                .into(),
            StorePut::new()
                .with_namespace(vec!["user1".into(), "memories".into()])
                .with_key("k1")
                .with_value(obj(json!({"text": "tea"})))
                .with_index(StoreIndex::Fields(vec!["text".into()]))
                .into(),
            StoreGet::new()
                .with_namespace(vec!["user1".into()])
                .with_key("k1")
                .into(),
            StoreSearch::new()
                .with_namespace(vec!["user1".into()])
                .with_filter(obj(json!({"kind": "note"})))
                .with_limit(10)
                .with_offset(0)
                .with_query("tea")
                .into(),
            StoreDelete::new()
                .with_namespace(vec!["user1".into()])
                .with_key("k1")
                .into(),
            StoreListNamespaces::new()
                .with_namespace(vec!["user1".into()])
                .with_suffix(vec!["notes".into()])
                .with_max_depth(3)
                .with_limit(100)
                .with_offset(0)
                .into(),
        ];
        assert_eq!(built.len(), crate::vocab::EVENT_COUNT);
        for ((r, a), value) in crate::events().zip(built) {
            let expected = AuthValue::from_json(r, a, sample(r, a)).unwrap();
            assert_eq!(value, expected, "{r}.{a}");
        }
    }

    #[test]
    fn new_is_default_and_setters_replace() {
        assert_eq!(ThreadsCreate::new(), ThreadsCreate::default());
        assert_eq!(StorePut::new(), StorePut::default());
        assert_eq!(RunKwargs::new(), RunKwargs::default());
        // The last call wins; an owned `String` and a `Box` are taken as well.
        let put = StorePut::new().with_key("a").with_key(String::from("b"));
        assert_eq!(put.key, "b");
        let run = RunsCreate::new().with_kwargs(Box::new(RunKwargs::new().with_temporary(true)));
        assert_eq!(run.kwargs.unwrap().temporary, Some(true));
        // A setter writes its own field only.
        let read = ThreadsRead::new().with_run_id(R);
        assert_eq!((read.thread_id, read.run_id.as_deref()), (None, Some(R)));
    }

    #[test]
    fn every_struct_round_trips() {
        let c: ThreadsCreate = round_trip(sample(Resource::Threads, Action::Create));
        assert_eq!(c.if_exists, Some(IfExists::DoNothing));
        assert_eq!(
            c.ttl,
            Some(ThreadTtl {
                strategy: Some(TtlStrategy::Delete),
                ttl: Some(60)
            })
        );
        let r: ThreadsRead = round_trip(sample(Resource::Threads, Action::Read));
        assert_eq!(r.run_id.as_deref(), Some(R));
        let u: ThreadsUpdate = round_trip(sample(Resource::Threads, Action::Update));
        assert_eq!(u.action, Some(ThreadsUpdateAction::Interrupt));
        let d: ThreadsDelete = round_trip(sample(Resource::Threads, Action::Delete));
        assert_eq!(d.run_id, None);
        let s: ThreadsSearch = round_trip(sample(Resource::Threads, Action::Search));
        assert_eq!(s.status, Some(ThreadStatus::Idle));
        assert_eq!(s.ids, Some(vec![T.to_owned()]));
        let run: RunsCreate = round_trip(sample(Resource::Threads, Action::CreateRun));
        assert_eq!(run.status, Some(RunStatus::Pending));
        assert_eq!(run.multitask_strategy, Some(MultitaskStrategy::Reject));
        assert_eq!(run.if_not_exists, Some(IfNotExists::Create));
        assert_eq!(run.action, Some(ThreadsUpdateAction::Rollback));
        let kwargs = run.kwargs.unwrap();
        assert_eq!(kwargs.interrupt_before, Some(json!("*")));
        assert_eq!(kwargs.feedback_keys, Some(vec!["score".to_owned()]));
        assert_eq!(kwargs.subgraphs, Some(true));
        assert_eq!(kwargs.extra.len(), 2);
        assert_eq!(kwargs.extra["durability"], "async");
        assert_eq!(kwargs.extra["checkpoint_id"], Value::Null);
        assert!(!kwargs.extra.contains_key("input"));

        let ac: AssistantsCreate = round_trip(sample(Resource::Assistants, Action::Create));
        assert_eq!(ac.graph_id.as_deref(), Some("agent"));
        assert_eq!(ac.if_exists, Some(IfExists::Raise));
        let ar: AssistantsRead = round_trip(sample(Resource::Assistants, Action::Read));
        assert_eq!(ar.metadata, Some(JsonObject::new()));
        let au: AssistantsUpdate = round_trip(sample(Resource::Assistants, Action::Update));
        assert_eq!(au.version, Some(3));
        let ad: AssistantsDelete = round_trip(sample(Resource::Assistants, Action::Delete));
        assert_eq!(ad.assistant_id, A);
        let asr: AssistantsSearch = round_trip(sample(Resource::Assistants, Action::Search));
        assert_eq!(asr.metadata, None);

        let cc: CronsCreate = round_trip(sample(Resource::Crons, Action::Create));
        assert_eq!(cc.schedule.as_deref(), Some("0 9 * * 1-5"));
        let cr: CronsRead = round_trip(sample(Resource::Crons, Action::Read));
        assert_eq!(cr.cron_id.as_deref(), Some(C));
        let cu: CronsUpdate = round_trip(sample(Resource::Crons, Action::Update));
        assert!(cu.payload.is_some());
        let cd: CronsDelete = round_trip(sample(Resource::Crons, Action::Delete));
        assert_eq!(cd.cron_id.as_deref(), Some(C));
        let cs: CronsSearch = round_trip(sample(Resource::Crons, Action::Search));
        assert_eq!(cs.offset, Some(5));

        let p: StorePut = round_trip(sample(Resource::Store, Action::Put));
        assert_eq!(p.index, Some(StoreIndex::Fields(vec!["text".into()])));
        let g: StoreGet = round_trip(sample(Resource::Store, Action::Get));
        assert_eq!(g.namespace, ["user1"]);
        let ss: StoreSearch = round_trip(sample(Resource::Store, Action::Search));
        assert_eq!(ss.query.as_deref(), Some("tea"));
        let sd: StoreDelete = round_trip(sample(Resource::Store, Action::Delete));
        assert_eq!(sd.key, "k1");
        let ln: StoreListNamespaces = round_trip(sample(Resource::Store, Action::ListNamespaces));
        assert_eq!(ln.suffix, Some(vec!["notes".to_owned()]));
    }

    #[test]
    fn optional_and_required_fields() {
        // Everything optional: `{}` reads and writes back as `{}`.
        let empty: ThreadsCreate = round_trip(json!({}));
        assert_eq!(empty, ThreadsCreate::default());
        let _: RunsCreate = round_trip(json!({}));
        let _: CronsCreate = round_trip(json!({}));
        // Unknown fields are ignored.
        let c: ThreadsRead = serde_json::from_value(json!({"thread_id": T, "extra": 1})).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"thread_id": T}));
        // Required fields.
        assert!(serde_json::from_value::<AssistantsDelete>(json!({})).is_err());
        assert!(serde_json::from_value::<StoreGet>(json!({"namespace": ["a"]})).is_err());
        assert!(serde_json::from_value::<StorePut>(json!({"key": "k"})).is_err());
        // Required-but-nullable keys are always written.
        let s: AssistantsSearch = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"graph_id": null, "metadata": null, "limit": null, "offset": null})
        );
        // A store put's value is always written, null meaning removal; `index: false`.
        let p: StorePut =
            round_trip(json!({"namespace": ["u"], "key": "k", "value": null, "index": false}));
        assert_eq!(p.value, None);
        assert_eq!(p.index, Some(StoreIndex::Disabled));
        let p: StorePut = serde_json::from_value(json!({"namespace": [], "key": "k"})).unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"namespace": [], "key": "k", "value": null})
        );
        // A missing or null prefix is the empty namespace.
        for json in [json!({}), json!({"namespace": null})] {
            let l: StoreListNamespaces = serde_json::from_value(json.clone()).unwrap();
            assert!(l.namespace.is_empty());
            assert_eq!(serde_json::to_value(&l).unwrap(), json!({"namespace": []}));
            let s: StoreSearch = serde_json::from_value(json).unwrap();
            assert!(s.namespace.is_empty());
        }
    }

    #[test]
    fn bad_literals_and_types_are_errors() {
        let bad = [
            (
                Resource::Threads,
                Action::Create,
                json!({"if_exists": "replace"}),
            ),
            (
                Resource::Threads,
                Action::Create,
                json!({"if_exists": "DoNothing"}),
            ),
            (
                Resource::Threads,
                Action::Create,
                json!({"ttl": {"strategy": "keep"}}),
            ),
            (
                Resource::Threads,
                Action::Update,
                json!({"action": "cancel"}),
            ),
            (Resource::Threads, Action::Search, json!({"status": "done"})),
            (
                Resource::Threads,
                Action::CreateRun,
                json!({"multitask_strategy": "queue"}),
            ),
            (
                Resource::Threads,
                Action::CreateRun,
                json!({"if_not_exists": "raise"}),
            ),
            (
                Resource::Threads,
                Action::CreateRun,
                json!({"status": "finished"}),
            ),
            (
                Resource::Threads,
                Action::CreateRun,
                json!({"kwargs": {"temporary": "yes"}}),
            ),
            (
                Resource::Threads,
                Action::Create,
                json!({"metadata": ["not", "an", "object"]}),
            ),
            (Resource::Threads, Action::Create, json!({"thread_id": 7})),
            (
                Resource::Assistants,
                Action::Create,
                json!({"if_exists": "ignore"}),
            ),
            (
                Resource::Store,
                Action::Put,
                json!({"namespace": ["u"], "key": "k", "index": true}),
            ),
            (
                Resource::Store,
                Action::Get,
                json!({"namespace": "u", "key": "k"}),
            ),
            (Resource::Store, Action::Search, json!({"namespace": [1]})),
        ];
        for (r, a, json) in bad {
            let err = AuthValue::from_json(r, a, json.clone());
            assert!(err.is_err(), "{r}.{a} accepted {json}");
        }
    }

    #[test]
    fn from_json_builds_every_event_and_rejects_other_pairs() {
        for (i, (r, a)) in crate::events().enumerate() {
            let json = sample(r, a);
            let value = AuthValue::from_json(r, a, json.clone()).unwrap();
            assert_eq!((value.resource(), value.action()), (r, a));
            assert_eq!(value.event_index(), i);
            assert_eq!(Some(value.event_index()), crate::vocab::event_index(r, a));
            // The enums serialize as their inner struct.
            assert_eq!(serde_json::to_value(&value).unwrap(), json);
            // An empty object is enough for all but the events with required fields.
            let needs_fields = matches!(
                (r, a),
                (Resource::Assistants, Action::Delete)
                    | (Resource::Store, Action::Put | Action::Get | Action::Delete)
            );
            assert_eq!(
                AuthValue::from_json(r, a, json!({})).is_err(),
                needs_fields,
                "{r}.{a}"
            );
            assert!(AuthValue::from_json(r, a, json!("a string")).is_err());
        }
        let mut invalid = 0;
        for &r in Resource::ALL {
            for &a in Action::ALL {
                if !r.has(a) {
                    invalid += 1;
                    let err = AuthValue::from_json(r, a, json!({})).unwrap_err();
                    assert!(err.to_string().contains(&format!("`{r}.{a}`")), "{err}");
                }
            }
        }
        assert_eq!(
            invalid,
            Resource::ALL.len() * Action::ALL.len() - crate::vocab::EVENT_COUNT
        );
    }

    #[test]
    fn resource_enums_and_struct_consts_agree_with_the_pair() {
        for (r, a) in crate::events() {
            let value = AuthValue::from_json(r, a, sample(r, a)).unwrap();
            let (er, ea) = match &value {
                AuthValue::Threads(v) => (v.resource(), v.action()),
                AuthValue::Assistants(v) => (v.resource(), v.action()),
                AuthValue::Crons(v) => (v.resource(), v.action()),
                AuthValue::Store(v) => (v.resource(), v.action()),
            };
            assert_eq!((er, ea), (r, a));
        }
        assert_eq!(RunsCreate::RESOURCE, Resource::Threads);
        assert_eq!(RunsCreate::ACTION, Action::CreateRun);
        assert_eq!(StoreListNamespaces::ACTION, Action::ListNamespaces);
        assert_eq!(CronsSearch::RESOURCE, Resource::Crons);
    }

    /// Checks `E`'s `Event` impl against the value of every event: exactly one is `E`'s.
    fn check_event<E: Event>(values: &[AuthValue]) {
        let mut own = 0;
        for value in values {
            let is_own = (value.resource(), value.action()) == (E::RESOURCE, E::ACTION);
            assert_eq!(E::from_value_ref(value).is_some(), is_own);
            let mut copy = value.clone();
            assert_eq!(E::from_value_mut(&mut copy).is_some(), is_own);
            match E::from_value(value.clone()) {
                Ok(typed) => {
                    assert!(is_own);
                    own += 1;
                    assert_eq!(E::from_value_ref(value), Some(&typed));
                    assert_eq!(typed.into_value(), *value);
                }
                Err(back) => {
                    assert!(!is_own);
                    assert_eq!(back, *value);
                }
            }
        }
        assert_eq!(own, 1, "{}.{}", E::RESOURCE, E::ACTION);
        let value = E::default().into_value();
        assert_eq!((value.resource(), value.action()), (E::RESOURCE, E::ACTION));
        assert_eq!(value, E::default().into());
    }

    #[test]
    fn the_event_trait_converts_every_struct() {
        let values: Vec<AuthValue> = crate::events()
            .map(|(r, a)| AuthValue::from_json(r, a, sample(r, a)).unwrap())
            .collect();
        check_event::<ThreadsCreate>(&values);
        check_event::<ThreadsRead>(&values);
        check_event::<ThreadsUpdate>(&values);
        check_event::<ThreadsDelete>(&values);
        check_event::<ThreadsSearch>(&values);
        check_event::<RunsCreate>(&values);
        check_event::<AssistantsCreate>(&values);
        check_event::<AssistantsRead>(&values);
        check_event::<AssistantsUpdate>(&values);
        check_event::<AssistantsDelete>(&values);
        check_event::<AssistantsSearch>(&values);
        check_event::<CronsCreate>(&values);
        check_event::<CronsRead>(&values);
        check_event::<CronsUpdate>(&values);
        check_event::<CronsDelete>(&values);
        check_event::<CronsSearch>(&values);
        check_event::<StorePut>(&values);
        check_event::<StoreGet>(&values);
        check_event::<StoreSearch>(&values);
        check_event::<StoreDelete>(&values);
        check_event::<StoreListNamespaces>(&values);
        // The trait's constants are the inherent ones.
        assert_eq!(<RunsCreate as Event>::ACTION, RunsCreate::ACTION);
        assert_eq!(<StorePut as Event>::RESOURCE, StorePut::RESOURCE);
        // A write through `from_value_mut` lands in the value.
        let mut value = AuthValue::from(StoreGet::new());
        StoreGet::from_value_mut(&mut value).unwrap().key = "k".into();
        assert_eq!(StoreGet::from_value(value).unwrap().key, "k");
    }

    #[test]
    fn metadata_mut_inserts_and_serializes() {
        let with_metadata = [
            (Resource::Threads, Action::Create),
            (Resource::Threads, Action::Update),
            (Resource::Threads, Action::Search),
            (Resource::Threads, Action::CreateRun),
            (Resource::Assistants, Action::Create),
            (Resource::Assistants, Action::Read),
            (Resource::Assistants, Action::Update),
            (Resource::Assistants, Action::Search),
        ];
        let in_payload = [
            (Resource::Crons, Action::Create),
            (Resource::Crons, Action::Update),
        ];
        for (r, a) in crate::events() {
            let mut value = AuthValue::from_json(r, a, minimal(r, a)).unwrap();
            assert_eq!(value.metadata(), None);
            if with_metadata.contains(&(r, a)) {
                let m = value.metadata_mut().expect("has metadata");
                assert!(m.is_empty());
                m.insert("owner".into(), json!("user1"));
                assert_eq!(value.metadata().unwrap()["owner"], "user1");
                let json = serde_json::to_value(&value).unwrap();
                assert_eq!(json["metadata"], json!({"owner": "user1"}), "{r}.{a}");
                // A second call keeps what is there.
                value.metadata_mut().unwrap().insert("n".into(), json!(1));
                assert_eq!(value.metadata().unwrap().len(), 2);
            } else if in_payload.contains(&(r, a)) {
                value
                    .metadata_mut()
                    .expect("has payload metadata")
                    .insert("owner".into(), json!("user1"));
                assert_eq!(value.metadata().unwrap()["owner"], "user1");
                let json = serde_json::to_value(&value).unwrap();
                assert_eq!(
                    json["payload"]["metadata"],
                    json!({"owner": "user1"}),
                    "{r}.{a}"
                );
            } else {
                assert!(value.metadata_mut().is_none(), "{r}.{a}");
                assert_eq!(serde_json::to_value(&value).unwrap(), minimal_out(r, a));
            }
        }
        // Existing metadata is kept and extended.
        let mut v = AuthValue::from_json(
            Resource::Threads,
            Action::Create,
            json!({"metadata": {"topic": "x"}}),
        )
        .unwrap();
        v.metadata_mut().unwrap().insert("owner".into(), json!("u"));
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"metadata": {"topic": "x", "owner": "u"}})
        );
        // A cron's payload metadata that is not an object is replaced, never trusted.
        let mut c = AuthValue::from_json(
            Resource::Crons,
            Action::Create,
            json!({"payload": {"input": {}, "metadata": "user2"}}),
        )
        .unwrap();
        assert_eq!(c.metadata(), None);
        c.metadata_mut().unwrap().insert("owner".into(), json!("u"));
        assert_eq!(
            serde_json::to_value(&c).unwrap()["payload"],
            json!({"input": {}, "metadata": {"owner": "u"}})
        );
    }

    /// The smallest valid JSON of each event.
    fn minimal(r: Resource, a: Action) -> Value {
        match (r, a) {
            (Resource::Assistants, Action::Delete) => json!({"assistant_id": A}),
            (Resource::Store, Action::Put | Action::Get | Action::Delete) => {
                json!({"namespace": [], "key": "k"})
            }
            _ => json!({}),
        }
    }

    /// How [`minimal`] serializes back.
    fn minimal_out(r: Resource, a: Action) -> Value {
        match (r, a) {
            (Resource::Assistants, Action::Search) => {
                json!({"graph_id": null, "metadata": null, "limit": null, "offset": null})
            }
            (Resource::Store, Action::Put) => json!({"namespace": [], "key": "k", "value": null}),
            (Resource::Store, Action::Search | Action::ListNamespaces) => {
                json!({"namespace": []})
            }
            _ => minimal(r, a),
        }
    }

    #[test]
    fn namespace_access() {
        for (r, a) in crate::events() {
            let mut value = AuthValue::from_json(r, a, minimal(r, a)).unwrap();
            if r == Resource::Store {
                assert_eq!(value.namespace(), Some(&[][..]));
                let ns = value.namespace_mut().unwrap();
                ns.push("user1".into());
                ns.push("notes".into());
                assert_eq!(value.namespace().unwrap(), ["user1", "notes"]);
                let json = serde_json::to_value(&value).unwrap();
                assert_eq!(json["namespace"], json!(["user1", "notes"]), "{r}.{a}");
            } else {
                assert!(value.namespace().is_none());
                assert!(value.namespace_mut().is_none(), "{r}.{a}");
            }
        }
        let mut v = StoreValue::from(StoreListNamespaces::default());
        v.namespace_mut().unwrap().insert(0, "u".into());
        assert_eq!(v.namespace().unwrap(), ["u"]);
        assert!(
            ThreadsValue::from(ThreadsRead::default())
                .namespace()
                .is_none()
        );
    }

    /// Whether `S` projects from `v`, by reference and mutably, consistently.
    fn projects<S: HandlerValue>(v: &mut AuthValue) -> bool {
        let by_ref = S::project_ref(v).is_some();
        assert_eq!(S::project_mut(v).is_some(), by_ref);
        by_ref
    }

    #[test]
    fn projections_pick_the_right_variant() {
        let mut values: Vec<AuthValue> = crate::events()
            .map(|(r, a)| AuthValue::from_json(r, a, minimal(r, a)).unwrap())
            .collect();
        for v in &mut values {
            let i = v.event_index();
            let hits = [
                projects::<ThreadsCreate>(v),
                projects::<ThreadsRead>(v),
                projects::<ThreadsUpdate>(v),
                projects::<ThreadsDelete>(v),
                projects::<ThreadsSearch>(v),
                projects::<RunsCreate>(v),
                projects::<AssistantsCreate>(v),
                projects::<AssistantsRead>(v),
                projects::<AssistantsUpdate>(v),
                projects::<AssistantsDelete>(v),
                projects::<AssistantsSearch>(v),
                projects::<CronsCreate>(v),
                projects::<CronsRead>(v),
                projects::<CronsUpdate>(v),
                projects::<CronsDelete>(v),
                projects::<CronsSearch>(v),
                projects::<StorePut>(v),
                projects::<StoreGet>(v),
                projects::<StoreSearch>(v),
                projects::<StoreDelete>(v),
                projects::<StoreListNamespaces>(v),
            ];
            for (j, hit) in hits.into_iter().enumerate() {
                assert_eq!(hit, i == j, "struct {j} on event {i}");
            }
            let resource = v.resource();
            assert_eq!(projects::<ThreadsValue>(v), resource == Resource::Threads);
            assert_eq!(
                projects::<AssistantsValue>(v),
                resource == Resource::Assistants
            );
            assert_eq!(projects::<CronsValue>(v), resource == Resource::Crons);
            assert_eq!(projects::<StoreValue>(v), resource == Resource::Store);
            assert!(projects::<AuthValue>(v));
        }
        // A mutable projection writes through to the value.
        let mut v = AuthValue::from(ThreadsCreate::default());
        ThreadsCreate::project_mut(&mut v).unwrap().thread_id = Some(T.into());
        assert_eq!(serde_json::to_value(&v).unwrap(), json!({"thread_id": T}));
        ThreadsValue::project_mut(&mut v)
            .unwrap()
            .metadata_mut()
            .unwrap()
            .insert("k".into(), json!(true));
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"thread_id": T, "metadata": {"k": true}})
        );
    }

    #[test]
    fn from_impls_wrap_in_the_right_variant() {
        assert!(matches!(
            AuthValue::from(RunsCreate::default()),
            AuthValue::Threads(ThreadsValue::CreateRun(_))
        ));
        assert!(matches!(
            AuthValue::from(CronsValue::Delete(CronsDelete::default())),
            AuthValue::Crons(CronsValue::Delete(_))
        ));
        assert!(matches!(
            StoreValue::from(StoreSearch::default()),
            StoreValue::Search(_)
        ));
        assert!(matches!(
            AuthValue::from(AssistantsSearch::default()),
            AuthValue::Assistants(AssistantsValue::Search(_))
        ));
    }

    #[test]
    fn fits_markers() {
        fn fits<V: Fits<E>, E>() {}
        fits::<ThreadsCreate, ThreadsCreate>();
        fits::<RunsCreate, RunsCreate>();
        fits::<ThreadsValue, RunsCreate>();
        fits::<ThreadsValue, ThreadsValue>();
        fits::<StoreValue, StoreListNamespaces>();
        fits::<StoreValue, StoreValue>();
        fits::<CronsValue, CronsValue>();
        fits::<AssistantsValue, AssistantsDelete>();
        fits::<AuthValue, StorePut>();
        fits::<AuthValue, AssistantsValue>();
        fits::<AuthValue, AuthValue>();
    }
}
