//! What every request handler shares ([`AppState`]), the app's layers ([`router`]) and seeding.

use std::sync::Arc;

use auth::axum::AuthLayer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::storage::Storage;
use crate::{Limits, connection, graph, model, observe, queue, routes, util};

/// Puts `threads` threads in `storage`, owned in turn by `user1` … `user{users}` (the server's
/// `--seed-threads`, and the benchmarks' stores). Their ids are fixed: thread `i` is always the same,
/// and a thread already stored under its id is kept as it is (seeding a database again adds only
/// the threads it lacks).
pub async fn seed(storage: &Storage, threads: u64, users: u64) -> Result<(), String> {
    if users == 0 && threads > 0 {
        return Err("seeding threads needs at least one user".into());
    }
    // On PostgreSQL several inserts in flight: each is its own transaction, and one at a time
    // waits for every round trip and commit in turn (10k threads: 4 s instead of 18). SQLite has
    // one writer: inserts in flight would only wait for its lock.
    use futures_util::{StreamExt, TryStreamExt};
    let in_flight = match storage.database {
        Some(crate::storage::sql::Database::Postgres(_)) => 16,
        _ => 1,
    };
    let scope = crate::authz::Scope::system("seeding threads");
    futures_util::stream::iter(0..threads)
        .map(Ok)
        .try_for_each_concurrent(in_flight, |i| {
            let owner = format!("user{}", i % users + 1);
            let mut metadata = model::Object::new();
            metadata.insert("owner".into(), owner.into());
            let id =
                uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(i));
            let thread = model::new_thread(id.to_string(), metadata);
            let scope = &scope;
            async move {
                storage
                    .threads()
                    .insert(thread, crate::storage::IfExists::DoNothing, scope)
                    .await
                    .map(drop)
                    .map_err(|e| format!("seeding thread {i}: {e:?}"))
            }
        })
        .await
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The authorization dispatcher.
    pub(crate) auth: Arc<auth::Auth>,
    /// Where resources live.
    pub(crate) storage: Storage,
    /// Woken whenever a run finishes, for joins and streams.
    pub(crate) runs_done: Arc<Notify>,
    /// Handler deadline and body size limit.
    pub(crate) limits: Limits,
    /// The graphs runs execute, by name.
    pub(crate) graphs: graph::Graphs,
    /// This process's run queue worker, which executes runs and fires crons.
    pub(crate) queue: queue::QueueHandle,
}

impl AppState {
    /// A state with the given dispatcher and storage, the [echo graph](graph::Echo) as
    /// `agent`, and its default assistant (for the server's own tests and benchmarks).
    ///
    /// # Panics
    ///
    /// When the default assistant cannot be created or verified (see
    /// [`AppState::with_queue`]): a test's storage that does not hold the server's own.
    #[cfg_attr(not(feature = "test-internals"), allow(dead_code))]
    pub async fn new(auth: Arc<auth::Auth>, storage: Storage) -> Self {
        let graphs = graph::Graphs::new().with(graph::GRAPH_ID, graph::Echo);
        AppState::with_queue(auth, storage, graphs, queue::QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A state with the given dispatcher, storage and graphs, the default assistant of every
    /// graph (as `langgraph dev` creates them), and a run queue worker configured by `config`.
    ///
    /// The worker starts with the state and stops at [`queue::QueueHandle::shutdown`], or once
    /// every clone of the state is dropped. An error (nothing started) when a graph's default
    /// assistant cannot be created, or when its id is taken by an assistant the server did not
    /// create ([`crate::defaults::create_all`]).
    pub(crate) async fn with_queue(
        auth: Arc<auth::Auth>,
        storage: Storage,
        graphs: graph::Graphs,
        config: queue::QueueConfig,
    ) -> Result<Self, String> {
        crate::defaults::create_all(&storage, &graphs).await?;
        let mut state = AppState {
            auth,
            storage,
            runs_done: Arc::new(Notify::new()),
            limits: Limits::default(),
            graphs,
            queue: queue::idle(),
        };
        queue::start(&mut state, config);
        Ok(state)
    }

    /// The same state with these limits (its worker's and its storage's too).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.storage.configure(&limits);
        observe::set_slow_storage(limits.slow_storage);
        self.queue.set_limits(limits);
        self
    }
}

/// The whole app: routes, authentication layer (with the handler deadline), body size limit,
/// JSON errors (every 4xx or 5xx, axum's own rejections included, answers `{"detail": …}`), and,
/// outside everything ([`connection::outermost`]), a panic answered 500 and logged, the access
/// log and request metrics of [`observe`], and the unread rest of a request body read before
/// the answer.
pub fn router(state: AppState) -> Router {
    let layer = AuthLayer::new(state.auth.clone())
        .with_timeout(state.limits.handler_timeout)
        .with_body_limit(state.limits.body_limit);
    let body_limit = state.limits.body_limit;
    routes::routes()
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(observe::caller))
        .layer(layer)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            connection::outermost,
        ))
}

/// Rewrites an error response that is not JSON (axum's rejections of a path, query or body it
/// cannot read answer plain text) as `{"detail": <its text>}`, keeping status and headers.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let mut out = util::ApiError::new(status, detail).into_response();
    for (name, value) in parts.headers {
        if let Some(name) = name
            && name != CONTENT_TYPE
            && name != CONTENT_LENGTH
        {
            out.headers_mut().append(name, value);
        }
    }
    out
}
