//! The resources the server keeps, serialized in LangGraph's JSON shapes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use auth::types::{RunStatus, ThreadStatus};

use crate::storage::Column;

/// A JSON object.
pub type Object = Map<String, Value>;

/// What every stored resource offers to storage: an id, metadata and a creation time.
pub trait Record: Clone + Send + Sync + 'static {
    /// The resource's id.
    fn id(&self) -> &str;
    /// The resource's metadata, which filters see.
    fn metadata(&self) -> &Object;
    /// The creation time (RFC 3339), the default sort key.
    fn created_at(&self) -> &str;
    /// The columns that searches may compare or sort by.
    const COLUMNS: &'static [Column];
    /// The text in `column` (`None` when the resource has none there, or no such column).
    fn column(&self, column: Column) -> Option<&str>;
    /// The state values that a search may look into (threads only).
    fn values(&self) -> Option<&Values> {
        None
    }
    /// Whether the server owns the resource (a graph's default assistant): storage lets only
    /// system work ([`crate::authz::Scope::system`]) create, change or remove it.
    fn system_owned(&self) -> bool {
        false
    }
}

/// One saved version of an assistant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AssistantVersion {
    /// The assistant's id.
    pub assistant_id: String,
    /// The graph it runs.
    pub graph_id: String,
    /// The run configuration.
    pub config: Value,
    /// The static context.
    pub context: Value,
    /// Metadata.
    pub metadata: Object,
    /// The version number, from 1.
    pub version: u64,
    /// The name.
    pub name: String,
    /// The description.
    pub description: Option<String>,
    /// When this version was created.
    pub created_at: String,
}

/// An assistant: its current version plus every version kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Assistant {
    /// The current version's fields.
    #[serde(flatten)]
    pub current: AssistantVersion,
    /// When the assistant was last changed.
    pub updated_at: String,
    /// Every version, oldest first.
    #[serde(skip)]
    #[schema(ignore)]
    pub versions: Vec<AssistantVersion>,
    /// Owned by the server: a graph's default assistant, created at start-up. Kept in storage
    /// beside the assistant (never in its metadata, which users write); storage lets only the
    /// server's own work create, change or remove such an assistant (`SECURITY.md`, "Default
    /// assistants").
    #[serde(skip)]
    pub system: bool,
}

impl Record for Assistant {
    fn id(&self) -> &str {
        &self.current.assistant_id
    }
    fn metadata(&self) -> &Object {
        &self.current.metadata
    }
    fn created_at(&self) -> &str {
        &self.versions.first().unwrap_or(&self.current).created_at
    }
    fn system_owned(&self) -> bool {
        self.system
    }
    const COLUMNS: &'static [Column] = &[
        Column::Id,
        Column::CreatedAt,
        Column::UpdatedAt,
        Column::GraphId,
        Column::Name,
    ];
    fn column(&self, column: Column) -> Option<&str> {
        match column {
            Column::Id => Some(self.id()),
            Column::CreatedAt => Some(self.created_at()),
            Column::UpdatedAt => Some(&self.updated_at),
            Column::GraphId => Some(&self.current.graph_id),
            Column::Name => Some(&self.current.name),
            _ => None,
        }
    }
}

/// A saved state of a thread. Stored behind an [`Arc`]: pages of history share it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// Its id.
    pub checkpoint_id: String,
    /// The previous checkpoint's id.
    pub parent_checkpoint_id: Option<String>,
    /// The state values, sharing what did not change with the previous checkpoint.
    pub values: Values,
    /// Checkpoint metadata (source, step, writes…).
    pub metadata: Object,
    /// The nodes that run next (empty once a run is done).
    #[serde(default)]
    pub next: Vec<String>,
    /// When it was saved.
    pub created_at: String,
}

/// State values (a JSON object, or `null` before the first run) kept so that consecutive
/// checkpoints share what did not change: every top-level value is behind an [`Arc`], and so is
/// every element of a top-level list (the `messages`). A checkpoint that adds one message to a
/// thread of a thousand costs the new message and a thousand pointers, not a copy of the thousand.
///
/// (The unit test `values_share_what_did_not_change` shows it.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(Repr);

#[derive(Debug, Clone, Default, PartialEq)]
enum Repr {
    #[default]
    Null,
    Object(Arc<BTreeMap<String, Field>>),
    Other(Arc<Value>),
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    List(Arc<[Arc<Value>]>),
    One(Arc<Value>),
}

impl Field {
    fn from_json(v: Value) -> Field {
        match v {
            Value::Array(items) => Field::List(items.into_iter().map(Arc::new).collect()),
            v => Field::One(Arc::new(v)),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Field::List(items) => Value::Array(items.iter().map(|v| Value::clone(v)).collect()),
            Field::One(v) => Value::clone(v),
        }
    }

