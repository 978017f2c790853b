//! Each graph's default assistant: the server creates it at start-up, as `langgraph dev` does,
//! under the id [`graph::default_assistant_id`] (uuid5 of the graph's name), and every
//! authenticated user may run it (`SECURITY.md`, "Default assistants").
//!
//! That it belongs to the server is a property of its stored row ([`Assistant::system`]), which
//! only the server's own work sets: storage refuses a user's change or removal of it
//! ([`crate::storage::StoreError::SystemOwned`], 403). And since the id alone names it, the ids
//! a default assistant could have are **reserved**: a user may not create an assistant whose id
//! is a version-5 UUID ([`is_reserved`]), so nobody can take the id of a graph added later (or of
//! one whose start-up insert failed) and have every user's runs use their config. A uuid5 cannot
//! be told apart by its namespace (the namespace is hashed in), so the whole version is
//! reserved; clients that choose ids choose random (version 4) ones.
//!
//! At start-up ([`create_all`]), a default assistant that is missing is created; one that is
//! there must be the server's (its row marked so, for this graph), or the server does not start.

use serde_json::json;
use uuid::Uuid;

use crate::authz::{Scope, System};
use crate::graph::{self, Graphs};
use crate::model::{Assistant, AssistantVersion};
use crate::storage::{IfExists, Inserted, Storage};
use crate::util::{ApiError, now};

/// Whether `id` lies in the space reserved for the graphs' default assistants: a version-5
/// UUID, as every [`graph::default_assistant_id`] is.
///
/// ```text
/// default_assistant_id("agent") = fe096781-5601-53d2-b2f6-0d3403f7e9ca  (reserved)
/// a random id                   = 1b4e28ba-2fa1-41d2-883f-0016d3cca427  (not: version 4)
/// ```
pub(crate) fn is_reserved(id: &Uuid) -> bool {
    id.get_version_num() == 5
}

/// `id` if a user may create an assistant under it, else a 422 saying that the id is reserved.
pub(crate) fn refuse_reserved(id: Uuid) -> Result<Uuid, ApiError> {
    if is_reserved(&id) {
        return Err(ApiError::invalid(format!(
            "assistant_id {id} is a version-5 UUID: those are reserved for the server's default \
             assistants (uuid5 of a graph's name); choose another id (a random, version-4 one) \
             or none"
        )));
    }
    Ok(id)
}

/// The scope of the server's work on default assistants: created by it at start-up, read for
/// every authenticated user's runs.
pub(crate) fn scope() -> Scope<System> {
    Scope::system("a graph's default assistant, usable by every authenticated user")
}

/// The default assistant of `graph_id`, as the server creates it.
fn new_default(graph_id: &str) -> Assistant {
    let version = AssistantVersion {
        assistant_id: graph::default_assistant_id(graph_id).to_string(),
        graph_id: graph_id.into(),
        config: json!({}),
        context: json!({}),
        metadata: json!({"created_by": "system"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        version: 1,
        name: graph_id.into(),
        description: None,
        created_at: now(),
    };
    Assistant {
        updated_at: version.created_at.clone(),
        versions: vec![version.clone()],
        current: version,
        system: true,
    }
}

/// Creates the default assistant of every graph that lacks one, and checks the ones there: each
/// must be the server's, for its graph. The error says which graph, which id and why, for the
/// start-up to print (the server then does not start).
pub(crate) async fn create_all(storage: &Storage, graphs: &Graphs) -> Result<(), String> {
    for name in graphs.names() {
        let id = graph::default_assistant_id(name);
        let inserted = storage
            .assistants()
            .insert(new_default(name), IfExists::DoNothing, &scope())
            .await
            .map_err(|e| {
                format!("cannot create the default assistant {id} of the graph {name:?}: {e}")
            })?;
        let existing = match inserted {
            Inserted::Created(_) => continue,
            Inserted::Existing(existing) => existing,
        };
        if !existing.system {
            return Err(format!(
                "the default assistant id {id} of the graph {name:?} is taken by an assistant \
                 the server did not create (named {:?}, created {}): remove it from the \
                 database (it may be a user's attempt to have every user's runs use its \
                 config), then start again",
                existing.current.name,
                existing
                    .versions
                    .first()
                    .unwrap_or(&existing.current)
                    .created_at,
            ));
        }
        if existing.current.graph_id != name {
            return Err(format!(
                "the default assistant {id} of the graph {name:?} runs the graph {:?}",
                existing.current.graph_id
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ids_are_reserved_and_random_ones_are_not() {
        for name in ["agent", "a graph added later", ""] {
            assert!(is_reserved(&graph::default_assistant_id(name)), "{name}");
        }
        assert!(is_reserved(&Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"x")));
        for _ in 0..100 {
            assert!(!is_reserved(&Uuid::new_v4()));
        }
        assert!(!is_reserved(&Uuid::nil()));
    }
}
