//! Typed path ids: a handler takes `ThreadId`, `RunId` or `CronId` instead of a `Path<String>`
//! it parses itself. Each reads its own path parameter, answers 422 (`Invalid thread ID: must be
//! a UUID`) for one that is not a UUID, and holds the id normalized (lower case, hyphenated), as
//! storage keeps it.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use crate::util::{ApiError, parse_uuid};

/// Declares a path id extractor for the parameter `$param`, a UUID of `$kind`.
macro_rules! path_id {
    ($(#[$doc:meta])* $name:ident, $param:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub(crate) struct $name(pub(crate) String);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let params = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
                let raw = params
                    .iter()
                    .find_map(|(name, value)| (name == $param).then_some(value))
                    .ok_or_else(|| {
                        ApiError::internal(concat!("the route has no {", $param, "}"))
                    })?;
                parse_uuid($kind, raw).map(|id| $name(id.to_string()))
            }
        }
    };
}

path_id!(
    /// `{thread_id}`.
    ThreadId, "thread_id", "thread"
);
path_id!(
    /// `{run_id}`.
    RunId, "run_id", "run"
);
path_id!(
    /// `{cron_id}`.
    CronId, "cron_id", "cron"
);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn get_status(app: Router, uri: &str) -> (StatusCode, String) {
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn ids_are_uuids_normalized_or_422() {
        let app = Router::new().route(
            "/threads/{thread_id}/runs/{run_id}",
            get(|ThreadId(t): ThreadId, RunId(r): RunId| async move { format!("{t} {r}") }),
        );
        let (status, body) = get_status(
            app.clone(),
            "/threads/5EED0000-0000-4000-8000-000000000001/runs/5eed000000004000800000000000000a",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            "5eed0000-0000-4000-8000-000000000001 5eed0000-0000-4000-8000-00000000000a"
        );
        let (status, body) = get_status(
            app.clone(),
            "/threads/nope/runs/5eed0000-0000-4000-8000-00000000000a",
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Invalid thread ID: must be a UUID"), "{body}");
        let (status, body) =
            get_status(app, "/threads/5eed0000-0000-4000-8000-000000000001/runs/x").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Invalid run ID: must be a UUID"), "{body}");
    }
}