    /// `next`, sharing with `self` every value equal to the one `self` holds at the same place.
    fn derive(&self, next: Value) -> Field {
        match (self, next) {
            (Field::List(old), Value::Array(items)) => Field::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| match old.get(i) {
                        Some(o) if **o == v => o.clone(),
                        _ => Arc::new(v),
                    })
                    .collect(),
            ),
            (Field::One(old), v) if **old == v => Field::One(old.clone()),
            (_, v) => Field::from_json(v),
        }
    }

    fn shared_with(&self, other: &Field) -> usize {
        match (self, other) {
            (Field::List(a), Field::List(b)) => a
                .iter()
                .zip(b.iter())
                .filter(|(x, y)| Arc::ptr_eq(x, y))
                .count(),
            (Field::One(a), Field::One(b)) => usize::from(Arc::ptr_eq(a, b)),
            _ => 0,
        }
    }
}

impl Values {
    /// Values from JSON (no sharing).
    pub fn from_json(value: Value) -> Values {
        match value {
            Value::Null => Values(Repr::Null),
            Value::Object(m) => Values(Repr::Object(Arc::new(
                m.into_iter()
                    .map(|(k, v)| (k, Field::from_json(v)))
                    .collect(),
            ))),
            v => Values(Repr::Other(Arc::new(v))),
        }
    }

    /// The values as JSON (a copy).
    pub fn to_json(&self) -> Value {
        match &self.0 {
            Repr::Null => Value::Null,
            Repr::Object(m) => {
                Value::Object(m.iter().map(|(k, f)| (k.clone(), f.to_json())).collect())
            }
            Repr::Other(v) => Value::clone(v),
        }
    }

    /// `next`, sharing with `self` every top-level value, and every element of a top-level list,
    /// that is equal to the one `self` holds at the same place.
    pub fn derive(&self, next: Value) -> Values {
        match (&self.0, next) {
            (Repr::Object(old), Value::Object(m)) => Values(Repr::Object(Arc::new(
                m.into_iter()
                    .map(|(k, v)| {
                        let field = match old.get(&k) {
                            Some(f) => f.derive(v),
                            None => Field::from_json(v),
                        };
                        (k, field)
                    })
                    .collect(),
            ))),
            (_, v) => Values::from_json(v),
        }
    }

    /// How many values (top-level values and list elements) `self` shares with `other`.
    pub fn shared_with(&self, other: &Values) -> usize {
        match (&self.0, &other.0) {
            (Repr::Object(a), Repr::Object(b)) => a
                .iter()
                .filter_map(|(k, f)| b.get(k).map(|g| f.shared_with(g)))
                .sum(),
            _ => 0,
        }
    }

    /// Whether these are the `null` values of a thread that never ran.
    pub fn is_null(&self) -> bool {
        matches!(self.0, Repr::Null)
    }

    /// Whether these values contain `wanted` (JSON containment, as [`crate::storage::contains_within`]),
    /// without copying them.
    pub fn contains(&self, wanted: &Object) -> bool {
        self.contains_within(wanted, &mut crate::storage::Meter::unlimited())
            .unwrap_or(false)
    }

    /// [`Values::contains`], one step of `meter` per comparison (see
    /// [`crate::storage::contains_within`]).
    pub(crate) fn contains_within(
        &self,
        wanted: &Object,
        meter: &mut crate::storage::Meter<'_>,
    ) -> Result<bool, crate::storage::StoreError> {
        use crate::storage::contains_within;
        let Repr::Object(have) = &self.0 else {
            return Ok(wanted.is_empty() && matches!(self.0, Repr::Object(_)));
        };
        for (k, w) in wanted {
            let found = match have.get(k) {
                None => false,
                Some(Field::One(v)) => contains_within(v, w, meter)?,
                Some(Field::List(items)) => match w {
                    Value::Array(ws) => {
                        let mut all = true;
                        for wv in ws {
                            let mut some = false;
                            for hv in items.iter() {
                                if contains_within(hv, wv, meter)? {
                                    some = true;
                                    break;
                                }
                            }
                            if !some {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                    // As PostgreSQL's `@>` below the top level: a list holds no bare scalar.
                    _ => false,
                },
            };
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct List<'a>(&'a [Arc<Value>]);
        impl Serialize for List<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for v in self.0 {
                    seq.serialize_element(&**v)?;
                }
                seq.end()
            }
        }
        match &self.0 {
            Repr::Null => s.serialize_unit(),
            Repr::Other(v) => v.serialize(s),
            Repr::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, f) in m.iter() {
                    match f {
                        Field::List(items) => map.serialize_entry(k, &List(items))?,
                        Field::One(v) => map.serialize_entry(k, &**v)?,
                    }
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Values::from_json)
    }
}

/// A run of a graph on a thread.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Run {
    /// Its id.
    pub run_id: String,
    /// The thread it belongs to.
    pub thread_id: String,
    /// The assistant it runs.
    pub assistant_id: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// `pending`, `running`, or how it ended: `success`, `error`, `timeout`, `interrupted`.
    #[schema(value_type = String)]
    pub status: RunStatus,
    /// Metadata.
    pub metadata: Object,
    /// What the run was asked to do: input, config (with the authenticated user), stream modes…
    pub kwargs: Object,
    /// What happens to concurrent runs on the same thread.
    pub multitask_strategy: String,
    /// Where the run stands in the run queue (not part of LangGraph's JSON).
    #[serde(skip)]
    #[schema(ignore)]
    pub queue: QueueState,
}

