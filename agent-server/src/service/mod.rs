//! The service layer: one operation per route, between HTTP ([`crate::routes`]) and storage.
//!
//! An operation starts from a [`Caller`] (the server and the authenticated user, an axum
//! extractor) and the request's typed input, and owns the pipeline once:
//!
//! 1. check the input (the bounds of [`input`]: 422 before any handler runs);
//! 2. build the event's value and authorize it ([`Caller::authorize`]: the handler under its
//!    deadline, the metric and the log line), which hands back the value as the handler left it
//!    and a [`Scope`] typed by the event;
//! 3. call storage with that scope: a resource the scope hides comes back as absent;
//! 4. answer absence the one way it is answered ([`Missing`], through [`Found::or_missing`]), so
//!    that hidden and absent look alike.
//!
//! Routes only extract, call one operation and shape the response (status, headers, JSON or
//! event stream). The run queue calls [`runs::create_for_cron`] directly: nothing here imports
//! a route.

use auth::Event;
use auth::axum::Authenticated;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use crate::AppState;
use crate::authz::{self, Scope};
use crate::util::ApiError;

pub(crate) mod assistants;
pub(crate) mod crons;
pub(crate) mod input;
pub(crate) mod runs;
pub(crate) mod store;
pub(crate) mod threads;

/// Who asks, and the server they ask: where every operation starts.
///
/// Extracted from a request on an authenticated route (the state and the user the
/// [`auth::axum::AuthLayer`] put there); made inside the crate for the work the server does on a
/// user's behalf (a cron's runs, as its owner).
#[derive(Clone)]
pub(crate) struct Caller {
    /// The server's shared state.
    pub(crate) state: AppState,
    /// The authenticated user.
    pub(crate) user: Authenticated,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = Authenticated::from_request_parts(parts, state).await?;
        Ok(Caller {
            state: state.clone(),
            user,
        })
    }
}

impl Caller {
    /// Authorizes `event` for this caller: its value as the handler left it, and the scope the
    /// handler's decision gives (see [`authz::authorize`]).
    pub(crate) async fn authorize<E: Event>(&self, event: E) -> Result<(E, Scope<E>), ApiError> {
        authz::authorize(&self.state, &self.user, event).await
    }

    /// [`Caller::authorize`], keeping only the scope.
    pub(crate) async fn scope<E: Event>(&self, event: E) -> Result<Scope<E>, ApiError> {
        self.authorize(event).await.map(|(_, scope)| scope)
    }
}

/// What a lookup was for, when it found nothing (absent, or hidden by the caller's scope: the
/// two are answered alike). Each resource's 404 is worded here, once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Missing<'a> {
    /// A thread, by id.
    Thread(&'a str),
    /// A run, by id.
    Run(&'a str),
    /// An assistant, by the id the caller gave.
    Assistant(&'a str),
    /// A cron, by id.
    Cron(&'a str),
    /// A checkpoint of a thread, by id.
    Checkpoint(&'a str),
    /// A graph, by name.
    Graph(&'a str),
    /// A version of an assistant.
    Version(i64),
    /// A store item.
    Item,
}

impl From<Missing<'_>> for ApiError {
    fn from(missing: Missing<'_>) -> Self {
        ApiError::not_found(match missing {
            Missing::Thread(id) => format!("Thread with ID {id} not found"),
            Missing::Run(id) => format!("Run {id} not found"),
            Missing::Assistant(id) => format!("Assistant '{id}' not found"),
            Missing::Cron(id) => format!("Cron {id} not found"),
            Missing::Checkpoint(id) => format!("Checkpoint {id} not found"),
            Missing::Graph(id) => format!("Graph '{id}' not found"),
            Missing::Version(v) => format!("Version {v} not found"),
            Missing::Item => "Item not found".to_owned(),
        })
    }
}

/// A lookup's answer, as the caller's 404 when nothing was found.
pub(crate) trait Found<T> {
    /// The value, or the 404 of `missing`.
    fn or_missing(self, missing: Missing<'_>) -> Result<T, ApiError>;
}

impl<T> Found<T> for Option<T> {
    fn or_missing(self, missing: Missing<'_>) -> Result<T, ApiError> {
        self.ok_or_else(|| missing.into())
    }
}
