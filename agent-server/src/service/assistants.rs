//! `/assistants`: configured instances of a graph.

use auth::types::{
    AssistantsCreate, AssistantsDelete, AssistantsRead, AssistantsSearch, AssistantsUpdate,
    IfExists as AuthIfExists,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Caller, Found, Missing, input};
use crate::AppState;
use crate::authz::{Scope, System};
use crate::graph;
use crate::model::{Assistant, AssistantVersion, Object};
use crate::storage::{Column, Condition, IfExists, Inserted, Search};
use crate::util::{ApiError, now, parse_uuid};

/// Creates the assistant of every graph, as `langgraph dev` does at start-up.
pub(crate) async fn create_default_assistants(state: &AppState) {
    for name in state.graphs.names() {
        create_default_assistant(state, name).await;
    }
}

pub(crate) async fn create_default_assistant(state: &AppState, graph_id: &str) {
    let id = graph::default_assistant_id(graph_id).to_string();
    let version = AssistantVersion {
        assistant_id: id,
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
    let assistant = Assistant {
        updated_at: version.created_at.clone(),
        versions: vec![version.clone()],
        current: version,
    };
    // Only fails if it exists already, which is fine.
    let _ = state
        .storage
        .assistants()
        .insert(assistant, IfExists::DoNothing, &default_assistant_scope())
        .await;
}

/// The scope of a graph's default assistant: created by the server at start-up, usable by every
/// authenticated user under every policy (`SECURITY.md`, "Assistants of runs and crons").
fn default_assistant_scope() -> Scope<System> {
    Scope::system("a graph's default assistant, usable by every authenticated user")
}

/// Whether `id` (resolved) is the default assistant of one of the server's graphs.
fn is_default(state: &AppState, id: &str) -> bool {
    state
        .graphs
        .names()
        .any(|g| id == graph::default_assistant_id(g).to_string())
}

/// The assistant a run or a cron names, as the caller may read it.
///
/// A graph's default assistant (named by its id or by its graph id, `"agent"`) is usable by
/// every authenticated user. Any other assistant is resolved under the `assistants.read`
/// handler's decision and filter, exactly as `GET /assistants/{id}`: the handler's refusal is
/// answered as is, and an assistant its filter hides is 404, as a missing one.
pub(crate) async fn resolve_for_run(c: &Caller, raw_id: &str) -> Result<Assistant, ApiError> {
    let id = resolve_id(&c.state, raw_id)?;
    let assistants = c.state.storage.assistants();
    let found = if is_default(&c.state, &id) {
        assistants.get(&id, &default_assistant_scope()).await?
    } else {
        let read = AssistantsRead::new().with_assistant_id(id.clone());
        let (_, scope) = c.authorize(read).await?;
        assistants.get(&id, &scope).await?
    };
    found.or_missing(Missing::Assistant(raw_id))
}

/// An assistant id as given in a path or body: a UUID, or a graph id standing for the graph's
/// default assistant.
pub(crate) fn resolve_id(state: &AppState, id: &str) -> Result<String, ApiError> {
    if state.graphs.contains(id) {
        return Ok(graph::default_assistant_id(id).to_string());
    }
    parse_uuid("assistant", id).map(|u| u.to_string())
}

fn object(v: Option<Object>) -> Value {
    Value::Object(v.unwrap_or_default())
}

/// The body of `POST /assistants`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AssistantCreate)]
pub(crate) struct CreateBody {
    /// An id of your choice (a UUID).
    assistant_id: Option<String>,
    /// The graph to run (required).
    graph_id: Option<String>,
    /// Configuration.
    config: Option<Object>,
    /// Context.
    context: Option<Object>,
    /// Metadata.
    metadata: Option<Object>,
    /// `raise` (409, the default) or `do_nothing`.
    #[schema(value_type = Option<String>)]
    if_exists: Option<AuthIfExists>,
    /// Its name.
    name: Option<String>,
    /// Its description.
    description: Option<String>,
}

/// `assistants.create`: a new assistant of a graph the server has.
pub(crate) async fn create(c: &Caller, body: CreateBody) -> Result<Assistant, ApiError> {
    let graph_id = body
        .graph_id
        .ok_or_else(|| ApiError::invalid("graph_id is required"))?;
    if !c.state.graphs.contains(&graph_id) {
        return Err(Missing::Graph(&graph_id).into());
    }
    let id = match &body.assistant_id {
        Some(id) => parse_uuid("assistant", id)?.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let (value, scope) = c
        .authorize(
            AssistantsCreate::new()
                .with_assistant_id(id.clone())
                .with_graph_id(graph_id.clone())
                .maybe_config(body.config)
                .maybe_context(body.context)
                .maybe_metadata(body.metadata)
                .maybe_if_exists(body.if_exists)
                .maybe_name(body.name),
        )
        .await?;
    let v = value;
    let at = now();
    let version = AssistantVersion {
        assistant_id: id,
        graph_id: v.graph_id.unwrap_or(graph_id),
        config: object(v.config),
        context: object(v.context),
        metadata: v.metadata.unwrap_or_default(),
        version: 1,
        name: v.name.unwrap_or_else(|| "Untitled".into()),
        description: body.description,
        created_at: at.clone(),
    };
    let assistant = Assistant {
        updated_at: at,
        versions: vec![version.clone()],
        current: version,
    };
    let if_exists = match v.if_exists {
        Some(AuthIfExists::DoNothing) => IfExists::DoNothing,
        _ => IfExists::Raise,
    };
    match c
        .state
        .storage
        .assistants()
        .insert(assistant, if_exists, &scope)
        .await?
    {
        Inserted::Created(a) | Inserted::Existing(a) => Ok(a),
    }
}

/// `assistants.read`: the assistant `raw_id` names (a UUID, or a graph id for its default
/// assistant), if the scope lets the caller see it.
pub(crate) async fn read(c: &Caller, raw_id: &str) -> Result<Assistant, ApiError> {
    let id = resolve_id(&c.state, raw_id)?;
    let scope = c
        .scope(AssistantsRead::new().with_assistant_id(id.clone()))
        .await?;
    let found = c.state.storage.assistants().get(&id, &scope).await?;
    found.or_missing(Missing::Assistant(raw_id))
}

/// `assistants.read`: the drawing of the assistant's graph.
pub(crate) async fn drawing(c: &Caller, raw_id: &str) -> Result<Value, ApiError> {
    let a = read(c, raw_id).await?;
    let g = &a.current.graph_id;
    let graph = c.state.graphs.get(g);
    Ok(graph.map_or(Value::Null, |graph| graph.drawing(g)))
}

/// `assistants.read`: the schemas of the assistant's graph.
pub(crate) async fn schemas(c: &Caller, raw_id: &str) -> Result<Value, ApiError> {
    let a = read(c, raw_id).await?;
    let g = &a.current.graph_id;
    let graph = c.state.graphs.get(g);
    Ok(graph.map_or(Value::Null, |graph| graph.schemas(g)))
}

/// `assistants.read`: the subgraphs of the assistant's graph (none: graphs here have none).
pub(crate) async fn subgraphs(c: &Caller, raw_id: &str) -> Result<Value, ApiError> {
    read(c, raw_id).await?;
    Ok(json!({}))
}

/// The body of `PATCH /assistants/{assistant_id}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AssistantUpdate)]
pub(crate) struct UpdateBody {
    /// Another graph.
    graph_id: Option<String>,
    /// Configuration.
    config: Option<Object>,
    /// Context.
    context: Option<Object>,
    /// Metadata to merge.
    metadata: Option<Object>,
    /// Its name.
    name: Option<String>,
    /// Its description.
    description: Option<String>,
}

/// `assistants.update`: a new version, the current one with the update applied.
pub(crate) async fn update(
    c: &Caller,
    raw_id: &str,
    body: UpdateBody,
) -> Result<Assistant, ApiError> {
    let id = resolve_id(&c.state, raw_id)?;
    if let Some(g) = &body.graph_id
        && !c.state.graphs.contains(g)
    {
        return Err(Missing::Graph(g).into());
    }
    let (value, scope) = c
        .authorize(
            AssistantsUpdate::new()
                .with_assistant_id(id.clone())
                .maybe_graph_id(body.graph_id)
                .maybe_config(body.config)
                .maybe_context(body.context)
                .maybe_metadata(body.metadata)
                .maybe_name(body.name),
        )
        .await?;
    let v = value;
    let description = body.description;
    let change = Box::new(move |a: &mut Assistant| {
        let mut next = a.current.clone();
        next.version = a.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        next.created_at = now();
        if let Some(g) = v.graph_id {
            next.graph_id = g;
        }
        if let Some(c) = v.config {
            next.config = Value::Object(c);
        }
        if let Some(c) = v.context {
            next.context = Value::Object(c);
        }
        if let Some(m) = v.metadata {
            next.metadata.extend(m);
        }
        if let Some(n) = v.name {
            next.name = n;
        }
        if description.is_some() {
            next.description = description;
        }
        a.updated_at = next.created_at.clone();
        a.versions.push(next.clone());
        a.current = next;
        Ok(())
    });
    c.state
        .storage
        .assistants()
        .modify(&id, &scope, change)
        .await?
        .or_missing(Missing::Assistant(raw_id))
}

/// `assistants.delete`: the assistant and all its versions.
pub(crate) async fn delete(c: &Caller, raw_id: &str) -> Result<(), ApiError> {
    let id = resolve_id(&c.state, raw_id)?;
    let (_, scope) = c
        .authorize(AssistantsDelete::new().with_assistant_id(id.clone()))
        .await?;
    let removed = c.state.storage.assistants().remove(&id, &scope).await?;
    removed.map(drop).or_missing(Missing::Assistant(raw_id))
}

/// The body of `POST /assistants/search` and `POST /assistants/count`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AssistantSearch)]
pub(crate) struct SearchBody {
    /// Metadata the assistants contain.
    metadata: Option<Object>,
    /// Only this graph's.
    graph_id: Option<String>,
    /// Only names containing this.
    name: Option<String>,
    /// At most this many.
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
    /// `created_at` (default), `updated_at`, `assistant_id`, `graph_id` or `name`.
    sort_by: Option<String>,
    /// `asc` or `desc` (default).
    sort_order: Option<String>,
}

/// `assistants.search`: a page of the assistants the caller may see that match, and how many
/// match in all (with `count_only`, no page: only the count).
pub(crate) async fn search(
    c: &Caller,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Assistant>, usize), ApiError> {
    let (limit, offset) = input::page(body.limit, body.offset)?;
    let descending = input::descending(body.sort_order.as_deref())?;
    let (value, scope) = c
        .authorize(
            AssistantsSearch::new()
                .maybe_graph_id(body.graph_id)
                .maybe_metadata(body.metadata)
                .with_limit(limit as i64)
                .with_offset(offset as i64),
        )
        .await?;
    let v = value;
    let mut conditions = Vec::new();
    if let Some(g) = v.graph_id {
        conditions.push(Condition::Equals(Column::GraphId, g));
    }
    if let Some(n) = body.name {
        conditions.push(Condition::Holds(Column::Name, n));
    }
    let sort = match body.sort_by.as_deref() {
        None | Some("created_at") => Column::CreatedAt,
        Some("assistant_id") => Column::Id,
        Some("graph_id") => Column::GraphId,
        Some("name") => Column::Name,
        Some("updated_at") => Column::UpdatedAt,
        Some(s) => {
            return Err(ApiError::invalid(format!(
                "cannot sort assistants by {s:?}"
            )));
        }
    };
    let page = c
        .state
        .storage
        .assistants()
        .search(Search {
            metadata: v.metadata.as_ref(),
            conditions,
            sort,
            descending,
            limit: if count_only { 0 } else { limit },
            offset,
            ..Search::new(&scope)
        })
        .await?;
    Ok((page.items, page.total))
}

/// The body of `POST /assistants/{assistant_id}/versions`.
#[derive(Deserialize, ToSchema)]
#[schema(as = VersionSearch)]
pub(crate) struct VersionsBody {
    /// Metadata the versions contain.
    metadata: Option<Object>,
    /// At most this many.
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
}

/// `assistants.read`: a page of the assistant's versions, newest first.
pub(crate) async fn versions(
    c: &Caller,
    raw_id: &str,
    body: VersionsBody,
) -> Result<Vec<AssistantVersion>, ApiError> {
    let (limit, offset) = input::page(body.limit, body.offset)?;
    let a = read(c, raw_id).await?;
    let wanted = body.metadata;
    Ok(a.versions
        .into_iter()
        .rev()
        .filter(|v| crate::storage::wanted(&v.metadata, wanted.as_ref()))
        .skip(offset)
        .take(limit)
        .collect())
}

/// The body of `POST /assistants/{assistant_id}/latest`.
#[derive(Deserialize, ToSchema)]
#[schema(as = SetLatest)]
pub(crate) struct LatestBody {
    /// The version to make current.
    version: Option<i64>,
}

/// `assistants.update`: makes a stored version the current one.
pub(crate) async fn set_latest(
    c: &Caller,
    raw_id: &str,
    body: LatestBody,
) -> Result<Assistant, ApiError> {
    let id = resolve_id(&c.state, raw_id)?;
    let version = body
        .version
        .ok_or_else(|| ApiError::invalid("version is required"))?;
    let (_, scope) = c
        .authorize(
            AssistantsUpdate::new()
                .with_assistant_id(id.clone())
                .with_version(version),
        )
        .await?;
    let change = Box::new(move |a: &mut Assistant| {
        let found = a
            .versions
            .iter()
            .find(|v| i64::try_from(v.version).ok() == Some(version))
            .cloned()
            .or_missing(Missing::Version(version))?;
        a.current = found;
        a.updated_at = now();
        Ok(())
    });
    c.state
        .storage
        .assistants()
        .modify(&id, &scope, change)
        .await?
        .or_missing(Missing::Assistant(raw_id))
}
