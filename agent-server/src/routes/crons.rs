//! `/runs/crons`: scheduled runs. `next_run_date` is computed from the schedule (five fields, or
//! six with seconds first; in the cron's `timezone`, an IANA name, else UTC) at creation and at
//! each update, and is `null` once the cron is disabled or past its `end_time`. The run queue's
//! worker ([`crate::queue`]) fires a due cron once across replicas and creates its run as the
//! cron's owner.

use auth::axum::Authenticated;
use auth::types::{CronsCreate, CronsDelete, CronsRead, CronsSearch, CronsUpdate};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::ids::{CronId, ThreadId};
use super::threads::read_checked;
use crate::AppState;
use crate::authz::{Scope, authorize};
use crate::model::{Cron, Object};
use crate::storage::{Column, Condition, IfExists, Inserted, Search};
use crate::util::{ApiError, JsonBody, now};

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Cron {id} not found"))
}

/// Holds a cron's metadata to the filter its create or update handler returned.
///
/// A cron event has no `metadata` field (LangGraph's `CronsCreate` and `CronsUpdate` carry a
/// payload), so a handler such as the tutorial's `add_owner` cannot stamp its owner, and the
/// metadata would be whatever the caller sent: `{"owner": "someone else"}` would plant the cron in
/// another user's view. **Ours**: the filter's top-level equality conditions are written into the
/// metadata (the caller's values for those keys are overwritten), and a cron that still does not
/// match the filter is refused with 403, so a write never leaves a cron outside its writer's view.
fn hold_to<E>(metadata: &mut Object, scope: &Scope<E>) -> Result<(), ApiError> {
    let Some(filter) = scope.filter() else {
        return Ok(());
    };
    for (k, v) in filter.eq_conditions() {
        metadata.insert(k.to_owned(), v.clone());
    }
    if filter.matches(metadata) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden: the cron would not match the authorization filter",
        ))
    }
}

/// A cron schedule: five or six whitespace-separated fields that `croner` parses.
fn check_schedule(s: &str) -> Result<(), ApiError> {
    crate::queue::parse_schedule(s).map(|_| ())
}

/// An `end_time`: `null`, or a date-time string (RFC 3339; without an offset, UTC).
fn check_end_time(v: &Value) -> Result<(), ApiError> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if crate::queue::parse_time(s).is_some() => Ok(()),
        _ => Err(ApiError::invalid("end_time must be a date-time string")),
    }
}

/// The cron's next run date from now, `null` when disabled or past its end.
fn next_date(c: &Cron) -> Result<Value, ApiError> {
    if !c.enabled {
        return Ok(Value::Null);
    }
    let next = crate::queue::next_run_date(
        &c.schedule,
        c.timezone.as_deref(),
        &c.end_time,
        jiff::Timestamp::now(),
    )?;
    Ok(next.map_or(Value::Null, Value::String))
}

