//! A team's agent server: its own policy and its own graph, served by the `private-conversations`
//! server library. This crate names no handler: `Auth::from_registry()` finds the ones below.
//!
//! The policy, by role:
//! - **admin** (`admin-token`) sees and changes everything;
//! - **members** (`ann-token`, `ben-token`) see and change only the threads they created, may
//!   read and search assistants but not create, change or delete them, and nothing else (crons,
//!   store);
//! - assistants are readable by all and writable by the admin.
//!
//! The graph, [`Notes`]: a run's input `{"note": "..."}` is appended to the thread's `notes`
//! with its author (`langgraph_auth_user_id`), then `count` is updated: two nodes, two
//! checkpoints.

use agent_server::graph::{Checkpoint, Graph, GraphStream, RunInput};
use auth::types::{AssistantsRead, AssistantsSearch, AssistantsValue, AuthValue, ThreadsValue};
use auth::{AuthContext, Filter, HttpException, MinimalUser};
use serde_json::{Value, json};

/// The role that may do everything.
pub const ADMIN: &str = "admin";

/// Tokens and their users: (token, identity, role).
pub const USERS: [(&str, &str, &str); 3] = [
    ("admin-token", "root", ADMIN),
    ("ann-token", "ann", "member"),
    ("ben-token", "ben", "member"),
];

fn is_admin(ctx: &AuthContext) -> bool {
    ctx.user.permissions().iter().any(|p| p == ADMIN)
}

/// `Authorization: Bearer <token>`; the role becomes the user's one permission.
#[auth::authenticate]
pub async fn authenticate(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| HttpException::new(401).with_detail("Missing bearer token"))?;
    let (_, identity, role) = USERS
        .iter()
        .find(|(t, _, _)| *t == token)
        .ok_or_else(|| HttpException::new(401).with_detail("Invalid token"))?;
    Ok(MinimalUser::new(*identity).with_permissions([*role]))
}

/// Threads: a member's are stamped with their identity and only theirs are visible; the admin
/// sees all.
#[auth::on(threads)]
pub async fn threads(ctx: &AuthContext, value: &mut ThreadsValue) -> Option<Filter> {
    let me = ctx.user.identity();
    let admin = is_admin(ctx);
    // What a thread is created or changed with carries its owner: a member's own identity
    // always (no member can give a thread to someone else); the admin's unless they name one.
    let writes = matches!(
        value,
        ThreadsValue::Create(_) | ThreadsValue::Update(_) | ThreadsValue::CreateRun(_)
    );
    if writes && let Some(metadata) = value.metadata_mut() {
        if admin {
            metadata.entry("owner").or_insert_with(|| me.into());
        } else {
            metadata.insert("owner".into(), me.into());
        }
    }
    (!admin).then(|| Filter::eq("owner", me))
}

/// Anyone may read an assistant.
#[auth::on(assistants.read)]
pub async fn read_assistant(_ctx: &AuthContext, _value: &AssistantsRead) -> bool {
    true
}

/// Anyone may search assistants.
#[auth::on(assistants.search)]
pub async fn search_assistants(_ctx: &AuthContext, _value: &AssistantsSearch) -> bool {
    true
}

/// Only the admin creates, changes or deletes assistants.
#[auth::on(assistants)]
pub async fn write_assistants(
    ctx: &AuthContext,
    _value: &mut AssistantsValue,
) -> Result<(), HttpException> {
    auth::ensure!(is_admin(ctx), "Only an admin may change assistants");
    Ok(())
}

/// Everything else (crons, the store) is the admin's.
#[auth::on]
pub async fn admin_only(ctx: &AuthContext, _value: &mut AuthValue) -> Result<(), HttpException> {
    auth::ensure!(is_admin(ctx), "Only an admin may do this");
    Ok(())
}

/// The team's graph: appends a note with its author, then counts the notes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notes;

#[async_trait::async_trait]
impl Graph for Notes {
    fn validate_input(&self, input: &Value) -> Result<(), String> {
        match input.get("note") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
            _ => Err("the input must be {\"note\": \"<some text>\"}".into()),
        }
    }

    fn schemas(&self, graph_id: &str) -> Value {
        let state = json!({
            "type": "object",
            "properties": {
                "notes": {"type": "array", "items": {"type": "object"}},
                "count": {"type": "integer"},
            },
        });
        json!({
            "graph_id": graph_id,
            "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]},
            "output_schema": state,
            "state_schema": state,
            "config_schema": {"type": "object", "properties": {}},
            "context_schema": null,
        })
    }

    async fn run(&self, run: RunInput) -> Result<GraphStream, String> {
        self.validate_input(&run.input)?;
        let author = run.auth_user_id().unwrap_or("anonymous").to_owned();
        let mut state = match run.state {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let notes = state
            .entry("notes")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .ok_or("the state's notes are not a list")?;
        notes.push(json!({"text": run.input["note"], "author": author}));
        let count = notes.len();
        let recorded = Value::Object(state.clone());
        state.insert("count".into(), count.into());
        let counted = Value::Object(state);
        Ok(Box::pin(futures_util::stream::iter([
            Ok(Checkpoint::new("record", recorded)),
            Ok(Checkpoint::new("count", counted)),
        ])))
    }
}

/// The server: this crate's handlers and the [`Notes`] graph as `notes`.
pub fn server() -> Result<agent_server::Server, auth::RegistryError> {
    let auth = auth::Auth::from_registry()?;
    Ok(agent_server::Server::new(auth).graph("notes", Notes))
}
