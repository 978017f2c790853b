//! Crons: scheduled runs. `next_run_date` is computed from the schedule (five fields, or
//! six with seconds first; in the cron's `timezone`, an IANA name, else UTC) at creation and at
//! each update, and is `null` once the cron is disabled or past its `end_time`. The run queue's
//! worker ([`crate::queue`]) fires a due cron once across replicas and creates its run as the
//! cron's owner.

use auth::types::{CronsCreate, CronsDelete, CronsRead, CronsSearch, CronsUpdate};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Caller, Found, Missing, assistants, input, threads};
use crate::authz::Scope;
use crate::model::{Cron, Object};
use crate::storage::{Column, Condition, IfExists, Inserted, Search};
use crate::util::{ApiError, now};

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

/// `crons.create`: a cron (on the thread `thread_id`, which the caller was allowed to read)
/// from its request body.
pub(crate) async fn create(
    c: &Caller,
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
    let assistant_id = assistants::resolve_for_run(c, raw_assistant)
        .await?
        .current
        .assistant_id;
    payload.insert("assistant_id".into(), assistant_id.clone().into());
    // A thread named in the payload is held to the caller's `threads.read`, as the path's is.
    let thread_id = match payload.get("thread_id") {
        None | Some(Value::Null) => thread_id,
        Some(Value::String(raw)) => {
            let named = threads::read(c, &input::thread_id(raw)?, None)
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
    let (value, scope) = c
        .authorize(
            CronsCreate::new()
                .with_payload(payload)
                .with_schedule(schedule.clone())
                .with_cron_id(id.clone())
                .maybe_thread_id(thread_id.clone())
                .with_user_id(c.user.identity().to_owned())
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
        owner: Some(c.user.to_json()),
        payload,
        created_at: at.clone(),
        updated_at: at,
    };
    check_schedule(&cron.schedule)?;
    cron.next_run_date = next_date(&cron)?;
    match c
        .state
        .storage
        .crons()
        .insert(cron, IfExists::Raise, &scope)
        .await?
    {
        Inserted::Created(cron) | Inserted::Existing(cron) => Ok(cron),
    }
}

/// `crons.create` on the thread `tid` (after `threads.read` of it).
pub(crate) async fn create_for_thread(
    c: &Caller,
    tid: &str,
    body: Object,
) -> Result<Cron, ApiError> {
    let thread = threads::read(c, tid, None).await?;
    create(c, Some(thread.thread_id), body).await
}

/// `crons.read`: the cron, if the scope lets the caller see it.
pub(crate) async fn read(c: &Caller, id: &str) -> Result<Cron, ApiError> {
    let scope = c.scope(CronsRead::new().with_cron_id(id)).await?;
    let found = c.state.storage.crons().get(id, &scope).await?;
    found.or_missing(Missing::Cron(id))
}

/// `crons.update`: the schedule and the payload's fields (`enabled`, `end_time`,
/// `on_run_completed`, `timezone`, `metadata`, the rest into the payload); the next run date
/// again.
pub(crate) async fn update(c: &Caller, id: &str, mut body: Object) -> Result<Cron, ApiError> {
    let schedule = match body.remove("schedule") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            check_schedule(&s)?;
            Some(s)
        }
        Some(_) => return Err(ApiError::invalid("schedule must be a string")),
    };
    let (value, scope) = c
        .authorize(
            CronsUpdate::new()
                .with_cron_id(id)
                .with_payload(body)
                .maybe_schedule(schedule),
        )
        .await?;
    let v = value;
    let guard = scope.clone();
    let change = Box::new(move |cron: &mut Cron| {
        let patch = v.payload.unwrap_or_default();
        if let Some(s) = v.schedule {
            cron.schedule = s;
        }
        for (k, val) in patch {
            match k.as_str() {
                "enabled" => {
                    cron.enabled = val
                        .as_bool()
                        .ok_or_else(|| ApiError::invalid("enabled must be a boolean"))?;
                }
                "end_time" => {
                    check_end_time(&val)?;
                    cron.end_time = val;
                }
                "on_run_completed" => {
                    if !matches!(val.as_str(), Some("delete" | "keep")) && !val.is_null() {
                        return Err(ApiError::invalid(
                            "on_run_completed must be \"delete\" or \"keep\"",
                        )
                        .into());
                    }
                    cron.payload.insert(k, val.clone());
                    cron.on_run_completed = val;
                }
                "timezone" => {
                    cron.timezone = match val {
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
                        cron.metadata.extend(m);
                    }
                }
                _ => {
                    cron.payload.insert(k, val);
                }
            }
        }
        hold_to(&mut cron.metadata, &guard)?;
        check_schedule(&cron.schedule)?;
        cron.next_run_date = next_date(cron)?;
        cron.updated_at = now();
        Ok(())
    });
    c.state
        .storage
        .crons()
        .modify(id, &scope, change)
        .await?
        .or_missing(Missing::Cron(id))
}

/// `crons.delete`: the cron (its runs stay).
pub(crate) async fn delete(c: &Caller, id: &str) -> Result<(), ApiError> {
    let scope = c.scope(CronsDelete::new().with_cron_id(id)).await?;
    let removed = c.state.storage.crons().remove(id, &scope).await?;
    removed.map(drop).or_missing(Missing::Cron(id))
}

/// The body of `POST /runs/crons/search` and `POST /runs/crons/count`.
#[derive(Deserialize, ToSchema)]
#[schema(as = CronSearch)]
pub(crate) struct SearchBody {
    /// Only this assistant's.
    assistant_id: Option<String>,
    /// Only this thread's.
    thread_id: Option<String>,
    /// Metadata the crons contain.
    metadata: Option<Object>,
    /// At most this many.
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
    /// `asc` or `desc` (default).
    sort_order: Option<String>,
}

/// `crons.search`: a page of the crons the caller may see that match, and how many match in all
/// (with `count_only`, no page: only the count).
pub(crate) async fn search(
    c: &Caller,
    body: SearchBody,
    count_only: bool,
) -> Result<(Vec<Cron>, usize), ApiError> {
    let (limit, offset) = input::page(body.limit, body.offset)?;
    let descending = input::descending(body.sort_order.as_deref())?;
    let assistant_id = body
        .assistant_id
        .as_deref()
        .map(|a| assistants::resolve_id(&c.state, a))
        .transpose()?;
    let thread_id = body
        .thread_id
        .as_deref()
        .map(input::thread_id)
        .transpose()?;
    let scope = c
        .scope(
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
    let page = c
        .state
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
