//! `/assistants`: configured instances of a graph.

use auth::axum::Authenticated;
use auth::types::{
    AssistantsCreate, AssistantsDelete, AssistantsRead, AssistantsSearch, AssistantsUpdate,
    IfExists as AuthIfExists,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::authz::authorize;
use crate::graph;
use crate::model::{Assistant, AssistantVersion, Object};
use crate::storage::{Column, Condition, IfExists, Inserted, Search};
use crate::util::{ApiError, JsonBody, now, parse_uuid};

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
pub async fn resolve_for_run(
    state: &AppState,
    user: &Authenticated,
    raw_id: &str,
) -> Result<Assistant, ApiError> {
    let id = resolve_id(state, raw_id)?;
    let assistants = state.storage.assistants();
    let found = if is_default(state, &id) {
        // (The server's own row: start-up checked it, and no user write changes it.)
        let found = assistants.get(&id, &crate::defaults::scope()).await?;
        found.filter(|a| a.system)
    } else {
        let read = AssistantsRead::new().with_assistant_id(id.clone());
        let (_, scope) = authorize(state, user, read).await?;
        assistants.get(&id, &scope).await?
    };
    found.ok_or_else(|| not_found(raw_id))
}

/// An assistant id as given in a path or body: a UUID, or a graph id standing for the graph's
/// default assistant.
pub fn resolve_id(state: &AppState, id: &str) -> Result<String, ApiError> {
    if state.graphs.contains(id) {
        return Ok(graph::default_assistant_id(id).to_string());
    }
    parse_uuid("assistant", id).map(|u| u.to_string())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Assistant '{id}' not found"))
}

fn object(v: Option<Object>) -> Value {
    Value::Object(v.unwrap_or_default())
}

#[derive(Deserialize)]
pub(super) struct CreateBody {
    assistant_id: Option<String>,
    graph_id: Option<String>,
    config: Option<Object>,
    context: Option<Object>,
    metadata: Option<Object>,
    if_exists: Option<AuthIfExists>,
    name: Option<String>,
    description: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<Assistant>, ApiError> {
    let graph_id = body
        .graph_id
        .ok_or_else(|| ApiError::invalid("graph_id is required"))?;
    if !state.graphs.contains(&graph_id) {
        return Err(ApiError::not_found(format!("Graph '{graph_id}' not found")));
    }
    let id = match &body.assistant_id {
        Some(id) => crate::defaults::refuse_reserved(parse_uuid("assistant", id)?)?.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let (value, scope) = authorize(
        &state,
        &user,
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
        system: false,
    };
    let if_exists = match v.if_exists {
        Some(AuthIfExists::DoNothing) => IfExists::DoNothing,
        _ => IfExists::Raise,
    };
    match state
        .storage
        .assistants()
        .insert(assistant, if_exists, &scope)
        .await?
    {
        Inserted::Created(a) | Inserted::Existing(a) => Ok(Json(a)),
    }
}

pub(super) async fn read_checked(
    state: &AppState,
    user: &Authenticated,
    raw_id: &str,
) -> Result<Assistant, ApiError> {
    let id = resolve_id(state, raw_id)?;
    let (_, scope) = authorize(
        state,
        user,
        AssistantsRead::new().with_assistant_id(id.clone()),
    )
    .await?;
    state
        .storage
        .assistants()
        .get(&id, &scope)
        .await?
        .ok_or_else(|| not_found(raw_id))
}

pub(super) async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Assistant>, ApiError> {
    read_checked(&state, &user, &id).await.map(Json)
}

pub(super) async fn drawing(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = read_checked(&state, &user, &id).await?;
    let g = &a.current.graph_id;
    Ok(Json(
        state
            .graphs
            .get(g)
            .map_or(Value::Null, |graph| graph.drawing(g)),
    ))
}

pub(super) async fn schemas(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = read_checked(&state, &user, &id).await?;
    let g = &a.current.graph_id;
    Ok(Json(
        state
            .graphs
            .get(g)
            .map_or(Value::Null, |graph| graph.schemas(g)),
    ))
}

pub(super) async fn subgraphs(
    State(state): State<AppState>,
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read_checked(&state, &user, &id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(super) struct UpdateBody {
    graph_id: Option<String>,
    config: Option<Object>,
    context: Option<Object>,
    metadata: Option<Object>,
    name: Option<String>,
    description: Option<String>,
}

pub(super) async fn update(
    State(state): State<AppState>,
    user: Authenticated,
    Path(raw_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Assistant>, ApiError> {
    let id = resolve_id(&state, &raw_id)?;
    if let Some(g) = &body.graph_id
        && !state.graphs.contains(g)
    {
        return Err(ApiError::not_found(format!("Graph '{g}' not found")));
    }
    let (value, scope) = authorize(
        &state,
        &user,
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
    state
        .storage
        .assistants()
        .modify(&id, &scope, change)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&raw_id))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: Authenticated,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = resolve_id(&state, &raw_id)?;
    let (_, scope) = authorize(
        &state,
        &user,
        AssistantsDelete::new().with_assistant_id(id.clone()),
    )
    .await?;
    match state.storage.assistants().remove(&id, &scope).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&raw_id)),
    }
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    metadata: Option<Object>,
    graph_id: Option<String>,
    name: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

pub(super) async fn run_search(
    state: &AppState,
    user: &Authenticated,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Assistant>, usize), ApiError> {
    let (limit, offset) = super::page(body.limit, body.offset)?;
    let descending = super::descending(body.sort_order.as_deref())?;
    let (value, scope) = authorize(
        state,
        user,
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
    let page = state
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

pub(super) async fn search(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Response, ApiError> {
    let (items, total) = run_search(&state, &user, body, false).await?;
    Ok(([("X-Pagination-Total", total.to_string())], Json(items)).into_response())
}

pub(super) async fn count(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<usize>, ApiError> {
    run_search(&state, &user, body, true)
        .await
        .map(|(_, total)| Json(total))
}

#[derive(Deserialize)]
pub(super) struct VersionsBody {
    metadata: Option<Object>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub(super) async fn versions(
    State(state): State<AppState>,
    user: Authenticated,
    Path(raw_id): Path<String>,
    JsonBody(body): JsonBody<VersionsBody>,
) -> Result<Json<Vec<AssistantVersion>>, ApiError> {
    let (limit, offset) = super::page(body.limit, body.offset)?;
    let a = read_checked(&state, &user, &raw_id).await?;
    let wanted = body.metadata;
    Ok(Json(
        a.versions
            .into_iter()
            .rev()
            .filter(|v| crate::storage::wanted(&v.metadata, wanted.as_ref()))
            .skip(offset)
            .take(limit)
            .collect(),
    ))
}

#[derive(Deserialize)]
pub(super) struct LatestBody {
    version: Option<i64>,
}

pub(super) async fn set_latest(
    State(state): State<AppState>,
    user: Authenticated,
    Path(raw_id): Path<String>,
    JsonBody(body): JsonBody<LatestBody>,
) -> Result<Json<Assistant>, ApiError> {
    let id = resolve_id(&state, &raw_id)?;
    let version = body
        .version
        .ok_or_else(|| ApiError::invalid("version is required"))?;
    let (_, scope) = authorize(
        &state,
        &user,
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
            .ok_or_else(|| ApiError::not_found(format!("Version {version} not found")))?;
        a.current = found;
        a.updated_at = now();
        Ok(())
    });
    state
        .storage
        .assistants()
        .modify(&id, &scope, change)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&raw_id))
}
