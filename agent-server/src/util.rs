//! Small helpers: timestamps, API errors and lenient extractors that answer LangGraph's JSON errors.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::storage::StoreError;

/// The current time as an RFC 3339 string with microseconds, in UTC (`2025-01-31T12:00:00.000123+00:00`).
pub fn now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs(), d.subsec_micros())
}

/// Formats seconds since the Unix epoch (and microseconds) as RFC 3339 in UTC.
pub fn format_rfc3339(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An error answered as JSON `{"detail": ...}` with its status and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The detail sent to the client.
    pub detail: String,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// An error with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// 404 with the given detail.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422 with the given detail.
    pub fn invalid(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 409 with the given detail.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, detail)
    }

    /// 503 with the given detail: the database cannot answer now (the client may retry).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    /// 500 with the given detail.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl From<auth::HttpException> for ApiError {
    fn from(e: auth::HttpException) -> Self {
        ApiError {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: e.detail().to_owned(),
            headers: e
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// Seconds a client is told to wait (`Retry-After`) before it asks again a database that could
/// not answer, or for a turn among searches.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// How a storage error is answered: 503 with `Retry-After` when the database cannot answer now
/// (or every search turn stayed taken), 429 with `Retry-After` when the caller's own searches
/// hold every turn of theirs, 409 for a conflict, 403 for a user's write to what the server
/// owns, 422 for what the caller asked that no backend can do (a search too complex, or too
/// expensive to finish within the storage deadline), 500 for the rest; the detail is the error's
/// message. A change's own refusal ([`StoreError::Refused`]) is answered as the change's
/// `ApiError`, unchanged.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, retry) = match &e {
            StoreError::Refused(_) => {
                if let Some(own) = e.refusal::<ApiError>() {
                    return own.clone();
                }
                (StatusCode::INTERNAL_SERVER_ERROR, false)
            }
            StoreError::Unavailable(_)
            | StoreError::Closed
            | StoreError::Busy(crate::storage::Busy::Server(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, true)
            }
            StoreError::SystemOwned { .. } => (StatusCode::FORBIDDEN, false),
            StoreError::Busy(crate::storage::Busy::Caller(_)) => {
                (StatusCode::TOO_MANY_REQUESTS, true)
            }
            StoreError::Exists { .. } | StoreError::Conflict(_) => (StatusCode::CONFLICT, false),
            StoreError::Unstorable
            | StoreError::InvalidSearch(_)
            | StoreError::SearchTooComplex(_)
            | StoreError::Deadline(_) => (StatusCode::UNPROCESSABLE_ENTITY, false),
            StoreError::Filter(_) | StoreError::Corrupt(_) | StoreError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, false)
            }
        };
        let mut answer = ApiError::new(status, e.to_string());
        if retry {
            answer
                .headers
                .push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
        }
        answer
    }
}

/// A change to stored resources that refuses itself with an `ApiError` (`?` in the change):
/// [`StoreError::Refused`], answered as this `ApiError` again.
impl From<ApiError> for StoreError {
    fn from(e: ApiError) -> Self {
        StoreError::Refused(std::sync::Arc::new(e))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.detail)
    }
}

impl std::error::Error for ApiError {}

/// Answered as `auth::HttpException` answers itself: the status, the headers and
/// `{"detail": …}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers = self.headers.into_iter();
        headers
            .fold(
                auth::HttpException::new(self.status.as_u16()).with_detail(self.detail),
                |e, (name, value)| e.with_header(name, value),
            )
            .into_response()
    }
}

/// A JSON body: an empty body reads as `{}`; a malformed one is a 422 with a detail.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::invalid(format!("Invalid JSON body: {e}")))?
        };
        let value = if value.is_null() { json!({}) } else { value };
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
    }
}

/// The decoded query string.
#[derive(Debug, Default)]
pub struct QueryParams(pub auth::Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(QueryParams(auth::Params::from_query(
            parts.uri.query().unwrap_or(""),
        )))
    }
}

impl QueryParams {
    /// An integer parameter, or `default` when absent; 422 when not an integer.
    pub fn int(&self, name: &str, default: usize) -> Result<usize, ApiError> {
        match self.0.get(name) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "Query parameter {name} must be a non-negative integer"
                ))
            }),
        }
    }

    /// A boolean parameter (`true`/`1`), `false` when absent.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some("1" | "true" | "True"))
    }
}

