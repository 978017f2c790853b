//! The built-in graph `agent`: no LLM, it answers each user message with an AI message echoing it.

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The only graph this server knows.
pub const GRAPH_ID: &str = "agent";

/// The name of its one node.
pub const NODE: &str = "echo";

/// LangGraph's namespace for the ids of the assistants it creates for each graph at start-up.
pub const NAMESPACE_GRAPH: Uuid = Uuid::from_u128(0x6ba7b821_9dad_11d1_80b4_00c04fd430c8);

/// The id of the assistant created at start-up for `graph_id` (uuid5, as `langgraph dev` does).
///
/// ```
/// assert_eq!(
///     private_conversations::graph::default_assistant_id("agent").to_string(),
///     "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
/// );
/// ```
pub fn default_assistant_id(graph_id: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE_GRAPH, graph_id.as_bytes())
}

/// Whether `graph_id` names a graph of this server.
pub fn exists(graph_id: &str) -> bool {
    graph_id == GRAPH_ID
}

/// A graph's input and output schemas, as `/assistants/{id}/schemas` answers them.
pub fn schemas(graph_id: &str) -> Value {
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

/// The graph's drawing, as `/assistants/{id}/graph` answers it.
pub fn drawing() -> Value {
    json!({
        "nodes": [
            {"id": "__start__", "type": "schema", "data": "__start__"},
            {"id": "echo", "type": "runnable", "data": {"id": ["echo"], "name": "echo"}},
            {"id": "__end__", "type": "schema", "data": "__end__"},
        ],
        "edges": [
            {"source": "__start__", "target": "echo"},
            {"source": "echo", "target": "__end__"},
        ],
    })
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
pub fn input_messages(input: &Value) -> Result<Vec<Value>, String> {
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
pub fn add_messages(values: &mut Value, new: Vec<Value>) {
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

/// Runs the graph on the current state with a run's input; `user_id` is the authenticated
/// user from `config.configurable.langgraph_auth_user_id`. Returns the new state values.
pub fn run(values: &Value, input: &Value, user_id: Option<&str>) -> Result<Value, String> {
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
        let out = run(&Value::Null, &input, Some("user1")).unwrap();
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0]["type"], "human");
        assert_eq!(msgs[1]["type"], "ai");
        assert_eq!(msgs[1]["content"], "hi");
        assert_eq!(
            msgs[1]["response_metadata"]["langgraph_auth_user_id"],
            "user1"
        );
        let again = run(&out, &json!({"messages": "yo"}), None).unwrap();
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
            assert!(run(&Value::Null, &bad, None).is_err(), "{bad}");
        }
    }
}
