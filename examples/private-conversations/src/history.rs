//! The checkpoints a run leaves in a thread's history, as LangGraph saves them for a graph of one
//! node (`__start__` → `echo` → end): one per superstep.
//!
//! | step | `metadata.source` | `metadata.writes` | values | `next` |
//! |---|---|---|---|---|
//! | last + 1 (`-1` on a new thread) | `input` | `{"__start__": <the run's input>}` | as before the run | `["__start__"]` |
//! | last + 2 | `loop` | `null` | the input's messages added | `["echo"]` |
//! | last + 3 | `loop` | `{"echo": {"messages": <the replies>}}` | the run's output | `[]` |
//!
//! Each checkpoint's parent is the one before it; a state update (`source: "update"`) forks from
//! the checkpoint it names, or the latest.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::graph;

/// A checkpoint to be saved: everything but its id, parent and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The state values at this checkpoint.
    pub values: Value,
    /// The nodes that run next (`[]` once the run is done).
    pub next: Vec<String>,
    /// `input`, `loop` or `update`.
    pub source: &'static str,
    /// What was written to reach this checkpoint: node name → its update, or `null`.
    pub writes: Value,
}

fn message_ids(values: &Value) -> HashSet<&str> {
    values["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default()
}

/// Runs the echo graph on `before` (the thread's values) with a run's `input` and returns the
/// checkpoints of its three supersteps, the last holding the run's output. An input of `null`
/// gives no checkpoint (nothing to run, as LangGraph does for a thread with nothing pending).
///
/// ```
/// use private_conversations::history::run_steps;
/// use serde_json::{Value, json};
///
/// let steps = run_steps(&Value::Null, &json!({"messages": "hi"}), Some("user1")).unwrap();
/// let sources: Vec<_> = steps.iter().map(|s| s.source).collect();
/// assert_eq!(sources, ["input", "loop", "loop"]);
/// assert_eq!(steps[0].next, ["__start__"]);
/// assert_eq!(steps[0].values, json!({}));
/// assert_eq!(steps[1].values["messages"][0]["content"], "hi");
/// assert_eq!(steps[2].writes["echo"]["messages"][0]["type"], "ai");
/// assert!(steps[2].next.is_empty());
/// ```
pub fn run_steps(
    before: &Value,
    input: &Value,
    user_id: Option<&str>,
) -> Result<Vec<Step>, String> {
    let incoming = graph::input_messages(input)?;
    if input.is_null() {
        return Ok(Vec::new());
    }
    let start = if before.is_object() {
        before.clone()
    } else {
        json!({})
    };
    let mut applied = start.clone();
    graph::add_messages(&mut applied, incoming.clone());
    // The normalized messages keep their ids, so the output holds them as `applied` does.
    let output = graph::run(before, &json!({ "messages": incoming }), user_id)?;
    let known = message_ids(&applied);
    let replies: Vec<Value> = output["messages"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|m| m["id"].as_str().is_none_or(|id| !known.contains(id)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(vec![
        Step {
            values: start,
            next: vec!["__start__".into()],
            source: "input",
            writes: json!({ "__start__": input }),
        },
        Step {
            values: applied,
            next: vec![graph::NODE.into()],
            source: "loop",
            writes: Value::Null,
        },
        Step {
            values: output,
            next: Vec::new(),
            source: "loop",
            writes: json!({ graph::NODE: { "messages": replies } }),
        },
    ])
}

/// The checkpoint a state update saves: `values` written as `as_node` (default: the graph's
/// node) on top of `base`. After `__start__` the node runs next; after the node, nothing.
pub fn update_step(base: &Value, values: &Value, as_node: Option<&str>) -> Result<Step, String> {
    let updates = match values {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err("values must be an object".into()),
    };
    let new_messages = match updates.get("messages") {
        Some(m) => Some(graph::input_messages(&json!({ "messages": m }))?),
        None => None,
    };
    let mut out = if base.is_object() {
        base.clone()
    } else {
        json!({})
    };
    if let Some(new_messages) = new_messages {
        graph::add_messages(&mut out, new_messages);
    }
    if let Some(v) = out.as_object_mut() {
        for (k, u) in updates {
            if k != "messages" {
                v.insert(k, u);
            }
        }
    }
    let node = as_node.unwrap_or(graph::NODE);
    let next = if node == "__start__" {
        vec![graph::NODE.to_owned()]
    } else {
        Vec::new()
    };
    Ok(Step {
        values: out,
        next,
        source: "update",
        writes: json!({ node: values }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_three_supersteps_whose_writes_rebuild_the_output() {
        let before = json!({"messages": [{"type": "human", "content": "old", "id": "m0"}]});
        let input = json!({"messages": [{"role": "user", "content": "hi", "id": "m1"}]});
        let steps = run_steps(&before, &input, None).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].values, before);
        assert_eq!(steps[0].writes, json!({"__start__": input}));
        let applied = steps[1].values["messages"].as_array().unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1]["id"], "m1");
        assert_eq!(steps[1].next, ["echo"]);
        let replies = steps[2].writes["echo"]["messages"].as_array().unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["content"], "hi");
        let mut rebuilt = steps[1].values.clone();
        graph::add_messages(&mut rebuilt, replies.clone());
        assert_eq!(rebuilt, steps[2].values);
        assert!(run_steps(&before, &Value::Null, None).unwrap().is_empty());
        assert!(run_steps(&before, &json!({"messages": 3}), None).is_err());
    }

    #[test]
    fn an_update_writes_as_its_node() {
        let base = json!({"messages": []});
        let s = update_step(&base, &json!({"messages": "x", "k": 1}), None).unwrap();
        assert_eq!(s.source, "update");
        assert_eq!(s.values["k"], 1);
        assert_eq!(s.values["messages"][0]["content"], "x");
        assert_eq!(s.writes, json!({"echo": {"messages": "x", "k": 1}}));
        assert!(s.next.is_empty());
        let s = update_step(&base, &json!({}), Some("__start__")).unwrap();
        assert_eq!(s.next, ["echo"]);
        assert!(update_step(&base, &json!([1]), None).is_err());
    }
}