/// Parses a UUID path or body id, answering 422 for anything else.
pub fn parse_uuid(kind: &str, id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::invalid(format!("Invalid {kind} ID: must be a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            format_rfc3339(951_782_400, 5),
            "2000-02-29T00:00:00.000005+00:00"
        );
        assert_eq!(
            format_rfc3339(1_735_689_599, 999_999),
            "2024-12-31T23:59:59.999999+00:00"
        );
    }

    /// Each storage error is answered with the status and detail it had as an `ApiError`; a
    /// change's own `ApiError` comes back whole.
    #[test]
    fn store_errors_answer_as_before() {
        use auth::sql::SqlError;
        let io = || std::sync::Arc::new(sqlx::Error::PoolTimedOut);
        let cases = [
            (StoreError::Unavailable(io()), 503, "database unavailable"),
            (StoreError::Closed, 503, "the database is closing"),
            (
                StoreError::Exists {
                    kind: "Thread",
                    id: "t1".into(),
                },
                409,
                "Thread t1 already exists",
            ),
            (
                StoreError::Conflict("the thread changed meanwhile".into()),
                409,
                "the thread changed meanwhile",
            ),
            (
                StoreError::SystemOwned {
                    kind: "Assistant",
                    id: "a1".into(),
                },
                403,
                "Assistant a1 belongs to the server (the default assistant of its graph): it \
                 cannot be changed or deleted",
            ),
            (
                StoreError::Unstorable,
                422,
                "the character U+0000 cannot be stored in this database",
            ),
            (
                StoreError::InvalidSearch(SqlError::TooDeep),
                422,
                "invalid search: a value nests arrays and objects more than 16 levels deep",
            ),
            (
                StoreError::Filter(SqlError::TooDeep),
                500,
                "the authorization filter cannot be applied: a value nests arrays and objects \
                 more than 16 levels deep",
            ),
            (
                StoreError::Corrupt("next".into()),
                500,
                "a stored next is malformed",
            ),
            (
                StoreError::Internal("a change may not alter the id".into()),
                500,
                "a change may not alter the id",
            ),
        ];
        for (e, status, detail) in cases {
            let answer = ApiError::from(e);
            assert_eq!(
                (answer.status.as_u16(), answer.detail.as_str()),
                (status, detail)
            );
            // Only an answer that asks the client to come back says when.
            let retry = answer
                .headers
                .iter()
                .any(|(n, v)| n == "retry-after" && v == "1");
            assert_eq!(retry, status == 503, "{status} {detail}");
        }
        use crate::storage::Busy;
        let cases = [
            (
                StoreError::SearchTooComplex("metadata: an object of 20000 keys".into()),
                422,
                "search too complex: metadata: an object of 20000 keys",
                false,
            ),
            (
                StoreError::Deadline(5000),
                422,
                "the search did not finish within the storage deadline of 5000 ms and was \
                 stopped: narrow it (fewer or smaller values, a smaller page)",
                false,
            ),
            (
                StoreError::Busy(Busy::Caller(4)),
                429,
                "too many searches in flight: at most 4 at once per user (--searches-per-user)",
                true,
            ),
            (
                StoreError::Busy(Busy::Server(8)),
                503,
                "the server is busy: 8 searches are in flight (--searches-in-flight)",
                true,
            ),
        ];
        for (e, status, detail, retry) in cases {
            let answer = ApiError::from(e);
            assert_eq!(
                (answer.status.as_u16(), answer.detail.as_str()),
                (status, detail)
            );
            assert_eq!(
                answer.headers.iter().any(|(n, _)| n == "retry-after"),
                retry
            );
        }
        let mut own = ApiError::not_found("Run r1 not found");
        own.headers.push(("x-a".into(), "b".into()));
        let back = ApiError::from(StoreError::from(own));
        assert_eq!(back.status, StatusCode::NOT_FOUND);
        assert_eq!(back.detail, "Run r1 not found");
        assert_eq!(back.headers, vec![("x-a".to_owned(), "b".to_owned())]);
    }
}
