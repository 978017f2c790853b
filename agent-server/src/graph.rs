//! Graphs: what a run executes. A graph is a [`Graph`] you implement (input and state in, a
//! stream of checkpoints out, with the run's config and `langgraph_auth_user`), registered by
//! by name with [`Server::graph`](crate::Server::graph). [`Echo`] is the built-in one: no LLM, it
//! answers each user message with an AI message echoing it.
//!
//! ```
//! use agent_server::graph::{Checkpoint, Graph, GraphStream, RunInput};
//! use serde_json::json;
//!
//! /// Answers with the number of messages the thread holds.
//! struct Counter;
//!
//! #[async_trait::async_trait]
//! impl Graph for Counter {
//!     async fn run(&self, run: RunInput) -> Result<GraphStream, String> {
//!         let seen = run.state["count"].as_u64().unwrap_or(0) + 1;
//!         let user = run.auth_user_id().unwrap_or("anonymous").to_owned();
//!         let step = Checkpoint::new("count", json!({"count": seen, "last_user": user}));
//!         Ok(Box::pin(futures_util::stream::iter([Ok(step)])))
//!     }
//! }
//!
//! # fn server(auth: auth::Auth) -> agent_server::Server {
//! agent_server::Server::new(auth).graph("counter", Counter)
//! # }
//! ```

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The name the binary registers [`Echo`] under.
pub const GRAPH_ID: &str = "agent";

/// The name of [`Echo`]'s one node.
pub(crate) const NODE: &str = "echo";

/// The name of LangGraph's entry node: a graph's checkpoint written by it is the state once the
/// run's input is written to the channels, before any node ran.
pub(crate) const START: &str = "__start__";

/// What a run gives its graph.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// The run's `input` (`null` when it has none).
    pub input: Value,
    /// The thread's state values before the run (`null` for a stateless run or a new thread).
    pub state: Value,
    /// The run's `config`: `config.configurable` holds `langgraph_auth_user`,
    /// `langgraph_auth_user_id`, `langgraph_auth_permissions`, `run_id`, `thread_id`,
    /// `assistant_id` and `graph_id`.
    pub config: Value,
}

impl RunInput {
    /// The authenticated user who started the run (`config.configurable.langgraph_auth_user`).
    pub fn auth_user(&self) -> Option<&Value> {
        self.config["configurable"]
            .get("langgraph_auth_user")
            .filter(|u| !u.is_null())
    }

    /// That user's identity (`langgraph_auth_user_id`).
    pub fn auth_user_id(&self) -> Option<&str> {
        self.config["configurable"]["langgraph_auth_user_id"].as_str()
    }
}

/// One step of a run: the state after a node ran. The server stores each as a checkpoint of the
/// thread; the last one is the thread's new state.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The node that wrote it.
    pub node: String,
    /// The whole state values after it.
    pub values: Value,
}

impl Checkpoint {
    /// The state `values` written by `node`.
    pub fn new(node: impl Into<String>, values: Value) -> Self {
        Checkpoint {
            node: node.into(),
            values,
        }
    }
}

/// What a graph's run yields: its checkpoints in order, or an error that fails the run (the
/// thread's status becomes `error` with this message).
pub type GraphStream = Pin<Box<dyn Stream<Item = Result<Checkpoint, String>> + Send>>;

/// A graph the server can run. Only [`run`](Graph::run) is required.
#[async_trait::async_trait]
pub trait Graph: Send + Sync + 'static {
    /// Checks a run's input before the run is created: an error is a 422 naming it.
    fn validate_input(&self, input: &Value) -> Result<(), String> {
        let _ = input;
        Ok(())
    }

    /// The input, output, state and config schemas (`/assistants/{id}/schemas`). Default: a
    /// state of `messages`.
    fn schemas(&self, graph_id: &str) -> Value {
        messages_schemas(graph_id)
    }

    /// The drawing (`/assistants/{id}/graph`). Default: one node named after the graph.
    fn drawing(&self, graph_id: &str) -> Value {
        one_node(graph_id)
    }

    /// Runs the graph on `run.state` with `run.input`.
    async fn run(&self, run: RunInput) -> Result<GraphStream, String>;
}

/// The graphs of a server, by name.
#[derive(Clone, Default)]
pub(crate) struct Graphs(BTreeMap<String, Arc<dyn Graph>>);

