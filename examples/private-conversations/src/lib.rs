//! A LangGraph-compatible agent server whose conversations are private, guarded by the `auth`
//! DSL policy of [`security::auth`].
//!
//! It speaks the HTTP API of LangGraph's server (assistants, threads, runs, crons, store) as the
//! official clients use it, runs a built-in echo graph ([`graph`]) and keeps everything in memory
//! ([`storage`]). Authentication is `auth::axum::AuthLayer`; every route then emits its
//! authorization event through [`authz`] and applies the handler's decision.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use private_conversations::{Config, serve};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(Config::default(), listener, std::future::pending()).await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use auth::axum::AuthLayer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub mod authz;
pub mod graph;
pub mod history;
pub mod model;
pub mod routes;
pub mod security;
pub mod storage;
pub mod util;

pub use security::auth::Policy;
use storage::Storage;

/// Puts `threads` threads in `storage`, owned in turn by `user1` … `user{users}` (the server's
/// `--seed-threads`, and the benchmarks' stores). Their ids are fixed: thread `i` is always the same.
pub async fn seed(storage: &Storage, threads: u64, users: u64) -> Result<(), String> {
    if users == 0 && threads > 0 {
        return Err("seeding threads needs at least one user".into());
    }
    for i in 0..threads {
        let owner = format!("user{}", i % users + 1);
        let mut metadata = model::Object::new();
        metadata.insert("owner".into(), owner.into());
        let id = uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(i));
        let thread = routes::threads::new_thread(id.to_string(), metadata);
        storage
            .threads
            .insert(thread, storage::IfExists::Raise, None)
            .await
            .map_err(|e| format!("seeding thread {i}: {e:?}"))?;
    }
    Ok(())
}

/// How the server is set up.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The policy to enforce.
    pub policy: Policy,
    /// Deadlines and sizes that keep one request from holding the server.
    pub limits: Limits,
}

/// Deadlines and sizes that keep one request from holding the server (see `SECURITY.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long one call to an auth handler (authenticate, or the authorization handler of an
    /// event) may take: past it the request is answered 504 `{"detail": …}` naming the handler,
    /// and nothing is stored. Default: 10 s.
    pub handler_timeout: Duration,
    /// The largest request body, in bytes: a larger one is answered 413 `{"detail": …}` before
    /// any handler runs. Default: 2 MiB (axum's default).
    pub body_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handler_timeout: Duration::from_secs(10),
            body_limit: 2 * 1024 * 1024,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The authorization dispatcher.
    pub auth: Arc<auth::Auth>,
    /// Where resources live.
    pub storage: Storage,
    /// Woken whenever a run finishes, for joins and streams.
    pub runs_done: Arc<Notify>,
    /// Handler deadline and body size limit.
    pub limits: Limits,
}

impl AppState {
    /// A state with the given dispatcher and storage, and the default assistant of every graph.
    pub async fn new(auth: Arc<auth::Auth>, storage: Storage) -> Self {
        let state = AppState {
            auth,
            storage,
            runs_done: Arc::new(Notify::new()),
            limits: Limits::default(),
        };
        routes::assistants::create_default_assistants(&state).await;
        state
    }

    /// The same state with these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// The whole app: routes, authentication layer (with the handler deadline), body size limit,
/// and JSON errors: every 4xx or 5xx, axum's own rejections included, answers `{"detail": …}`.
pub fn router(state: AppState) -> Router {
    let layer = AuthLayer::new(state.auth.clone())
        .timeout(state.limits.handler_timeout)
        .body_limit(state.limits.body_limit);
    let body_limit = DefaultBodyLimit::max(state.limits.body_limit);
    routes::routes()
        .with_state(state)
        .layer(body_limit)
        .layer(layer)
        .layer(axum::middleware::map_response(json_errors))
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

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// Prints the registered handlers, the uncovered (resource, action) pairs and, once ready,
/// `listening on http://ADDR`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let auth = config
        .policy
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("policy: {:?}", config.policy);
    serve_with(
        auth,
        Storage::in_memory(),
        config.limits,
        listener,
        shutdown,
    )
    .await
}

/// [`serve`] with a dispatcher and a storage of the caller's: the binary uses it to switch
/// authentication and authorization off for benchmarks (an [`auth::Auth`] without handlers) and
/// to start with seeded threads.
pub async fn serve_with(
    auth: auth::Auth,
    storage: Storage,
    limits: Limits,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    for h in auth.handlers() {
        println!("  handler {h}");
    }
    let uncovered = auth.uncovered();
    if uncovered.is_empty() {
        println!("  every (resource, action) is covered by a handler");
    } else {
        let pairs: Vec<String> = uncovered.iter().map(|(r, a)| format!("{r}.{a}")).collect();
        println!(
            "  uncovered (allowed without a filter): {}",
            pairs.join(", ")
        );
    }
    let state = AppState::new(Arc::new(auth), storage)
        .await
        .with_limits(limits);
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeding_gives_fixed_ids_to_users_in_turn_and_refuses_no_users() {
        let storage = Storage::in_memory();
        seed(&storage, 3, 2).await.unwrap();
        for (id, owner) in [
            ("5eed0000-0000-4000-8000-000000000000", "user1"),
            ("5eed0000-0000-4000-8000-000000000001", "user2"),
            ("5eed0000-0000-4000-8000-000000000002", "user1"),
        ] {
            let thread = storage.threads.get(id, None).await.unwrap();
            assert_eq!(thread.metadata["owner"], owner, "{id}");
        }
        assert!(seed(&storage, 1, 0).await.is_err());
        seed(&Storage::in_memory(), 0, 0).await.unwrap();
    }
}