pub(super) async fn create_inner(
    state: &AppState,
    user: &Authenticated,
    thread_id: Option<String>,
    mut payload: Object,
) -> Result<Cron, ApiError> {
    let schedule = match payload.remove("schedule") {
        Some(Value::String(s)) => s,
        _ => return Err(ApiError::invalid("schedule is required")),
    };
    check_schedule(&schedule)?;
    let raw_assistant = payload
        .get("assistant_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("assistant_id is required"))?;
    // The assistant as the caller may read it (404 if hidden), as for a run.
    let assistant_id = super::assistants::resolve_for_run(state, user, raw_assistant)
        .await?
        .current
        .assistant_id;
    payload.insert("assistant_id".into(), assistant_id.clone().into());
    // A thread named in the payload is held to the caller's `threads.read`, as the path's is.
    let thread_id = match payload.get("thread_id") {
        None | Some(Value::Null) => thread_id,
        Some(Value::String(raw)) => {
            let named = read_checked(state, user, &super::threads::thread_id(raw)?, None)
                .await?
                .thread_id;
            if thread_id.as_ref().is_some_and(|t| *t != named) {
                return Err(ApiError::invalid(
                    "the payload's thread_id differs from the thread of the path",
                ));
            }
            payload.insert("thread_id".into(), named.clone().into());
            Some(named)
        }
        Some(_) => return Err(ApiError::invalid("thread_id must be a string")),
    };
    let end_time = match payload.remove("end_time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if crate::queue::parse_time(&s).is_some() => Some(s),
        Some(_) => return Err(ApiError::invalid("end_time must be a date-time string")),
    };
    let timezone = match payload.get("timezone") {
        None | Some(Value::Null) => None,
        Some(Value::String(tz)) => {
            crate::queue::time_zone(Some(tz))?;
            Some(tz.clone())
        }
        Some(_) => return Err(ApiError::invalid("timezone must be a string")),
    };
    match payload.get("on_run_completed") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "delete" || s == "keep" => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "on_run_completed must be \"delete\" or \"keep\"",
            ));
        }
    }
    let enabled = match payload.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("enabled must be a boolean")),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let (value, scope) = authorize(
        state,
        user,
        CronsCreate::new()
            .with_payload(payload)
            .with_schedule(schedule.clone())
            .with_cron_id(id.clone())
            .maybe_thread_id(thread_id.clone())
            .with_user_id(user.identity().to_owned())
            .maybe_end_time(end_time.clone()),
    )
    .await?;
    let v = value;
    let mut payload = v.payload.unwrap_or_default();
    // The cron's metadata is the payload's, as the handler left it, held to the handler's filter.
    let mut metadata = payload
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    hold_to(&mut metadata, &scope)?;
    if payload.contains_key("metadata") {
        payload.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    let at = now();
    let mut cron = Cron {
        cron_id: id,
        assistant_id,
        thread_id,
        schedule: v.schedule.unwrap_or(schedule),
        end_time: end_time.map_or(Value::Null, Value::from),
        user_id: v.user_id,
        metadata,
        enabled,
        timezone,
        on_run_completed: payload
            .get("on_run_completed")
            .cloned()
            .unwrap_or(Value::Null),
        next_run_date: Value::Null,
        // Its runs are created as this user's, whatever the handler did to `user_id`.
        owner: Some(user.to_json()),
        payload,
        created_at: at.clone(),
        updated_at: at,
    };
    check_schedule(&cron.schedule)?;
    cron.next_run_date = next_date(&cron)?;
    match state
        .storage
        .crons()
        .insert(cron, IfExists::Raise, &scope)
        .await?
    {
        Inserted::Created(c) | Inserted::Existing(c) => Ok(c),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: Authenticated,
    JsonBody(body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    create_inner(&state, &user, None, body).await.map(Json)
}

pub(super) async fn create_for_thread(
    State(state): State<AppState>,
    user: Authenticated,
    ThreadId(tid): ThreadId,
    JsonBody(body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    let thread = read_checked(&state, &user, &tid, None).await?;
    create_inner(&state, &user, Some(thread.thread_id), body)
        .await
        .map(Json)
}

pub(super) async fn read(
    State(state): State<AppState>,
    user: Authenticated,
    CronId(id): CronId,
) -> Result<Json<Cron>, ApiError> {
    let (_, scope) = authorize(&state, &user, CronsRead::new().with_cron_id(id.clone())).await?;
    state
        .storage
        .crons()
        .get(&id, &scope)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

pub(super) async fn update(
    State(state): State<AppState>,
    user: Authenticated,
    CronId(id): CronId,
    JsonBody(mut body): JsonBody<Object>,
) -> Result<Json<Cron>, ApiError> {
    let schedule = match body.remove("schedule") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            check_schedule(&s)?;
            Some(s)
        }
        Some(_) => return Err(ApiError::invalid("schedule must be a string")),
    };
    let (value, scope) = authorize(
        &state,
        &user,
        CronsUpdate::new()
            .with_cron_id(id.clone())
            .with_payload(body)
            .maybe_schedule(schedule),
    )
    .await?;
    let v = value;
    let guard = scope.clone();
    let change = Box::new(move |c: &mut Cron| {
        let patch = v.payload.unwrap_or_default();
        if let Some(s) = v.schedule {
            c.schedule = s;
        }
        for (k, val) in patch {
            match k.as_str() {
                "enabled" => {
                    c.enabled = val
                        .as_bool()
                        .ok_or_else(|| ApiError::invalid("enabled must be a boolean"))?;
                }
                "end_time" => {
                    check_end_time(&val)?;
                    c.end_time = val;
                }
                "on_run_completed" => {
                    if !matches!(val.as_str(), Some("delete" | "keep")) && !val.is_null() {
                        return Err(ApiError::invalid(
                            "on_run_completed must be \"delete\" or \"keep\"",
                        )
                        .into());
                    }
                    c.payload.insert(k, val.clone());
                    c.on_run_completed = val;
                }
                "timezone" => {
                    c.timezone = match val {
                        Value::Null => None,
                        Value::String(tz) => {
                            crate::queue::time_zone(Some(&tz))?;
                            Some(tz)
                        }
                        _ => return Err(ApiError::invalid("timezone must be a string").into()),
                    };
                }
                "metadata" => {
                    if let Value::Object(m) = val {
                        c.metadata.extend(m);
                    }
                }
                _ => {
                    c.payload.insert(k, val);
                }
            }
        }
        hold_to(&mut c.metadata, &guard)?;
        check_schedule(&c.schedule)?;
        c.next_run_date = next_date(c)?;
        c.updated_at = now();
        Ok(())
    });
    state
        .storage
        .crons()
        .modify(&id, &scope, change)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: Authenticated,
    CronId(id): CronId,
) -> Result<Response, ApiError> {
    let (_, scope) = authorize(&state, &user, CronsDelete::new().with_cron_id(id.clone())).await?;
    match state.storage.crons().remove(&id, &scope).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&id)),
    }
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    assistant_id: Option<String>,
    thread_id: Option<String>,
    metadata: Option<Object>,
    limit: Option<i64>,
    offset: Option<i64>,
    sort_order: Option<String>,
}

pub(super) async fn run_search(
    state: &AppState,
    user: &Authenticated,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Cron>, usize), ApiError> {
    let (limit, offset) = super::page(body.limit, body.offset)?;
    let descending = super::descending(body.sort_order.as_deref())?;
    let assistant_id = body
        .assistant_id
        .as_deref()
        .map(|a| super::assistants::resolve_id(state, a))
        .transpose()?;
    let thread_id = body
        .thread_id
        .as_deref()
        .map(super::threads::thread_id)
        .transpose()?;
    let (_, scope) = authorize(
        state,
        user,
        CronsSearch::new()
            .maybe_assistant_id(assistant_id.clone())
            .maybe_thread_id(thread_id.clone())
            .with_limit(limit as i64)
            .with_offset(offset as i64),
    )
    .await?;
    let mut conditions = Vec::new();
    if let Some(a) = assistant_id {
        conditions.push(Condition::Equals(Column::AssistantId, a));
    }
    if let Some(t) = thread_id {
        conditions.push(Condition::Equals(Column::ThreadId, t));
    }
    let page = state
        .storage
        .crons()
        .search(Search {
            metadata: body.metadata.as_ref(),
            conditions,
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
) -> Result<Json<Vec<Cron>>, ApiError> {
    run_search(&state, &user, body, false)
        .await
        .map(|(items, _)| Json(items))
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
