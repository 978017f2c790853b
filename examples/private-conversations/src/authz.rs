//! The glue between routes and the `auth` dispatcher: emits an event, logs who decided what.

use auth::types::AuthValue;
use auth::{AuthUser, Filter};

use crate::AppState;
use crate::util::ApiError;

/// Runs the handler for the value's event and returns its filter, or the error to answer with.
///
/// The handler has [`Limits::handler_timeout`](crate::Limits) to answer, else the answer is 504
/// naming it. It runs before the route changes anything, so a handler that fails, panics or
/// misses the deadline leaves storage as it was.
///
/// Logs (at `debug`) the user, the event, the handler that decided and the outcome, never a
/// token; counts the decision in `auth_authorizations_total{event, handler, outcome}`.
pub async fn authorize(
    state: &AppState,
    user: &AuthUser,
    value: &mut AuthValue,
) -> Result<Option<Filter>, ApiError> {
    let (resource, action) = (value.resource(), value.action());
    let limit = state.limits.handler_timeout;
    let result = tokio::time::timeout(limit, state.auth.authorize(user, value))
        .await
        .unwrap_or_else(|_| {
            let handler = state
                .auth
                .handler_for(resource, action)
                .map_or_else(|| "none".to_owned(), |h| h.location().to_string());
            Err(auth::HttpException::new(504).with_detail(format!(
                "the handler {handler} for {resource}.{action} did not answer within {} ms",
                limit.as_millis()
            )))
        });
    let handler = state
        .auth
        .handler_for(resource, action)
        .map_or("none", |h| h.name());
    metrics::counter!(
        "auth_authorizations_total",
        "event" => event_name(resource, action),
        "handler" => handler,
        "outcome" => match &result {
            Ok(None) => "allowed",
            Ok(Some(_)) => "filtered",
            Err(_) => "denied",
        }
    )
    .increment(1);
    // The fields are only evaluated when the event is logged.
    tracing::debug!(
        user = user.identity(),
        event = %format_args!("{resource}.{action}"),
        handler,
        outcome = %Outcome(&result),
        "authorization"
    );
    result.map_err(ApiError::from)
}

/// `resource.action`, the `event` label of a decision.
fn event_name(resource: auth::Resource, action: auth::Action) -> String {
    format!("{}.{}", resource.as_str(), action.as_str())
}

/// How an authorization ended, as the log line says it.
struct Outcome<'a>(&'a Result<Option<Filter>, auth::HttpException>);

impl std::fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(None) => f.write_str("allowed"),
            Ok(Some(_)) => f.write_str("allowed with filter"),
            Err(e) => write!(f, "denied {}", e.status()),
        }
    }
}
