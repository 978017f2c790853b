//! The glue between routes and the `auth` dispatcher: emits an event, logs who decided what.

use auth::types::AuthValue;
use auth::{AuthUser, Filter};

use crate::AppState;
use crate::util::ApiError;

/// Runs the handler for the value's event and returns its filter, or the error to answer with.
///
/// Logs (at `info`) the user, the event, the handler that decided and the outcome; never a token.
pub async fn authorize(
    state: &AppState,
    user: &AuthUser,
    value: &mut AuthValue,
) -> Result<Option<Filter>, ApiError> {
    let (resource, action) = (value.resource(), value.action());
    let handler = state
        .auth
        .handler_for(resource, action)
        .map_or("none", |h| h.name());
    let result = state.auth.authorize(user, value).await;
    let outcome = match &result {
        Ok(None) => "allowed".to_owned(),
        Ok(Some(_)) => "allowed with filter".to_owned(),
        Err(e) => format!("denied {}", e.status()),
    };
    tracing::info!(
        user = user.identity(),
        event = %format_args!("{resource}.{action}"),
        handler,
        outcome,
        "authorization"
    );
    result.map_err(ApiError::from)
}
