//! The glue between routes and the `auth` dispatcher: emits an event, logs who decided what, and
//! hands back the [`Access`] that storage requires.
//!
//! Storage operations on user-visible resources take a [`Access`], and a `Access` comes only from
//! [`authorize`] (the handler's decision and filter for one event) or from
//! [`Access::system`], which names the internal work it stands for. A route that touches storage
//! before it authorizes has no `Access` to pass, so it does not compile:
//!
//! ```compile_fail
//! # async fn f(state: agent_server::AppState) {
//! // Storage takes a scope, not a filter: this does not compile.
//! let filter: Option<&auth::Filter> = None;
//! let _ = state.storage.threads.get("id", filter).await;
//! # }
//! ```
//!
//! ```compile_fail
//! # async fn f(state: agent_server::AppState, filter: Option<auth::Filter>) {
//! // And a scope cannot be made from a filter outside this module: its fields are private.
//! let scope = agent_server::authz::Access { filter };
//! let _ = state.storage.threads.get("id", &scope).await;
//! # }
//! ```
//!
//! What a route writes instead:
//!
//! ```
//! # use auth::types::{AuthValue, ThreadsRead};
//! # async fn f(state: agent_server::AppState, user: auth::AuthUser) -> Option<()> {
//! let mut value = AuthValue::from(ThreadsRead::default());
//! let scope = agent_server::authz::authorize(&state, &user, &mut value).await.ok()?;
//! let thread = state.storage.threads.get("id", &scope).await.ok()??;
//! # let _ = thread; Some(())
//! # }
//! ```

use auth::types::AuthValue;
use auth::{Action, AuthUser, Filter, Resource};

use crate::AppState;
use crate::util::ApiError;

/// What an authorization decided for one event: the handler's filter, applied by storage in the
/// same operation that finds a resource, so a hidden resource is reported as absent.
///
/// Only [`authorize`] and [`Access::system`] make one; its fields are private.
#[derive(Debug, Clone)]
pub struct Access {
    filter: Option<Filter>,
    by: By,
}

#[derive(Debug, Clone, Copy)]
enum By {
    Event(Resource, Action),
    System(&'static str),
}

impl Access {
    /// Internal work that no user asked for directly and that sees every resource: the
    /// start-up creation of a graph's default assistant, a run executing on its thread after its
    /// creation was authorized, seeding. `why` names the work, so that each use reads as what it
    /// is and can be found by searching for `Access::system`.
    pub fn system(why: &'static str) -> Self {
        Access {
            filter: None,
            by: By::System(why),
        }
    }

    /// The handler's filter (`None`: the handler allowed without one, or system work).
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// The event that was authorized (`threads.read`), or the system work, for logs.
    pub fn describe(&self) -> String {
        match self.by {
            By::Event(r, a) => format!("{r}.{a}"),
            By::System(why) => format!("system: {why}"),
        }
    }

    /// Whether this scope lets its holder see a resource with this metadata.
    pub fn admits(&self, metadata: &crate::model::Object) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(metadata))
    }
}

/// Runs the handler for the value's event and returns its decision as a [`Access`], or the error
/// to answer with.
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
) -> Result<Access, ApiError> {
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
    result.map_err(ApiError::from).map(|filter| Access {
        filter,
        by: By::Event(resource, action),
    })
}

impl Access {
    /// A user's scope with this filter, for the unit tests of storage.
    #[cfg(test)]
    pub(crate) fn for_tests(filter: Option<Filter>) -> Self {
        Access {
            filter,
            by: By::Event(Resource::Threads, Action::Search),
        }
    }
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
