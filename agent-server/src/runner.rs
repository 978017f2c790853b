//! Executing runs: the server's own work on a thread after a run's creation was authorized. The
//! run queue's worker ([`crate::queue`]) calls [`execute`] for each run it claims.

use std::sync::Arc;

use auth::types::RunStatus;
use serde_json::{Value, json};

use crate::AppState;
use crate::authz::Scope;
use crate::graph;
use crate::model::{Object, Run};
use crate::storage::{Claim, NewCheckpoint, StoreError, ThreadTx, refresh_status};
use crate::util::now;

/// The run kwarg that makes the worker delete the run's thread once the run is finished: set by
/// the server for the runs of a thread-less cron whose `on_run_completed` is `delete` (removed
/// from what a caller sends).
pub(crate) const ON_COMPLETION: &str = "on_completion";

/// The graph's input for a stored run: its input, the state, its config.
pub(crate) fn run_input(run: &Run, state: Value) -> (String, graph::RunInput) {
    let config = run.kwargs.get("config").cloned().unwrap_or(Value::Null);
    let graph_id = config["configurable"]["graph_id"]
        .as_str()
        .unwrap_or(graph::GRAPH_ID)
        .to_owned();
    let input = run.kwargs.get("input").cloned().unwrap_or(Value::Null);
    (
        graph_id,
        graph::RunInput {
            input,
            state,
            config,
        },
    )
}

/// Executes a claimed run: the graph runs outside any lock on a copy of the thread's values; its
/// checkpoints are stored, and the run finished, in one transaction that succeeds only while the
/// claim still holds the run (not cancelled, not taken over) and the thread's state did not
/// change meanwhile (else the graph runs again on the new state).
pub(crate) async fn execute(state: &AppState, claim: &Claim) {
    // The run's creation was authorized; executing it is the server's own work on that thread.
    let system = Scope::system("a run executing on its thread after its creation was authorized");
    let (tid, rid) = (claim.thread_id.as_str(), claim.run_id.as_str());
    // Each round finishes the run or finds the state changed; bounded all the same.
    for _ in 0..10_000 {
        let Ok(Some((_, runs))) = state.storage.threads().runs(tid, &system).await else {
            break;
        };
        // Cancelled, removed or taken over: not ours to finish.
        let Some(next) = runs.iter().find(|r| claim.holds(r)).cloned() else {
            break;
        };
        let Ok(Some((thread, latest))) =
            state.storage.threads().checkpoint(tid, &system, None).await
        else {
            break;
        };
        let expected = latest.map(|c| c.checkpoint_id.clone());
        let before = thread.values.to_json();
        let (graph_id, input) = run_input(&next, before.clone());
        // The graph's checkpoints become LangGraph's supersteps (input, then one per node), all
        // computed here, outside any lock.
        let run_input = input.input.clone();
        let result = state
            .graphs
            .run(&graph_id, input)
            .await
            .map(|checkpoints| crate::history::run_steps(&before, &run_input, &checkpoints));
        let change = Box::new(|tx: &mut ThreadTx<'_>| {
            if tx.latest().map(|c| &c.checkpoint_id) != expected.as_ref() {
                return Err(StoreError::Conflict(
                    "the thread changed during the run".into(),
                ));
            }
            let Some(i) = tx.runs.iter().position(|r| claim.holds(r)) else {
                // Cancelled, removed or taken over meanwhile: nothing to finish.
                return Err(StoreError::Conflict("the run is no longer held".into()));
            };
            match &result {
                Ok(steps) => {
                    let mut md = Object::new();
                    md.insert("run_id".into(), next.run_id.clone().into());
                    md.insert("thread_id".into(), next.thread_id.clone().into());
                    md.insert("assistant_id".into(), next.assistant_id.clone().into());
                    md.insert("graph_id".into(), graph_id.clone().into());
                    for step in steps {
                        let mut metadata = md.clone();
                        metadata.insert("source".into(), step.source.into());
                        metadata.insert("writes".into(), step.writes.clone());
                        let values = tx.thread.values.derive(step.values.clone());
                        tx.push(NewCheckpoint {
                            values,
                            metadata,
                            next: step.next.clone(),
                            parent: None,
                        });
                    }
                    Arc::make_mut(&mut tx.runs[i]).status = RunStatus::Success;
                    tx.thread.error = Value::Null;
                }
                Err(e) => {
                    Arc::make_mut(&mut tx.runs[i]).status = RunStatus::Error;
                    tx.thread.error = json!({ "error": "ValueError", "message": e });
                }
            }
            let run = Arc::make_mut(&mut tx.runs[i]);
            run.updated_at = now();
            run.queue.lease_owner = None;
            run.queue.lease_until = None;
            if let Some(Value::Object(c)) = run.kwargs.get("config") {
                tx.thread.config = c.clone();
            }
            refresh_status(tx);
            Ok(())
        });
        match state.storage.threads().transact(tid, &system, change).await {
            Ok(Some(_))
                if next.kwargs.get(ON_COMPLETION).and_then(Value::as_str) == Some("delete") =>
            {
                if let Err(e) = state.storage.threads().remove(tid, &system).await {
                    tracing::warn!(thread_id = tid, detail = %e, "a cron's thread");
                }
                break;
            }
            Ok(_) => break,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => {
                tracing::error!(
                    thread_id = tid,
                    run_id = rid,
                    scope = system.describe(),
                    detail = %e,
                    "run failed"
                );
                break;
            }
        }
    }
    state.runs_done.notify_waiters();
    // The thread's next run may be claimable now.
    state.queue.wake();
}