/// A run's place in the run queue ([`crate::storage::RunQueue`]). Times are milliseconds since
/// the Unix epoch, as the server processes' clocks read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueState {
    /// The run is not started before this time (its creation plus `after_seconds`).
    pub run_after: i64,
    /// The worker executing it, while it holds the lease.
    pub lease_owner: Option<String>,
    /// Until when the lease holds; after it, another worker may take the run over.
    pub lease_until: Option<i64>,
    /// How many times a worker claimed it.
    pub attempts: u32,
}

/// A conversation: its metadata and current state. Its checkpoints and runs are stored apart
/// (see [`crate::storage::ThreadStore`]), so reading a thread reads neither.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Thread {
    /// Its id.
    pub thread_id: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Metadata (where policies stamp the owner).
    pub metadata: Object,
    /// `idle`, `busy` (a run in flight), `interrupted` or `error`.
    #[schema(value_type = String)]
    pub status: ThreadStatus,
    /// The current state values (`null` before the first run), shared with the latest checkpoint.
    #[schema(value_type = Value)]
    pub values: Values,
    /// Pending interrupts.
    pub interrupts: Object,
    /// The configuration of the last run.
    pub config: Object,
    /// The last error.
    pub error: Value,
}

impl Record for Thread {
    fn id(&self) -> &str {
        &self.thread_id
    }
    fn metadata(&self) -> &Object {
        &self.metadata
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
    const COLUMNS: &'static [Column] = &[
        Column::Id,
        Column::CreatedAt,
        Column::UpdatedAt,
        Column::Status,
    ];
    fn column(&self, column: Column) -> Option<&str> {
        match column {
            Column::Id => Some(&self.thread_id),
            Column::CreatedAt => Some(&self.created_at),
            Column::UpdatedAt => Some(&self.updated_at),
            Column::Status => Some(self.status.as_str()),
            _ => None,
        }
    }
    fn values(&self) -> Option<&Values> {
        Some(&self.values)
    }
}

/// A scheduled run: fired by the [run queue's worker](crate::queue) at `next_run_date`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Cron {
    /// Its id.
    pub cron_id: String,
    /// The assistant it runs.
    pub assistant_id: String,
    /// The thread it runs on, if any.
    pub thread_id: Option<String>,
    /// The cron schedule.
    pub schedule: String,
    /// When it stops.
    pub end_time: Value,
    /// The run to create each time.
    pub payload: Object,
    /// The user who created it.
    pub user_id: Option<String>,
    /// Metadata.
    pub metadata: Object,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The timezone of the schedule.
    pub timezone: Option<String>,
    /// What to do with the thread when a run completes.
    pub on_run_completed: Value,
    /// The next run's date (RFC 3339 in UTC, as [`crate::util::now`] writes it), `null` when
    /// the cron will not fire again (disabled, or past its `end_time`).
    pub next_run_date: Value,
    /// Its owner as authentication saw them at its creation (the JSON of
    /// [`auth::AuthUser::to_json`]): its runs are created, and authorized, as this user's.
    /// Never shown in LangGraph's JSON.
    #[serde(skip)]
    #[schema(ignore)]
    pub owner: Option<Value>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl Record for Cron {
    fn id(&self) -> &str {
        &self.cron_id
    }
    fn metadata(&self) -> &Object {
        &self.metadata
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
    const COLUMNS: &'static [Column] = &[
        Column::Id,
        Column::CreatedAt,
        Column::UpdatedAt,
        Column::AssistantId,
        Column::ThreadId,
    ];
    fn column(&self, column: Column) -> Option<&str> {
        match column {
            Column::Id => Some(&self.cron_id),
            Column::CreatedAt => Some(&self.created_at),
            Column::UpdatedAt => Some(&self.updated_at),
            Column::AssistantId => Some(&self.assistant_id),
            Column::ThreadId => self.thread_id.as_deref(),
            _ => None,
        }
    }
}

/// An item of the long-term store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Item {
    /// Its namespace.
    pub namespace: Vec<String>,
    /// Its key within the namespace.
    pub key: String,
    /// Its value.
    pub value: Object,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A new, empty thread.
pub fn new_thread(id: String, metadata: Object) -> Thread {
    let at = crate::util::now();
    Thread {
        thread_id: id,
        created_at: at.clone(),
        updated_at: at,
        metadata,
        status: ThreadStatus::Idle,
        values: Values::default(),
        interrupts: Object::new(),
        config: Object::new(),
        error: Value::Null,
    }
}

#[cfg(test)]
mod values_share_what_did_not_change_doc {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_share_what_did_not_change() {
        let one = Values::from_json(json!({"messages": [{"id": "a"}], "n": 1}));
        let two = one.derive(json!({"messages": [{"id": "a"}, {"id": "b"}], "n": 1}));
        assert_eq!(
            two.to_json(),
            json!({"messages": [{"id": "a"}, {"id": "b"}], "n": 1})
        );
        assert_eq!(two.shared_with(&one), 2); // the message "a" and `n`
    }
}
