//! The resources the server keeps, serialized in LangGraph's JSON shapes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
}

/// One saved version of an assistant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assistant {
    /// The current version's fields.
    #[serde(flatten)]
    pub current: AssistantVersion,
    /// When the assistant was last changed.
    pub updated_at: String,
    /// Every version, oldest first.
    #[serde(skip)]
    pub versions: Vec<AssistantVersion>,
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
}

/// A saved state of a thread.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// Its id.
    pub checkpoint_id: String,
    /// The previous checkpoint's id.
    pub parent_checkpoint_id: Option<String>,
    /// The state values.
    pub values: Value,
    /// Checkpoint metadata (source, step, writes…).
    pub metadata: Object,
    /// The nodes that run next (empty once a run is done).
    #[serde(default)]
    pub next: Vec<String>,
    /// When it was saved.
    pub created_at: String,
}

/// A run of a graph on a thread.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// `pending`, `running`, `success`, `error`, `timeout` or `interrupted`.
    pub status: String,
    /// Metadata.
    pub metadata: Object,
    /// What the run was asked to do: input, config (with the authenticated user), stream modes…
    pub kwargs: Object,
    /// What happens to concurrent runs on the same thread.
    pub multitask_strategy: String,
}

/// A conversation: metadata, state and its runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Thread {
    /// Its id.
    pub thread_id: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Metadata (where policies stamp the owner).
    pub metadata: Object,
    /// `idle`, `busy`, `interrupted` or `error`.
    pub status: String,
    /// The current state values (`null` before the first run).
    pub values: Value,
    /// Pending interrupts.
    pub interrupts: Object,
    /// The configuration of the last run.
    pub config: Object,
    /// The last error.
    pub error: Value,
    /// Saved states, oldest first.
    #[serde(skip)]
    pub history: Vec<Checkpoint>,
    /// Runs, oldest first.
    #[serde(skip)]
    pub runs: Vec<Run>,
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
}

/// A scheduled run (stored; this server does not fire it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// The next run's date (never computed here).
    pub next_run_date: Value,
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
}

/// An item of the long-term store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
