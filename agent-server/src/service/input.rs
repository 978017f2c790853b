//! Checks of a request's input, shared by the operations: list bounds, id sets, pages and sort
//! orders. Each answers 422 with a detail naming what is wrong, before any handler runs.

use crate::util::{ApiError, parse_uuid};

/// The most elements any list in a request body may hold: ids (`ids`, `thread_ids`,
/// `run_ids`), runs of a batch, input messages, stream modes. Over it the request is 422 before
/// any handler runs. (`SECURITY.md`, "Bounds".)
pub(crate) const MAX_LIST: usize = 1000;

/// The most labels a store namespace, prefix or suffix may hold; over it, 422.
pub(crate) const MAX_NAMESPACE_LABELS: usize = 100;

/// 422 when `list` holds more than `max` elements.
pub(crate) fn bounded<T>(what: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.len() > max {
        return Err(ApiError::invalid(format!(
            "{what} may hold at most {max} elements, not {}",
            list.len()
        )));
    }
    Ok(())
}

/// Ids of a request body as a set: each parsed by `parse` (422 for a malformed one), at most
/// [`MAX_LIST`] of them, duplicates dropped (first occurrence kept).
pub(crate) fn id_set(
    what: &str,
    ids: &[String],
    parse: impl Fn(&str) -> Result<String, ApiError>,
) -> Result<Vec<String>, ApiError> {
    bounded(what, ids, MAX_LIST)?;
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id = parse(id)?;
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// `limit` and `offset` of a search body, with LangGraph's defaults; 422 when out of range.
pub(crate) fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(10);
    let offset = offset.unwrap_or(0);
    if !(0..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 0 and 10000"));
    }
    if offset < 0 {
        return Err(ApiError::invalid("offset must not be negative"));
    }
    Ok((limit as usize, offset as usize))
}

/// `sort_order` of a search body: descending unless `"asc"`; 422 for anything else.
pub(crate) fn descending(sort_order: Option<&str>) -> Result<bool, ApiError> {
    match sort_order {
        None | Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(o) => Err(ApiError::invalid(format!(
            "sort_order must be \"asc\" or \"desc\", not {o:?}"
        ))),
    }
}

/// A thread id from a body, normalized; 422 unless a UUID.
pub(crate) fn thread_id(id: &str) -> Result<String, ApiError> {
    parse_uuid("thread", id).map(|u| u.to_string())
}

/// A run id from a body, normalized; 422 unless a UUID.
pub(crate) fn run_id(id: &str) -> Result<String, ApiError> {
    parse_uuid("run", id).map(|u| u.to_string())
}