impl Graphs {
    /// No graphs.
    pub(crate) fn new() -> Self {
        Graphs::default()
    }

    /// These graphs and `graph` under `name` (replacing one of that name).
    pub(crate) fn with(mut self, name: impl Into<String>, graph: impl Graph) -> Self {
        self.0.insert(name.into(), Arc::new(graph));
        self
    }

    /// The graph named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn Graph>> {
        self.0.get(name)
    }

    /// Whether a graph is named `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs the graph `name` to the end: its checkpoints, or the error that failed the run.
    pub async fn run(&self, name: &str, run: RunInput) -> Result<Vec<Checkpoint>, String> {
        let graph = self
            .get(name)
            .ok_or_else(|| format!("graph {name:?} is not registered"))?;
        let mut stream = graph.run(run).await?;
        let mut out = Vec::new();
        while let Some(step) = stream.next().await {
            out.push(step?);
        }
        Ok(out)
    }
}

impl std::fmt::Debug for Graphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// LangGraph's namespace for the ids of the assistants it creates for each graph at start-up.
pub(crate) const NAMESPACE_GRAPH: Uuid = Uuid::from_u128(0x6ba7b821_9dad_11d1_80b4_00c04fd430c8);

/// The id of the assistant created at start-up for `graph_id` (uuid5, as `langgraph dev` does).
///
/// ```
/// assert_eq!(
///     agent_server::graph::default_assistant_id("agent").to_string(),
///     "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
/// );
/// ```
pub fn default_assistant_id(graph_id: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE_GRAPH, graph_id.as_bytes())
}

/// Schemas of a graph whose input, output and state are `{"messages": [...]}`.
pub(crate) fn messages_schemas(graph_id: &str) -> Value {
    let state = json!({
        "title": "State",
        "type": "object",
        "properties": {"messages": {"title": "Messages", "type": "array", "items": {"type": "object"}}},
    });
    json!({
        "graph_id": graph_id,
        "input_schema": state,
        "output_schema": state,
        "state_schema": state,
        "config_schema": {"title": "Configurable", "type": "object", "properties": {}},
        "context_schema": null,
    })
}

/// The drawing of a graph of one node: start, `node`, end.
pub(crate) fn one_node(node: &str) -> Value {
    json!({
        "nodes": [
            {"id": "__start__", "type": "schema", "data": "__start__"},
            {"id": node, "type": "runnable", "data": {"id": [node], "name": node}},
            {"id": "__end__", "type": "schema", "data": "__end__"},
        ],
        "edges": [
            {"source": "__start__", "target": node},
            {"source": node, "target": "__end__"},
        ],
    })
}

/// The built-in graph: one node, `echo`, that answers each user message with an AI message
/// echoing it. Its input is `{"messages": ...}`; the reply's `response_metadata` names the
/// authenticated user (`langgraph_auth_user_id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

#[async_trait::async_trait]
impl Graph for Echo {
    fn validate_input(&self, input: &Value) -> Result<(), String> {
        input_messages(input).map(drop)
    }

    fn drawing(&self, _graph_id: &str) -> Value {
        one_node(NODE)
    }

