//! The checkpoints a run leaves in a thread's history, as LangGraph saves them: one per
//! superstep, made from the checkpoints the run's [`Graph`](crate::graph::Graph) yields.
//!
//! For the built-in echo graph (`__start__` → `echo` → end):
//!
//! | step | `metadata.source` | `metadata.writes` | values | `next` |
//! |---|---|---|---|---|
//! | last + 1 (`-1` on a new thread) | `input` | `{"__start__": <the run's input>}` | as before the run | `["__start__"]` |
//! | last + 2 | `loop` | `null` | the input's messages added | `["echo"]` |
//! | last + 3 | `loop` | `{"echo": {"messages": <the replies>}}` | the run's output | `[]` |
//!
//! A graph that yields no [`START`](graph::START) checkpoint of its own (its first node reads the
//! input) gets one holding the state as before the run. Each node's `writes` are what changed
//! in the state: the top-level values it changed, and of a list only the elements it added.
//! Each checkpoint's parent is the one before it; a state update (`source: "update"`) forks from
//! the checkpoint it names, or the latest.

use serde_json::{Map, Value, json};

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

/// What a node wrote to go from `before` to `after`: each top-level value that changed; of a
/// list, the elements `before` did not hold (the messages a node added).
///
/// (The unit test `writes_are_what_changed` shows it.)
pub fn writes(before: &Value, after: &Value) -> Value {
    let Value::Object(after) = after else {
        return after.clone();
    };
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for (k, v) in after {
        match (before.get(k), v) {
            (Some(old), new) if old == new => {}
            (Some(Value::Array(old)), Value::Array(new)) => {
                let added: Vec<Value> = new.iter().filter(|x| !old.contains(x)).cloned().collect();
                out.insert(k.clone(), Value::Array(added));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The checkpoints of a run that started from `before` (the thread's values) with `input` and
/// whose graph yielded `checkpoints`, the last holding the run's output. No graph checkpoint
/// gives no checkpoint (nothing ran).
///
/// (The unit test `steps_of_a_run` shows it.)
pub fn run_steps(before: &Value, input: &Value, checkpoints: &[graph::Checkpoint]) -> Vec<Step> {
    if checkpoints.is_empty() {
        return Vec::new();
    }
    let start = if before.is_object() {
        before.clone()
    } else {
        json!({})
    };
    let mut steps = vec![Step {
        values: start.clone(),
        next: vec![graph::START.into()],
        source: "input",
        writes: json!({ graph::START: input }),
    }];
    let own_start = checkpoints[0].node == graph::START;
    if !own_start {
        steps.push(Step {
            values: start.clone(),
            next: vec![checkpoints[0].node.clone()],
            source: "loop",
            writes: Value::Null,
        });
    }
    let mut previous = start;
    for (i, c) in checkpoints.iter().enumerate() {
        let next = checkpoints
            .get(i + 1)
            .map(|n| vec![n.node.clone()])
            .unwrap_or_default();
        let writes = if c.node == graph::START {
            Value::Null
        } else {
            json!({ c.node.as_str(): writes(&previous, &c.values) })
        };
        steps.push(Step {
            values: c.values.clone(),
            next,
            source: "loop",
            writes,
        });
        previous = c.values.clone();
    }
    steps
}

/// The checkpoint a state update saves: `values` written as `as_node` (default: the echo
/// graph's node) on top of `base`, messages merged by id and other values replaced. After
/// `__start__` the node runs next; after the node, nothing.
pub fn update_step(base: &Value, values: &Value, as_node: Option<&str>) -> Result<Step, String> {
    let updates = match values {
        Value::Null => Map::new(),
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
    let next = if node == graph::START {
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
    use crate::graph::{Echo, Graphs, RunInput};

    async fn echo_steps(before: &Value, input: &Value) -> Result<Vec<Step>, String> {
        let graphs = Graphs::new().with("agent", Echo);
        let run = RunInput {
            input: input.clone(),
            state: before.clone(),
            config: Value::Null,
        };
        let checkpoints = graphs.run("agent", run).await?;
        Ok(run_steps(before, input, &checkpoints))
    }

    #[tokio::test]
    async fn an_echo_run_is_three_supersteps_whose_writes_rebuild_the_output() {
        let before = json!({"messages": [{"type": "human", "content": "old", "id": "m0"}]});
        let input = json!({"messages": [{"role": "user", "content": "hi", "id": "m1"}]});
        let steps = echo_steps(&before, &input).await.unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].values, before);
        assert_eq!(steps[0].writes, json!({"__start__": input}));
        assert_eq!(steps[0].next, ["__start__"]);
        let applied = steps[1].values["messages"].as_array().unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1]["id"], "m1");
        assert_eq!(steps[1].next, ["echo"]);
        assert_eq!(steps[1].writes, Value::Null);
        let replies = steps[2].writes["echo"]["messages"].as_array().unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["content"], "hi");
        assert_eq!(replies[0]["type"], "ai");
        assert!(steps[2].next.is_empty());
        let mut rebuilt = steps[1].values.clone();
        graph::add_messages(&mut rebuilt, replies.clone());
        assert_eq!(rebuilt, steps[2].values);
        assert!(echo_steps(&before, &Value::Null).await.unwrap().is_empty());
        assert!(echo_steps(&before, &json!({"messages": 3})).await.is_err());
    }

    #[test]
    fn a_changed_value_is_written_whole_and_an_unchanged_one_not_at_all() {
        let before = json!({"a": [1, 2], "b": {"x": 1}, "c": 1});
        let after = json!({"a": [2, 3], "b": {"x": 2}, "c": 1});
        assert_eq!(writes(&before, &after), json!({"a": [3], "b": {"x": 2}}));
        assert_eq!(writes(&Value::Null, &json!({"a": 1})), json!({"a": 1}));
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

#[cfg(test)]
mod writes_are_what_changed_doc {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_are_what_changed() {
        let before = json!({"messages": [{"id": "a"}], "n": 1, "k": true});
        let after = json!({"messages": [{"id": "a"}, {"id": "b"}], "n": 2, "k": true});
        assert_eq!(
            writes(&before, &after),
            json!({"messages": [{"id": "b"}], "n": 2})
        );
    }
}

#[cfg(test)]
mod steps_of_a_run_doc {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_of_a_run() {
        let input = json!({"note": "hi"});
        let graph = [
            graph::Checkpoint::new("record", json!({"notes": ["hi"]})),
            graph::Checkpoint::new("count", json!({"notes": ["hi"], "count": 1})),
        ];
        let steps = run_steps(&Value::Null, &input, &graph);
        let sources: Vec<_> = steps.iter().map(|s| s.source).collect();
        assert_eq!(sources, ["input", "loop", "loop", "loop"]);
        assert_eq!(steps[0].next, ["__start__"]);
        assert_eq!(steps[1].values, json!({}));
        assert_eq!(steps[1].next, ["record"]);
        assert_eq!(steps[2].writes, json!({"record": {"notes": ["hi"]}}));
        assert_eq!(steps[3].writes, json!({"count": {"count": 1}}));
        assert!(steps[3].next.is_empty());
    }
}