    /// Two checkpoints, as LangGraph's one-node graph: `__start__`'s (the input's messages added
    /// to the state), then `echo`'s (the replies added). A `null` input runs nothing (no
    /// checkpoint), as LangGraph does for a thread with nothing pending.
    async fn run(&self, run: RunInput) -> Result<GraphStream, String> {
        let incoming = input_messages(&run.input)?;
        if run.input.is_null() {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let mut applied = match &run.state {
            v @ Value::Object(_) => v.clone(),
            _ => json!({}),
        };
        add_messages(&mut applied, incoming.clone());
        // The normalized messages keep their ids, so the output holds them as `applied` does.
        let output = echo(
            &run.state,
            &json!({ "messages": incoming }),
            run.auth_user_id(),
        )?;
        Ok(Box::pin(futures_util::stream::iter([
            Ok(Checkpoint::new(START, applied)),
            Ok(Checkpoint::new(NODE, output)),
        ])))
    }
}

fn normalize(message: &Value) -> Result<Value, String> {
    let (kind, content, mut rest) = match message {
        Value::String(s) => ("human".to_owned(), Value::from(s.as_str()), Map::new()),
        Value::Object(m) => {
            let kind = match m
                .get("type")
                .or_else(|| m.get("role"))
                .and_then(Value::as_str)
            {
                Some("user" | "human") => "human",
                Some("assistant" | "ai") => "ai",
                Some("system") => "system",
                Some("tool") => "tool",
                Some(other) => return Err(format!("unsupported message type {other:?}")),
                None => return Err("a message needs a \"role\" or a \"type\"".into()),
            };
            let content = m
                .get("content")
                .cloned()
                .ok_or("a message needs \"content\"")?;
            if !content.is_string() && !content.is_array() {
                return Err("message content must be a string or a list".into());
            }
            let mut rest = m.clone();
            rest.remove("role");
            (kind.to_owned(), content, rest)
        }
        _ => return Err("a message must be an object or a string".into()),
    };
    rest.insert("type".into(), kind.into());
    rest.insert("content".into(), content);
    if !rest.get("id").is_some_and(Value::is_string) {
        rest.insert("id".into(), Uuid::new_v4().to_string().into());
    }
    for key in ["additional_kwargs", "response_metadata"] {
        rest.entry(key).or_insert_with(|| json!({}));
    }
    rest.entry("name").or_insert(Value::Null);
    Ok(Value::Object(rest))
}

/// The messages of a run's input (`{"messages": [...]}`), normalized to LangGraph's message
/// shape. `null` input means no new messages.
pub(crate) fn input_messages(input: &Value) -> Result<Vec<Value>, String> {
    match input {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => {
            if let Some(key) = m.keys().find(|k| k.as_str() != "messages") {
                return Err(format!(
                    "unknown input key {key:?}: the agent graph takes \"messages\""
                ));
            }
            match m.get("messages") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items.iter().map(normalize).collect(),
                Some(one @ (Value::Object(_) | Value::String(_))) => Ok(vec![normalize(one)?]),
                Some(_) => Err("\"messages\" must be a list of messages".into()),
            }
        }
        _ => Err("the input must be an object".into()),
    }
}

/// Merges new messages into state values, as LangGraph's `add_messages` does: a message with an
/// existing id replaces it, others are appended.
pub(crate) fn add_messages(values: &mut Value, new: Vec<Value>) {
    if !values.is_object() {
        *values = json!({});
    }
    let Some(state) = values.as_object_mut() else {
        return;
    };
    let list = state
        .entry("messages")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    for message in new {
        let id = message.get("id").cloned();
        match list
            .iter_mut()
            .find(|m| id.is_some() && m.get("id") == id.as_ref())
        {
            Some(slot) => *slot = message,
            None => list.push(message),
        }
    }
}

/// The echo graph's step: the current state with the input's messages and a reply to each
/// user message; `user_id` is the authenticated user. Returns the new state values.
pub(crate) fn echo(values: &Value, input: &Value, user_id: Option<&str>) -> Result<Value, String> {
    let incoming = input_messages(input)?;
    let mut out = values.clone();
    let mut replies = Vec::new();
    for m in &incoming {
        if m["type"] == "human" {
            replies.push(json!({
                "type": "ai",
                "content": m["content"].clone(),
                "id": Uuid::new_v4().to_string(),
                "name": null,
                "additional_kwargs": {},
                "response_metadata": {"model_name": "echo", "langgraph_auth_user_id": user_id},
                "tool_calls": [],
                "invalid_tool_calls": [],
                "usage_metadata": null,
            }));
        }
    }
    add_messages(&mut out, incoming);
    add_messages(&mut out, replies);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_each_user_message() {
        let input = json!({"messages": [{"role": "user", "content": "hi"}]});
        let out = echo(&Value::Null, &input, Some("user1")).unwrap();
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0]["type"], "human");
        assert_eq!(msgs[1]["type"], "ai");
        assert_eq!(msgs[1]["content"], "hi");
        assert_eq!(
            msgs[1]["response_metadata"]["langgraph_auth_user_id"],
            "user1"
        );
        let again = echo(&out, &json!({"messages": "yo"}), None).unwrap();
        assert_eq!(again["messages"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            json!(3),
            json!({"messages": 3}),
            json!({"messages": [{"content": "x"}]}),
            json!({"messages": [{"role": "user"}]}),
            json!({"other": []}),
        ] {
            assert!(echo(&Value::Null, &bad, None).is_err(), "{bad}");
        }
    }
}
